"""Market entities of the ADMM market clearing (the study's sec. 2.2, sub-problems (2), (3), (4)).

Each organisation is a :class:`MarketEntity`, a
:class:`~distributed_resource_optimization.local.base.LocalModel` built from its own data only:

- the **thermal grid operator** from the thermal grid tables, the horizon and the price;
- the **electric grid operator** from the electric grid tables, the horizon and the price;
- the **flexible load aggregator** from its buildings (tables, connections, weather), or one
  **building** agent per building from that building's rows alone.

What a grid operator needs from the buildings to linearise its grid is what the buildings
*publish* when they join a run: their baseline demand (under the key :data:`BASELINE_KEY`, each
building's cost-optimal operation without grid limits, a :class:`~.energy.buildings.Baseline`,
:func:`~.energy.buildings.building_baseline`), one value per exchanged variable. In
:meth:`MarketEntity.configure` the grid operators linearise at the published district cooling peak
(:func:`~.energy.district.reference_point`) and every entity takes its penalty scale from the same
published values, so no entity ever sees another's model.

An entity's ADMM output ``x`` is the vector of *exchanged* demands only (thermal ``p_th``, active
``p``, reactive ``q``; kW / kvar, time-major ``t * n_der + k``); the block's other variables
(source powers, building states, controls, outputs) stay private. The proximal step

    min  c' w + sum_j rho_j / 2 (x_j - v_j)^2    s.t. block constraints,   x = w[exchanged]

is a QP whose structure never changes. By default (``solver="auto"`` with the ``free`` groups
named) it is reduced once to the free variables (the grids' nodal demands, the buildings' controls)
and split into independent parts (per timestep, per building), each kept in a DAQP dual
active-set workspace (:class:`~distributed_resource_optimization.local.reduced.ReducedProxQP`):
per iteration only the linear term changes, and the Hessian when rho changes; every solve starts
from the previous active set. ``solver="clarabel"`` keeps the whole block in one Clarabel
interior-point solver instead (:mod:`~distributed_resource_optimization.local.clarabel_prox`;
set up once; about 30-200x slower per solve and accurate to about 1 kW, see
``docs/market_clearing.md``).

Global variable names are strings ``<group>@<timestep>@<der>`` (:func:`~.names.variable_name`, e.g.
``"p_th@2017-01-02T14:00@22"``) with ``group`` in ``p_th``, ``p``, ``q``, the timestep's start time
and the DER name, so they mean the same in every process. ``rho_scale`` is ``1 / ref**2`` per entry
with ``ref`` a per-quantity reference power (the mean published baseline at the cooling peak), so
rho is in S$ per (per-unit)^2 and thermal and electric quantities converge alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from distributed_resource_optimization.checks import renamed_keyword, tolerance
from distributed_resource_optimization.energy.buildings import (
    DEFAULT_COMFORT,
    Baseline,
    aggregator_block,
    building_baseline,
    building_block,
    check_comfort,
    load_buildings,
)
from distributed_resource_optimization.energy.district import (
    ReferencePoint,
    reference_point,
)
from distributed_resource_optimization.energy.electric_grid import (
    linear_electric_grid_model,
    load_electric_grid,
)
from distributed_resource_optimization.energy.grid_operators import (
    electric_grid_operator_block,
    thermal_grid_operator_block,
)
from distributed_resource_optimization.energy.lp import LPBlock
from distributed_resource_optimization.energy.scenarios import (
    check_scenario,
    electric_scenario_limits,
    thermal_scenario_limits,
)
from distributed_resource_optimization.energy.thermal_grid import (
    DEFAULT_PLANT_EFFICIENCY,
    linear_thermal_grid_model,
    load_thermal_grid,
)
from distributed_resource_optimization.energy.timeseries import (
    load_price,
    load_timesteps,
    timestep_hours,
)
from distributed_resource_optimization.local.base import LocalModel, Published
from distributed_resource_optimization.local.lp import LPLocalModel
from distributed_resource_optimization.market.names import (  # re-exported here
    AGGREGATOR,
    BASELINE_KEY,
    BUILDING_PREFIX,
    DEFAULT_SOLVER_TOL,
    ELECTRIC_GRID_OPERATOR,
    GRID_OPERATORS,
    GROUPS,
    NAME_SEPARATOR,
    REFERENCE_DEMAND,
    REFERENCE_POWERS_KEY,
    THERMAL_GRID_OPERATOR,
    entity_names,
    is_consumer,
    parse_variable,
    timestep_label,
    variable_group,
    variable_name,
)

__all__ = [
    # the market's names (owned by .names), re-exported for existing importers
    "AGGREGATOR", "BASELINE_KEY", "BUILDING_PREFIX", "ELECTRIC_GRID_OPERATOR", "GRID_OPERATORS",
    "GROUPS", "NAME_SEPARATOR", "REFERENCE_DEMAND", "REFERENCE_POWERS_KEY",
    "THERMAL_GRID_OPERATOR", "entity_names",
    "is_consumer", "parse_variable", "timestep_label", "variable_group", "variable_name",
    # the entities
    "LPBlockEntity", "MarketEntity", "building_agent", "electric_grid_operator",
    "flexible_load_aggregator", "load_entity", "market_entities", "published_baselines",
    "published_reference", "received_reference", "reference_powers", "thermal_grid_operator",
]


def published_baselines(published: Published) -> dict[str, Baseline]:
    """The buildings' published baselines by DER name (:class:`~.energy.buildings.Baseline`,
    ``(T,)`` arrays in time order), in the order the DERs appear in the publication (the same at
    every entity)."""
    values = published.get(BASELINE_KEY)
    if not values:
        raise ValueError(f"no building published its {BASELINE_KEY!r}: the grid operators "
                         "cannot linearise their grids")
    series: dict[str, dict[str, dict[str, float]]] = {}
    for name, value in values.items():
        group, timestep, der = parse_variable(name)
        series.setdefault(der, {g: {} for g in GROUPS})[group][timestep] = value
    out = {}
    for der, groups in series.items():
        steps = sorted(groups["p_th"])  # ISO times: text order is time order
        if any(sorted(groups[g]) != steps for g in GROUPS):
            raise ValueError(f"the published {BASELINE_KEY!r} of DER {der!r} does not cover "
                             "the same timesteps for p_th, p and q")
        out[der] = Baseline(*(np.array([groups[g][t] for t in steps]) for g in GROUPS))
    return out


def reference_powers(point: ReferencePoint) -> dict[str, float]:
    """Per-quantity reference power (kW / kvar): mean absolute demand at the reference point."""
    return {"p_th": float(np.mean(np.abs(point.p_th_kw))),
            "p": float(np.mean(np.abs(point.p_kw))),
            "q": float(np.mean(np.abs(point.q_kvar)))}


def received_reference(published: Published, label: str) -> dict[str, float]:
    """Per-quantity reference power (kW / kvar) from what an entity received: the derived
    :data:`REFERENCE_POWERS_KEY`, else computed from the published baselines."""
    derived = published.get(REFERENCE_POWERS_KEY)
    if derived is None:
        return reference_powers(published_reference(published))
    missing = [g for g in GROUPS if g not in derived]
    if missing:
        raise ValueError(f"{label}: the published {REFERENCE_POWERS_KEY!r} lack {missing}")
    return {g: float(derived[g]) for g in GROUPS}


def published_reference(published: Published, der_names: Sequence[str] | None = None
                        ) -> ReferencePoint:
    """The district's reference point from the published baselines (DERs in ``der_names``
    order, default: publication order)."""
    baselines = published_baselines(published)
    return reference_point(baselines, list(baselines) if der_names is None else der_names)


class LPBlockEntity(LPLocalModel):
    """An ADMM actor whose private model is an :class:`LPBlock` (cost S$, linear constraints).

    ``groups`` names the exchanged variable groups of the block (in output order), ``ders`` the
    DER names of the columns of each group (the block's groups are time-major ``t*len(ders)+k``);
    ``ref`` maps a group to its reference power for ``rho_scale``. ``free`` names the groups
    that determine all others through the equalities (enables the reduced DAQP solve of
    :class:`LPLocalModel`); ``solver`` is ``"auto"`` (DAQP if ``free`` is given, else Clarabel),
    ``"daqp"`` or ``"clarabel"``. ``solver_tol`` is the Clarabel gap and feasibility tolerance
    (``eps=`` is its old name). ``certificate_only``: groups whose bounds only the certified
    lower bound uses (:class:`LPLocalModel`).
    """

    def __init__(self, block: LPBlock, groups: Sequence[str], ders: Sequence[str],
                 ref: dict[str, float], timesteps: pd.DatetimeIndex, *, name: str,
                 solver_tol: float | None = None, free: Sequence[str] | None = None,
                 solver: str = "auto", eps: float | None = None,
                 certificate_only: Sequence[str] = ()) -> None:
        solver_tol, _ = renamed_keyword(solver_tol, "solver_tol", eps, "eps")
        # checked by the entity that builds this block, and by LPLocalModel where Clarabel uses it
        self.solver_tol = float(DEFAULT_SOLVER_TOL if solver_tol is None else solver_tol)
        self.block = block
        if solver not in ("auto", "daqp", "clarabel"):
            raise ValueError(f"solver must be 'auto', 'daqp' or 'clarabel', got {solver!r}")
        if solver == "daqp" and free is None:
            raise ValueError(f"{name}: solver 'daqp' needs the free variable groups (free=...)")
        prox = "clarabel" if solver == "clarabel" or free is None else "daqp"
        self.free = None if free is None else tuple(free)
        for g in self.free or ():
            if g not in block.variables:
                raise ValueError(f"{name}: free group {g!r} is not a variable group of the block "
                                 f"(groups: {sorted(block.variables)})")
        self.groups = tuple(groups)
        self.ders = [str(d) for d in ders]
        n_der = len(self.ders)
        idx, variables, scale = [], [], []
        for g in self.groups:
            cols = np.asarray(block.variables[g], dtype=int)
            if cols.size % n_der:
                raise ValueError(f"{name}: group {g!r} has {cols.size} entries, not a multiple "
                                 f"of {n_der} DERs")
            idx.append(cols)
            if cols.size != len(timesteps) * n_der:
                raise ValueError(f"{name}: group {g!r} has {cols.size} entries, expected "
                                 f"{len(timesteps)} timesteps x {n_der} DERs")
            variables.extend(variable_name(g, t, d) for t in timesteps for d in self.ders)
            scale.append(np.full(cols.size, 1.0 / ref[g] ** 2))
        exchange = np.concatenate(idx)
        self.n_timesteps = idx[0].size // n_der
        free_cols = (np.concatenate([block.variables[g] for g in self.free]) if self.free
                     else np.zeros(0, dtype=int))
        relaxed = [np.asarray(block.variables[g], dtype=int) for g in certificate_only]
        super().__init__(block.c, block.A_eq, block.b_eq, block.A_ub, block.b_ub, block.lb,
                         block.ub, exchange, free_cols, name=name, variables=variables,
                         rho_scale=np.concatenate(scale), solver=prox,
                         solver_tol=self.solver_tol if prox == "clarabel" else None,
                         certificate_only=np.concatenate(relaxed) if relaxed else None)

    @property
    def eps(self) -> float:
        """The old name of :attr:`solver_tol` (until 0.2)."""
        return self.solver_tol

    # -- results -----------------------------------------------------------------------------
    def group_values(self, group: str, x: np.ndarray | None = None) -> np.ndarray:
        """``(T, n_der)`` values of exchanged group ``group`` from output ``x`` (default own)."""
        x = self.x if x is None else x
        pos = self.groups.index(group)
        m = self.n_timesteps * len(self.ders)
        return np.asarray(x[pos * m:(pos + 1) * m]).reshape(self.n_timesteps, len(self.ders))


class MarketEntity(LocalModel):
    """One organisation of the market: its exchanged variables are known from the start, its LP
    block is built in :meth:`configure` from its own data and what the others published.

    ``build(published) -> LPBlock`` builds the block; ``baseline()`` (buildings only) returns
    the :class:`~.energy.buildings.Baseline` per DER that the entity publishes. ``free`` names the block's
    groups that fix all others (see :class:`LPBlockEntity`); ``solver_tol`` (old name ``eps``)
    and ``solver`` go to it. ``linearise_at(values)`` (grid operators) moves the entity's
    linearisation to its own cleared values (group -> (T, n_der)) for the next :meth:`configure`
    (:meth:`relinearise`). ``subscriptions``, ``derives`` and ``bound_at_support`` are the
    :class:`~..local.base.LocalModel` attributes (what it reads of the others' publications,
    what it derives for them, how the certified bound prices it).
    """

    def __init__(self, name: str, groups: Sequence[str], ders: Sequence[str],
                 timesteps: pd.DatetimeIndex, build: Callable[[Published], LPBlock], *,
                 free: Sequence[str], baseline: Callable[[], Mapping[str, Baseline]] | None = None,
                 solver_tol: float | None = None, solver: str = "auto",
                 eps: float | None = None,
                 linearise_at: Callable[[Mapping[str, np.ndarray]], None] | None = None,
                 subscriptions: Sequence[str] | None = None, derives: Sequence[str] = (),
                 bound_at_support: bool = False) -> None:
        solver_tol, tol_name = renamed_keyword(solver_tol, "solver_tol", eps, "eps")
        self.groups = tuple(groups)
        self.ders = [str(d) for d in ders]
        self.timesteps = pd.DatetimeIndex(timesteps)
        variables = [variable_name(g, t, d) for g in self.groups for t in self.timesteps
                     for d in self.ders]
        super().__init__(len(variables), name=name, variables=variables)
        self._build = build
        self._baseline = baseline
        self.free = tuple(free)
        # checked here: with DAQP the LP block never reads it
        self.solver_tol = tolerance(DEFAULT_SOLVER_TOL if solver_tol is None else solver_tol,
                                    tol_name)
        self.solver = solver
        self.lp: LPBlockEntity | None = None
        self._linearise_at = linearise_at
        self.subscriptions = None if subscriptions is None else tuple(subscriptions)
        self.derives = tuple(derives)
        self.bound_at_support = bool(bound_at_support)
        #: Per exchanged group its reference power (kW / kvar), once configured.
        self.reference: dict[str, float] | None = None

    def relinearise(self) -> None:
        """A grid operator re-linearises at its own cleared values of the last run (its
        :attr:`x`); other entities, and an entity that has not finished a run, keep theirs."""
        if self._linearise_at is not None and self.x is not None:
            self._linearise_at({g: self.group_values(g) for g in self.groups})

    @property
    def n_timesteps(self) -> int:
        return len(self.timesteps)

    @property
    def eps(self) -> float:
        """The old name of :attr:`solver_tol` (until 0.2)."""
        return self.solver_tol

    def publish(self) -> dict[str, np.ndarray] | None:
        if self._baseline is None:
            return None
        baselines = self._baseline()
        # Same order as the variables: group, then time-major over (timestep, DER).
        values = [np.column_stack([np.asarray(Baseline.of(baselines[d]).group(g), dtype=float)
                                   for d in self.ders]).ravel() for g in self.groups]
        return {BASELINE_KEY: np.concatenate(values)}

    def configure(self, published: Published) -> None:
        block = self._build(published)
        ref = received_reference(published, self.label)
        self.reference = ref
        # A grid operator's connection ratings (energy.grid_operators.bound_demands) make its
        # term of the dual function finite; they lie far above any dispatch, and its proximal
        # steps leave them out: measured, with them the default (30 min) takes more rounds in
        # every scenario (thermal-congestion 130 -> 169).
        rated = self.groups if self.label in GRID_OPERATORS else ()
        self.lp = LPBlockEntity(block, self.groups, self.ders, ref, self.timesteps,
                                name=self.label, free=self.free, solver_tol=self.solver_tol,
                                solver=self.solver, certificate_only=rated)
        if self.lp.variables != self.variables:
            raise ValueError(f"{self.label}: the built block's variables differ from the ones "
                             "declared at join")
        self.rho_scale = self.lp.rho_scale

    def derived(self) -> dict[str, dict[str, float]] | None:
        """The district's reference powers (:data:`REFERENCE_POWERS_KEY`) if it derives them."""
        if REFERENCE_POWERS_KEY not in self.derives or self.reference is None:
            return None
        return {REFERENCE_POWERS_KEY: dict(self.reference)}

    @property
    def block(self) -> LPBlock:
        return self._lp().block

    def _lp(self) -> LPBlockEntity:
        if self.lp is None:
            raise RuntimeError(f"{self.label}: not configured yet (configure() builds the model)")
        return self.lp

    def prepare(self) -> None:
        self._lp().prepare()

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        return self._lp().solve(v, rho)

    def objective(self, x: np.ndarray) -> float:
        """The entity's own cost (S$) of its last solve."""
        return self._lp().objective(x)

    def barrier(self):
        """The entity's block as a participant of the interior-point method."""
        return self._lp().barrier()

    def dual_term(self, price: np.ndarray) -> float | None:
        """``min`` of the entity's cost plus ``price'x`` over its block (S$)."""
        return self._lp().dual_term(price)

    def group_values(self, group: str, x: np.ndarray | None = None) -> np.ndarray:
        """``(T, n_der)`` values of exchanged group ``group`` from output ``x`` (default own)."""
        x = self.x if x is None else x
        pos = self.groups.index(group)
        m = self.n_timesteps * len(self.ders)
        return np.asarray(x[pos * m:(pos + 1) * m]).reshape(self.n_timesteps, len(self.ders))


#: What the entities read of each other's publications: a grid operator linearises at every
#: building's baseline and derives the district's reference powers from them; a consumer (the
#: aggregator, a building) needs only those for its penalty scale, so a run's setup sends N
#: baselines to the two grid operators instead of to all N + 2 participants. A grid operator's
#: demands are bounded only by its connections' ratings, so its term of the certified bound is
#: priced where it is exact (LocalModel.bound_at_support).
_GRID_OPERATOR_DATA = {"subscriptions": (BASELINE_KEY,), "derives": (REFERENCE_POWERS_KEY,),
                       "bound_at_support": True}
_CONSUMER_DATA = {"subscriptions": (REFERENCE_POWERS_KEY,)}


def thermal_grid_operator(grid, price_s_per_kwh: np.ndarray, timesteps: pd.DatetimeIndex,
                          timestep_h: float, scenario: str, *, eta_ch: float | None = None,
                          **kwargs) -> MarketEntity:
    """Sub-problem (2) from the thermal grid operator's data (:class:`ThermalGridData`, price in
    S$/kWh, horizon): linearised at the published cooling peak, with the scenario's thermal
    limits (``eta_ch``: the plant's efficiency, default the study's); exchanges ``p_th``. Asked
    to re-linearise (:meth:`MarketEntity.relinearise`), it linearises each step at its own
    cleared cooling demand of the last run (the limits stay the peak model's)."""
    check_scenario(scenario)
    eta = DEFAULT_PLANT_EFFICIENCY if eta_ch is None else eta_ch
    ders = [str(d) for d in grid.der_names]
    steps: list = []  # the per-step models, once re-linearised

    def relinearise(cleared: Mapping[str, np.ndarray]) -> None:
        steps[:] = [linear_thermal_grid_model(grid, p) for p in np.asarray(cleared["p_th"])]

    def build(published: Published) -> LPBlock:
        point = published_reference(published, ders)
        model = linear_thermal_grid_model(grid, point.p_th_kw)
        # The limits come from the operator's own linear model; its block takes them as data.
        limits = thermal_scenario_limits(model, scenario)
        return thermal_grid_operator_block(model, price_s_per_kwh, timestep_h, eta, limits,
                                           steps or None)

    return MarketEntity(THERMAL_GRID_OPERATOR, ("p_th",), ders, timesteps, build,
                        free=("p_th",), linearise_at=relinearise, **_GRID_OPERATOR_DATA, **kwargs)


def electric_grid_operator(grid, price_s_per_kwh: np.ndarray, timesteps: pd.DatetimeIndex,
                           timestep_h: float, scenario: str, **kwargs) -> MarketEntity:
    """Sub-problem (3) from the electric grid operator's data (:class:`ElectricGridData`, price,
    horizon): linearised at the published cooling peak, with the scenario's electric limits;
    exchanges ``p``, ``q``. Asked to re-linearise (:meth:`MarketEntity.relinearise`), it
    linearises each step at its own cleared active and reactive demand of the last run (the
    limits stay the peak model's)."""
    check_scenario(scenario)
    ders = [str(d) for d in grid.der_names]
    steps: list = []  # the per-step models, once re-linearised

    def relinearise(cleared: Mapping[str, np.ndarray]) -> None:
        steps[:] = [linear_electric_grid_model(grid, p, q)
                    for p, q in zip(np.asarray(cleared["p"]), np.asarray(cleared["q"]))]

    def build(published: Published) -> LPBlock:
        point = published_reference(published, ders)
        model = linear_electric_grid_model(grid, point.p_kw, point.q_kvar)
        limits = electric_scenario_limits(model, scenario)
        return electric_grid_operator_block(model, price_s_per_kwh, timestep_h, limits,
                                            steps or None)

    return MarketEntity(ELECTRIC_GRID_OPERATOR, ("p", "q"), ders, timesteps, build,
                        free=("p", "q"), linearise_at=relinearise, **_GRID_OPERATOR_DATA, **kwargs)


def _baselines(buildings, price_s_per_kwh: np.ndarray, timestep_h: float,
               eta_ch: float | None, known: Mapping[str, Baseline] | None
               ) -> Callable[[], dict[str, Baseline]]:
    """The buildings' baselines, computed once when first published (or ``known`` ones)."""
    eta = DEFAULT_PLANT_EFFICIENCY if eta_ch is None else eta_ch
    cache: dict[str, Baseline] = {}

    def baseline() -> dict[str, Baseline]:
        if not cache:
            for m in buildings:
                cache[str(m.name)] = (known[str(m.name)] if known and str(m.name) in known
                                      else building_baseline(m, price_s_per_kwh, timestep_h, eta))
        return cache

    return baseline


def flexible_load_aggregator(buildings, price_s_per_kwh: np.ndarray,
                             timesteps: pd.DatetimeIndex, timestep_h: float, *,
                             eta_ch: float | None = None,
                             baselines: Mapping[str, Baseline] | None = None,
                             **kwargs) -> MarketEntity:
    """Sub-problem (4): all its buildings in one block; exchanges ``p_th``, ``p``, ``q`` and
    publishes the buildings' baselines (at the public price and the district cooling tariff
    ``price / eta_ch``; ``baselines`` if already known)."""
    def build(published: Published) -> LPBlock:
        return aggregator_block(buildings, timestep_h)

    return MarketEntity(AGGREGATOR, GROUPS, [str(m.name) for m in buildings], timesteps, build,
                        free=[f"{m.name}/c" for m in buildings],
                        baseline=_baselines(buildings, price_s_per_kwh, timestep_h, eta_ch,
                                            baselines), **_CONSUMER_DATA, **kwargs)


def building_agent(model, price_s_per_kwh: np.ndarray, timesteps: pd.DatetimeIndex,
                   timestep_h: float, *, eta_ch: float | None = None,
                   baselines: Mapping[str, Baseline] | None = None, **kwargs) -> MarketEntity:
    """Per-building mode: one building (``building_<name>``) exchanging its own ``p_th``, ``p``,
    ``q`` and publishing its own baseline."""
    def build(published: Published) -> LPBlock:
        return building_block(model, timestep_h)

    return MarketEntity(f"{BUILDING_PREFIX}{model.name}", GROUPS, [str(model.name)], timesteps,
                        build, free=("c",),
                        baseline=_baselines([model], price_s_per_kwh, timestep_h, eta_ch,
                                            baselines), **_CONSUMER_DATA, **kwargs)


def market_entities(district, scenario: str, *, agents: str = "entities",
                    **kwargs) -> list[MarketEntity]:
    """The actors of the market clearing of ``scenario`` from a loaded district: thermal grid
    operator, electric grid operator and either the aggregator (``agents="entities"``) or one
    agent per building (``"per-building"``). Each gets only its own part of the district's data
    (the buildings' baselines are reused, not recomputed). Keyword arguments (``solver_tol``,
    ``solver``) go to :class:`LPBlockEntity`."""
    entity_names(district.der_names, agents)  # checks agents
    d = district
    actors = [thermal_grid_operator(d.thermal_grid, d.price, d.timesteps, d.timestep_h,
                                    scenario, eta_ch=d.eta_ch, **kwargs),
              electric_grid_operator(d.electric_grid, d.price, d.timesteps, d.timestep_h,
                                     scenario, **kwargs)]
    if agents == "entities":
        actors.append(flexible_load_aggregator(d.buildings, d.price, d.timesteps, d.timestep_h,
                                               eta_ch=d.eta_ch, baselines=d.baselines,
                                               **kwargs))
    else:
        actors.extend(building_agent(m, d.price, d.timesteps, d.timestep_h, eta_ch=d.eta_ch,
                                     baselines=d.baselines, **kwargs) for m in d.buildings)
    return actors


def load_entity(name: str, folder: Path | str, scenario: str, resolution: str = "30min",
                comfort: str = DEFAULT_COMFORT, **kwargs) -> MarketEntity:
    """The market entity ``name`` built from its own data folder alone (the layout
    ``dro data split`` writes): ``thermal_grid_operator``, ``electric_grid_operator``,
    ``aggregator`` or ``building_<der>``; the buildings hold their band as ``comfort`` says
    (:func:`~..energy.buildings.load_buildings`)."""
    check_comfort(comfort)
    folder = Path(folder)
    dt = timestep_hours(resolution)
    if name in GRID_OPERATORS:
        timesteps = load_timesteps(folder, resolution, source="grid")
        price = load_price(folder, resolution, source="grid").to_numpy(dtype=float)
        if name == THERMAL_GRID_OPERATOR:
            return thermal_grid_operator(load_thermal_grid(folder), price, timesteps, dt,
                                         scenario, **kwargs)
        return electric_grid_operator(load_electric_grid(folder), price, timesteps, dt,
                                      scenario, **kwargs)
    if not is_consumer(name):
        raise ValueError(f"unknown entity {name!r}; valid: {', '.join(GRID_OPERATORS)}, "
                         f"{AGGREGATOR}, {BUILDING_PREFIX}<der>")
    timesteps = load_timesteps(folder, resolution)
    price = load_price(folder, resolution).to_numpy(dtype=float)
    if name == AGGREGATOR:
        return flexible_load_aggregator(load_buildings(folder, resolution, comfort=comfort),
                                        price, timesteps, dt, **kwargs)
    # A building's agent builds its own model only (not the 22 of the embedded district).
    (model,) = load_buildings(folder, resolution, ders=[name.removeprefix(BUILDING_PREFIX)],
                              comfort=comfort)
    return building_agent(model, price, timesteps, dt, **kwargs)
