"""ADMM market clearing of the district (the study's sec. 2.2, Algorithm 1) on the generic ADMM engine.

The entities of :mod:`.entities` are the actors of a general-form consensus run
(:class:`~distributed_resource_optimization.admm.coordinator.ADMMGeneralConsensusGlobalActor`):
every exchanged demand ``(group, t, der)`` is owned by exactly two actors (a grid operator and the
aggregator or the building), ``z`` is their (rho-weighted, here equal-weight) average, i.e.
``p^ex = (p^grid + p^fl) / 2`` of Algorithm 1, and the engine's unscaled duals ``y = rho * u``
per actor entry are the study's prices ``pi``.

Stopping rule (``stop="certified"``, default): the study's rule below, and prices that support
every entity's own dispatch to ``price_tol`` (S$/kWh), and the objective certified within
``gap_tol`` of the optimum (:func:`~.rule.certified_rule` and the coordinator's gap rule).
``stop="study"`` (``"seed"`` is accepted as its former name) is the study's rule alone: Algorithm
1's ``r(a, b) = sum_t ||a_t - b_t||_1 < eps`` for thermal, active and reactive power (kW / kvar),
plus dual residuals below ``eps``: per quantity ``sum rho_j |z_j - z_j^prev| / timestep_h``
(S$/kWh; the two owners' prices always sum to zero in this form, so the study's price
disagreement is no test, but a consensus that still moves at a large penalty is). It is an engine
stopping rule (:func:`~.rule.study_rule`, a
:class:`~distributed_resource_optimization.admm.stopping.GroupResidualRule`) passed to the
coordinator; the engine's own residual-balancing rho adaptation, Anderson acceleration and
over-relaxation run unchanged. ``stop="engine"`` uses the engine's Boyd et al. rule
(``abs_tol``/``rel_tol``) instead, and still records the study's residuals.

Prices: the engine's dual ``y`` on an entry is in S$ per kW (kvar) per timestep. The aggregator
(or building) pays ``y`` for its demand, so its nodal price is ``y_fl / timestep_h`` in S$/kWh;
a grid operator's entry enters its Lagrangian with the opposite sign (it *supplies* that demand),
so its perceived price is ``-y_grid / timestep_h``. At convergence ``y_grid + y_fl = 0`` and both
equal the centralized DLMP (coupling-row dual / ``timestep_h``).

Reported values are those of the *last* iteration (dispatch, prices and the entities' costs of
the same local solves), not the engine's best iterate that it restores at ``max_iters``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from distributed_resource_optimization.admm.coordinator import (
    ADMMGeneralConsensusGlobalActor,
    ADMMGenericCoordinator,
    as_warm_start,
)
from distributed_resource_optimization.admm.general import GeneralConsensusState
from distributed_resource_optimization.admm.results import ADMMResult, ADMMStatus
from distributed_resource_optimization.admm.state import FormState
from distributed_resource_optimization.admm.stopping import AnyOf, GroupResidualRule, ResidualRule
from distributed_resource_optimization.admm.warm_start import WarmStart
from distributed_resource_optimization.checks import (
    positive_int,
    positive_scalar,
    renamed_keyword,
    tolerance,
)
from distributed_resource_optimization.energy.centralized import price_range
from distributed_resource_optimization.energy.district import DistrictData
from distributed_resource_optimization.energy.labels import (
    DistrictPlots,
    entity_frame,
    entity_variables,
)
from distributed_resource_optimization.energy.scenarios import (
    DEFAULT_SCENARIO,
    check_scenario,
    scenario_limits,
)
from distributed_resource_optimization.energy.successive import (
    DEFAULT_MAX_ROUNDS,
    LinearisationRound,
    check_rounds,
    linearisation_round,
    settled,
)
from distributed_resource_optimization.energy.timeseries import timestep_hours
from distributed_resource_optimization.energy.verification import (
    Verification,
    verify_dispatch,
)
from distributed_resource_optimization.figures.convergence import market_convergence
from distributed_resource_optimization.figures.style import entity_label
from distributed_resource_optimization.interior_point.consensus import (
    ROUNDS_PER_ITERATION,
    NewtonProgress,
)
from distributed_resource_optimization.local.blocks import SingleModelGroup
from distributed_resource_optimization.market.entities import market_entities
from distributed_resource_optimization.market.names import (  # the defaults: re-exported here
    AGGREGATOR,
    BUILDING_PREFIX,
    DEFAULT_ALPHA,
    DEFAULT_ANDERSON_MEMORY,
    DEFAULT_CLEARING,
    DEFAULT_EPS,
    DEFAULT_GAP_TOL,
    DEFAULT_MARKET_OBJECTIVE_TOL_REL,
    DEFAULT_MAX_ITERS,
    DEFAULT_PRICE_TOL,
    DEFAULT_RHO,
    DEFAULT_SOLVER_EPS,
    DEFAULT_SOLVER_TOL,
    DEFAULT_STOP,
    GRID_OPERATORS,
    GROUPS,
    NAME_SEPARATOR,
    QUANTITY_OF,
    RESIDUAL_OF,
    check_agents,
    check_clearing,
    is_consumer,
    parse_variable,
    stop_rule,
    timestep_label,
    variable_group,
    variable_name,
)
from distributed_resource_optimization.market.processes import entity_session
from distributed_resource_optimization.market.rule import (  # re-exported here
    certified_rule,
    market_residuals,
    study_rule,
)
from distributed_resource_optimization.runtime.engine import InteriorPointOutcome, in_process_session
from distributed_resource_optimization.runtime.processes import RUNTIMES
from distributed_resource_optimization.runtime.sync import run_sync
from distributed_resource_optimization.runtime.transport import (
    InProcessTransport,
    Transport,
    transport_argument,
)

__all__ = [
    "DEFAULT_ALPHA", "DEFAULT_ANDERSON_MEMORY", "DEFAULT_EPS", "DEFAULT_MAX_ITERS", "DEFAULT_RHO",
    "DEFAULT_SOLVER_EPS", "DEFAULT_SOLVER_TOL", "QUANTITY_OF", "RESIDUAL_OF", "MarketGlobalActor",
    "MarketResult",
    "compare_with_centralized", "market_coordinator", "market_residuals", "run_market_clearing",
    "shift_to_timesteps", "start_market_clearing", "study_rule",
    "certified_rule",
]

if TYPE_CHECKING:
    import xarray as xr


class MarketGlobalActor(ADMMGeneralConsensusGlobalActor):
    """General-form consensus with zero global objective; checks that the agents clear the
    expected demands, each with one grid operator and one consumer."""

    def __init__(self, expected: Sequence[str] | None = None) -> None:
        super().__init__()
        #: The exchanged variables this market must clear (``None``: whatever the agents name).
        self.expected = None if expected is None else frozenset(expected)

    def create_state(self, specs, data, settings):
        state = super().create_state(specs, data, settings)
        _check_owners(state)
        if self.expected is not None and set(state.keys) != self.expected:
            _mismatch(set(state.keys), self.expected)
        return state


def _mismatch(got: set[str], expected: frozenset[str]) -> None:
    """A clear error for agents that exchange other demands than the coordinator's district."""
    def describe(names) -> str:
        times = sorted({parse_variable(n)[1] for n in names})
        ders = sorted({parse_variable(n)[2] for n in names})
        minutes = ((pd.Timestamp(times[1]) - pd.Timestamp(times[0])).total_seconds() / 60
                   if len(times) > 1 else None)
        step = "" if minutes is None else f" every {minutes:g} min"
        return f"{len(times)} steps from {times[0]}{step}, {len(ders)} DERs"

    raise ValueError(f"the agents exchange {describe(got)}, but this market clears "
                     f"{describe(expected)}: start the agents with the same --resolution and "
                     "data as the coordinator")


def _check_owners(state: GeneralConsensusState) -> None:
    """Every exchanged demand must have one grid operator and one consumer (aggregator or
    building) as owners; otherwise the agents were started from mismatching data."""
    is_grid = np.concatenate([np.full(n, name in GRID_OPERATORS)
                              for name, n in zip(state.names, state.actor_sizes)])
    grids = np.bincount(state.gidx, weights=is_grid, minlength=state.G)
    consumers = np.bincount(state.gidx, weights=~is_grid, minlength=state.G)
    bad = np.flatnonzero((grids != 1) | (consumers != 1))
    if bad.size:
        shown = ", ".join(f"{state.keys[k]!r} ({int(grids[k])} grid operator(s), "
                          f"{int(consumers[k])} consumer(s))" for k in bad[:3])
        raise ValueError(f"{bad.size} exchanged demand(s) without exactly one grid operator and "
                         f"one consumer: {shown}; do all agents use the same horizon and DERs?")


@dataclass(repr=False)
class MarketResult:
    """Outcome of the ADMM market clearing.

    ``dispatch[entity][quantity]`` and ``prices[entity][quantity]`` are ``(T, n_der)`` arrays
    (kW / kvar; S$/kWh / S$/kvarh) per entity: ``thermal_grid_operator`` (thermal only),
    ``electric_grid_operator`` (active, reactive), ``aggregator`` (all three; in per-building mode
    assembled from the buildings) and, in per-building mode, ``building_<name>`` (``(T, 1)``).
    ``objective`` is the sum of the entities' own costs (S$), ``residuals`` the study's
    ``r(a, b)`` per quantity and iteration (kW / kvar), ``dual_residuals`` the dual residuals per
    quantity and iteration (S$/kWh, see :func:`~.rule.study_rule`), ``admm`` the engine's result
    (engine residuals, rho history). ``timesteps`` and ``der_names`` label the rows and columns;
    ``runtime``, ``agent_processes``, ``messages`` and ``bytes_sent`` describe how the agents
    ran and what they exchanged (bytes: 0 in-process, where nothing is encoded).
    """

    scenario: str
    agents: str
    objective: float
    iterations: int
    converged: bool
    wall_time_s: float
    dispatch: dict[str, dict[str, np.ndarray]]
    prices: dict[str, dict[str, np.ndarray]]
    residuals: dict[str, np.ndarray]
    admm: ADMMResult
    dual_residuals: dict[str, np.ndarray] = field(default_factory=dict)
    entity_objectives: dict[str, float] = field(default_factory=dict)
    rho: float = DEFAULT_RHO
    eps: float | None = DEFAULT_EPS
    timesteps: pd.DatetimeIndex | None = None
    der_names: list[str] = field(default_factory=list)
    runtime: str = "inproc"
    agent_processes: int = 0
    messages: int = 0
    bytes_sent: int = 0
    #: How it cleared: ``"admm"`` or ``"interior-point"`` (:data:`~.names.CLEARINGS`); for the
    #: interior-point method ``iterations`` counts rounds of messages (three per Newton
    #: iteration) and ``newton_iterations`` the Newton iterations.
    clearing: str = DEFAULT_CLEARING
    newton_iterations: int | None = None

    @property
    def status(self) -> ADMMStatus:
        """How the clearing ended: ``CONVERGED`` (its stopping rule held) or
        ``MAX_ITERATIONS``."""
        return ADMMStatus.CONVERGED if self.converged else ADMMStatus.MAX_ITERATIONS

    @property
    def dispatch_frame(self) -> pd.DataFrame:
        """:attr:`dispatch` as a frame: rows ``timestep``, columns ``(entity, quantity, der)``,
        kW / kvar demand (units in ``attrs["units"]``)."""
        return entity_frame(self.dispatch, self._steps(), self.der_names, "dispatch",
                            BUILDING_PREFIX)

    @property
    def prices_frame(self) -> pd.DataFrame:
        """:attr:`prices` as a frame: rows ``timestep``, columns ``(entity, quantity, der)``,
        S$/kWh (S$/kvarh for reactive power): the price each entity cleared at."""
        return entity_frame(self.prices, self._steps(), self.der_names, "prices",
                            BUILDING_PREFIX)

    @property
    def residuals_frame(self) -> pd.DataFrame:
        """The study's residuals per iteration (rows ``iteration`` from 1): ``primal_<q>``
        (kW / kvar) and ``dual_<q>`` (S$/kWh) per quantity ``q`` (``thermal``, ``active``,
        ``reactive``) and the engine's ``rho``; units in ``attrs["units"]``."""
        columns, units = {}, {}
        for kind, source, unit in (("primal", self.residuals, "kW"),
                                   ("dual", self.dual_residuals, "S$/kWh")):
            for q, values in source.items():
                columns[f"{kind}_{q}"] = pd.Series(np.asarray(values, float))
                units[f"{kind}_{q}"] = "kvar" if (q == "reactive" and kind == "primal") else unit
        columns["rho"] = pd.Series(np.asarray(self.admm.rho_history, float))
        units["rho"] = "S$ per (p.u.)^2"
        frame = pd.DataFrame(columns)
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="iteration")
        frame.attrs["units"] = units
        return frame

    @property
    def plot(self) -> MarketPlots:
        """Figures of the clearing: ``plot.dispatch(der, quantity, reference=central)``,
        ``plot.prices(...)``, ``plot.price_heatmap(quantity)`` and ``plot.grid_map(time,
        quantity, district=district)`` (the aggregator's prices) and ``plot.convergence()``
        (matplotlib figures)."""
        return MarketPlots(self)

    def to_xarray(self) -> xr.Dataset:
        """The clearing as a dataset: per quantity the dispatch (``thermal_power``, ...) and the
        price (``price_<quantity>``) over ``(entity, timestep, der)`` (NaN where an entity does
        not hold a quantity or DER), the residuals over ``iteration`` (see
        :attr:`residuals_frame`), each with ``units``; status, iterations, objective (S$) and
        how the agents ran as attributes."""
        # xarray is heavy and the agents never label results: loaded when a dataset is asked for
        import xarray as xr

        steps = self._steps()
        variables = entity_variables(self.dispatch, steps, self.der_names, "dispatch",
                                     BUILDING_PREFIX)
        variables.update(entity_variables(self.prices, steps, self.der_names, "prices",
                                          BUILDING_PREFIX, prefix="price_"))
        history = self.residuals_frame
        for name in history.columns:
            variables[f"residual_{name}" if name != "rho" else "rho"] = xr.DataArray(
                history[name].to_numpy(), coords={"iteration": history.index.to_numpy()},
                dims="iteration", attrs={"units": history.attrs["units"][name]})
        return xr.Dataset(variables, attrs={
            "scenario": self.scenario, "agents": self.agents, "status": self.status.value,
            "iterations": self.iterations, "objective_sgd": self.objective,
            "wall_time_s": self.wall_time_s, "runtime": self.runtime,
            "agent_processes": self.agent_processes, "messages": self.messages,
            "bytes_sent": self.bytes_sent, "clearing": self.clearing,
            "rho": float("nan") if self.rho is None else self.rho,
            "eps": float("nan") if self.eps is None else self.eps})

    def _steps(self) -> pd.DatetimeIndex:
        if self.timesteps is None:
            raise ValueError("this MarketResult has no timesteps to label its rows with")
        return self.timesteps

    def __repr__(self) -> str:
        final = ", ".join(f"{q} {v:.3g}" for q, v in self.primal_residual_final.items())
        dual = ", ".join(f"{q} {v:.3g}" for q, v in self.dual_residual_final.items())
        return (f"MarketResult(scenario={self.scenario!r}, status={self.status.name}, "
                f"iterations={self.iterations}, objective={self.objective:.2f} S$,\n"
                f"  agents={self.agents!r} on {self.runtime!r}, {len(self.dispatch)} entities, "
                f"{self.wall_time_s:.2f} s, {self.messages} messages,\n"
                f"  final primal residuals (kW/kvar): {final}; dual (S$/kWh): {dual or '-'},\n"
                f"  stopped by {self.admm.stopped_by})")

    @property
    def primal_residual_final(self) -> dict[str, float]:
        return {k: float(v[-1]) if v.size else float("nan") for k, v in self.residuals.items()}

    @property
    def dual_residual_final(self) -> dict[str, float]:
        return {k: float(v[-1]) if v.size else float("nan")
                for k, v in self.dual_residuals.items()}


class MarketPlots(DistrictPlots):
    """Figures of a :class:`MarketResult`: those of :class:`~.energy.labels.DistrictPlots`, one
    line per entity (grid operators, aggregator; not the single buildings), and
    :meth:`convergence`."""

    def __init__(self, market: MarketResult) -> None:
        keep = [e for e in market.dispatch if not e.startswith(BUILDING_PREFIX)]
        dispatch, prices = market.dispatch_frame, market.prices_frame
        super().__init__({entity_label(e): dispatch[e] for e in keep},
                         {entity_label(e): prices[e] for e in keep}, market.objective,
                         f"{market.scenario}, ADMM", scenario=market.scenario)
        self._market = market

    def price_heatmap(self, quantity: str = "thermal_power", entity: str | None = None):
        return super().price_heatmap(quantity, entity or entity_label(AGGREGATOR))

    def grid_map(self, time: str | int | None = None, quantity: str = "thermal_power",
                 entity: str | None = None, district=None):
        return super().grid_map(time, quantity, entity or entity_label(AGGREGATOR), district)

    def convergence(self):
        """Primal residuals (the study's figure 3), dual residuals and rho per iteration, with
        the threshold the clearing stopped on."""
        m = self._market
        return market_convergence(m.residuals_frame, eps=m.eps,
                                  title=f"Market clearing residuals ({m.scenario}, "
                                  f"{m.iterations} iterations, {m.status.value})")


def _study_eps(rule) -> float | None:
    """The eps of the study's rule in ``rule`` (also inside combinations), ``None`` if it has
    none that stops (the engine's rule)."""
    if isinstance(rule, GroupResidualRule):
        return rule.eps
    for inner in getattr(rule, "rules", ()):
        eps = _study_eps(inner)
        if eps is not None:
            return eps
    return None


def market_coordinator(*, rho: float | None = None, eps: float | None = None,
                       max_iters: int | None = None, stop: str = DEFAULT_STOP,
                       timestep_h: float = 1.0, expected: Sequence[str] | None = None,
                       price_tol: float | None = None,
                       **engine: float) -> ADMMGenericCoordinator:
    """The market's coordinator (general-form consensus) with the market's defaults
    (:mod:`.names`) and the stopping rule ``stop``: ``"certified"`` (default: the study's rule,
    prices that support every entity's dispatch to ``price_tol`` S$/kWh and a certified gap
    of at most ``gap_tol``, both 1e-4 by default), ``"study"`` (alias ``"seed"``: the study's
    rule alone, plus the gap if ``gap_tol`` is given) or ``"engine"``; checks the settings
    before any work."""
    stop = stop_rule(stop)
    if price_tol is not None and stop != "certified":
        raise ValueError(f"price_tol belongs to stop='certified', not stop={stop!r}")
    rho = DEFAULT_RHO if rho is None else positive_scalar(rho, "rho")
    # Shared check: a NaN eps would pass "eps <= 0" and never stop the run.
    eps = DEFAULT_EPS if eps is None else positive_scalar(eps, "eps")
    max_iters = DEFAULT_MAX_ITERS if max_iters is None else max_iters
    engine.setdefault("anderson_memory", DEFAULT_ANDERSON_MEMORY)
    engine.setdefault("alpha", DEFAULT_ALPHA)
    # With the engine's rule the study's residuals are still recorded (for the report).
    if stop == "certified":
        rule = certified_rule(eps, DEFAULT_PRICE_TOL if price_tol is None
                              else positive_scalar(price_tol, "price_tol"), timestep_h)
        engine.setdefault("gap_tol", DEFAULT_GAP_TOL)
    elif stop == "study":
        rule = study_rule(eps, timestep_h)
    else:
        rule = AnyOf(ResidualRule(), study_rule(None, timestep_h))
    # ``gap_tol`` (in ``engine``): the engine stops once this rule and the certified gap both
    # hold (the entities' outputs agree only up to the residuals). The gap is finite because the
    # grid operators bound their nodal demands by their connections' ratings
    # (energy.grid_operators.bound_demands).
    engine.setdefault("stopping", rule)
    return ADMMGenericCoordinator(MarketGlobalActor(expected), rho=rho, max_iters=max_iters,
                                  **engine)


@contextlib.asynccontextmanager
async def market_session(district: DistrictData | None = None,
                         scenario: str = DEFAULT_SCENARIO, *,
                         agents: str = "entities", runtime: str = "inproc",
                         data: str | None = None, resolution: str | None = None,
                         agents_file: str | None = None, broker: str | None = None,
                         listen: str = "127.0.0.1:0", log_dir: str | None = None,
                         rho: float | None = None, eps: float | None = None,
                         max_iters: int | None = None, stop: str = DEFAULT_STOP,
                         price_tol: float | None = None, solver_tol: float | None = None,
                         progress: Callable[[FormState | NewtonProgress], None] | None = None,
                         transport: Transport | None = None, faults=None,
                         token: str | None = None, broker_access=None,
                         carrier: Transport | None = None,
                         solver_eps: float | None = None, runs: int | None = 1,
                         agents_per_process: int = 1, clearing: str = DEFAULT_CLEARING,
                         **engine: float
                         ) -> AsyncIterator[Callable[..., Awaitable[MarketResult]]]:
    """The market's participants, reachable for ``runs`` clearings (``None``: as many as the
    block makes; agent processes then serve until it ends). Yields ``clear(warm_start=None,
    relinearise=False) -> MarketResult``, one clearing each call (``relinearise``: the grid
    operators first re-linearise at their own cleared values of the clearing before). The
    arguments are :func:`run_market_clearing`'s."""
    check_scenario(scenario)
    solver_tol, tol_name = renamed_keyword(solver_tol, "solver_tol", solver_eps, "solver_eps")
    solver_tol = tolerance(DEFAULT_SOLVER_TOL if solver_tol is None else solver_tol, tol_name)
    check_agents(agents)
    transport = transport_argument(transport, carrier)
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime == "inproc" and (agents_file is not None or district is None):
        raise ValueError("the inproc runtime needs the district (agents_file is for tcp/mqtt)")
    agents_per_process = positive_int(agents_per_process, "agents_per_process")
    if agents_per_process > 1 and (runtime == "inproc" or agents_file is not None):
        raise ValueError("agents_per_process is for spawned agents (runtime tcp or mqtt, no "
                         "agents_file): running agents are already placed")
    resolution = resolution or (district.resolution if district is not None else "30min")
    dt = timestep_hours(resolution)
    if check_clearing(clearing) == "interior-point":
        admm_only = {"stop": stop != DEFAULT_STOP, "price_tol": price_tol is not None,
                     "rho": rho is not None, "eps": eps is not None,
                     **{k: True for k in engine}}
        given = [k for k, v in admm_only.items() if v]
        if given:
            raise ValueError(f"{', '.join(given)} belong to clearing 'admm'; clearing "
                             "'interior-point' has its own stop")
    expected = None
    if district is not None and runtime != "inproc":
        # Agents in other processes bring their own data: they must match this district.
        expected = [variable_name(g, t, d) for g in GROUPS for t in district.timesteps
                    for d in district.der_names]
    coordinator = market_coordinator(rho=rho, eps=eps, max_iters=max_iters, stop=stop,
                                     timestep_h=dt, expected=expected, price_tol=price_tol,
                                     **engine)
    if runtime == "inproc":
        actors = market_entities(district, scenario, agents=agents, solver_tol=solver_tol)
        transport = transport or InProcessTransport()
        if faults is not None:
            transport = faults.wrap(transport)
        session_of = in_process_session({a.name: SingleModelGroup(a) for a in actors},
                                        coordinator, transport, progress)
    else:
        session_of = entity_session(district, scenario, agents, runtime, resolution, data,
                                    agents_file, broker, listen, log_dir, coordinator, progress,
                                    solver_tol, faults, token, broker_access, runs,
                                    agents_per_process)
    rule = coordinator.settings.stopping
    # The interior-point method counts Newton iterations, max_iters rounds of messages.
    newton = {} if max_iters is None else {
        "max_iters": max(1, positive_int(max_iters, "max_iters") // ROUNDS_PER_ITERATION)}

    def check_labels(labels: Sequence[Hashable]) -> None:
        if expected is not None and set(labels) != set(expected):
            _mismatch(set(labels), frozenset(expected))

    async with session_of as session:
        async def clear(warm_start=None, relinearise: bool = False) -> MarketResult:
            stats = session.stats
            m0, b0 = stats.messages, stats.bytes_sent
            start = time.perf_counter()
            if clearing == "interior-point":
                if warm_start is not None:
                    raise ValueError("clearing 'interior-point' starts from its own interior "
                                     "point: no warm_start")
                outcome = await session.run_interior_point(
                    relinearise=relinearise, check=check_labels, progress=None if progress is None
                    else lambda it, measures: progress(NewtonProgress(it, measures)), **newton)
                market = _package(_interior_point_result(outcome, dt), scenario, agents,
                                  time.perf_counter() - start, None, None, dt)
                market.clearing, market.newton_iterations = clearing, outcome.run.iterations
            else:
                admm = await session.run(None, as_warm_start(warm_start), relinearise)
                market = _package(admm, scenario, agents, time.perf_counter() - start,
                                  coordinator.rho, _study_eps(rule), dt)
            market.runtime, market.agent_processes = runtime, session.spawned
            market.messages, market.bytes_sent = stats.messages - m0, stats.bytes_sent - b0
            return market

        yield clear


async def start_market_clearing(district: DistrictData | None = None,
                                scenario: str = DEFAULT_SCENARIO, *, warm_start=None,
                                **kwargs) -> MarketResult:
    """Clear the district market of ``scenario`` by ADMM (Algorithm 1 on the generic engine);
    awaitable twin of :func:`run_market_clearing` (same arguments)."""
    async with market_session(district, scenario, **kwargs) as clear:
        return await clear(warm_start)


def run_market_clearing(district: DistrictData | None = None, scenario: str = DEFAULT_SCENARIO,
                        **kwargs) -> MarketResult:
    """Clear the district market of ``scenario`` by ADMM (Algorithm 1 on the generic engine).

    ``agents``: ``"entities"`` (thermal grid operator, electric grid operator, aggregator) or
    ``"per-building"`` (the two operators plus one agent per building). ``runtime``:
    ``"inproc"`` (default; every entity an agent in this process, built from ``district``),
    ``"tcp"`` or ``"mqtt"``: one ``dro agent`` process per entity, each started from its own
    folder of the data split (:func:`~.split.split_data` of ``data`` or of the folder
    ``district`` was loaded from); ``broker`` ``HOST:PORT`` for MQTT (default
    ``127.0.0.1:1883``). ``agents_file`` (TOML: entity name -> ``"HOST:PORT"``, or the inbox topic
    for MQTT) coordinates already running agents instead (``dro agent``); ``listen`` is the
    coordinator's own TCP address then (``HOST:PORT`` reachable from the agents).
    ``agents_per_process`` (tcp/mqtt, spawned agents): the consumers (buildings or the
    aggregator) share processes this many at a time; each grid operator keeps its own.

    ``rho`` (default :data:`~.names.DEFAULT_RHO`) is the initial penalty in S$ per (per-unit)^2
    (entries are scaled by ``1/ref^2``); ``eps`` (default :data:`~.names.DEFAULT_EPS`, kW / kvar)
    the study's threshold on ``r(a, b)``; ``max_iters`` (default
    :data:`~.names.DEFAULT_MAX_ITERS`). ``stop="certified"`` (default) stops once the study's
    rule holds, the prices support every entity's own dispatch to ``price_tol`` S$/kWh and the
    objective is certified within ``gap_tol`` (both 1e-4 by default; :func:`market_coordinator`);
    ``stop="study"`` (alias ``"seed"``) by the study's rule alone, ``stop="engine"`` by the
    engine's (pass ``abs_tol``/``rel_tol`` in ``engine``). ``clearing="interior-point"``
    clears by the distributed interior-point method instead of ADMM (on any runtime, its own
    stop: :meth:`~.runtime.engine.CoordinatorAgent.run_interior_point`; ``max_iters`` then
    bounds the rounds of messages, three per Newton iteration; no ``warm_start``).
    Further ``engine`` keywords (``adaptive_rho``, ``acceleration``, ``alpha``:
    :data:`~.names.DEFAULT_ALPHA` here, ``anderson_memory``: :data:`~.names.DEFAULT_ANDERSON_MEMORY`
    here, ``reply_timeout``, ``stale_rounds``) go to :class:`ADMMGenericCoordinator`.
    ``solver_tol`` (default :data:`~.names.DEFAULT_SOLVER_TOL`; ``solver_eps=`` is its old name):
    the entities' LP solver tolerance. ``transport`` replaces the in-process transport of
    ``"inproc"`` (``carrier=`` is its old name).
    ``progress`` is called with the state every iteration (with ``clearing="interior-point"``
    with a :class:`~..interior_point.consensus.NewtonProgress` every Newton iteration, from a
    worker thread). ``warm_start``: an earlier clearing's
    ``admm`` result or a :class:`~.admm.warm_start.WarmStart` (e.g. read from its
    ``admm_state.csv``, and for another day mapped by :func:`shift_to_timesteps`) to start from.
    ``faults`` (a :class:`~.runtime.transport.Faults`) loses, duplicates and delays messages (in
    process: all of them; with agent processes: the coordinator's), a testing aid. ``token``:
    the shared secret of the run: every message to and from the agents is authenticated with it
    (spawned agents get it; agents started by hand need the same ``--token-file``).
    ``broker_access``: login and TLS at the MQTT broker
    (:class:`~.runtime.mqtt_transport.BrokerAccess`; spawned agents get it too).
    Works inside a running event loop too (Jupyter); :func:`start_market_clearing` is the
    awaitable version.
    """
    return run_sync(lambda: start_market_clearing(district, scenario, **kwargs))


def shift_to_timesteps(warm: WarmStart, timesteps: Sequence[pd.Timestamp],
                       agents: str = "entities") -> WarmStart:
    """A market warm start (e.g. yesterday's ``admm_state.csv``) for a clearing over
    ``timesteps`` in ``agents`` mode: another day's time steps map onto these in order (the
    number of steps must agree), and the consumers' entries move between the aggregator and the
    buildings by their DER; entries of other forms stay as they are."""
    check_agents(agents)
    parsed = []
    for entry in warm.entries:
        try:
            parsed.append(parse_variable(entry))
        except ValueError:
            parsed.append(None)
    wanted = [timestep_label(t) for t in timesteps]
    have = sorted({p[1] for p in parsed if p is not None})
    if not have or set(have) <= set(wanted):
        step = {t: t for t in have}
    elif len(have) == len(wanted):
        step = dict(zip(have, wanted))  # another day: the k-th step onto the k-th step
    else:
        raise ValueError(f"warm start: its {len(have)} time steps ({have[0]} ...) do not map onto "
                         f"this run's {len(wanted)} ({wanted[0]} ...); use a run of the same "
                         "resolution")
    actors, entries = [], []
    for actor, entry, p in zip(warm.actors, warm.entries, parsed):
        if p is not None:
            entry = NAME_SEPARATOR.join((p[0], step[p[1]], p[2]))
            if is_consumer(actor):
                actor = AGGREGATOR if agents == "entities" else f"{BUILDING_PREFIX}{p[2]}"
        actors.append(actor)
        entries.append(entry)
    return WarmStart(tuple(actors), tuple(entries), warm.outputs, warm.prices, warm.rho)


def _interior_point_result(outcome: InteriorPointOutcome, timestep_h: float) -> ADMMResult:
    """A run of the interior-point method over the market's agents as the engine's result (what
    :func:`_package` and the writers read; from the variable names alone, as for ADMM), with
    the study's residuals ``r(a, b)`` per quantity at every Newton iteration and the Lagrangian
    bound at the balanced final prices with its certified gap."""
    run, labels = outcome.run, outcome.labels
    stacked = np.concatenate(outcome.index)
    actor_names = [name for names in outcome.names for name in names]
    sizes = [size for sizes in outcome.sizes for size in sizes]
    # The study's r(a, b) per quantity (kW / kvar) and the prices' imbalance (S$/kWh): grid
    # operators count their entries positive, consumers negative.
    group = np.array([RESIDUAL_OF[variable_group(v)] for v in labels])
    signs = np.concatenate([np.full(size, 1.0 if name in GRID_OPERATORS else -1.0)
                            for name, size in zip(actor_names, sizes)])
    history: dict[str, list[float]] = {f"{q}_{kind}": [] for q in RESIDUAL_OF.values()
                                       for kind in ("primal", "dual")}
    for run_x, run_y in outcome.iterates:
        gap = np.abs(np.bincount(stacked, weights=signs * np.concatenate(run_x),
                                 minlength=len(labels)))
        imbalance = np.abs(np.bincount(stacked, weights=np.concatenate(run_y),
                                       minlength=len(labels))) / timestep_h
        for q in RESIDUAL_OF.values():
            history[f"{q}_primal"].append(float(gap[group == q].sum()))
            history[f"{q}_dual"].append(float(imbalance[group == q].sum()))
    # The entities' costs summed in order (as the in-process clearing always did).
    return outcome.result(float(sum(outcome.objectives.tolist())), np.concatenate(run.x),
                          np.concatenate(run.y), stopping_history=history, z_labels=labels,
                          entry_labels=[labels[j] for j in stacked])


def _package(admm: ADMMResult, scenario: str, agents: str, wall: float, rho: float | None,
             eps: float | None, dt: float) -> MarketResult:
    """The market's result tables from the engine's result alone (variable names tell what
    each entry is; no entity object is needed, so remote agents are packaged alike)."""
    y = admm.prices  # last iterate, consistent with the entities' last solves
    parsed = [parse_variable(n) for n in admm.entry_labels]
    times = sorted({t for _, t, _ in parsed})
    t_index = {t: i for i, t in enumerate(times)}
    dispatch: dict[str, dict[str, np.ndarray]] = {}
    prices: dict[str, dict[str, np.ndarray]] = {}
    ders_of: dict[str, list[str]] = {}
    hi = 0
    for actor, x_final in admm.x.items():
        lo, hi = hi, hi + x_final.size
        entries = parsed[lo:hi]
        ders = list(dict.fromkeys(d for _, _, d in entries))
        ders_of[actor] = ders
        d_index = {d: k for k, d in enumerate(ders)}
        sign = 1.0 if actor in GRID_OPERATORS else -1.0
        # Grid operators supply the demand: price = -y_grid / dt; consumers pay y_fl / dt.
        pi = -sign * y[lo:hi] / dt
        x = admm.last_x[lo:hi]
        dispatch[actor], prices[actor] = {}, {}
        for g in GROUPS:
            rows = [j for j, (grp, _, _) in enumerate(entries) if grp == g]
            if not rows:
                continue
            d_arr = np.full((len(times), len(ders)), np.nan)
            p_arr = np.full((len(times), len(ders)), np.nan)
            for j in rows:
                _, t, d = entries[j]
                d_arr[t_index[t], d_index[d]] = x[j]
                p_arr[t_index[t], d_index[d]] = pi[j]
            dispatch[actor][QUANTITY_OF[g]] = d_arr
            prices[actor][QUANTITY_OF[g]] = p_arr
    # Columns in the grid's DER order, whatever order the agents joined in.
    order = list(dict.fromkeys(d for g in GRID_OPERATORS for d in ders_of.get(g, [])))
    rank = {d: i for i, d in enumerate(order)}
    buildings = sorted((a for a in admm.x if a.startswith(BUILDING_PREFIX)),
                       key=lambda a: [rank.get(d, len(rank)) for d in ders_of[a]])
    if buildings:
        for table in (dispatch, prices):
            table[AGGREGATOR] = {QUANTITY_OF[g]: np.hstack([table[b][QUANTITY_OF[g]]
                                                            for b in buildings])
                                 for g in GROUPS}
        der_names = [d for b in buildings for d in ders_of[b]]
    else:
        der_names = ders_of.get(AGGREGATOR, [])
    costs = {a: admm.actor_objectives.get(a) for a in admm.x}
    residuals, duals = market_residuals(admm.stopping_history)
    objective = float(sum(c for c in costs.values() if c is not None))
    return MarketResult(scenario=scenario, agents=agents, objective=objective,
                        iterations=admm.iterations, converged=admm.converged, wall_time_s=wall,
                        dispatch=dispatch, prices=prices, residuals=residuals, admm=admm,
                        dual_residuals=duals, entity_objectives=costs, rho=rho, eps=eps,
                        timesteps=pd.DatetimeIndex(pd.to_datetime(times)), der_names=der_names)


#: Price deviations (S$/kWh) at or below this need no price range (:func:`price_deviation_from_range`).
PRICE_TOLERANCE = 1e-4
#: How many of the worst-priced (quantity, step, DER) entries the comparison looks up the price
#: range for (two extra centralized solves each).
PRICE_RANGE_CHECKS = 4


def price_deviation_from_range(market: MarketResult, central, *,
                               max_checks: int = PRICE_RANGE_CHECKS,
                               tolerance: float = PRICE_TOLERANCE) -> dict[str, float | int]:
    """How far the market's prices lie outside the range of prices that support the
    centralized optimum (:func:`~.energy.centralized.price_range`; where a DLMP is unique the
    range is the DLMP), over all entities, quantities, steps and DERs (S$/kWh).

    Ranges cost two centralized solves each, so they are looked up for the entries with the
    largest plain deviations, worst first, until the next plain deviation cannot exceed what was
    found, or is within ``tolerance``, or ``max_checks`` entries were looked up; the result
    (``max_price_deviation_from_range``) is then an upper bound: the largest deviation from a
    range found, or the largest plain deviation not looked up. ``price_ranges_checked``: how
    many were."""
    worst: dict[tuple[str, int, int], float] = {}
    for entity, quantities in market.prices.items():
        if entity.startswith(BUILDING_PREFIX):
            continue  # covered by the assembled aggregator
        for q, arr in quantities.items():
            dev = np.abs(arr - central.prices[q])
            for flat in np.argsort(dev.ravel())[::-1][:max_checks + 1]:
                t, k = np.unravel_index(int(flat), dev.shape)
                key = (q, int(t), int(k))
                worst[key] = max(worst.get(key, 0.0), float(dev[t, k]))
    ranked = sorted(worst.items(), key=lambda item: -item[1])
    found, checked = 0.0, 0
    for (q, t, k), plain in ranked:
        if plain <= max(found, tolerance) or checked == max_checks:
            # Every entry not looked up lies at most its plain deviation from its range.
            return {"max_price_deviation_from_range": max(found, plain),
                    "price_ranges_checked": checked}
        lo, hi = price_range(central, q, t, k)
        checked += 1
        for entity, quantities in market.prices.items():
            if q in quantities and not entity.startswith(BUILDING_PREFIX):
                p = float(quantities[q][t, k])
                found = max(found, lo - p, p - hi)
    return {"max_price_deviation_from_range": found, "price_ranges_checked": checked}


def compare_with_centralized(market: MarketResult, central, *, price_ranges: bool = False
                             ) -> dict[str, float]:
    """Deviations of the ADMM clearing from a :class:`CentralizedResult` of the same scenario:
    ``objective_gap_rel``, ``max_price_deviation`` (S$/kWh, over all entities, quantities, steps,
    DERs) and ``max_dispatch_deviation`` (kW / kvar); with ``price_ranges`` also the deviation
    from the range of prices that support the optimum (:func:`price_deviation_from_range`, a few
    more centralized solves), as the commands write it."""
    price_dev = disp_dev = 0.0
    for table, ref, name in ((market.prices, central.prices, "price"),
                             (market.dispatch, central.dispatch, "dispatch")):
        for ent, quantities in table.items():
            if ent.startswith("building_"):
                continue  # covered by the assembled aggregator
            for q, arr in quantities.items():
                dev = float(np.max(np.abs(arr - ref[q])))
                if name == "price":
                    price_dev = max(price_dev, dev)
                else:
                    disp_dev = max(disp_dev, dev)
    out = {"objective_gap_rel": abs(market.objective - central.objective) / abs(central.objective),
           "max_price_deviation": price_dev, "max_dispatch_deviation": disp_dev}
    if price_ranges:
        out.update(price_deviation_from_range(market, central))
    return out


def verify_market(market: MarketResult, district: DistrictData, **tolerances: float
                  ) -> Verification:
    """The cleared dispatch (what the buildings consume: the aggregator's rows, assembled from
    the buildings in per-building mode) held against the nonlinear grids of ``district`` and
    the market's scenario limits (:func:`~..energy.verification.verify_dispatch`;
    ``tolerances``: ``tolerance_rel``, ``voltage_tolerance_pu``)."""
    d = market.dispatch[AGGREGATOR]
    return verify_dispatch(district, scenario_limits(district, market.scenario),
                           d["thermal_power"], d["active_power"], d["reactive_power"],
                           **tolerances)


@dataclass
class SuccessiveMarket:
    """Outcome of :func:`clear_market_successively`: the last clearing (``market``) and the
    verification of its dispatch, every round's summary (``rounds``) and whether it
    ``converged`` within the round limit."""

    market: MarketResult
    verification: Verification
    rounds: list[LinearisationRound]
    converged: bool
    #: Every clearing, in order (the last is ``market``).
    clearings: list[MarketResult] = field(default_factory=list)


def clear_market_successively(district: DistrictData, scenario: str = DEFAULT_SCENARIO, *,
                              max_rounds: int = DEFAULT_MAX_ROUNDS,
                              objective_tol_rel: float = DEFAULT_MARKET_OBJECTIVE_TOL_REL,
                              warm_start=None, **kwargs) -> SuccessiveMarket:
    """Market clearings with successive linearisation: clear with the published peak
    linearisation, then let each grid operator re-linearise each step at its own cleared copy
    of the demand (no organisation sees another's model) and clear again, warm-started from the
    last clearing, with the same participants (agent processes serve every clearing), until the
    cleared dispatch holds every limit in the nonlinear grids (:func:`verify_market`, at the
    coordinator, which has the district) and the objective moved by at most
    ``objective_tol_rel`` (ADMM clears to about 1e-5); a clearing that stops at its iteration
    limit ends the rounds (not converged). Other keywords go to :func:`run_market_clearing`;
    works inside a running event loop too."""
    max_rounds = check_rounds(max_rounds, objective_tol_rel)
    return run_sync(lambda: _clear_successively(district, scenario, max_rounds,
                                                objective_tol_rel, warm_start, kwargs))


async def _clear_successively(district: DistrictData, scenario: str, max_rounds: int,
                              objective_tol_rel: float, warm_start, kwargs: dict
                              ) -> SuccessiveMarket:
    async with market_session(district, scenario, runs=None, **kwargs) as clear:
        market = await clear(warm_start)
        verification = verify_market(market, district)
        rounds = [linearisation_round(1, market.objective, verification, market.iterations)]
        clearings = [market]
        converged = False
        # A clearing stopped at its iteration limit is no dispatch to re-linearise at.
        while len(rounds) < max_rounds and market.converged:
            # ADMM starts from the last clearing; the interior-point method from its own point.
            market = await clear(market.admm if market.clearing == "admm" else None,
                                 relinearise=True)
            verification = verify_market(market, district)
            clearings.append(market)
            rounds.append(linearisation_round(len(rounds) + 1, market.objective, verification,
                                              market.iterations))
            if settled(rounds, objective_tol_rel):
                converged = True
                break
    return SuccessiveMarket(market, verification, rounds, converged, clearings)
