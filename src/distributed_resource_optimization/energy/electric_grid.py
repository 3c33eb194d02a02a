"""Electric distribution grid: loader, AC power flow, linear model and LP block (eq. (1k)-(1o)).

The district grid is a radial, three-phase balanced 22 kV network, so it is modelled by its
single-phase (positive-sequence) equivalent in per unit: base power ``BASE_POWER_KVA``
(three-phase), base voltage the nominal line-to-line voltage, lines as pi-models (series impedance,
half of the shunt susceptance at each end). All powers in the public API are three-phase totals.

Sign conventions: DER powers are *demand*, positive = consumption, in kW / kvar (the data files list
loads as negative W / var; the loader flips and scales them). Branch power "from" / "to" is the
complex power entering the line at its ``node_1`` / ``node_2`` end, so on a line that carries
power from node 1 to node 2 the "to" value has a negative real part (as in pandapower / MATPOWER).
The source (substation) injection is positive when the district draws power from upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .io import DEFAULT_DATA_DIR, DataFileError, read_table
from .lp import LPBlock

#: Per-unit base power of the single-phase equivalent (three-phase kVA). Any value works; 1 MVA
#: keeps the 22 kV district's per-unit numbers near 1 (the study's ``base_apparent_power``).
BASE_POWER_KVA: float = 1000.0

#: Loose default voltage band of the study (p.u.).
DEFAULT_VOLTAGE_MIN_PU: float = 0.5
DEFAULT_VOLTAGE_MAX_PU: float = 1.5
#: Default branch apparent-power limit of the study, as a multiple of the reference flow.
DEFAULT_BRANCH_POWER_FACTOR: float = 100.0

_GRID_DIR = "grid"


@dataclass
class ElectricGridData:
    """Arrays describing the single-phase equivalent of the balanced three-phase grid.

    Index arrays refer to positions in ``node_names``. Impedances are per phase (ohm), shunt
    susceptances are the total line charging per phase (S, split half/half in the pi-model), powers
    are three-phase demand (kW / kvar, positive = consumption).
    """

    name: str
    node_names: np.ndarray
    source_index: int
    nominal_voltage_v: float  # line-to-line
    base_frequency_hz: float
    line_names: np.ndarray
    line_from: np.ndarray
    line_to: np.ndarray
    line_impedance_ohm: np.ndarray  # complex series impedance per phase
    line_shunt_susceptance_s: np.ndarray  # total per phase
    line_max_current_a: np.ndarray
    der_names: np.ndarray
    der_node_index: np.ndarray
    der_p_nominal_kw: np.ndarray
    der_q_nominal_kvar: np.ndarray

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
    def line_rating_kva(self) -> np.ndarray:
        """Three-phase apparent-power rating from ``maximum_current`` at nominal voltage (kVA)."""
        return np.sqrt(3.0) * self.nominal_voltage_v * self.line_max_current_a / 1000.0


@dataclass
class PowerFlowResult:
    """AC power flow solution (three-phase totals; see the module docstring for signs)."""

    voltage_pu: np.ndarray  # complex, per node
    voltage_v: np.ndarray  # complex line-to-line voltage (V) = voltage_pu * nominal voltage
    branch_power_from_kva: np.ndarray  # complex, entering the line at node_1
    branch_power_to_kva: np.ndarray  # complex, entering the line at node_2
    branch_current_from_a: np.ndarray  # magnitude of the line current at node_1 (A)
    loss_active_kw: float
    loss_reactive_kvar: float  # series reactive losses minus line charging
    source_power_kva: complex  # drawn from the upstream grid at the source node
    iterations: int
    max_mismatch_pu: float

    @property
    def voltage_magnitude_pu(self) -> np.ndarray:
        return np.abs(self.voltage_pu)


class PowerFlowError(RuntimeError):
    """Newton-Raphson did not converge (typically the demand exceeds what the grid can carry)."""


# --------------------------------------------------------------------------------------------
# Loading


def load_electric_grid(folder: Path | str = DEFAULT_DATA_DIR,
                       grid_name: str | None = None) -> ElectricGridData:
    """Read the MESMO-format electric grid files under ``folder/grid``.

    Only in-service DERs of type ``flexible_building`` are kept (the buildings of the study).
    Raises :class:`~distributed_resource_optimization.energy.io.DataFileError` (a ``ValueError``)
    naming the file, row and column for malformed data, unknown node or line-type names, non-radial
    layouts or unbalanced line types.
    """
    folder = Path(folder)
    grids_path = folder / _GRID_DIR / "electric_grids.csv"
    grids = read_table(folder, f"{_GRID_DIR}/electric_grids.csv",
                       {"electric_grid_name": str, "source_node_name": str,
                        "base_frequency": float})
    grid_row = _select_grid(grids_path, grids, "electric_grid_name", grid_name)
    name = grid_row["electric_grid_name"]

    nodes_rel = f"{_GRID_DIR}/electric_grid_nodes.csv"
    nodes = read_table(folder, nodes_rel, {"electric_grid_name": str, "node_name": str,
                                           "voltage": float})
    nodes = nodes[nodes["electric_grid_name"] == name]
    if nodes.empty:
        raise DataFileError(folder / nodes_rel, f"no nodes for electric grid '{name}'")
    node_names = nodes["node_name"].to_numpy(dtype=str)
    _check_unique(folder / nodes_rel, nodes, "node_name")
    node_index = {n: i for i, n in enumerate(node_names)}
    voltages = nodes["voltage"].to_numpy(dtype=float)
    if np.any(voltages <= 0.0):
        row = int(nodes.index[np.argmax(voltages <= 0.0)]) + 1
        raise DataFileError(folder / nodes_rel, "nominal voltage must be positive", row=row,
                            column="voltage")
    if not np.allclose(voltages, voltages[0], rtol=1e-9):
        # Different voltage levels would need transformer models, which the data format here lacks.
        raise DataFileError(folder / nodes_rel, "all nodes must have the same nominal voltage",
                            column="voltage")
    source = grid_row["source_node_name"]
    if source not in node_index:
        raise DataFileError(grids_path, f"unknown source node '{source}'",
                            row=int(grid_row.name) + 1, column="source_node_name")

    lines_rel = f"{_GRID_DIR}/electric_grid_lines.csv"
    lines = read_table(folder, lines_rel, {"electric_grid_name": str, "line_name": str,
                                           "line_type": str, "node_1_name": str,
                                           "node_2_name": str, "length": float})
    lines = lines[lines["electric_grid_name"] == name]
    _check_unique(folder / lines_rel, lines, "line_name")
    line_from = _lookup(folder / lines_rel, lines, "node_1_name", node_index)
    line_to = _lookup(folder / lines_rel, lines, "node_2_name", node_index)
    _check_positive(folder / lines_rel, lines, "length")
    _check_radial(folder / lines_rel, len(node_names), line_from, line_to)

    z1_per_km, b1_per_km, i_max = _line_type_parameters(folder, grid_row["base_frequency"])
    unknown = ~lines["line_type"].isin(list(z1_per_km))
    if unknown.any():
        row = int(lines.index[np.argmax(unknown.to_numpy())]) + 1
        raise DataFileError(folder / lines_rel, "unknown line type", row=row, column="line_type")
    length_km = lines["length"].to_numpy(dtype=float)
    types = lines["line_type"].tolist()

    ders_rel = f"{_GRID_DIR}/electric_grid_ders.csv"
    ders = read_table(folder, ders_rel, {"electric_grid_name": str, "der_name": str,
                                         "der_type": str, "node_name": str,
                                         "active_power_nominal": str,
                                         "reactive_power_nominal": str, "in_service": str})
    # Other DER types (cooling plant, PV) carry parameter names instead of numbers and are out of
    # service in the study, so they are dropped before the numeric columns are checked.
    ders = ders[(ders["electric_grid_name"] == name) & (ders["der_type"] == "flexible_building")]
    in_service = _column_as_float(folder / ders_rel, ders, "in_service")
    ders = ders[in_service != 0.0]
    _check_unique(folder / ders_rel, ders, "der_name")
    p_w = _column_as_float(folder / ders_rel, ders, "active_power_nominal")
    q_var = _column_as_float(folder / ders_rel, ders, "reactive_power_nominal")

    return ElectricGridData(
        name=name,
        node_names=node_names,
        source_index=node_index[source],
        nominal_voltage_v=float(voltages[0]),
        base_frequency_hz=float(grid_row["base_frequency"]),
        line_names=lines["line_name"].to_numpy(dtype=str),
        line_from=line_from,
        line_to=line_to,
        line_impedance_ohm=np.array([z1_per_km[t] for t in types]) * length_km,
        line_shunt_susceptance_s=np.array([b1_per_km[t] for t in types]) * length_km,
        line_max_current_a=np.array([i_max[t] for t in types], dtype=float),
        der_names=ders["der_name"].to_numpy(dtype=str),
        der_node_index=_lookup(folder / ders_rel, ders, "node_name", node_index),
        der_p_nominal_kw=-p_w / 1000.0,
        der_q_nominal_kvar=-q_var / 1000.0,
    )


def _line_type_parameters(folder: Path, frequency_hz: float
                          ) -> tuple[dict[str, complex], dict[str, float], dict[str, float]]:
    """Positive-sequence series impedance (ohm/km), shunt susceptance (S/km) and ampacity (A)."""
    types_rel = f"{_GRID_DIR}/electric_grid_line_types.csv"
    types = read_table(folder, types_rel, {"line_type": str, "n_phases": int,
                                           "maximum_current": float})
    _check_unique(folder / types_rel, types, "line_type")
    _check_positive(folder / types_rel, types, "maximum_current")
    matrices_rel = f"{_GRID_DIR}/electric_grid_line_types_matrices.csv"
    mat = read_table(folder, matrices_rel, {"line_type": str, "row": int, "col": int,
                                            "resistance": float, "reactance": float,
                                            "capacitance": float})
    z1: dict[str, complex] = {}
    b1: dict[str, float] = {}
    i_max: dict[str, float] = {}
    for idx, row in types.iterrows():
        if row["n_phases"] != 3:
            raise DataFileError(folder / types_rel, "only three-phase line types are supported "
                                "by the single-phase equivalent", row=int(idx) + 1,
                                column="n_phases")
        entries = mat[mat["line_type"] == row["line_type"]]
        z = np.full((3, 3), np.nan, dtype=complex)
        c = np.full((3, 3), np.nan)
        for j, e in entries.iterrows():
            r, k = e["row"] - 1, e["col"] - 1
            if not (0 <= r < 3 and 0 <= k < 3):
                raise DataFileError(folder / matrices_rel, "row/col must be 1..3",
                                    row=int(j) + 1, column="row")
            z[r, k] = z[k, r] = e["resistance"] + 1j * e["reactance"]
            c[r, k] = c[k, r] = e["capacitance"]
        if np.isnan(c).any():
            raise DataFileError(folder / matrices_rel,
                                f"incomplete 3x3 matrix for line type '{row['line_type']}'",
                                column="line_type")
        off = ~np.eye(3, dtype=bool)
        balanced = (np.allclose(np.diag(z), z[0, 0], rtol=1e-9, atol=0.0)
                    and np.allclose(z[off], z[1, 0], rtol=1e-9, atol=1e-12)
                    and np.allclose(np.diag(c), c[0, 0], rtol=1e-9, atol=0.0)
                    and np.allclose(c[off], c[1, 0], rtol=1e-9, atol=1e-12))
        if not balanced:
            # The single-phase equivalent is exact only for symmetric (transposed) lines.
            raise DataFileError(folder / matrices_rel,
                                f"line type '{row['line_type']}' is not balanced (equal "
                                "diagonal and equal off-diagonal entries required)",
                                column="line_type")
        # Positive sequence of a balanced matrix: self minus mutual term. The capacitance matrix is
        # used as a nodal (shunt admittance) matrix, so the same transform applies to it.
        z1[row["line_type"]] = complex(z[0, 0] - z[1, 0])
        b1[row["line_type"]] = float(2.0 * np.pi * frequency_hz * (c[0, 0] - c[1, 0]) * 1e-9)
        i_max[row["line_type"]] = float(row["maximum_current"])
    return z1, b1, i_max


def _select_grid(path: Path, table: pd.DataFrame, column: str, grid_name: str | None) -> pd.Series:
    if grid_name is None:
        if len(table) != 1:
            raise DataFileError(path, f"{len(table)} grids listed; pass grid_name to choose one",
                                column=column)
        return table.iloc[0]
    match = table[table[column] == grid_name]
    if match.empty:
        raise DataFileError(path, f"grid '{grid_name}' not found", column=column)
    return match.iloc[0]


def _check_unique(path: Path, table: pd.DataFrame, column: str) -> None:
    dup = table[column].duplicated()
    if dup.any():
        row = int(table.index[np.argmax(dup.to_numpy())]) + 1
        raise DataFileError(path, f"duplicate name '{table[column][dup].iloc[0]}'", row=row,
                            column=column)


def _check_positive(path: Path, table: pd.DataFrame, column: str) -> None:
    bad = table[column].to_numpy(dtype=float) <= 0.0
    if bad.any():
        raise DataFileError(path, "value must be positive",
                            row=int(table.index[np.argmax(bad)]) + 1, column=column)


def _lookup(path: Path, table: pd.DataFrame, column: str, index: dict[str, int]) -> np.ndarray:
    out = np.empty(len(table), dtype=int)
    for i, (row, value) in enumerate(table[column].items()):
        if value not in index:
            raise DataFileError(path, f"unknown node name '{value}'", row=int(row) + 1,
                                column=column)
        out[i] = index[value]
    return out


def _column_as_float(path: Path, table: pd.DataFrame, column: str) -> np.ndarray:
    """Convert a string column of an already filtered table, naming the original row on error."""
    out = np.empty(len(table))
    for i, (row, raw) in enumerate(table[column].items()):
        try:
            value = float(raw)
        except ValueError:
            raise DataFileError(path, f"'{raw}' is not a number", row=int(row) + 1,
                                column=column) from None
        if not np.isfinite(value):
            raise DataFileError(path, f"'{raw}' is not a finite number", row=int(row) + 1,
                                column=column)
        out[i] = value
    return out


def _check_radial(path: Path, n_node: int, line_from: np.ndarray, line_to: np.ndarray) -> None:
    if np.any(line_from == line_to):
        raise DataFileError(path, "a line connects a node to itself")
    graph = sp.coo_matrix((np.ones(len(line_from)), (line_from, line_to)), shape=(n_node, n_node))
    n_comp, _ = connected_components(graph, directed=False)
    if n_comp != 1:
        raise DataFileError(path, f"the grid is not connected ({n_comp} separate parts)")
    if len(line_from) != n_node - 1:
        raise DataFileError(path, f"the grid is not radial ({len(line_from)} lines for "
                            f"{n_node} nodes)")


# --------------------------------------------------------------------------------------------
# Network matrices and power flow


@dataclass
class _Network:
    """Per-unit admittance matrices of the pi-model network."""

    y_bus: np.ndarray  # (n_node, n_node)
    y_from: np.ndarray  # (n_line, n_node): current entering each line at node_1
    y_to: np.ndarray  # (n_line, n_node): current entering each line at node_2
    z_base_ohm: float


def _network(grid: ElectricGridData) -> _Network:
    z_base = grid.nominal_voltage_v**2 / (BASE_POWER_KVA * 1000.0)
    y_series = z_base / grid.line_impedance_ohm
    y_shunt_half = 0.5j * grid.line_shunt_susceptance_s * z_base
    n, m = grid.n_node, grid.n_line
    lines = np.arange(m)
    y_from = np.zeros((m, n), dtype=complex)
    y_to = np.zeros((m, n), dtype=complex)
    y_from[lines, grid.line_from] = y_series + y_shunt_half
    y_from[lines, grid.line_to] = -y_series
    y_to[lines, grid.line_to] = y_series + y_shunt_half
    y_to[lines, grid.line_from] = -y_series
    c_from = np.zeros((m, n))
    c_from[lines, grid.line_from] = 1.0
    c_to = np.zeros((m, n))
    c_to[lines, grid.line_to] = 1.0
    y_bus = c_from.T @ y_from + c_to.T @ y_to
    return _Network(y_bus=y_bus, y_from=y_from, y_to=y_to, z_base_ohm=z_base)


def _check_vector(name: str, value: np.ndarray | float, size: int) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN / inf)")
    return arr


def _node_demand_pu(grid: ElectricGridData, p_der_kw: np.ndarray,
                    q_der_kvar: np.ndarray) -> np.ndarray:
    s = np.zeros(grid.n_node, dtype=complex)
    np.add.at(s, grid.der_node_index, (p_der_kw + 1j * q_der_kvar) / BASE_POWER_KVA)
    return s


def _jacobian(y_bus: np.ndarray, v: np.ndarray, pq: np.ndarray) -> np.ndarray:
    """Polar power-flow Jacobian d[P; Q]/d[angle; |V|] on the PQ nodes (MATPOWER's dSbus_dV)."""
    i_bus = y_bus @ v
    v_norm = v / np.abs(v)
    ds_dva = 1j * np.diag(v) @ np.conj(np.diag(i_bus) - y_bus @ np.diag(v))
    ds_dvm = np.diag(v) @ np.conj(y_bus @ np.diag(v_norm)) + np.diag(np.conj(i_bus) * v_norm)
    ds_dva = ds_dva[np.ix_(pq, pq)]
    ds_dvm = ds_dvm[np.ix_(pq, pq)]
    return np.block([[ds_dva.real, ds_dvm.real], [ds_dva.imag, ds_dvm.imag]])


def solve_power_flow(grid: ElectricGridData, p_der_kw: np.ndarray, q_der_kvar: np.ndarray, *,
                     tolerance_pu: float = 1e-8, max_iterations: int = 30) -> PowerFlowResult:
    """Newton-Raphson AC power flow of the single-phase equivalent.

    ``p_der_kw`` / ``q_der_kvar``: DER demand (n_der,), kW / kvar, positive = consumption. The
    source node is the slack at 1.0 p.u., angle 0. ``tolerance_pu`` bounds the largest nodal power
    mismatch (p.u. of ``BASE_POWER_KVA``; ~1e-10 is the rounding floor for this grid's short, low-
    impedance lines). Raises :class:`PowerFlowError` if it does not converge.
    """
    p = _check_vector("p_der_kw", p_der_kw, grid.n_der)
    q = _check_vector("q_der_kvar", q_der_kvar, grid.n_der)
    if not (np.isfinite(tolerance_pu) and tolerance_pu > 0):
        raise ValueError("tolerance_pu must be a positive number")
    net = _network(grid)
    s_spec = -_node_demand_pu(grid, p, q)  # injections
    pq = np.setdiff1d(np.arange(grid.n_node), [grid.source_index])
    n_pq = len(pq)
    v = np.ones(grid.n_node, dtype=complex)
    mismatch = np.inf
    for iteration in range(max_iterations + 1):
        s_calc = v * np.conj(net.y_bus @ v)
        f = (s_calc - s_spec)[pq]
        mismatch = float(np.max(np.abs(np.concatenate([f.real, f.imag]))))
        if mismatch < tolerance_pu:
            break
        if iteration == max_iterations:
            raise PowerFlowError(f"power flow did not converge in {max_iterations} iterations "
                                 f"(largest mismatch {mismatch:.3g} p.u.)")
        dx = np.linalg.solve(_jacobian(net.y_bus, v, pq), -np.concatenate([f.real, f.imag]))
        va = np.angle(v[pq]) + dx[:n_pq]
        vm = np.abs(v[pq]) + dx[n_pq:]
        if np.any(vm <= 0.0) or not np.all(np.isfinite(vm)):
            raise PowerFlowError("power flow diverged (non-positive voltage magnitude)")
        v[pq] = vm * np.exp(1j * va)
    return _power_flow_result(grid, net, v, iteration, mismatch)


def _power_flow_result(grid: ElectricGridData, net: _Network, v: np.ndarray, iterations: int,
                       mismatch: float) -> PowerFlowResult:
    i_from = net.y_from @ v
    s_from = v[grid.line_from] * np.conj(i_from) * BASE_POWER_KVA
    s_to = v[grid.line_to] * np.conj(net.y_to @ v) * BASE_POWER_KVA
    s_src = complex(v[grid.source_index] * np.conj(net.y_bus[grid.source_index] @ v)
                    * BASE_POWER_KVA)
    loss = complex(np.sum(s_from + s_to))
    # Per-unit current times base current (three-phase base: S / (sqrt(3) V_LL)).
    i_base_a = BASE_POWER_KVA * 1000.0 / (np.sqrt(3.0) * grid.nominal_voltage_v)
    return PowerFlowResult(
        voltage_pu=v.copy(),
        voltage_v=v * grid.nominal_voltage_v,
        branch_power_from_kva=s_from,
        branch_power_to_kva=s_to,
        branch_current_from_a=np.abs(i_from) * i_base_a,
        loss_active_kw=loss.real,
        loss_reactive_kvar=loss.imag,
        source_power_kva=s_src,
        iterations=iterations,
        max_mismatch_pu=mismatch,
    )


# --------------------------------------------------------------------------------------------
# Linear model


@dataclass
class LinearElectricGridModel:
    """First-order (tangent) model of the AC power flow around a reference point, eq. (1k)-(1o).

    ``m_<quantity>_by_<p|q>`` are the sensitivities of the quantity to the DER demand vector:
    voltage magnitude in p.u./kW (p.u./kvar), branch apparent-power magnitude in kVA/kW (kVA/kvar),
    total losses in kW/kW, kvar/kW etc. Shapes: (n_node, n_der), (n_line, n_der), (n_der,).
    Limit defaults are loose like the study's: voltage 0.5-1.5 p.u. (of nominal voltage), branch
    power 100x its reference power-flow value (the larger of the two ends). The study's script
    multiplies the line *rating* instead (``branch_power_rating_kva``, sqrt(3) V_nominal I_max);
    neither default binds. Scenario limits should be set explicitly (see docs/energy_grids.md).
    """

    grid: ElectricGridData
    reference: PowerFlowResult
    p_ref_kw: np.ndarray
    q_ref_kvar: np.ndarray
    voltage_ref_pu: np.ndarray
    branch_power_from_ref_kva: np.ndarray
    branch_power_to_ref_kva: np.ndarray
    loss_active_ref_kw: float
    loss_reactive_ref_kvar: float
    m_voltage_by_p: np.ndarray
    m_voltage_by_q: np.ndarray
    m_branch_from_by_p: np.ndarray
    m_branch_from_by_q: np.ndarray
    m_branch_to_by_p: np.ndarray
    m_branch_to_by_q: np.ndarray
    m_loss_active_by_p: np.ndarray
    m_loss_active_by_q: np.ndarray
    m_loss_reactive_by_p: np.ndarray
    m_loss_reactive_by_q: np.ndarray
    voltage_min_pu: np.ndarray
    voltage_max_pu: np.ndarray
    branch_power_max_kva: np.ndarray
    branch_power_rating_kva: np.ndarray  # sqrt(3) V_nominal I_max; not the default limit

    def _deltas(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = _check_vector("p_kw", p_kw, self.grid.n_der)
        q = _check_vector("q_kvar", q_kvar, self.grid.n_der)
        return p - self.p_ref_kw, q - self.q_ref_kvar

    def predict_voltage_pu(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> np.ndarray:
        """Linearised node voltage magnitudes (p.u.) at DER demand ``p_kw``, ``q_kvar``."""
        dp, dq = self._deltas(p_kw, q_kvar)
        return self.voltage_ref_pu + self.m_voltage_by_p @ dp + self.m_voltage_by_q @ dq

    def predict_branch_power_kva(self, p_kw: np.ndarray, q_kvar: np.ndarray
                                 ) -> tuple[np.ndarray, np.ndarray]:
        """Linearised branch apparent-power magnitudes (kVA) at the from and the to end."""
        dp, dq = self._deltas(p_kw, q_kvar)
        return (self.branch_power_from_ref_kva + self.m_branch_from_by_p @ dp
                + self.m_branch_from_by_q @ dq,
                self.branch_power_to_ref_kva + self.m_branch_to_by_p @ dp
                + self.m_branch_to_by_q @ dq)

    def predict_losses(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> tuple[float, float]:
        """Linearised total losses: active (kW) and reactive (kvar)."""
        dp, dq = self._deltas(p_kw, q_kvar)
        return (float(self.loss_active_ref_kw + self.m_loss_active_by_p @ dp
                      + self.m_loss_active_by_q @ dq),
                float(self.loss_reactive_ref_kvar + self.m_loss_reactive_by_p @ dp
                      + self.m_loss_reactive_by_q @ dq))


def _abs_sensitivity(s: np.ndarray, ds: np.ndarray) -> np.ndarray:
    """d|s| from ds for complex s (rows) and ds (rows x columns); 0 where s == 0."""
    mag = np.abs(s)
    safe = np.where(mag > 0.0, mag, 1.0)
    return np.where(mag[:, None] > 0.0, (np.conj(s)[:, None] * ds).real / safe[:, None], 0.0)


def linear_electric_grid_model(grid: ElectricGridData, p_ref_kw: np.ndarray | None = None,
                               q_ref_kvar: np.ndarray | None = None) -> LinearElectricGridModel:
    """Linearise the AC power flow at DER demand ``p_ref_kw`` / ``q_ref_kvar`` (default: nominal).

    Sensitivities come from the converged Newton-Raphson Jacobian (implicit function theorem), so
    they are the exact tangent of :func:`solve_power_flow` at the reference point.
    """
    p_ref = _check_vector("p_ref_kw", grid.der_p_nominal_kw if p_ref_kw is None else p_ref_kw,
                          grid.n_der)
    q_ref = _check_vector("q_ref_kvar",
                          grid.der_q_nominal_kvar if q_ref_kvar is None else q_ref_kvar, grid.n_der)
    ref = solve_power_flow(grid, p_ref, q_ref)
    net = _network(grid)
    v = ref.voltage_pu
    pq = np.setdiff1d(np.arange(grid.n_node), [grid.source_index])
    n_pq = len(pq)
    jac = _jacobian(net.y_bus, v, pq)

    # Mismatch F = S_calc(x) + S_demand / S_base = 0 on the PQ nodes, so dx/dP = -J^-1 dF/dP.
    pos = {node: i for i, node in enumerate(pq)}
    rhs = np.zeros((2 * n_pq, 2 * grid.n_der))
    for k, node in enumerate(grid.der_node_index):
        if node in pos:  # a DER at the slack node does not change any voltage
            rhs[pos[node], k] = 1.0 / BASE_POWER_KVA
            rhs[n_pq + pos[node], grid.n_der + k] = 1.0 / BASE_POWER_KVA
    dx = -np.linalg.solve(jac, rhs)
    d_angle = np.zeros((grid.n_node, 2 * grid.n_der))
    d_mag = np.zeros((grid.n_node, 2 * grid.n_der))
    d_angle[pq] = dx[:n_pq]
    d_mag[pq] = dx[n_pq:]
    dv = v[:, None] * (1j * d_angle + d_mag / np.abs(v)[:, None])  # complex dV per unit demand

    s_from = ref.branch_power_from_kva / BASE_POWER_KVA
    s_to = ref.branch_power_to_kva / BASE_POWER_KVA
    ds_from = (dv[grid.line_from] * np.conj(net.y_from @ v)[:, None]
               + v[grid.line_from][:, None] * np.conj(net.y_from @ dv))
    ds_to = (dv[grid.line_to] * np.conj(net.y_to @ v)[:, None]
             + v[grid.line_to][:, None] * np.conj(net.y_to @ dv))
    dsf_abs = _abs_sensitivity(s_from, ds_from) * BASE_POWER_KVA
    dst_abs = _abs_sensitivity(s_to, ds_to) * BASE_POWER_KVA

    # Losses = source injection - total demand; the source voltage is fixed, only its current moves.
    src = grid.source_index
    ds_src = v[src] * np.conj(net.y_bus[src] @ dv) * BASE_POWER_KVA
    n = grid.n_der
    m_lp_p = ds_src[:n].real - 1.0
    m_lp_q = ds_src[n:].real
    m_lq_p = ds_src[:n].imag
    m_lq_q = ds_src[n:].imag - 1.0

    sf_ref = np.abs(ref.branch_power_from_kva)
    st_ref = np.abs(ref.branch_power_to_kva)
    return LinearElectricGridModel(
        grid=grid,
        reference=ref,
        p_ref_kw=p_ref.copy(),
        q_ref_kvar=q_ref.copy(),
        voltage_ref_pu=np.abs(v),
        branch_power_from_ref_kva=sf_ref,
        branch_power_to_ref_kva=st_ref,
        loss_active_ref_kw=ref.loss_active_kw,
        loss_reactive_ref_kvar=ref.loss_reactive_kvar,
        m_voltage_by_p=d_mag[:, :n],
        m_voltage_by_q=d_mag[:, n:],
        m_branch_from_by_p=dsf_abs[:, :n],
        m_branch_from_by_q=dsf_abs[:, n:],
        m_branch_to_by_p=dst_abs[:, :n],
        m_branch_to_by_q=dst_abs[:, n:],
        m_loss_active_by_p=m_lp_p,
        m_loss_active_by_q=m_lp_q,
        m_loss_reactive_by_p=m_lq_p,
        m_loss_reactive_by_q=m_lq_q,
        voltage_min_pu=np.full(grid.n_node, DEFAULT_VOLTAGE_MIN_PU),
        voltage_max_pu=np.full(grid.n_node, DEFAULT_VOLTAGE_MAX_PU),
        branch_power_max_kva=DEFAULT_BRANCH_POWER_FACTOR * np.maximum(sf_ref, st_ref),
        branch_power_rating_kva=grid.line_rating_kva,
    )


# --------------------------------------------------------------------------------------------
# LP block


def _limit(name: str, value: np.ndarray | float | None, default: np.ndarray) -> np.ndarray:
    if value is None:
        return default
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(default.shape, float(arr))
    return _check_vector(name, arr, default.size)


def _check_price(price: np.ndarray, timestep_h: float) -> np.ndarray:
    price = np.asarray(price, dtype=float)
    if price.ndim != 1 or price.size == 0:
        raise ValueError(f"price_s_per_kwh must be a non-empty 1-D array, got shape {price.shape}")
    if not np.all(np.isfinite(price)):
        raise ValueError("price_s_per_kwh must be finite (no NaN / inf)")
    if not (np.isfinite(timestep_h) and timestep_h > 0):
        raise ValueError(f"timestep_h must be a positive number, got {timestep_h}")
    return price


def electric_grid_block(model: LinearElectricGridModel, price_s_per_kwh: np.ndarray,
                        timestep_h: float, *,
                        voltage_min_pu: np.ndarray | float | None = None,
                        voltage_max_pu: np.ndarray | float | None = None,
                        branch_power_max_kva: np.ndarray | float | None = None) -> LPBlock:
    """LP of the electric grid operator, eq. (1k)-(1o), over ``T = len(price_s_per_kwh)`` steps.

    Variables: ``p`` / ``q`` (T*n_der, DER demand kW / kvar, index ``t*n_der + k``, free),
    ``p_src`` / ``q_src`` (T, substation supply kW / kvar, free). Cost: ``sum_t price_t *
    p_src_t * timestep_h`` (S$; price in S$/kWh). ``ub`` rows ``voltage_min`` / ``voltage_max``
    (index ``t*n_node + i``), ``branch_power_from_max`` / ``branch_power_to_max``
    (``t*n_line + l``); ``eq`` rows ``active_power_balance`` / ``reactive_power_balance``
    (index ``t``). Limits default to the model's (loose) ones; scalars apply to every node / line.
    """
    price = _check_price(price_s_per_kwh, timestep_h)
    g = model.grid
    n_t, n_der, n_node, n_line = price.size, g.n_der, g.n_node, g.n_line
    v_min = _limit("voltage_min_pu", voltage_min_pu, model.voltage_min_pu)
    v_max = _limit("voltage_max_pu", voltage_max_pu, model.voltage_max_pu)
    s_max = _limit("branch_power_max_kva", branch_power_max_kva, model.branch_power_max_kva)

    n_pq = n_t * n_der
    idx_p = np.arange(n_pq)
    idx_q = n_pq + np.arange(n_pq)
    idx_psrc = 2 * n_pq + np.arange(n_t)
    idx_qsrc = 2 * n_pq + n_t + np.arange(n_t)
    n_var = 2 * n_pq + 2 * n_t
    eye_t = sp.identity(n_t, format="csr")

    def rows(m_p: np.ndarray, m_q: np.ndarray) -> sp.csr_matrix:
        # Block-diagonal over time: the same sensitivities act on every timestep.
        k = m_p.shape[0]
        return sp.hstack([sp.kron(eye_t, sp.csr_matrix(m_p)), sp.kron(eye_t, sp.csr_matrix(m_q)),
                          sp.csr_matrix((n_t * k, 2 * n_t))], format="csr")

    # x_ref + M (x - x_ref) <= x_max  <=>  M x <= x_max - x_ref + M x_ref.
    offset_v = model.voltage_ref_pu - (model.m_voltage_by_p @ model.p_ref_kw
                                       + model.m_voltage_by_q @ model.q_ref_kvar)
    offset_sf = model.branch_power_from_ref_kva - (model.m_branch_from_by_p @ model.p_ref_kw
                                                   + model.m_branch_from_by_q @ model.q_ref_kvar)
    offset_st = model.branch_power_to_ref_kva - (model.m_branch_to_by_p @ model.p_ref_kw
                                                 + model.m_branch_to_by_q @ model.q_ref_kvar)
    a_v = rows(model.m_voltage_by_p, model.m_voltage_by_q)
    a_sf = rows(model.m_branch_from_by_p, model.m_branch_from_by_q)
    a_st = rows(model.m_branch_to_by_p, model.m_branch_to_by_q)
    a_ub = sp.vstack([-a_v, a_v, a_sf, a_st], format="csr")
    b_ub = np.concatenate([np.tile(offset_v - v_min, n_t), np.tile(v_max - offset_v, n_t),
                           np.tile(s_max - offset_sf, n_t), np.tile(s_max - offset_st, n_t)])
    ub_rows = {}
    start = 0
    for fam, size in (("voltage_min", n_node), ("voltage_max", n_node),
                      ("branch_power_from_max", n_line), ("branch_power_to_max", n_line)):
        ub_rows[fam] = np.arange(start, start + n_t * size)
        start += n_t * size

    # p_src - 1'p = loss_ref + M_p (p - p_ref) + M_q (q - q_ref), per timestep.
    a_eq_p = sp.hstack([sp.kron(eye_t, sp.csr_matrix(-(1.0 + model.m_loss_active_by_p)[None, :])),
                        sp.kron(eye_t, sp.csr_matrix(-model.m_loss_active_by_q[None, :])),
                        eye_t, sp.csr_matrix((n_t, n_t))], format="csr")
    a_eq_q = sp.hstack([sp.kron(eye_t, sp.csr_matrix(-model.m_loss_reactive_by_p[None, :])),
                        sp.kron(eye_t, sp.csr_matrix(-(1.0 + model.m_loss_reactive_by_q)[None, :])),
                        sp.csr_matrix((n_t, n_t)), eye_t], format="csr")
    rhs_p = model.loss_active_ref_kw - (model.m_loss_active_by_p @ model.p_ref_kw
                                        + model.m_loss_active_by_q @ model.q_ref_kvar)
    rhs_q = model.loss_reactive_ref_kvar - (model.m_loss_reactive_by_p @ model.p_ref_kw
                                            + model.m_loss_reactive_by_q @ model.q_ref_kvar)
    a_eq = sp.vstack([a_eq_p, a_eq_q], format="csr")
    b_eq = np.concatenate([np.full(n_t, rhs_p), np.full(n_t, rhs_q)])

    c = np.zeros(n_var)
    c[idx_psrc] = price * timestep_h
    return LPBlock(
        n=n_var, c=c, lb=np.full(n_var, -np.inf), ub=np.full(n_var, np.inf),
        A_eq=a_eq, b_eq=b_eq, A_ub=a_ub, b_ub=b_ub,
        variables={"p": idx_p, "q": idx_q, "p_src": idx_psrc, "q_src": idx_qsrc},
        eq_rows={"active_power_balance": np.arange(n_t),
                 "reactive_power_balance": n_t + np.arange(n_t)},
        ub_rows=ub_rows,
        name="electric_grid",
    )
