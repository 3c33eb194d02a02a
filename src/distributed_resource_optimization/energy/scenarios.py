"""The five grid-limit scenarios of the study, calibrated so that each limit binds in this model.

Every scenario tightens one limit of one grid element; all other limits keep the loose defaults of
the linear models (100x reference, voltage 0.5-1.5 p.u.). The study's data README defines the limits
as multiples of a power flow at nominal DER power, but the building models draw about 10x less
cooling and 20-30x less electricity than nominal (``docs/energy_buildings.md``), so those limits
are slack here. The limits below are therefore multiples of the value at the district's
linearisation reference (:func:`.district.load_district`, default: the buildings' demand at the
district's cooling peak, 14:00 for the embedded day), i.e. of the same power flow that defines
the linear model:

=================== ============================================ ====== ===========================
scenario            limit                                        factor study (nominal reference)
=================== ============================================ ====== ===========================
unconstrained       none                                         -      -
thermal-congestion  flow of thermal branch "4" <= f Q_ref        0.7    0.2 x Q_ref(nominal)
thermal-head        head at thermal node "15" >= f h_ref (< 0)   0.5    0.2 x h_ref(nominal)
electric-congestion thermal-congestion's limit, and              1.1    8.5 x line rating
                    |S| of electric branch "4" <= f |S_ref|
voltage             thermal-congestion's limit, and              1.1    V >= 0.9985 p.u.
                    drop 1-V at electric node "15" <= f drop_ref
=================== ============================================ ====== ===========================

The study's thermal limits (0.2x nominal: 1.94 m3/s on branch "4", -0.057 m at node "15") lie
beyond the model's peak (0.90 m3/s, -0.0025 m); its electric limits (189 MVA on branch "4",
0.9985 p.u. at node "15") lie far beyond the model's peak (6.5 MVA, 0.9996 p.u.).

The electric scenarios keep the thermal branch limit of ``thermal-congestion``. In the study's
data the buildings' electric demand is fixed except for the local chillers: the appliance load is
a schedule and the AHU fans draw 1 J per kg of supply air (1.7e-4 kW per kW of cooling). A building
runs its local chiller (electricity at the wholesale price / 5.5) only when district cooling costs
more than that, i.e. when the thermal branch is congested; downstream of branch "4" that adds up
to about 1.2 MW of electric load in the afternoon. The electric limits then bind on that load and
price it (DLMPs up to 0.3-0.5 S$/kWh) against pre-cooling through the congested thermal branch.
On their own, with the thermal grid uncongested, an electric limit could only bind within the
0.05 % band of fan power above the appliance load, with scarcity prices of 85-170 S$/kWh that the
ADMM market clearing does not reach (``docs/market_clearing.md``). Tighter than about 1.07x (at
60 min) the combination is infeasible: district cooling and the local chillers together cannot
carry the load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .district import DistrictData

#: Default scenario of the CLI: the seed's demonstrated case.
DEFAULT_SCENARIO = "thermal-congestion"

#: Factors of the constrained scenarios, relative to the reference power flow (see module doc).
THERMAL_BRANCH = "4"
THERMAL_BRANCH_FLOW_FACTOR = 0.7
THERMAL_NODE = "15"
THERMAL_NODE_HEAD_FACTOR = 0.5
ELECTRIC_BRANCH = "4"
ELECTRIC_BRANCH_POWER_FACTOR = 1.1
ELECTRIC_NODE = "15"
#: Voltage scenario: the voltage drop at the node may reach ``f`` times its reference drop, i.e.
#: V_min = 1 - f (1 - V_ref) (p.u.).
VOLTAGE_DROP_FACTOR = 1.1


@dataclass(frozen=True)
class ScenarioLimits:
    """Grid limits of one scenario; ``None`` keeps the linear model's default. Arrays are per
    line (m3/s, kVA) or per node (m, p.u.) in the grid's element order."""

    name: str
    description: str
    thermal_branch_flow_max_m3_s: np.ndarray | None = None
    thermal_node_head_min_m: np.ndarray | None = None
    electric_branch_power_max_kva: np.ndarray | None = None
    electric_voltage_min_pu: np.ndarray | None = None
    #: Constraint families (``"<block>/<family>"``) of the tightened limit, e.g.
    #: ``("thermal_grid/branch_flow_max",)``; empty for the unconstrained scenario.
    families: tuple[str, ...] = ()
    #: Scenario whose limits this one keeps in addition to its own (electric scenarios:
    #: ``"thermal-congestion"``); ``None`` for none.
    base: str | None = None
    #: Name of the limited grid element (line or node name as in the data).
    element: str = ""
    #: DER indices fed through the limited element (downstream of the line, at or below the node).
    downstream: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def _index(names: np.ndarray, name: str, what: str) -> int:
    hits = np.flatnonzero(np.asarray(names).astype(str) == name)
    if hits.size != 1:
        raise ValueError(f"{what} {name!r} not found in the grid data")
    return int(hits[0])


def _below_line(grid: object, line: int) -> np.ndarray:
    return downstream_ders(grid.line_from, grid.line_to, grid.source_index, grid.der_node_index,
                           line)


def _below_node(grid: object, node: int) -> np.ndarray:
    """DERs at or below ``node``: downstream of the line that feeds it."""
    lines = np.flatnonzero((grid.line_to == node) | (grid.line_from == node))
    for line in lines:
        below = _below_line(grid, int(line))
        if node in _subtree_nodes(grid, int(line)):
            return below
    return np.zeros(0, dtype=int)


def _subtree_nodes(grid: object, line: int) -> set[int]:
    """Nodes cut off from the source when ``line`` is removed."""
    fake_ders = np.arange(len(grid.node_names))
    return set(downstream_ders(grid.line_from, grid.line_to, grid.source_index, fake_ders,
                               line).tolist())


def _unconstrained(district: DistrictData) -> ScenarioLimits:
    """No tightened limit (the linear models' loose defaults)."""
    return ScenarioLimits("unconstrained", "no grid limit binds")


def _thermal_congestion(district: DistrictData) -> ScenarioLimits:
    """Flow of thermal branch "4" <= 0.7x its reference flow (peak-demand reference).

    The study's 0.2x nominal reference flow (9.68 m3/s -> 1.94 m3/s) is above the peak flow of the
    building models (0.90 m3/s) and would be slack; 0.7x the flow at the peak binds over
    the occupied afternoon hours."""
    m = district.thermal_model
    e = _index(m.grid.line_names, THERMAL_BRANCH, "thermal branch")
    limit = m.branch_flow_max_m3_s.copy()
    limit[e] = THERMAL_BRANCH_FLOW_FACTOR * m.branch_flow_ref_m3_s[e]
    return ScenarioLimits("thermal-congestion",
                          f"flow of thermal branch {THERMAL_BRANCH} <= {THERMAL_BRANCH_FLOW_FACTOR}"
                          " x reference flow", thermal_branch_flow_max_m3_s=limit,
                          families=("thermal_grid/branch_flow_max",), element=THERMAL_BRANCH,
                          downstream=_below_line(m.grid, e))


def _thermal_head(district: DistrictData) -> ScenarioLimits:
    """Head at thermal node "15" >= 0.5x its reference head (heads are negative, so the bound is
    tighter than the reference head loss)."""
    m = district.thermal_model
    e = _index(m.grid.node_names, THERMAL_NODE, "thermal node")
    limit = m.node_head_min_m.copy()
    limit[e] = THERMAL_NODE_HEAD_FACTOR * m.node_head_ref_m[e]
    return ScenarioLimits("thermal-head",
                          f"head at thermal node {THERMAL_NODE} >= {THERMAL_NODE_HEAD_FACTOR} x "
                          "reference head", thermal_node_head_min_m=limit,
                          families=("thermal_grid/node_head_min",), element=THERMAL_NODE,
                          downstream=_below_node(m.grid, e))


def _on_thermal_congestion(district: DistrictData, **fields) -> ScenarioLimits:
    """Thermal-congestion's limits with ``fields`` (the added limit, its name and element)
    replaced, and ``base`` set accordingly."""
    return replace(_thermal_congestion(district), base="thermal-congestion", **fields)


def _electric_congestion(district: DistrictData) -> ScenarioLimits:
    """Thermal-congestion's flow limit, and the apparent power of electric branch "4" (both ends)
    <= 1.1x its reference value (the larger end): the local chillers that the thermal congestion
    turns on downstream are the flexible electric load (module doc)."""
    m = district.electric_model
    e = _index(m.grid.line_names, ELECTRIC_BRANCH, "electric branch")
    limit = m.branch_power_max_kva.copy()
    ref = max(m.branch_power_from_ref_kva[e], m.branch_power_to_ref_kva[e])
    limit[e] = ELECTRIC_BRANCH_POWER_FACTOR * ref
    return _on_thermal_congestion(
        district, name="electric-congestion",
        description=f"apparent power of electric branch {ELECTRIC_BRANCH} <= "
        f"{ELECTRIC_BRANCH_POWER_FACTOR} x reference, with thermal-congestion's limit",
        electric_branch_power_max_kva=limit,
        families=("electric_grid/branch_power_from_max", "electric_grid/branch_power_to_max"),
        element=ELECTRIC_BRANCH, downstream=_below_line(m.grid, e))


def _voltage(district: DistrictData) -> ScenarioLimits:
    """Thermal-congestion's flow limit, and voltage at electric node "15" >= 1 - f (1 - V_ref)
    p.u. (the voltage drop at most ``f = VOLTAGE_DROP_FACTOR`` times the reference drop)."""
    m = district.electric_model
    e = _index(m.grid.node_names, ELECTRIC_NODE, "electric node")
    limit = m.voltage_min_pu.copy()
    limit[e] = 1.0 - VOLTAGE_DROP_FACTOR * (1.0 - m.voltage_ref_pu[e])
    return _on_thermal_congestion(
        district, name="voltage",
        description=f"voltage at electric node {ELECTRIC_NODE} >= {limit[e]:.7f} p.u., with "
        "thermal-congestion's limit",
        electric_voltage_min_pu=limit, families=("electric_grid/voltage_min",),
        element=ELECTRIC_NODE, downstream=_below_node(m.grid, e))


#: Scenario name -> function building its limits from the district.
SCENARIOS: dict[str, Callable[[DistrictData], ScenarioLimits]] = {
    "unconstrained": _unconstrained,
    "thermal-congestion": _thermal_congestion,
    "thermal-head": _thermal_head,
    "electric-congestion": _electric_congestion,
    "voltage": _voltage,
}


def scenario_limits(district: DistrictData, name: str) -> ScenarioLimits:
    """Limits of scenario ``name``; ``ValueError`` listing the valid names if unknown."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; valid: {', '.join(SCENARIOS)}")
    return SCENARIOS[name](district)


def downstream_ders(line_from: np.ndarray, line_to: np.ndarray, source_index: int,
                    der_node_index: np.ndarray, line: int) -> np.ndarray:
    """Indices of the DERs fed through ``line`` of a radial network (those cut off from the
    source when the line is removed)."""
    n_node = int(max(line_from.max(), line_to.max(), source_index)) + 1
    adjacency: list[list[int]] = [[] for _ in range(n_node)]
    for i, (a, b) in enumerate(zip(line_from, line_to)):
        if i != line:
            adjacency[a].append(b)
            adjacency[b].append(a)
    reached = {source_index}
    stack = [source_index]
    while stack:
        for nxt in adjacency[stack.pop()]:
            if nxt not in reached:
                reached.add(nxt)
                stack.append(nxt)
    return np.array([k for k, node in enumerate(der_node_index) if node not in reached], dtype=int)
