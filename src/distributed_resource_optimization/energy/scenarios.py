"""The grid-limit scenarios: one physical (``thermal-congestion``), the others calibrated so that
each limit binds in this model (stress tests of the price mechanics).

Every scenario tightens one limit of one grid element; all other limits keep the loose defaults of
the linear models (100x reference, voltage 0.5-1.5 p.u.). ``thermal-congestion`` limits pipe "4"
at a physical rating with a stated cause (:data:`PIPE_REPAIR`: the section is under repair, its
flow passes a temporary bypass of 0.7 m inner diameter at the line type's maximum velocity,
2 m/s). The others: the study's data README defines the limits as multiples of a power flow at
nominal DER power, but the building models draw about 10x less cooling and 20-30x less
electricity than nominal (``docs/energy_buildings.md``), so those limits are slack here. The
limits below are therefore multiples of the value at the district's linearisation reference
(:func:`.district.load_district`, default: the buildings' demand at the district's cooling
peak, 14:00 for the embedded day), i.e. of the same power flow that defines the linear model;
they are far below the data's ratings (``scenario_limits`` in ``summary.json`` says how far):

=========================== ===================================== ====== =========================
scenario                    limit                                 factor study (nominal reference)
=========================== ===================================== ====== =========================
unconstrained               none                                  -      -
thermal-congestion          flow of thermal branch "4" <= 2 m/s   -      0.2 x Q_ref(nominal)
                            x the bypass's cross-section
thermal-head                head at thermal node "15" >= f h_ref  0.5    0.2 x h_ref(nominal)
                            (< 0)
electric-congestion         stress-thermal-congestion's limit,    1.1    8.5 x line rating
                            and |S| of electric branch "4" <=
                            f |S_ref|
voltage                     stress-thermal-congestion's limit,    1.08   V >= 0.9985 p.u.
                            and drop 1-V at electric node "15"
                            <= f drop_ref
stress-thermal-congestion   flow of thermal branch "4" <= f Q_ref 0.7    (the study's figure 2)
=========================== ===================================== ====== =========================

The table is data (:data:`SCENARIOS`: each scenario's :class:`LimitRule` and its ``base``), kept
once; this module is the one owner of the scenario names (:data:`SCENARIO_NAMES`,
:func:`check_scenario`, :data:`DEFAULT_SCENARIO`). Each grid operator computes its part from its
own linear model only (:func:`thermal_scenario_limits`, :func:`electric_scenario_limits`); the
grids' LP blocks take these limits as data (:mod:`.grid_operators`). :func:`scenario_limits`
combines both for the whole district and adds what the reports need (the limited element's
constraint families and the DERs downstream of it). This module needs numpy only (the models are
duck-typed), so the command line can list the scenarios without loading the models.

The study's thermal limits (0.2x nominal: 1.94 m3/s on branch "4", -0.057 m at node "15") lie
beyond the model's peak (0.90 m3/s, -0.0025 m); its electric limits (189 MVA on branch "4",
0.9985 p.u. at node "15") lie far beyond the model's peak (6.5 MVA, 0.9996 p.u.).

The electric scenarios keep the thermal branch limit of ``stress-thermal-congestion`` (until
session 11 the definition of ``thermal-congestion``). In the study's
data the buildings' electric demand is fixed except for the local chillers: the appliance load is
a schedule and the AHU fans draw 1 J per kg of supply air (1.7e-4 kW per kW of cooling). A building
runs its local chiller (electricity at the wholesale price / 5.5) only when district cooling costs
more than that, i.e. when the thermal branch is congested; downstream of branch "4" that adds up
to about 1.2 MW of electric load in the afternoon. The electric limits then bind on that load and
price it (DLMPs up to 0.3-0.5 S$/kWh) against pre-cooling through the congested thermal branch.
On their own, with the thermal grid uncongested, an electric limit could only bind within the
0.05 % band of fan power above the appliance load, with scarcity prices of 85-170 S$/kWh that the
ADMM market clearing does not reach (``docs/market_clearing.md``). The voltage factor is 1.08:
with the comfort band held inside every step the afternoon local-chiller load is lower and 1.1 is
slack at 30 min; 1.06-1.09 bind at both resolutions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .district import DistrictData
    from .electric_grid import LinearElectricGridModel
    from .thermal_grid import LinearThermalGridModel

#: Default scenario of the CLI and the market clearing: the study's demonstrated case.
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
VOLTAGE_DROP_FACTOR = 1.08


# --------------------------------------------------------------------------------------------
# The scenario table (data)


@dataclass(frozen=True)
class PipeBypass:
    """A physical rating with its cause: a pipe section under repair whose flow passes a
    temporary bypass of inner diameter ``diameter_m`` (m, stated by the scenario) at the maximum
    velocity of the pipe's line type (``thermal_grid_line_types.csv``, ``maximum_velocity``).
    ``cause`` says why, in words."""

    diameter_m: float
    cause: str

    def flow_m3_s(self, grid: object, line: int) -> float:
        """The bypass's flow rating (m3/s): maximum velocity times its cross-section."""
        return float(grid.line_max_velocity_m_s[line]) * np.pi * self.diameter_m ** 2 / 4.0


@dataclass(frozen=True)
class LimitRule:
    """One tightened limit: ``limit`` (a key of :data:`LIMITS`) of grid element ``element`` (line
    or node name as in the data), set from the element's reference value and ``factor`` (a
    stress test), or from a physical ``rating`` of the element with its cause."""

    limit: str
    element: str
    factor: float = 1.0
    rating: PipeBypass | None = None

    def __post_init__(self) -> None:
        if self.rating is not None and self.limit != "thermal_branch_flow_max":
            raise ValueError(f"a pipe bypass rates a pipe's flow (thermal_branch_flow_max), not "
                             f"{self.limit}")


@dataclass(frozen=True)
class Scenario:
    """A scenario of the study: its own tightened limit (``None``: none) and the scenario whose
    limits it keeps on the grid its own rule leaves alone (``base``)."""

    name: str
    rule: LimitRule | None = None
    base: str | None = None


#: The repair of ``thermal-congestion``: pipe "4", the 52 m trunk that carries the plant's flow
#: to FLs 1, 2, 4, 6, 7, 15, 17, 18, 20 and 22, is under repair; its flow
#: passes a temporary bypass of 0.7 m inner diameter (a DN 700 steel pipe) at the line type's
#: 2 m/s, 0.770 m3/s: 86 % of the flow at the district's cooling peak.
PIPE_REPAIR = PipeBypass(
    0.7, 'pipe 4 under repair: its flow passes a temporary bypass of 0.7 m inner diameter (DN 700) '
    "at the line type's maximum velocity")

#: Scenario name -> definition (see the module doc for the calibration of the factors).
SCENARIOS: dict[str, Scenario] = {
    "unconstrained": Scenario("unconstrained"),
    "thermal-congestion": Scenario(
        "thermal-congestion", LimitRule("thermal_branch_flow_max", THERMAL_BRANCH,
                                        rating=PIPE_REPAIR)),
    "thermal-head": Scenario(
        "thermal-head", LimitRule("thermal_node_head_min", THERMAL_NODE, THERMAL_NODE_HEAD_FACTOR)),
    # The electric limits bind only on the local chillers that thermal congestion switches on.
    "electric-congestion": Scenario(
        "electric-congestion", LimitRule("electric_branch_power_max", ELECTRIC_BRANCH,
                                         ELECTRIC_BRANCH_POWER_FACTOR),
        base="stress-thermal-congestion"),
    "voltage": Scenario(
        "voltage", LimitRule("electric_voltage_min", ELECTRIC_NODE, VOLTAGE_DROP_FACTOR),
        base="stress-thermal-congestion"),
    # The study's calibrated cap (until session 11 the definition of thermal-congestion): a test
    # of the price mechanics, 4.5 % of the pipe's velocity rating.
    "stress-thermal-congestion": Scenario(
        "stress-thermal-congestion", LimitRule("thermal_branch_flow_max", THERMAL_BRANCH,
                                               THERMAL_BRANCH_FLOW_FACTOR)),
}

#: The scenario names, in table order (e.g. for argparse ``choices=``).
SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)


def check_scenario(name: str) -> str:
    """``name`` if it is a scenario of :data:`SCENARIOS`, else ``ValueError`` listing the valid
    names (the one check of a scenario name)."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; valid: {', '.join(SCENARIOS)}")
    return name


# --------------------------------------------------------------------------------------------
# Limits per grid, each from that grid's own linear model


@dataclass(frozen=True)
class ThermalLimits:
    """Thermal grid limits of a scenario, per line (m3/s) and per node (m); ``None`` keeps the
    linear model's default."""

    branch_flow_max_m3_s: np.ndarray | None = None
    node_head_min_m: np.ndarray | None = None


@dataclass(frozen=True)
class ElectricLimits:
    """Electric grid limits of a scenario, per line (kVA) and per node (p.u.); ``None`` keeps the
    linear model's default."""

    branch_power_max_kva: np.ndarray | None = None
    voltage_min_pu: np.ndarray | None = None


@dataclass(frozen=True)
class _Limit:
    """How a :class:`LimitRule` acts: on which grid, which field of its limits, which element kind,
    the LP constraint families it tightens, the limit array, and the description."""

    grid: str  # "thermal" or "electric"
    field: str  # field of ThermalLimits / ElectricLimits
    element_kind: str  # "line" or "node"
    families: tuple[str, ...]
    tighten: Callable[[object, int, float], np.ndarray]
    describe: Callable[[LimitRule, np.ndarray, int], str]


def _thermal_branch_flow(m: LinearThermalGridModel, e: int, f: float) -> np.ndarray:
    # The study's 0.2x nominal reference flow (9.68 m3/s -> 1.94 m3/s) is above the peak flow of
    # the building models (0.90 m3/s) and would be slack; 0.7x the flow at the peak binds over the
    # occupied afternoon hours.
    limit = m.branch_flow_max_m3_s.copy()
    limit[e] = f * m.branch_flow_ref_m3_s[e]
    return limit


def _thermal_node_head(m: LinearThermalGridModel, e: int, f: float) -> np.ndarray:
    # Heads are negative, so f < 1 is tighter than the reference head loss.
    limit = m.node_head_min_m.copy()
    limit[e] = f * m.node_head_ref_m[e]
    return limit


def _electric_branch_power(m: LinearElectricGridModel, e: int, f: float) -> np.ndarray:
    # Both ends of the line get the limit; the reference is the larger end.
    limit = m.branch_power_max_kva.copy()
    limit[e] = f * max(m.branch_power_from_ref_kva[e], m.branch_power_to_ref_kva[e])
    return limit


def _electric_voltage(m: LinearElectricGridModel, e: int, f: float) -> np.ndarray:
    # The voltage drop may reach f times its reference drop: V_min = 1 - f (1 - V_ref).
    limit = m.voltage_min_pu.copy()
    limit[e] = 1.0 - f * (1.0 - m.voltage_ref_pu[e])
    return limit


#: Limit kinds a :class:`LimitRule` can name.
LIMITS: dict[str, _Limit] = {
    "thermal_branch_flow_max": _Limit(
        "thermal", "branch_flow_max_m3_s", "line", ("thermal_grid/branch_flow_max",),
        _thermal_branch_flow,
        lambda r, limit, e: f"flow of thermal branch {r.element} <= {limit[e]:.4f} m3/s: "
        f"{r.rating.cause}" if r.rating is not None
        else f"flow of thermal branch {r.element} <= {r.factor} x reference flow"),
    "thermal_node_head_min": _Limit(
        "thermal", "node_head_min_m", "node", ("thermal_grid/node_head_min",),
        _thermal_node_head,
        lambda r, limit, e: f"head at thermal node {r.element} >= {r.factor} x reference head"),
    "electric_branch_power_max": _Limit(
        "electric", "branch_power_max_kva", "line",
        ("electric_grid/branch_power_from_max", "electric_grid/branch_power_to_max"),
        _electric_branch_power,
        lambda r, limit, e: f"apparent power of electric branch {r.element} <= {r.factor} x "
        "reference"),
    "electric_voltage_min": _Limit(
        "electric", "voltage_min_pu", "node", ("electric_grid/voltage_min",), _electric_voltage,
        lambda r, limit, e: f"voltage at electric node {r.element} >= {limit[e]:.7f} p.u."),
}


#: The check kind of the verification (:mod:`.verification`) that holds each limit kind of
#: :data:`LIMITS`, with its unit and whether the limit is an upper one.
CHECK_OF_LIMIT: dict[str, tuple[str, str, bool]] = {
    "thermal_branch_flow_max": ("pipe_flow", "m3/s", True),
    "thermal_node_head_min": ("node_head", "m", False),
    "electric_branch_power_max": ("branch_power", "kVA", True),
    "electric_voltage_min": ("voltage_min", "p.u.", False),
}


def _scenario(name: str) -> Scenario:
    return SCENARIOS[check_scenario(name)]


def scenario_rules(name: str) -> list[LimitRule]:
    """The tightened limits of scenario ``name`` on both grids (its own and its base's)."""
    return [rule for grid in ("thermal", "electric") if (rule := _rule_on(name, grid))]


def _rule_on(name: str, grid: str) -> LimitRule | None:
    """The rule of scenario ``name`` on ``grid``: its own, else its base scenario's."""
    scenario = _scenario(name)
    if scenario.rule is not None and LIMITS[scenario.rule.limit].grid == grid:
        return scenario.rule
    return _rule_on(scenario.base, grid) if scenario.base is not None else None


def rule_element(grid: object, rule: LimitRule) -> int:
    """The index of ``rule``'s element among ``grid``'s lines or nodes (``ValueError`` naming it
    if the data has no such element)."""
    kind = LIMITS[rule.limit]
    names = grid.line_names if kind.element_kind == "line" else grid.node_names
    what = f"{kind.grid} {'branch' if kind.element_kind == 'line' else 'node'}"
    return _index(names, rule.element, what)


def _apply(model: object, rule: LimitRule) -> tuple[np.ndarray, int]:
    """The tightened limit array of ``rule`` on ``model``'s grid and the element's index."""
    e = rule_element(model.grid, rule)
    if rule.rating is not None:
        # A physical rating of the element, from the grid's own data and the stated cause.
        limit = np.array(getattr(model, LIMITS[rule.limit].field), dtype=float)
        limit[e] = rule.rating.flow_m3_s(model.grid, e)
        return limit, e
    return LIMITS[rule.limit].tighten(model, e, rule.factor), e


def thermal_scenario_limits(model: LinearThermalGridModel, scenario: str) -> ThermalLimits:
    """Thermal grid limits of ``scenario`` from the thermal grid operator's own linear model."""
    rule = _rule_on(scenario, "thermal")
    if rule is None:
        return ThermalLimits()
    return ThermalLimits(**{LIMITS[rule.limit].field: _apply(model, rule)[0]})


def electric_scenario_limits(model: LinearElectricGridModel, scenario: str) -> ElectricLimits:
    """Electric grid limits of ``scenario`` from the electric grid operator's own linear model."""
    rule = _rule_on(scenario, "electric")
    if rule is None:
        return ElectricLimits()
    return ElectricLimits(**{LIMITS[rule.limit].field: _apply(model, rule)[0]})


# --------------------------------------------------------------------------------------------
# Both grids together


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

    def resolved(self, thermal_model: LinearThermalGridModel,
                 electric_model: LinearElectricGridModel) -> dict[str, np.ndarray]:
        """The four limit arrays with the linear models' defaults where this scenario sets
        none: ``thermal_branch_flow_max_m3_s``, ``thermal_node_head_min_m``,
        ``electric_branch_power_max_kva``, ``electric_voltage_min_pu``."""
        defaults = {"thermal_branch_flow_max_m3_s": thermal_model.branch_flow_max_m3_s,
                    "thermal_node_head_min_m": thermal_model.node_head_min_m,
                    "electric_branch_power_max_kva": electric_model.branch_power_max_kva,
                    "electric_voltage_min_pu": electric_model.voltage_min_pu}
        return {name: np.asarray(default if getattr(self, name) is None
                                 else getattr(self, name), dtype=float)
                for name, default in defaults.items()}

    @property
    def thermal(self) -> ThermalLimits:
        """The thermal grid's part (what :func:`thermal_scenario_limits` returns)."""
        return ThermalLimits(self.thermal_branch_flow_max_m3_s, self.thermal_node_head_min_m)

    @property
    def electric(self) -> ElectricLimits:
        """The electric grid's part (what :func:`electric_scenario_limits` returns)."""
        return ElectricLimits(self.electric_branch_power_max_kva, self.electric_voltage_min_pu)


def scenario_limits(district: DistrictData, name: str) -> ScenarioLimits:
    """Limits of scenario ``name`` on both grids, with the limited element's families and the
    DERs downstream of it; ``ValueError`` listing the valid names if unknown."""
    scenario = _scenario(name)
    thermal = thermal_scenario_limits(district.thermal_model, name)
    electric = electric_scenario_limits(district.electric_model, name)
    arrays = dict(thermal_branch_flow_max_m3_s=thermal.branch_flow_max_m3_s,
                  thermal_node_head_min_m=thermal.node_head_min_m,
                  electric_branch_power_max_kva=electric.branch_power_max_kva,
                  electric_voltage_min_pu=electric.voltage_min_pu)
    rule = scenario.rule
    if rule is None:
        return ScenarioLimits(name, "no grid limit binds", **arrays)
    kind = LIMITS[rule.limit]
    model = district.thermal_model if kind.grid == "thermal" else district.electric_model
    limit, e = _apply(model, rule)
    description = kind.describe(rule, limit, e)
    if scenario.base is not None:
        description += f", with {scenario.base}'s limit"
    below = _below_line if kind.element_kind == "line" else _below_node
    return ScenarioLimits(name, description, **arrays, families=kind.families,
                          base=scenario.base, element=rule.element,
                          downstream=below(model.grid, e))


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
