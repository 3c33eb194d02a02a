"""The district as one problem: assembly of the three entities and the centralized solve, eq. (1).

Three entities contribute an :class:`~.lp.LPBlock` each: the thermal grid operator (eq. (1h)-(1j)),
the electric grid operator (eq. (1k)-(1o)) and the flexible load aggregator (all buildings,
eq. (1b)-(1f)). Every entity has its own copy of the exchanged demands ``p_th``, ``p``, ``q``
(kW / kvar, time-major ``t*n_der + k``). The centralized problem stacks the blocks
block-diagonally and adds the coupling equalities (1g), grid copy = aggregator copy, one row per
timestep and DER in the families ``coupling_p_th``, ``coupling_p``, ``coupling_q``. Their duals
are the nodal prices (DLMPs). The ADMM market clearing relaxes exactly these rows, so both methods
share every other constraint. The district comes loaded and linearised from :mod:`.district`;
the grid limits of a scenario from :mod:`.scenarios`, as data.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from . import QUANTITIES
from .buildings import aggregator_block
from .district import DistrictData
from .electric_grid import LinearElectricGridModel
from .grid_operators import electric_grid_operator_block, thermal_grid_operator_block
from .labels import DistrictPlots, quantity_frame, quantity_variables
from .lp import LPBlock
from .scenarios import ScenarioLimits, scenario_limits
from .thermal_grid import LinearThermalGridModel

#: Nodal price components (see :func:`solve_centralized`).
PRICE_COMPONENTS: tuple[str, ...] = ("energy", "loss", "congestion", "voltage")
#: Which grid constraint family feeds which price component. The thermal node-head limit is the
#: thermal analogue of a voltage limit and is reported under ``voltage``.
_COMPONENT_OF_FAMILY: dict[str, str] = {
    "branch_flow_max": "congestion",
    "node_head_min": "voltage",
    "branch_power_from_max": "congestion",
    "branch_power_to_max": "congestion",
    "voltage_min": "voltage",
    "voltage_max": "voltage",
}

__all__ = ["PRICE_COMPONENTS", "QUANTITIES", "CentralizedProblem", "CentralizedResult",
           "SolverStatus", "build_centralized", "price_range", "solve_centralized",
           "solve_district"]

if TYPE_CHECKING:
    import xarray as xr


class SolverStatus(IntEnum):
    """How the LP solver ended (HiGHS through ``scipy.optimize.linprog``; the codes are
    ``linprog``'s, so a status compares equal to its number). A result exists only for
    ``OPTIMAL``: :func:`solve_centralized` raises on the others."""

    OPTIMAL = 0
    ITERATION_LIMIT = 1
    INFEASIBLE = 2
    UNBOUNDED = 3
    NUMERICAL_DIFFICULTIES = 4


@dataclass(kw_only=True)
class CentralizedProblem(LPBlock):
    """Eq. (1) assembled as one sparse LP (an :class:`LPBlock`) over the stacked variables of the
    three entities.

    ``blocks`` holds ``thermal_grid``, ``electric_grid``, ``aggregator``; ``offsets`` the position
    of each block's first variable in ``x``. ``A_eq`` rows: the blocks' equality rows in that
    order, then ``coupling_p_th``, ``coupling_p``, ``coupling_q`` (``eq_rows`` maps
    ``"<block>/<family>"`` and the coupling names to row indices); ``A_ub`` likewise
    (``ub_rows``). Cost in S$.
    """

    district: DistrictData
    scenario: str
    limits: ScenarioLimits
    blocks: dict[str, LPBlock]
    offsets: dict[str, int]
    #: The grids' linear model per step when they were linearised at a dispatch
    #: (:mod:`.successive`); ``None``: the district's one linearisation at every step.
    thermal_step_models: list[LinearThermalGridModel] | None = None
    electric_step_models: list[LinearElectricGridModel] | None = None

    def columns(self, block: str, group: str) -> np.ndarray:
        """Global indices of variable group ``group`` of block ``block``."""
        return self.offsets[block] + self.blocks[block].variables[group]


def build_centralized(district: DistrictData, scenario: str = "unconstrained", *,
                      thermal_step_models: Sequence[LinearThermalGridModel] | None = None,
                      electric_step_models: Sequence[LinearElectricGridModel] | None = None
                      ) -> CentralizedProblem:
    """Assemble eq. (1) for ``scenario`` (a name of :data:`.scenarios.SCENARIOS`). The grids use
    the district's linear models at every step, or one linear model per step
    (``*_step_models``, e.g. linearised at an earlier dispatch: :mod:`.successive`); the
    scenario's limits come from the district's models either way."""
    limits = scenario_limits(district, scenario)
    # The same builders as the market agents (market/entities.py): each grid operator's block
    # takes the limits computed from its own linear model, the aggregator's its buildings.
    thermal = thermal_grid_operator_block(district.thermal_model, district.price,
                                          district.timestep_h, district.eta_ch, limits.thermal,
                                          thermal_step_models)
    electric = electric_grid_operator_block(district.electric_model, district.price,
                                            district.timestep_h, limits.electric,
                                            electric_step_models)
    aggregator = aggregator_block(district.buildings, district.timestep_h)
    blocks = {"thermal_grid": thermal, "electric_grid": electric, "aggregator": aggregator}
    offsets, start = {}, 0
    for name, block in blocks.items():
        offsets[name] = start
        start += block.n
    n = start

    eq_rows: dict[str, np.ndarray] = {}
    ub_rows: dict[str, np.ndarray] = {}
    row_eq = row_ub = 0
    for name, block in blocks.items():
        for fam, rows in block.eq_rows.items():
            eq_rows[f"{name}/{fam}"] = rows + row_eq
        for fam, rows in block.ub_rows.items():
            ub_rows[f"{name}/{fam}"] = rows + row_ub
        row_eq += block.b_eq.size
        row_ub += block.b_ub.size

    # Coupling (1g): grid copy - aggregator copy = 0, one row per (t, k) in time-major order.
    n_x = district.n_timesteps * district.n_der
    coupling = []
    for i, (grid, group) in enumerate((("thermal_grid", "p_th"), ("electric_grid", "p"),
                                       ("electric_grid", "q"))):
        rows = np.arange(n_x)
        cols_grid = offsets[grid] + blocks[grid].variables[group]
        cols_agg = offsets["aggregator"] + aggregator.variables[group]
        coupling.append(sp.csr_matrix(
            (np.r_[np.ones(n_x), -np.ones(n_x)], (np.r_[rows, rows], np.r_[cols_grid, cols_agg])),
            shape=(n_x, n)))
        eq_rows[f"coupling_{group}"] = row_eq + i * n_x + rows
    a_eq = sp.vstack([sp.block_diag([b.A_eq for b in blocks.values()], format="csr"), *coupling],
                     format="csr")
    b_eq = np.concatenate([*(b.b_eq for b in blocks.values()), np.zeros(3 * n_x)])
    a_ub = sp.block_diag([b.A_ub for b in blocks.values()], format="csr")
    b_ub = np.concatenate([b.b_ub for b in blocks.values()])
    return CentralizedProblem(
        district=district, scenario=scenario, limits=limits, blocks=blocks, offsets=offsets,
        thermal_step_models=None if thermal_step_models is None else list(thermal_step_models),
        electric_step_models=None if electric_step_models is None
        else list(electric_step_models),
        n=n, name=f"centralized/{scenario}",
        c=np.concatenate([b.c for b in blocks.values()]),
        lb=np.concatenate([b.lb for b in blocks.values()]),
        ub=np.concatenate([b.ub for b in blocks.values()]),
        A_eq=a_eq, b_eq=b_eq, A_ub=a_ub, b_ub=b_ub, eq_rows=eq_rows, ub_rows=ub_rows,
    )


@dataclass(repr=False)
class CentralizedResult:
    """Solution of eq. (1).

    ``dispatch[quantity]`` and ``prices[quantity]`` are ``(T, n_der)`` arrays for ``thermal_power``
    (kW, S$/kWh), ``active_power`` (kW, S$/kWh) and ``reactive_power`` (kvar, S$/kvarh); demand
    positive. ``price_components[quantity][component]`` splits the prices into ``energy``,
    ``loss`` (losses resp. pump power), ``congestion`` (branch limits) and ``voltage`` (voltage
    resp. thermal node-head limits); the components sum to the price. ``duals`` maps
    ``"<block>/<family>"`` of every grid limit and balance to its multipliers in S$ per unit of the
    row (per step, not divided by the step length; limits <= 0 by LP convention, shaped
    ``(T, n_element)``). ``objective`` in S$ over the horizon, ``wall_time_s`` of the solver call.
    """

    problem: CentralizedProblem
    x: np.ndarray
    objective: float
    status: SolverStatus
    message: str
    wall_time_s: float
    dispatch: dict[str, np.ndarray]
    prices: dict[str, np.ndarray]
    price_components: dict[str, dict[str, np.ndarray]]
    duals: dict[str, np.ndarray]
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def scenario(self) -> str:
        return self.problem.scenario

    @property
    def timesteps(self) -> pd.DatetimeIndex:
        """Start time of each step (the rows of the arrays)."""
        return pd.DatetimeIndex(self.problem.district.timesteps, name="timestep")

    @property
    def dispatch_frame(self) -> pd.DataFrame:
        """:attr:`dispatch` as a frame: rows ``timestep``, columns ``(quantity, der)``, kW /
        kvar demand (units in ``attrs["units"]``)."""
        d = self.problem.district
        return quantity_frame(self.dispatch, d.timesteps, d.der_names, "dispatch")

    @property
    def prices_frame(self) -> pd.DataFrame:
        """:attr:`prices` as a frame: rows ``timestep``, columns ``(quantity, der)``, S$/kWh
        (S$/kvarh for reactive power) at the DER's node."""
        d = self.problem.district
        return quantity_frame(self.prices, d.timesteps, d.der_names, "prices")

    @property
    def plot(self) -> DistrictPlots:
        """Figures of the solution: ``plot.dispatch(der, quantity)``, ``plot.prices(der,
        quantity)``, ``plot.price_heatmap(quantity)``, ``plot.grid_map(time, quantity)``
        (matplotlib figures)."""
        return DistrictPlots({"centralized optimum": self.dispatch_frame},
                             {"centralized optimum": self.prices_frame}, self.objective,
                             self.scenario, scenario=self.scenario,
                             district=self.problem.district)

    def to_xarray(self) -> xr.Dataset:
        """The solution as a dataset over ``(timestep, der)``: the dispatch per quantity
        (``thermal_power``, ``active_power``, ``reactive_power``), its price
        (``price_<quantity>``) and the price's components (``price_components_<quantity>``,
        also over ``component``), each with ``units``; the scenario, objective (S$), solver
        status and solver time as attributes."""
        # xarray is heavy and the agents never label results: loaded when a dataset is asked for
        import xarray as xr

        d = self.problem.district
        variables = quantity_variables(self.dispatch, d.timesteps, d.der_names, "dispatch")
        variables.update(quantity_variables(self.prices, d.timesteps, d.der_names, "prices",
                                            prefix="price_"))
        for quantity, parts in self.price_components.items():
            arrays = [quantity_variables({quantity: a}, d.timesteps, d.der_names,
                                         "prices")[quantity] for a in parts.values()]
            variables[f"price_components_{quantity}"] = xr.concat(
                arrays, dim=pd.Index(np.array(list(parts), dtype=str), name="component"))
        return xr.Dataset(variables, attrs={
            "scenario": self.scenario, "objective_sgd": self.objective,
            "status": self.status.name.lower(), "solver_wall_time_s": self.wall_time_s,
            "resolution": d.resolution})

    def __repr__(self) -> str:
        d = self.problem.district
        binding = self.binding_constraints()
        where = ", ".join(f"{b['constraint'].split('/')[-1]} {b['element']} ({b['timesteps']} "
                          f"steps)" for b in binding[:3]) or "none"
        if len(binding) > 3:
            where += f", +{len(binding) - 3} more"
        return (f"CentralizedResult(scenario={self.scenario!r}, status={self.status.name}, "
                f"objective={self.objective:.2f} S$,\n"
                f"  {d.n_timesteps} steps x {d.n_der} DERs at {d.resolution}, "
                f"solved in {self.wall_time_s:.2f} s, binding limits: {where})")

    def group(self, block: str, group: str) -> np.ndarray:
        """Solution values of one variable group of one block (flat)."""
        return self.x[self.problem.columns(block, group)]

    def binding_constraints(self, tol: float = 1e-9) -> list[dict]:
        """Grid limits with a nonzero dual: family, element name, number of steps, largest |dual|
        (S$ per unit per step)."""
        out = []
        d = self.problem.district
        names = {"thermal_grid/branch_flow_max": d.thermal_grid.line_names,
                 "thermal_grid/node_head_min": d.thermal_grid.node_names,
                 "electric_grid/voltage_min": d.electric_grid.node_names,
                 "electric_grid/voltage_max": d.electric_grid.node_names,
                 "electric_grid/branch_power_from_max": d.electric_grid.line_names,
                 "electric_grid/branch_power_to_max": d.electric_grid.line_names}
        for fam, elements in names.items():
            dual = np.abs(self.duals[fam])
            for e in np.flatnonzero((dual > tol).any(axis=0)):
                out.append({"constraint": fam, "element": str(elements[e]),
                            "timesteps": int((dual[:, e] > tol).sum()),
                            "max_abs_dual": float(dual[:, e].max())})
        return out


def _row_scale(a: sp.csr_matrix) -> np.ndarray:
    """1 / largest |coefficient| per row (1 for empty rows): the thermal rows have coefficients of
    1e-8..1e-5 per kW, far below the building rows, and HiGHS drops values below 1e-9."""
    big = np.asarray(abs(a).max(axis=1).todense()).ravel()
    return np.where(big > 0, 1.0 / np.where(big > 0, big, 1.0), 1.0)


def solve_centralized(problem: CentralizedProblem) -> CentralizedResult:
    """Solve eq. (1) once with HiGHS (``scipy.optimize.linprog``) and derive the nodal prices.

    Prices: DLMP of DER k at step t = dual of its coupling row / ``timestep_h``. The coupling row
    reads ``grid copy - aggregator copy = 0``; raising its right-hand side makes the grid supply one
    more unit than the building takes, so the dual is the marginal cost of demand at that node.
    Components follow from stationarity of the grid's (free, costless) demand variable: the
    coupling dual equals ``-sum_i A_ij y_i`` over the grid's own rows; the balance row's identity
    coefficient (``1/eta_ch`` resp. 1) gives ``energy``, its sensitivity part (pump resp. losses)
    ``loss``, the limit rows ``congestion`` / ``voltage``. Raises ``RuntimeError`` if HiGHS does
    not report an optimal solution.
    """
    s_eq, s_ub = _row_scale(problem.A_eq), _row_scale(problem.A_ub)
    start = time.perf_counter()
    res = linprog(problem.c, A_ub=sp.diags(s_ub) @ problem.A_ub, b_ub=s_ub * problem.b_ub,
                  A_eq=sp.diags(s_eq) @ problem.A_eq, b_eq=s_eq * problem.b_eq,
                  bounds=np.c_[problem.lb, problem.ub], method="highs",
                  options={"primal_feasibility_tolerance": 1e-9,
                           "dual_feasibility_tolerance": 1e-9})
    wall = time.perf_counter() - start
    if res.status != 0:
        raise RuntimeError(f"centralized problem ({problem.scenario}) not solved: {res.message}")
    y_eq = res.eqlin.marginals * s_eq  # back to the unscaled rows
    y_ub = res.ineqlin.marginals * s_ub

    d = problem.district
    n_t, n_der, dt = d.n_timesteps, d.n_der, d.timestep_h
    x = res.x
    dispatch, prices, components = {}, {}, {}
    grid_of = {"p_th": "thermal_grid", "p": "electric_grid", "q": "electric_grid"}
    balance_of = {"p_th": ("thermal_grid/thermal_power_balance", 1.0 / d.eta_ch),
                  "p": ("electric_grid/active_power_balance", 1.0),
                  "q": ("electric_grid/reactive_power_balance", 1.0)}
    for quantity, group in QUANTITIES.items():
        dispatch[quantity] = x[problem.columns("aggregator", group)].reshape(n_t, n_der)
        prices[quantity] = y_eq[problem.eq_rows[f"coupling_{group}"]].reshape(n_t, n_der) / dt
        grid = grid_of[group]
        cols = problem.columns(grid, group)
        comp = {name: np.zeros(n_t * n_der) for name in PRICE_COMPONENTS}
        # Balance rows of the grid: energy (identity coefficient) and loss / pump (the rest).
        for fam in ("thermal_grid/thermal_power_balance", "electric_grid/active_power_balance",
                    "electric_grid/reactive_power_balance"):
            if not fam.startswith(grid):
                continue
            rows = problem.eq_rows[fam]
            contrib = -(problem.A_eq[rows][:, cols].T @ y_eq[rows])
            if fam == balance_of[group][0]:
                # Demand enters its own balance with -(identity + sensitivity) per (t, k).
                energy = np.repeat(y_eq[rows], n_der) * balance_of[group][1]
                comp["energy"] += energy
                comp["loss"] += contrib - energy
            else:
                comp["loss"] += contrib  # cross terms, e.g. reactive demand in active losses
        for fam, rows in problem.ub_rows.items():
            block, local = fam.split("/", 1)
            if block != grid:
                continue
            comp[_COMPONENT_OF_FAMILY[local]] += -(problem.A_ub[rows][:, cols].T @ y_ub[rows])
        components[quantity] = {k: v.reshape(n_t, n_der) / dt for k, v in comp.items()}

    duals = {}
    for fam, rows in problem.ub_rows.items():
        if fam.startswith(("thermal_grid/", "electric_grid/")):
            duals[fam] = y_ub[rows].reshape(n_t, -1)
    for fam, rows in problem.eq_rows.items():
        if fam.startswith(("thermal_grid/", "electric_grid/")):
            duals[fam] = y_eq[rows].reshape(n_t, -1)
    extra = {
        "thermal_source_kw": x[problem.columns("thermal_grid", "p_th_src")],
        "electric_source_kw": x[problem.columns("electric_grid", "p_src")],
        "electric_source_kvar": x[problem.columns("electric_grid", "q_src")],
    }
    return CentralizedResult(problem=problem, x=x, objective=float(res.fun),
                             status=SolverStatus(int(res.status)),
                             message=str(res.message), wall_time_s=wall, dispatch=dispatch,
                             prices=prices, price_components=components, duals=duals, extra=extra)


#: Demand step (kW / kvar) by which :func:`price_range` moves one node's demand each way.
PRICE_RANGE_STEP = 1.0


def price_range(result: CentralizedResult, quantity: str, timestep: int, der: int,
                step: float = PRICE_RANGE_STEP) -> tuple[float, float]:
    """The range of nodal prices (S$/kWh, S$/kvarh) of ``quantity`` at DER ``der`` and step
    ``timestep`` that support the optimum: where the DLMP is not unique (a degenerate optimum,
    e.g. a limit that binds exactly at the demand), any price in it clears the same dispatch.

    The problem is solved twice more with that node's demand moved by ``step`` each way
    (``step`` kW / kvar: small next to the demand, large against the solver's tolerance); the
    coupling row's dual there is the price of one more (less) unit, the range's ends. Both
    solves start from the same LP, so the range holds the optimum's own price."""
    problem = result.problem
    group = QUANTITIES[quantity]
    n_der = problem.district.n_der
    row = problem.eq_rows[f"coupling_{group}"][timestep * n_der + der]
    ends = []
    for sign in (1.0, -1.0):
        b_eq = problem.b_eq.copy()
        b_eq[row] += sign * step
        moved = solve_centralized(dataclasses.replace(problem, b_eq=b_eq))
        ends.append(float(moved.prices[quantity][timestep, der]))
    own = float(result.prices[quantity][timestep, der])
    return min(*ends, own), max(*ends, own)


def solve_district(district: DistrictData, scenario: str = "unconstrained") -> CentralizedResult:
    """Build and solve the centralized problem of ``scenario`` (see :mod:`.scenarios`)."""
    return solve_centralized(build_centralized(district, scenario))
