"""ADMM market clearing of the district (seed sec. 2.2, Algorithm 1) on the generic ADMM engine.

The entities of :mod:`.entities` are the actors of a general-form consensus run
(:class:`~distributed_resource_optimization.admm.coordinator.ADMMGeneralConsensusGlobalActor`):
every exchanged demand ``(group, t, der)`` is owned by exactly two actors (a grid operator and the
aggregator or the building), ``z`` is their (rho-weighted, here equal-weight) average, i.e.
``p^ex = (p^grid + p^fl) / 2`` of Algorithm 1, and the engine's unscaled duals ``y = rho * u``
per actor entry are the seed's prices ``pi``.

Stopping rule (``stop="seed"``, default): Algorithm 1's ``r(a, b) = sum_t ||a_t - b_t||_1 < eps``
for thermal, active and reactive power (kW / kvar), plus dual residuals below ``eps``: per
quantity ``sum rho_j |z_j - z_j^prev| / timestep_h`` (S$/kWh; the two owners' prices always sum to
zero in this form, so the seed's price disagreement is no test, but a consensus that still moves
at a large penalty is). Checked after every iteration inside the coordinator's state
(:class:`MarketConsensusState`); the engine's own residual-balancing rho adaptation, Anderson
acceleration and over-relaxation run unchanged. ``stop="engine"`` uses the engine's
Boyd et al. rule (``abs_tol``/``rel_tol``) instead.

Prices: the engine's dual ``y`` on an entry is in S$ per kW (kvar) per timestep. The aggregator
(or building) pays ``y`` for its demand, so its nodal price is ``y_fl / timestep_h`` in S$/kWh;
a grid operator's entry enters its Lagrangian with the opposite sign (it *supplies* that demand),
so its perceived price is ``-y_grid / timestep_h``. At convergence ``y_grid + y_fl = 0`` and both
equal the centralized DLMP (coupling-row dual / ``timestep_h``).

Reported values are those of the *last* iteration (dispatch, prices and the entities' costs of
the same local solves), not the engine's best iterate that it restores at ``max_iters``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from distributed_resource_optimization.admm.coordinator import (
    ADMMGeneralConsensusGlobalActor,
    ADMMGenericCoordinator,
    create_admm_start,
)
from distributed_resource_optimization.admm.forms import (
    ADMMSettings,
    GeneralConsensusState,
    ParticipantSpec,
    Residuals,
)
from distributed_resource_optimization.admm.results import ADMMResult
from distributed_resource_optimization.admm.validation import positive_scalar
from distributed_resource_optimization.market.entities import (
    GROUPS,
    LPBlockEntity,
    market_entities,
    variable_group,
)

#: Result quantity name per exchanged group (as :data:`energy.district.QUANTITIES`).
QUANTITY_OF: dict[str, str] = {"p_th": "thermal_power", "p": "active_power", "q": "reactive_power"}
#: Residual names of the seed per group.
RESIDUAL_OF: dict[str, str] = {"p_th": "thermal", "p": "active", "q": "reactive"}
GRID_OPERATORS: tuple[str, ...] = ("thermal_grid_operator", "electric_grid_operator")

DEFAULT_RHO = 20.0
DEFAULT_ANDERSON_MEMORY = 20
DEFAULT_ALPHA = 1.8
DEFAULT_EPS = 0.1
DEFAULT_MAX_ITERS = 5000


@dataclass
class _SeedResiduals(Residuals):
    """Engine residuals plus the seed's verdict (primal and dual residuals all below ``eps``)."""

    seed_converged: bool = False

    @property
    def converged(self) -> bool:  # type: ignore[override]
        return self.seed_converged


class MarketConsensusState(GeneralConsensusState):
    """General-form consensus state that also tracks the seed's residuals per quantity.

    ``seed_residuals[name]`` (``thermal``, ``active``, ``reactive``) lists the primal residual
    ``r(a, b)`` per iteration (kW / kvar summed over timesteps and DERs); ``seed_dual_residuals``
    the dual residual ``sum_{t, der} rho_j |z_j - z_j^prev| / timestep_h`` per iteration (S$/kWh
    or S$/kvarh summed over timesteps and DERs: how much the consensus still moves, priced at
    the entries' penalties). With ``eps`` set, the run stops when all six are below ``eps`` (the
    engine's rule is not used).
    """

    def __init__(self, specs: Sequence[ParticipantSpec], objective, data,
                 settings: ADMMSettings, *, eps: float | None, timestep_h: float = 1.0) -> None:
        super().__init__(specs, objective, data, settings, full=False)
        self.eps = eps
        self.timestep_h = float(timestep_h)
        sign = np.concatenate([
            np.full(self.actor_sizes[i], 1.0 if n in GRID_OPERATORS else -1.0)
            for i, n in enumerate(self.names)])
        self._sign = sign
        group_of_key = np.array([GROUPS.index(variable_group(k)) for k in self.keys])
        self._key_group = group_of_key
        self.seed_residuals: dict[str, list[float]] = {RESIDUAL_OF[g]: [] for g in GROUPS}
        self.seed_dual_residuals: dict[str, list[float]] = {RESIDUAL_OF[g]: [] for g in GROUPS}

    def seed_residual(self, x: np.ndarray) -> dict[str, float]:
        """``r(a, b)`` per quantity for actor outputs ``x`` (flat over actors)."""
        d = np.abs(np.bincount(self.gidx, weights=self._sign * x, minlength=self.G))
        return {RESIDUAL_OF[g]: float(d[self._key_group == i].sum()) for i, g in enumerate(GROUPS)}

    def _update(self, x_new: np.ndarray) -> Residuals:
        z_old = self.z.copy()
        res = super()._update(x_new)
        # Kept because at max_iters the engine replaces x and the duals by its best iterate;
        # the report uses the last iterate (module notes).
        self.last_x = x_new.copy()
        self.last_prices = self.prices()
        r = self.seed_residual(x_new)
        for k, v in r.items():
            self.seed_residuals[k].append(v)
        # Penalty per global variable (every owner carries the same scale here).
        rho_key = self.rho * self.weight / np.maximum(self.owners, 1)
        moved = np.bincount(self._key_group, weights=rho_key * np.abs(self.z - z_old),
                            minlength=len(GROUPS)) / self.timestep_h
        dual = {RESIDUAL_OF[g]: float(moved[i]) for i, g in enumerate(GROUPS)}
        for k, v in dual.items():
            self.seed_dual_residuals[k].append(v)
        if self.eps is None:
            return res
        done = all(v < self.eps for v in r.values()) and all(v < self.eps for v in dual.values())
        return _SeedResiduals(res.primal, res.dual, res.eps_primal, res.eps_dual,
                              res.primal_scale, res.dual_scale, seed_converged=done)


class MarketGlobalActor(ADMMGeneralConsensusGlobalActor):
    """General-form consensus with zero global objective and the seed's stopping rule."""

    def __init__(self, eps: float | None = DEFAULT_EPS, timestep_h: float = 1.0) -> None:
        super().__init__()
        self.eps = eps
        self.timestep_h = timestep_h

    def create_state(self, specs, data, settings):
        return MarketConsensusState(specs, self.objective, data, settings, eps=self.eps,
                                    timestep_h=self.timestep_h)


@dataclass
class MarketResult:
    """Outcome of the ADMM market clearing.

    ``dispatch[entity][quantity]`` and ``prices[entity][quantity]`` are ``(T, n_der)`` arrays
    (kW / kvar; S$/kWh / S$/kvarh) per entity: ``thermal_grid_operator`` (thermal only),
    ``electric_grid_operator`` (active, reactive), ``aggregator`` (all three; in per-building mode
    assembled from the buildings) and, in per-building mode, ``building_<name>`` (``(T, 1)``).
    ``objective`` is the sum of the entities' own costs (S$), ``residuals`` the seed's ``r(a, b)``
    per quantity and iteration (kW / kvar), ``dual_residuals`` the dual residuals per quantity
    and iteration (S$/kWh, see :class:`MarketConsensusState`), ``admm`` the engine's result
    (engine residuals, rho history).
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

    @property
    def primal_residual_final(self) -> dict[str, float]:
        return {k: float(v[-1]) if v.size else float("nan") for k, v in self.residuals.items()}

    @property
    def dual_residual_final(self) -> dict[str, float]:
        return {k: float(v[-1]) if v.size else float("nan")
                for k, v in self.dual_residuals.items()}


def run_market_clearing(district, scenario: str = "thermal-congestion", *,
                        agents: str = "entities", rho: float | None = None,
                        eps: float | None = None, max_iters: int | None = None,
                        stop: str = "seed", solver_eps: float = 1e-8,
                        progress: Callable[[MarketConsensusState], None] | None = None,
                        carrier=None, **engine: float) -> MarketResult:
    """Clear the district market of ``scenario`` by ADMM (Algorithm 1 on the generic engine).

    ``agents``: ``"entities"`` (thermal grid operator, electric grid operator, aggregator) or
    ``"per-building"`` (the two operators plus one agent per building). ``rho`` (default 20) is
    the initial penalty in S$ per (per-unit)^2 (entries are scaled by ``1/ref^2``); ``eps``
    (default 0.1, kW / kvar) the seed's threshold on ``r(a, b)``; ``max_iters`` (default 5000).
    ``stop="engine"`` uses the engine's stopping rule (pass ``abs_tol``/``rel_tol`` in
    ``engine``). Further ``engine`` keywords (``adaptive_rho``, ``acceleration``, ``alpha``: 1.8
    here, ``anderson_memory``: 20 here) go to :class:`ADMMGenericCoordinator`. ``progress`` is called
    with the state every iteration.
    """
    from distributed_resource_optimization.api import run_coordinated_optimization

    if stop not in ("seed", "engine"):
        raise ValueError(f"stop must be 'seed' or 'engine', got {stop!r}")
    rho = DEFAULT_RHO if rho is None else float(rho)
    # Shared check: a NaN eps would pass "eps <= 0" and never stop the run.
    eps = DEFAULT_EPS if eps is None else positive_scalar(eps, "eps")
    max_iters = DEFAULT_MAX_ITERS if max_iters is None else int(max_iters)
    start = time.perf_counter()
    actors = market_entities(district, scenario, agents=agents, eps=solver_eps)
    engine.setdefault("anderson_memory", DEFAULT_ANDERSON_MEMORY)
    engine.setdefault("alpha", DEFAULT_ALPHA)
    global_actor = MarketGlobalActor(eps if stop == "seed" else None, district.timestep_h)
    coordinator = ADMMGenericCoordinator(global_actor, rho=rho, max_iters=max_iters, **engine)
    holder: dict[str, MarketConsensusState] = {}

    def _progress(state: MarketConsensusState) -> None:
        holder["state"] = state
        if progress is not None:
            progress(state)

    kwargs = {} if carrier is None else {"carrier": carrier}
    admm = run_coordinated_optimization(actors, coordinator, create_admm_start(),
                                        progress=_progress, vectorize=False, **kwargs)
    wall = time.perf_counter() - start
    state = holder["state"]
    return _package(district, scenario, agents, actors, state, admm, wall, rho, eps)


def _package(district, scenario: str, agents: str, actors: list[LPBlockEntity],
             state: MarketConsensusState, admm: ADMMResult, wall: float, rho: float,
             eps: float) -> MarketResult:
    dt = district.timestep_h
    n_t = district.n_timesteps
    y = state.last_prices  # last iterate, consistent with the entities' last solves
    dispatch: dict[str, dict[str, np.ndarray]] = {}
    prices: dict[str, dict[str, np.ndarray]] = {}
    for i, actor in enumerate(actors):
        lo, hi = state.actor_offsets[i], state.actor_offsets[i + 1]
        x = state.last_x[lo:hi]
        sign = 1.0 if actor.name in GRID_OPERATORS else -1.0
        # Grid operators supply the demand: price = -y_grid / dt; consumers pay y_fl / dt.
        pi = -sign * y[lo:hi] / dt
        dispatch[actor.name] = {QUANTITY_OF[g]: actor.group_values(g, x) for g in actor.groups}
        prices[actor.name] = {QUANTITY_OF[g]: actor.group_values(g, pi) for g in actor.groups}
    if agents == "per-building":
        buildings = [a for a in actors if a.name not in GRID_OPERATORS]
        for table in (dispatch, prices):
            table["aggregator"] = {
                QUANTITY_OF[g]: np.hstack([table[b.name][QUANTITY_OF[g]] for b in buildings])
                for g in GROUPS}
    for table in (dispatch, prices):
        for ent in table.values():
            for q, arr in ent.items():
                ent[q] = np.asarray(arr).reshape(n_t, -1)
    # Each entity's own cost of its last solve, as it reported it when the run finished.
    costs = {a.name: admm.actor_objectives[a.name] for a in actors}
    residuals = {k: np.asarray(v, dtype=float) for k, v in state.seed_residuals.items()}
    duals = {k: np.asarray(v, dtype=float) for k, v in state.seed_dual_residuals.items()}
    return MarketResult(scenario=scenario, agents=agents, objective=float(sum(costs.values())),
                        iterations=admm.iterations, converged=admm.converged, wall_time_s=wall,
                        dispatch=dispatch, prices=prices, residuals=residuals, admm=admm,
                        dual_residuals=duals,
                        entity_objectives=costs, rho=rho, eps=eps)


def compare_with_centralized(market: MarketResult, central) -> dict[str, float]:
    """Deviations of the ADMM clearing from a :class:`CentralizedResult` of the same scenario:
    ``objective_gap_rel``, ``max_price_deviation`` (S$/kWh, over all entities, quantities, steps,
    DERs) and ``max_dispatch_deviation`` (kW / kvar)."""
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
    return {"objective_gap_rel": abs(market.objective - central.objective) / abs(central.objective),
            "max_price_deviation": price_dev, "max_dispatch_deviation": disp_dev}
