"""District cooling grid: loader, hydraulic model, linear model and LP block (eq. (1h)-(1j)).

The network is radial with the central chiller plant and distribution pump at the source node. The
supply and return networks are identical, so one tree describes both. Every building draws chilled
water in proportion to its cooling demand (fixed supply/return enthalpy difference), hence branch
flows are linear in the demand; the head losses (Darcy-Weisbach) and the pump power are not.

Sign conventions and units: DER thermal power is cooling *demand*, positive = consumption, in kW
(the data files list loads as negative W). Volume flows are in m3/s; a branch flow is positive in
the direction *away from the source* (for the embedded data that is node_1 -> node_2 on every line,
see ``ThermalGridData.line_downstream_sign``). Node heads are supply-side pressure heads in m
relative to the source, so they are <= 0 and the lowest one marks the critical building. The
distribution pump head is ``RETURN_PIPE_FACTOR * max path head loss + ETS head loss`` (as in MESMO:
the return pipe mirrors the supply pipe, and the energy transfer station of the critical building
needs its own head).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .electric_grid import (
    _check_positive,
    _check_price,
    _check_radial,
    _check_unique,
    _check_vector,
    _column_as_float,
    _limit,
    _lookup,
    _select_grid,
)
from .io import DEFAULT_DATA_DIR, DataFileError, read_table
from .lp import LPBlock

#: Standard gravity (m/s2).
GRAVITY_M_S2: float = 9.80665
#: Supply plus return pipe: the pump overcomes the path head loss twice.
RETURN_PIPE_FACTOR: float = 2.0
#: Chiller plant coefficient of performance set by the study's script (makes district cooling
#: attractive against the buildings' own chillers, which have 5.5).
DEFAULT_PLANT_EFFICIENCY: float = 10.0
#: Default limits of the study, as multiples of the reference values.
DEFAULT_BRANCH_FLOW_FACTOR: float = 100.0
DEFAULT_NODE_HEAD_FACTOR: float = 100.0
#: Reynolds numbers bounding the laminar (64/Re) and turbulent (Swamee-Jain) regimes; the friction
#: factor is interpolated linearly in between so head loss stays continuous.
REYNOLDS_LAMINAR_MAX: float = 2000.0
REYNOLDS_TURBULENT_MIN: float = 4000.0

_GRID_DIR = "grid"


@dataclass
class ThermalGridData:
    """Arrays describing the district cooling network (SI units unless the name says otherwise).

    ``line_subtree[l, n]`` is 1 when node ``n`` lies downstream of line ``l`` (the source side is
    upstream); ``line_downstream_sign[l]`` is +1 when the file's node_1 -> node_2 direction points
    away from the source, -1 otherwise.
    """

    name: str
    node_names: np.ndarray
    source_index: int
    line_names: np.ndarray
    line_from: np.ndarray
    line_to: np.ndarray
    line_length_m: np.ndarray
    line_diameter_m: np.ndarray
    line_roughness_m: np.ndarray
    line_max_velocity_m_s: np.ndarray
    line_downstream_sign: np.ndarray
    line_subtree: np.ndarray
    der_names: np.ndarray
    der_node_index: np.ndarray
    der_p_th_nominal_kw: np.ndarray
    enthalpy_difference_j_kg: float
    water_density_kg_m3: float
    kinematic_viscosity_m2_s: float
    pump_efficiency: float
    ets_head_loss_m: float

    @property
    def n_node(self) -> int:
        return len(self.node_names)

    @property
    def n_line(self) -> int:
        return len(self.line_names)

    @property
    def n_der(self) -> int:
        return len(self.der_names)

    @property
    def flow_per_kw(self) -> float:
        """Chilled-water volume flow per kW of cooling demand (m3/s per kW)."""
        return 1000.0 / (self.water_density_kg_m3 * self.enthalpy_difference_j_kg)


def load_thermal_grid(folder: Path | str = DEFAULT_DATA_DIR,
                      grid_name: str | None = None) -> ThermalGridData:
    """Read the MESMO-format thermal grid files under ``folder/grid``.

    Only in-service DERs of type ``flexible_building`` are kept. Raises
    :class:`~distributed_resource_optimization.energy.io.DataFileError` (a ``ValueError``) naming
    the file, row and column for malformed data, unknown node or line-type names or non-radial
    layouts.
    """
    folder = Path(folder)
    grids_rel = f"{_GRID_DIR}/thermal_grids.csv"
    grids = read_table(folder, grids_rel, {
        "thermal_grid_name": str, "source_node_name": str, "distribution_pump_efficiency": float,
        "energy_transfer_station_head_loss": float, "enthalpy_difference_distribution_water": float,
        "water_density": float, "water_kinematic_viscosity": float})
    row = _select_grid(folder / grids_rel, grids, "thermal_grid_name", grid_name)
    name = row["thermal_grid_name"]
    for column in ("distribution_pump_efficiency", "enthalpy_difference_distribution_water",
                   "water_density", "water_kinematic_viscosity"):
        if row[column] <= 0.0:
            raise DataFileError(folder / grids_rel, "value must be positive",
                                row=int(row.name) + 1, column=column)
    if row["energy_transfer_station_head_loss"] < 0.0:
        raise DataFileError(folder / grids_rel, "value must not be negative",
                            row=int(row.name) + 1, column="energy_transfer_station_head_loss")

    nodes_rel = f"{_GRID_DIR}/thermal_grid_nodes.csv"
    nodes = read_table(folder, nodes_rel, {"thermal_grid_name": str, "node_name": str})
    nodes = nodes[nodes["thermal_grid_name"] == name]
    if nodes.empty:
        raise DataFileError(folder / nodes_rel, f"no nodes for thermal grid '{name}'")
    _check_unique(folder / nodes_rel, nodes, "node_name")
    node_names = nodes["node_name"].to_numpy(dtype=str)
    node_index = {n: i for i, n in enumerate(node_names)}
    if row["source_node_name"] not in node_index:
        raise DataFileError(folder / grids_rel, f"unknown source node '{row['source_node_name']}'",
                            row=int(row.name) + 1, column="source_node_name")
    source = node_index[row["source_node_name"]]

    types_rel = f"{_GRID_DIR}/thermal_grid_line_types.csv"
    types = read_table(folder, types_rel, {"line_type": str, "diameter": float,
                                           "absolute_roughness": float},
                       optional={"maximum_velocity": float})
    _check_unique(folder / types_rel, types, "line_type")
    for column in ("diameter", "absolute_roughness"):
        _check_positive(folder / types_rel, types, column)
    types = types.set_index("line_type")

    lines_rel = f"{_GRID_DIR}/thermal_grid_lines.csv"
    lines = read_table(folder, lines_rel, {"thermal_grid_name": str, "line_name": str,
                                           "line_type": str, "node_1_name": str,
                                           "node_2_name": str, "length": float})
    lines = lines[lines["thermal_grid_name"] == name]
    _check_unique(folder / lines_rel, lines, "line_name")
    unknown = ~lines["line_type"].isin(types.index)
    if unknown.any():
        raise DataFileError(folder / lines_rel, "unknown line type",
                            row=int(lines.index[np.argmax(unknown.to_numpy())]) + 1,
                            column="line_type")
    _check_positive(folder / lines_rel, lines, "length")
    line_from = _lookup(folder / lines_rel, lines, "node_1_name", node_index)
    line_to = _lookup(folder / lines_rel, lines, "node_2_name", node_index)
    sign, subtree = _radial_structure(folder / lines_rel, len(node_names), source, line_from,
                                      line_to)
    line_type = types.loc[lines["line_type"]]
    max_velocity = (line_type["maximum_velocity"].to_numpy(dtype=float)
                    if "maximum_velocity" in line_type else np.full(len(lines), np.nan))

    ders_rel = f"{_GRID_DIR}/thermal_grid_ders.csv"
    ders = read_table(folder, ders_rel, {"thermal_grid_name": str, "der_name": str,
                                         "node_name": str, "der_type": str,
                                         "thermal_power_nominal": str, "in_service": str})
    # The cooling-plant DER carries parameter names instead of numbers and is out of service in the
    # study; only the buildings are exchanged with the market.
    ders = ders[(ders["thermal_grid_name"] == name) & (ders["der_type"] == "flexible_building")]
    in_service = _column_as_float(folder / ders_rel, ders, "in_service")
    ders = ders[in_service != 0.0]
    _check_unique(folder / ders_rel, ders, "der_name")

    return ThermalGridData(
        name=name,
        node_names=node_names,
        source_index=source,
        line_names=lines["line_name"].to_numpy(dtype=str),
        line_from=line_from,
        line_to=line_to,
        line_length_m=lines["length"].to_numpy(dtype=float) * 1000.0,
        line_diameter_m=line_type["diameter"].to_numpy(dtype=float),
        line_roughness_m=line_type["absolute_roughness"].to_numpy(dtype=float) / 1000.0,
        line_max_velocity_m_s=max_velocity,
        line_downstream_sign=sign,
        line_subtree=subtree,
        der_names=ders["der_name"].to_numpy(dtype=str),
        der_node_index=_lookup(folder / ders_rel, ders, "node_name", node_index),
        der_p_th_nominal_kw=-_column_as_float(folder / ders_rel, ders,
                                              "thermal_power_nominal") / 1000.0,
        enthalpy_difference_j_kg=float(row["enthalpy_difference_distribution_water"]),
        water_density_kg_m3=float(row["water_density"]),
        kinematic_viscosity_m2_s=float(row["water_kinematic_viscosity"]),
        pump_efficiency=float(row["distribution_pump_efficiency"]),
        ets_head_loss_m=float(row["energy_transfer_station_head_loss"]),
    )


def _radial_structure(path: Path, n_node: int, source: int, line_from: np.ndarray,
                      line_to: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orientation of each line relative to the source and the line-by-node subtree matrix."""
    _check_radial(path, n_node, line_from, line_to)
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n_node)]
    for line, (a, b) in enumerate(zip(line_from, line_to, strict=True)):
        adjacency[a].append((line, b))
        adjacency[b].append((line, a))
    parent_line = np.full(n_node, -1)
    order = [source]
    seen = np.zeros(n_node, dtype=bool)
    seen[source] = True
    for node in order:  # breadth-first; ``order`` grows while iterating
        for line, other in adjacency[node]:
            if not seen[other]:
                seen[other] = True
                parent_line[other] = line
                order.append(other)
    sign = np.where(line_to[parent_line[parent_line >= 0]] == np.flatnonzero(parent_line >= 0),
                    1, -1)
    line_sign = np.empty(len(line_from), dtype=int)
    line_sign[parent_line[parent_line >= 0]] = sign
    subtree = np.zeros((len(line_from), n_node))
    # Walk each node up to the source, marking every line on its path.
    for node in range(n_node):
        current = node
        while current != source:
            line = parent_line[current]
            subtree[line, node] = 1.0
            current = line_from[line] if line_to[line] == current else line_to[line]
    return line_sign, subtree


# --------------------------------------------------------------------------------------------
# Hydraulics


def friction_factor(reynolds: np.ndarray, relative_roughness: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Darcy friction factor and its derivative with respect to the Reynolds number.

    Laminar ``64/Re`` below ``REYNOLDS_LAMINAR_MAX``, Swamee-Jain (explicit Colebrook
    approximation, within about 1 % for 5e3 < Re < 1e8, 1e-6 < eps/D < 1e-2) above
    ``REYNOLDS_TURBULENT_MIN``, linear in between. ``reynolds`` must be positive.
    """
    re = np.asarray(reynolds, dtype=float)
    rr = np.broadcast_to(np.asarray(relative_roughness, dtype=float), re.shape)

    def swamee_jain(r: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        arg = eps / 3.7 + 5.74 * r**-0.9
        log = np.log10(arg)
        f = 0.25 / log**2
        df = -0.5 / log**3 * (-0.9 * 5.74 * r**-1.9) / (arg * np.log(10.0))
        return f, df

    f_turb, df_turb = swamee_jain(np.maximum(re, REYNOLDS_TURBULENT_MIN), rr)
    f_lam = 64.0 / re
    df_lam = -64.0 / re**2
    f_edge, _ = swamee_jain(np.full(re.shape, REYNOLDS_TURBULENT_MIN), rr)
    f_low = 64.0 / REYNOLDS_LAMINAR_MAX
    slope = (f_edge - f_low) / (REYNOLDS_TURBULENT_MIN - REYNOLDS_LAMINAR_MAX)
    f_trans = f_low + slope * (re - REYNOLDS_LAMINAR_MAX)
    laminar = re <= REYNOLDS_LAMINAR_MAX
    turbulent = re >= REYNOLDS_TURBULENT_MIN
    f = np.where(laminar, f_lam, np.where(turbulent, f_turb, f_trans))
    df = np.where(laminar, df_lam, np.where(turbulent, df_turb, slope))
    return f, df


def _head_loss(grid: ThermalGridData, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray, np.ndarray]:
    """Darcy-Weisbach head loss per branch (m, sign of the flow) and d(head loss)/d(flow).

    Also returns Reynolds numbers and friction factors. Laminar flow is handled in closed form
    (head loss linear in flow) so zero flow has a finite slope.
    """
    d, length, nu = grid.line_diameter_m, grid.line_length_m, grid.kinematic_viscosity_m2_s
    k = 8.0 * length / (GRAVITY_M_S2 * np.pi**2 * d**5)  # head loss = k * f * Q|Q|
    re = 4.0 * np.abs(flow) / (np.pi * d * nu)
    dre_dq = 4.0 / (np.pi * d * nu)
    laminar = re <= REYNOLDS_LAMINAR_MAX
    # Laminar branches use the closed form below; evaluating 64/Re at Re -> 0 would only overflow.
    f, df = friction_factor(np.where(laminar, REYNOLDS_LAMINAR_MAX, re), grid.line_roughness_m / d)
    # 64/Re * Q|Q| = 16 pi D nu Q: linear, and well defined at Q = 0.
    k_lam = k * 16.0 * np.pi * d * nu
    head = np.where(laminar, k_lam * flow, k * f * flow * np.abs(flow))
    slope = np.where(laminar, k_lam, k * (2.0 * f * np.abs(flow) + df * dre_dq * flow**2))
    f_laminar = np.divide(64.0, re, out=np.full(re.shape, np.nan), where=re > 0.0)
    return head, slope, re, np.where(laminar, f_laminar, f)


@dataclass
class ThermalGridResult:
    """Hydraulic state of the network for a given cooling demand (signs: module docstring)."""

    der_flow_m3_s: np.ndarray
    source_flow_m3_s: float
    branch_flow_m3_s: np.ndarray  # positive away from the source
    branch_velocity_m_s: np.ndarray
    branch_reynolds: np.ndarray
    branch_friction_factor: np.ndarray  # Darcy; NaN where the flow is zero
    branch_head_loss_m: np.ndarray  # supply pipe, in the flow direction away from the source
    node_head_m: np.ndarray  # relative to the source, <= 0 for normal operation
    critical_node_index: int  # node with the largest path head loss
    pump_head_m: float
    pump_power_kw: float  # electric power of the distribution pump


def solve_thermal_grid(grid: ThermalGridData, p_th_kw: np.ndarray) -> ThermalGridResult:
    """Flows, head losses, node heads and pump power at cooling demand ``p_th_kw`` (n_der, kW)."""
    p = _check_vector("p_th_kw", p_th_kw, grid.n_der)
    der_flow = p * grid.flow_per_kw
    node_flow = np.zeros(grid.n_node)
    np.add.at(node_flow, grid.der_node_index, der_flow)
    branch_flow = grid.line_subtree @ node_flow  # mass balance on a tree
    head_loss, _, re, f = _head_loss(grid, branch_flow)
    node_head = -grid.line_subtree.T @ head_loss
    critical = int(np.argmin(node_head))
    source_flow = float(np.sum(der_flow))
    pump_head = RETURN_PIPE_FACTOR * float(-node_head[critical]) + grid.ets_head_loss_m
    pump_power_kw = (grid.water_density_kg_m3 * GRAVITY_M_S2 * pump_head * source_flow
                     / grid.pump_efficiency / 1000.0)
    return ThermalGridResult(
        der_flow_m3_s=der_flow,
        source_flow_m3_s=source_flow,
        branch_flow_m3_s=branch_flow,
        branch_velocity_m_s=branch_flow / (np.pi * grid.line_diameter_m**2 / 4.0),
        branch_reynolds=re,
        branch_friction_factor=f,
        branch_head_loss_m=head_loss,
        node_head_m=node_head,
        critical_node_index=critical,
        pump_head_m=pump_head,
        pump_power_kw=float(pump_power_kw),
    )


# --------------------------------------------------------------------------------------------
# Linear model


@dataclass
class LinearThermalGridModel:
    """First-order model of the thermal grid around a reference demand, eq. (1h)-(1j).

    ``m_branch_flow_by_p_th`` (n_line, n_der; m3/s per kW) is exact on a tree;
    ``m_node_head_by_p_th`` (n_node, n_der; m per kW) and ``m_pump_power_by_p_th``
    (n_der; kW per kW) are tangents at the reference (the pump head follows the reference's
    critical node). Default limits follow the study: branch flow <= 100x reference (lines with zero
    reference flow get 100x the largest reference flow), node head >= 100x reference (heads are
    negative, so this is a loose lower bound; the source node's bound is 0, its head is 0 by
    definition).
    """

    grid: ThermalGridData
    reference: ThermalGridResult
    p_th_ref_kw: np.ndarray
    branch_flow_ref_m3_s: np.ndarray
    node_head_ref_m: np.ndarray
    pump_power_ref_kw: float
    m_branch_flow_by_p_th: np.ndarray
    m_node_head_by_p_th: np.ndarray
    m_pump_power_by_p_th: np.ndarray
    branch_flow_max_m3_s: np.ndarray
    node_head_min_m: np.ndarray

    def _delta(self, p_th_kw: np.ndarray) -> np.ndarray:
        return _check_vector("p_th_kw", p_th_kw, self.grid.n_der) - self.p_th_ref_kw

    def predict_branch_flow_m3_s(self, p_th_kw: np.ndarray) -> np.ndarray:
        """Branch volume flows (m3/s, positive away from the source)."""
        return self.branch_flow_ref_m3_s + self.m_branch_flow_by_p_th @ self._delta(p_th_kw)

    def predict_node_head_m(self, p_th_kw: np.ndarray) -> np.ndarray:
        """Linearised node heads (m, relative to the source)."""
        return self.node_head_ref_m + self.m_node_head_by_p_th @ self._delta(p_th_kw)

    def predict_pump_power_kw(self, p_th_kw: np.ndarray) -> float:
        """Linearised distribution pump electric power (kW)."""
        return float(self.pump_power_ref_kw + self.m_pump_power_by_p_th @ self._delta(p_th_kw))


def linear_thermal_grid_model(grid: ThermalGridData,
                              p_th_ref_kw: np.ndarray | None = None) -> LinearThermalGridModel:
    """Linearise :func:`solve_thermal_grid` at ``p_th_ref_kw`` (n_der, kW; default: nominal)."""
    p_ref = _check_vector("p_th_ref_kw",
                          grid.der_p_th_nominal_kw if p_th_ref_kw is None else p_th_ref_kw,
                          grid.n_der)
    ref = solve_thermal_grid(grid, p_ref)
    der_incidence = np.zeros((grid.n_node, grid.n_der))
    der_incidence[grid.der_node_index, np.arange(grid.n_der)] = 1.0
    m_flow = grid.line_subtree @ der_incidence * grid.flow_per_kw
    _, slope, _, _ = _head_loss(grid, ref.branch_flow_m3_s)
    m_head = -grid.line_subtree.T @ (slope[:, None] * m_flow)
    # P = c * H * Q_src with H = 2 * (-h_critical) + H_ets; product rule at the reference.
    c = grid.water_density_kg_m3 * GRAVITY_M_S2 / grid.pump_efficiency / 1000.0
    m_pump = c * (ref.pump_head_m * grid.flow_per_kw
                  - RETURN_PIPE_FACTOR * ref.source_flow_m3_s * m_head[ref.critical_node_index])

    flow_ref = ref.branch_flow_m3_s
    flow_scale = np.where(flow_ref != 0.0, np.abs(flow_ref), np.max(np.abs(flow_ref)))
    return LinearThermalGridModel(
        grid=grid,
        reference=ref,
        p_th_ref_kw=p_ref.copy(),
        branch_flow_ref_m3_s=flow_ref,
        node_head_ref_m=ref.node_head_m,
        pump_power_ref_kw=ref.pump_power_kw,
        m_branch_flow_by_p_th=m_flow,
        m_node_head_by_p_th=m_head,
        m_pump_power_by_p_th=m_pump,
        branch_flow_max_m3_s=DEFAULT_BRANCH_FLOW_FACTOR * flow_scale,
        node_head_min_m=DEFAULT_NODE_HEAD_FACTOR * np.minimum(ref.node_head_m, 0.0),
    )


# --------------------------------------------------------------------------------------------
# LP block


def thermal_grid_block(model: LinearThermalGridModel, price_s_per_kwh: np.ndarray,
                       timestep_h: float, *, eta_ch: float = DEFAULT_PLANT_EFFICIENCY,
                       branch_flow_max: np.ndarray | float | None = None,
                       node_head_min: np.ndarray | float | None = None) -> LPBlock:
    """LP of the thermal grid operator, eq. (1h)-(1j), over ``T = len(price_s_per_kwh)`` steps.

    Variables: ``p_th`` (T*n_der, cooling demand kW, index ``t*n_der + k``, free) and ``p_th_src``
    (T, thermal power of the plant, kW, free). Cost: ``sum_t price_t * p_th_src_t / eta_ch *
    timestep_h`` (S$; price in S$/kWh of electricity). ``ub`` rows ``node_head_min`` (index
    ``t*n_node + i``) and ``branch_flow_max`` (``t*n_line + l``); ``eq`` rows
    ``thermal_power_balance`` (index ``t``): ``(p_th_src - sum p_th) / eta_ch = pump power``.
    ``branch_flow_max`` (m3/s) and ``node_head_min`` (m, <= 0) default to the model's loose limits;
    scalars apply to every line / node.
    """
    price = _check_price(price_s_per_kwh, timestep_h)
    if not (np.isfinite(eta_ch) and eta_ch > 0):
        raise ValueError(f"eta_ch must be a positive number, got {eta_ch}")
    g = model.grid
    n_t, n_der, n_node, n_line = price.size, g.n_der, g.n_node, g.n_line
    f_max = _limit("branch_flow_max", branch_flow_max, model.branch_flow_max_m3_s)
    h_min = _limit("node_head_min", node_head_min, model.node_head_min_m)

    n_p = n_t * n_der
    idx_p = np.arange(n_p)
    idx_src = n_p + np.arange(n_t)
    n_var = n_p + n_t
    eye_t = sp.identity(n_t, format="csr")
    no_src = sp.csr_matrix((n_t * n_node, n_t))

    # h_min <= h_ref + M (p - p_ref)  <=>  -M p <= h_ref - M p_ref - h_min.
    offset_h = model.node_head_ref_m - model.m_node_head_by_p_th @ model.p_th_ref_kw
    a_h = sp.hstack([sp.kron(eye_t, sp.csr_matrix(-model.m_node_head_by_p_th)), no_src],
                    format="csr")
    offset_f = model.branch_flow_ref_m3_s - model.m_branch_flow_by_p_th @ model.p_th_ref_kw
    a_f = sp.hstack([sp.kron(eye_t, sp.csr_matrix(model.m_branch_flow_by_p_th)),
                     sp.csr_matrix((n_t * n_line, n_t))], format="csr")
    a_ub = sp.vstack([a_h, a_f], format="csr")
    b_ub = np.concatenate([np.tile(offset_h - h_min, n_t), np.tile(f_max - offset_f, n_t)])

    # (p_src - 1'p) / eta = P_ref + M (p - p_ref)
    row = -(1.0 / eta_ch + model.m_pump_power_by_p_th)
    a_eq = sp.hstack([sp.kron(eye_t, sp.csr_matrix(row[None, :])), eye_t / eta_ch], format="csr")
    b_eq = np.full(n_t, model.pump_power_ref_kw
                   - model.m_pump_power_by_p_th @ model.p_th_ref_kw)

    c = np.zeros(n_var)
    c[idx_src] = price * timestep_h / eta_ch
    return LPBlock(
        n=n_var, c=c, lb=np.full(n_var, -np.inf), ub=np.full(n_var, np.inf),
        A_eq=a_eq, b_eq=b_eq, A_ub=a_ub, b_ub=b_ub,
        variables={"p_th": idx_p, "p_th_src": idx_src},
        eq_rows={"thermal_power_balance": np.arange(n_t)},
        ub_rows={"node_head_min": np.arange(n_t * n_node),
                 "branch_flow_max": n_t * n_node + np.arange(n_t * n_line)},
        name="thermal_grid",
    )
