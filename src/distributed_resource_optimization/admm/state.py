"""The coordinator's state of an ADMM run, shared by the problem forms (pure numerics).

A problem form (:class:`ProblemForm`: sharing in :mod:`.sharing`, consensus and general-form
consensus in :mod:`.general`) creates a :class:`FormState` for the participants of a run. The
state hands out one :class:`LocalRequest` per participant (``target``, ``price``, ``rho``: the
participant then computes ``argmin f(x) + price'(x - target) + rho/2 ||x - target||^2``), takes
their replies in :meth:`FormState.step`, updates ``z`` and the duals, asks the stopping rule
(:mod:`.stopping`) and adapts rho by residual balancing (Boyd et al. 2011, ch. 7, sec. 3.3). It
never waits for anything and knows nothing of messages or transports.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from distributed_resource_optimization.admm.acceleration import DEFAULT_MAX_PAUSE, AndersonAccelerator
from distributed_resource_optimization.admm.objectives import GlobalObjective, TargetData, ZeroObjective
from distributed_resource_optimization.admm.polish import (
    DEFAULT_POLISH_EVERY,
    DEFAULT_POLISH_TOLERANCE,
)
from distributed_resource_optimization.admm.results import (
    GAP_FLOOR,
    ActorValues,
    ADMMResult,
    ADMMStatus,
    certified_gap,
)
from distributed_resource_optimization.admm.stopping import (
    ResidualRule,
    Residuals,
    StoppingRule,
    as_stopping_rule,
)
from distributed_resource_optimization.admm.warm_start import WarmStart
from distributed_resource_optimization.checks import (
    flag,
    int_at_least,
    non_negative_int,
    non_negative_scalar,
    positive_int,
    positive_scalar,
    scalar_in_range,
)

_TINY = 1e-30

#: With ``probe_rho`` the initial rho is moved into [``PROBE_RHO_FACTOR``, 1] times the measured
#: scale (the probe's price over the first round's moves); a rho already in that band is kept
#: (docs/admm.md 8b: on the multi-area DC OPF cases the scale itself lies 1.1-2.6 decades above
#: the best initial rho of a decade sweep; 1, 0.1 and 0.01 times it were measured).
PROBE_RHO_FACTOR = 0.01

#: Sharing without a stopping rule or gap given: the residual rule or, whichever comes first,
#: a certified relative gap of this (the actors' own outputs are a feasible point, so the gap
#: bounds the distance to the optimum; on nearly degenerate LPs such as the flex-sharing family
#: the residual rule alone fires late or never: 10 000 rounds on 2 of 3 seeds at N = 1000); also
#: the gap at which a polish is accepted (``polish_gap_tol``).
DEFAULT_SHARING_GAP_TOL = 1e-4



@dataclass(frozen=True)
class ParticipantSpec:
    """What a participant (one actor or a vectorised fleet of actors) declares when it joins.

    ``sizes[i]`` is the length of actor ``i``'s output vector; ``variables[i]`` names the global
    variables of its entries (general form only, else ``None``); ``rho_scale[i]`` optionally scales
    rho per entry (e.g. ``1/reference_power**2``) so quantities of different size converge alike.
    """

    names: tuple[str, ...]
    sizes: tuple[int, ...]
    variables: tuple[tuple[Hashable, ...] | None, ...] | None = None
    rho_scale: tuple[np.ndarray | None, ...] | None = None
    #: The actors (by name) whose term of the certified bound is priced at their own support
    #: prices (:attr:`~..local.base.LocalModel.bound_at_support`; general form).
    bound_at_support: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return int(sum(self.sizes))


@dataclass
class LocalRequest:
    """What one participant receives per iteration: exchange target, price (dual), penalty rho.

    Arrays are flat over the participant's actors in order; a ``price`` shorter than ``target``
    is the one price vector every actor of the participant sees (sharing), to be repeated per
    actor (:func:`expand_price`). ``rho`` is the scalar penalty; the
    penalty of an entry is ``rho * rho_scale`` with the scale the participant declared
    (:class:`ParticipantSpec`), so only the scalar has to travel per iteration.
    """

    target: np.ndarray
    price: np.ndarray
    rho: float


def expand_price(price: np.ndarray, size: int) -> np.ndarray:
    """``price`` over ``size`` flat entries: as it is if it has that length, else one price
    vector shared by equal-length actors and repeated for each (``ValueError`` if it does not
    divide ``size``)."""
    price = np.asarray(price, dtype=float)
    if price.size == size:
        return price
    if price.size == 0 or size % price.size:
        raise ValueError(f"a price of {price.size} entries does not fit {size} outputs")
    return np.tile(price, size // price.size)


@dataclass
class ADMMSettings:
    """Coordinator settings; see :class:`ADMMGenericCoordinator` for meaning and units."""

    rho: float = 1.0
    max_iters: int = 10000
    abs_tol: float = 1e-6
    rel_tol: float = 1e-6
    adaptive_rho: bool = True
    alpha: float = 1.6
    adapt_threshold: float = 5.0
    adapt_interval: int = 20
    adapt_max_factor: float = 10.0
    adapt_max_updates: int = 10
    acceleration: bool = True
    anderson_memory: int = 10
    #: Longest wait (iterations) of Anderson acceleration after rejected extrapolations; 0: none.
    anderson_max_pause: int = DEFAULT_MAX_PAUSE
    rho_min: float = 1e-8
    rho_max: float = 1e8
    #: Check the initial rho against the scale a probe round measures (:data:`PROBE_RHO_FACTOR`,
    #: docs/admm.md 8b); not with a warm start (that brings its own rho).
    probe_rho: bool = False
    #: Sharing among flex actors: try a polish (:mod:`.polish`) every ``polish_every``
    #: iterations, offered within ``polish_tolerance``, accepted at a certified gap of at most
    #: ``polish_gap_tol``.
    polish: bool = False
    polish_every: int = DEFAULT_POLISH_EVERY
    polish_tolerance: float = DEFAULT_POLISH_TOLERANCE
    polish_gap_tol: float = DEFAULT_SHARING_GAP_TOL
    #: When the run may stop (:mod:`.stopping`); ``None``: :class:`ResidualRule`.
    stopping: StoppingRule | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (``ValueError`` / ``TypeError`` naming it) and normalise its type.

        Runs at construction and again when a run starts (:class:`FormState`): the fields are
        public and may have been changed in between (``coordinator.settings.rho = -1``).
        """
        self.rho = positive_scalar(self.rho, "rho")
        self.max_iters = positive_int(self.max_iters, "max_iters")
        self.abs_tol = non_negative_scalar(self.abs_tol, "abs_tol")
        self.rel_tol = non_negative_scalar(self.rel_tol, "rel_tol")
        if self.abs_tol == 0 and self.rel_tol == 0:
            raise ValueError("abs_tol and rel_tol must not both be zero")
        self.adaptive_rho = flag(self.adaptive_rho, "adaptive_rho")
        self.alpha = positive_scalar(self.alpha, "alpha")
        if not self.alpha < 2.0:
            raise ValueError(f"alpha must lie in (0, 2), got {self.alpha}")
        # Residual balancing keeps rho while the ratio lies in (1/threshold, threshold) and moves
        # it by at most the factor: below 1 either would invert the rule.
        self.adapt_threshold = scalar_in_range(self.adapt_threshold, "adapt_threshold", 1.0)
        self.adapt_interval = int_at_least(self.adapt_interval, "adapt_interval", 1)
        self.adapt_max_factor = scalar_in_range(self.adapt_max_factor, "adapt_max_factor", 1.0)
        self.adapt_max_updates = int_at_least(self.adapt_max_updates, "adapt_max_updates", 0)
        self.acceleration = flag(self.acceleration, "acceleration")
        self.probe_rho = flag(self.probe_rho, "probe_rho")
        self.polish = flag(self.polish, "polish")
        self.polish_every = positive_int(self.polish_every, "polish_every")
        self.polish_tolerance = non_negative_scalar(self.polish_tolerance, "polish_tolerance")
        self.polish_gap_tol = non_negative_scalar(self.polish_gap_tol, "polish_gap_tol")
        self.anderson_memory = positive_int(self.anderson_memory, "anderson_memory")
        self.anderson_max_pause = non_negative_int(self.anderson_max_pause, "anderson_max_pause")
        self.rho_min = positive_scalar(self.rho_min, "rho_min")
        self.rho_max = scalar_in_range(self.rho_max, "rho_max", self.rho_min)
        if self.stopping is not None:
            self.stopping = as_stopping_rule(self.stopping)



@dataclass
class History:
    primal: list[float] = field(default_factory=list)
    dual: list[float] = field(default_factory=list)
    eps_primal: list[float] = field(default_factory=list)
    eps_dual: list[float] = field(default_factory=list)
    rho: list[float] = field(default_factory=list)


@dataclass
class Bound:
    """The Lagrangian lower bound and the objective at the actors' own outputs, per iteration
    (NaN where not evaluated); ``lower_bound`` is the best (largest) bound so far, which bounds
    the optimum as well as the latest, and ``objective`` the latest (``None`` before the
    first evaluation)."""

    lower_bound: float | None = None
    objective: float | None = None
    #: Whether the latest iteration evaluated them.
    fresh: bool = False
    lower_bounds: list[float] = field(default_factory=list)
    objectives: list[float] = field(default_factory=list)

    def gap_certified(self, floor: float = GAP_FLOOR) -> float | None:
        """:func:`~.results.certified_gap` of the latest evaluation (``None`` before one)."""
        if self.lower_bound is None or self.objective is None:
            return None
        return float(certified_gap(self.objective, self.lower_bound, floor))


class FormState(ABC):
    """Coordinator state shared by the forms: flat ``x``, participants' offsets, rho, history."""

    def __init__(self, specs: Sequence[ParticipantSpec], objective: GlobalObjective,
                 data: TargetData | None, settings: ADMMSettings) -> None:
        if not specs:
            raise ValueError("actors must not be empty")
        # Again at the run's start: the settings may have been changed since construction.
        settings.validate()
        if isinstance(data, TargetData):
            data.validate()
        self.specs = list(specs)
        self.objective = objective
        self.data = data
        self.settings = settings
        self.rho = float(settings.rho)
        self._rho_updates = 0
        #: ``probe_rho``: the probe round's requests while it is pending, then the price scale it
        #: measured (RMS, price units) until the first ordinary round sets rho from it.
        self._probe: list[LocalRequest] | None = None
        #: Probe rounds of the run (rounds of messages besides the iterations).
        self.probe_rounds = 0
        self._probe_scale: float | None = None
        self._probe_start: np.ndarray | None = None  # the outputs the probe priced
        self._probing = settings.probe_rho
        self.iteration = 0
        self.history = History()
        self.status: ADMMStatus | None = None
        #: In words, the rule that ended the run (set with :attr:`status`).
        self.stopped_by = ""
        sizes = [s.size for s in self.specs]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.names = [n for s in self.specs for n in s.names]
        self.actor_sizes = [n for s in self.specs for n in s.sizes]
        self.actor_offsets = np.concatenate([[0], np.cumsum(self.actor_sizes)]).astype(int)
        self.x = np.zeros(int(self.offsets[-1]))
        self.accelerator = (AndersonAccelerator(settings.anderson_memory,
                                                max_pause=settings.anderson_max_pause)
                            if settings.acceleration else None)
        # The run's own copy: a rule keeps per-run history, the coordinator may run again.
        self.stopping: StoppingRule = copy.deepcopy(settings.stopping or ResidualRule())
        self.bound = Bound()
        self._bound_y: np.ndarray | None = None
        #: Outputs and prices of the last iteration (at ``max_iters`` ``x`` and the duals are
        #: replaced by the best iterate; these stay as the last local solves left them).
        self.last_x = self.x
        self._last_y: np.ndarray | None = None
        self._best_score = np.inf
        self._best: tuple[np.ndarray, np.ndarray, float] | None = None

    def _split(self, flat: np.ndarray) -> list[np.ndarray]:
        return [flat[self.offsets[p]:self.offsets[p + 1]] for p in range(len(self.specs))]

    def _join(self, xs: Sequence[np.ndarray]) -> np.ndarray:
        if len(xs) != len(self.specs):
            raise ValueError(f"expected {len(self.specs)} replies, got {len(xs)}")
        parts = []
        for p, xp in enumerate(xs):
            xp = np.asarray(xp, dtype=float).ravel()
            if xp.size != self.specs[p].size:
                raise ValueError(
                    f"participant {self.specs[p].names[0]!r} replied with {xp.size} values, "
                    f"expected {self.specs[p].size}")
            parts.append(xp)
        return np.concatenate(parts)

    def next_round(self) -> int:
        """The number of the next round's requests: the next iteration, or 0 for the probe
        round of ``probe_rho`` (a round of its own before iteration 1)."""
        return 0 if self._probing else self.iteration + 1

    def requests(self) -> list[LocalRequest]:
        """One request per participant for the next round. With ``probe_rho`` the first round
        (round 0) asks for the replies to the start at the largest penalty (``rho_max``): the
        outputs stay next to the start and ``price + rho_max (x - target)`` is each entry's
        marginal cost there, whatever the units (docs/admm.md 8b)."""
        requests = self._requests()
        if self._probing:
            self._probe = [LocalRequest(r.target, r.price, self.settings.rho_max)
                           for r in requests]
            return self._probe
        return requests

    @abstractmethod
    def _requests(self) -> list[LocalRequest]:
        """The form's request per participant for the next iteration."""

    @abstractmethod
    def _update(self, x_new: np.ndarray) -> Residuals:
        """z- and dual update after the local solves; returns the residuals."""

    @abstractmethod
    def _rescale_duals(self, factor: float) -> None:
        """Multiply the scaled duals by ``factor`` (rho changed, unscaled prices stay)."""

    @abstractmethod
    def _get_state(self) -> np.ndarray:
        """The fixed-point state the next requests are computed from, as one vector."""

    @abstractmethod
    def _set_state(self, w: np.ndarray) -> None:
        """Replace the fixed-point state (acceleration)."""

    @abstractmethod
    def global_value(self) -> np.ndarray:
        """The global variable: aggregate (sharing) or agreed values (consensus forms)."""

    @abstractmethod
    def global_objective(self) -> float:
        """``g`` at the actors' current outputs."""

    def prices(self) -> np.ndarray:
        """Unscaled duals ``y = rho * u`` per actor entry (the prices each actor perceives)."""
        return self._expand_prices(self._price_snapshot())

    @abstractmethod
    def _price_snapshot(self) -> np.ndarray:
        """The current prices in the form's compact layout (see :attr:`last_prices`)."""

    def _expand_prices(self, snapshot: np.ndarray) -> np.ndarray:
        """Compact prices (:meth:`_price_snapshot`) per actor entry."""
        return snapshot

    @property
    def last_prices(self) -> np.ndarray:
        """The prices per actor entry right after the last iteration's dual update (what the
        last outputs are priced at; at ``max_iters`` the duals are the best iterate's)."""
        if self._last_y is None:
            return np.zeros(self.x.size)
        return self._expand_prices(self._last_y)

    @abstractmethod
    def _bound_point(self) -> tuple[np.ndarray, float] | None:
        """Prices per actor entry at which the Lagrangian dual function is finite (the current
        ones, projected) and the global objective's share of it there; ``None`` if the global
        objective offers no bound."""

    def bound_prices(self) -> list[np.ndarray] | None:
        """Per participant the prices at which it evaluates its share of the Lagrangian dual
        function ``min_x f_i(x) + y'x`` (for :meth:`record_bound`), or ``None`` if this form
        and global objective give no bound."""
        return self._bound_prices_from(self._bound_point())

    def _bound_prices_from(self, point: tuple[np.ndarray, float] | None
                           ) -> list[np.ndarray] | None:
        """Keep ``point`` (prices, the global objective's share; see :meth:`_bound_point`) for
        :meth:`record_bound` and return its prices per participant (``None``: no bound)."""
        if point is None:
            self._bound_y = None
            return None
        self._bound_y, self._bound_global = point
        return self._per_participant(self._bound_y)

    def _per_participant(self, prices: np.ndarray) -> list[np.ndarray]:
        """Prices in the form's compact layout (:meth:`_price_snapshot`) per participant."""
        return self._split(prices)

    def record_bound(self, terms: Sequence[float | None],
                     objectives: Sequence[float | None], in_history: bool = True) -> None:
        """Sum the participants' dual terms (at the prices of :meth:`bound_prices`) into the
        lower bound, and their objectives at their outputs of this iteration (plus ``g``) into
        the objective; a missing or non-finite term means no bound this time. :meth:`step`
        calls it after the z-update of the same iteration; ``in_history=False`` records the
        final evaluation of a run (at its final outputs) without an iteration of its own."""
        b = self.bound
        if self._bound_y is None or any(t is None or not np.isfinite(t) for t in terms) \
                or any(f is None or not np.isfinite(f) for f in objectives):
            return
        lower = float(sum(terms)) + self._bound_global
        b.objective = float(sum(objectives)) + self.global_objective()
        # Every evaluation bounds the same optimum: the best so far certifies the current point.
        b.lower_bound = lower if b.lower_bound is None else max(b.lower_bound, lower)
        b.fresh = in_history
        if in_history:
            b.lower_bounds[-1], b.objectives[-1] = lower, b.objective

    def step(self, xs: Sequence[np.ndarray], fresh: bool = True,
             bound: tuple[Sequence[float | None], Sequence[float | None]] | None = None) -> bool:
        """Take the participants' replies; return ``True`` when the run is finished.

        ``bound``: the participants' dual terms and objectives of this iteration, evaluated at
        the prices :meth:`bound_prices` gave before it (see :meth:`record_bound`).
        ``fresh=False`` says some replies are stale (a participant's last output carried over a
        round it missed): the iteration goes on, but such a round never counts as converged,
        and acceleration starts over (stale outputs are not the map it extrapolates)."""
        done = self._step(xs, fresh, bound)
        if done:
            # What only the iteration needed goes before the result is packaged (at 10^6 flex
            # actors Anderson's history and the best iterate are 300 MB of the peak).
            if self.accelerator is not None:
                self.accelerator.reset()
            self._best = None
        return done

    def _step(self, xs: Sequence[np.ndarray], fresh: bool,
              bound: tuple[Sequence[float | None], Sequence[float | None]] | None) -> bool:
        x_new = self._join(xs)
        if not np.all(np.isfinite(x_new)):
            bad = int(np.flatnonzero(~np.isfinite(x_new))[0])
            actor = int(np.searchsorted(self.actor_offsets, bad, side="right") - 1)
            raise FloatingPointError(f"actor {self.names[actor]!r} returned a non-finite output")
        if self._probe is not None:
            return self._take_probe(x_new, fresh)
        if self.iteration == 0:
            self.stopping.start(self)
        self.iteration += 1
        w_in = self._get_state()
        res = self._update(x_new)
        self.last_x = x_new
        self._last_y = self._price_snapshot()
        h = self.history
        h.primal.append(res.primal)
        h.dual.append(res.dual)
        h.eps_primal.append(res.eps_primal)
        h.eps_dual.append(res.eps_dual)
        h.rho.append(self.rho)
        b = self.bound
        b.fresh = False
        b.lower_bounds.append(np.nan)
        b.objectives.append(np.nan)
        if bound is not None and fresh:
            self.record_bound(*bound)
        may_stop = self.stopping.check(self, x_new, res)
        if not fresh:
            if self.accelerator is not None:
                self.accelerator.reset()
        elif may_stop and self._untouched(x_new):
            # Zero residuals with nothing moved from the all-zero start: every step may have been
            # lost to rounding (a huge rho, or a target far above the actors' scale), so this is
            # no proof of optimality. Probe with a smaller rho; only a point that stays put for
            # every rho the adaptation may still try is accepted.
            if not self._probe_smaller_rho():
                if self.settings.adaptive_rho:
                    self.status = ADMMStatus.CONVERGED
                    self.stopped_by = self.stopping.reason()
                    return True
        elif may_stop:
            self.status = ADMMStatus.CONVERGED
            self.stopped_by = self.stopping.reason()
            return True
        score = max(res.primal / max(res.eps_primal, _TINY), res.dual / max(res.eps_dual, _TINY))
        if fresh and score < self._best_score:
            self._best_score = score
            self._best = (x_new.copy(), self._get_state(), self.rho)
        if self.iteration >= self.settings.max_iters:
            # Out of iterations: hand back the iterate closest to the stopping rule, not whichever
            # (possibly extrapolated) point happened to come last.
            self.status = ADMMStatus.MAX_ITERATIONS
            self.stopped_by = f"max_iters ({self.settings.max_iters})"
            if self._best is not None:
                x_best, w_best, rho_best = self._best
                self.x[:] = x_best
                self._set_state(w_best)
                self.rho = rho_best  # the scaled duals of w_best belong to this rho
            return True
        if self._probe_scale is not None and self._rho_from_probe(x_new):
            return False  # a new rho: a new fixed-point map, acceleration starts over
        if self.accelerator is None:
            self._adapt_rho(res)
            return False
        rejected = self.accelerator.rejected
        w_next = self.accelerator.next_point(w_in, self._get_state())
        if self.accelerator.rejected != rejected:
            # This iteration started from an extrapolated point that the safeguard rejects:
            # go on from the last plain iterate, and let residuals of the rejected point not
            # decide rho (measured: a rejected point's residuals once sent rho up tenfold and
            # the rescaled duals of the wild point stayed, and consensus ADMM never recovered).
            self._set_state(w_next)
            return False
        rho_before = self.rho
        self._adapt_rho(res)
        if self.rho != rho_before:
            self.accelerator.reset()  # a new rho is a new fixed-point map
        else:
            self._set_state(w_next)
        return False

    def _take_probe(self, x_new: np.ndarray, fresh: bool) -> bool:
        """The probe round: record the marginal costs' RMS at the start. Nothing else moves
        and no iteration is counted (:attr:`probe_rounds` is); a round with a missing reply
        measures nothing and the run keeps ``rho``."""
        requests = self._probe
        self.skip_probe()
        if fresh:
            target = np.concatenate([r.target for r in requests])
            price = np.concatenate([expand_price(r.price, self.specs[p].size)
                                    for p, r in enumerate(requests)])
            marginal = price + self._entry_rho(self.settings.rho_max) * (x_new - target)
            scale = float(np.sqrt(np.mean(marginal ** 2))) if marginal.size else 0.0
            if np.isfinite(scale) and scale > 0:
                self._probe_scale = scale
                self._probe_start = self.x.copy()
        return False

    def skip_probe(self) -> None:
        """End the probe round without a measurement (a participant could not take
        ``rho_max``): it counts as a round, and the run goes on at the given rho."""
        self._probe = None
        self._probing = False
        self.probe_rounds += 1

    def _rho_from_probe(self, x_new: np.ndarray) -> bool:
        """After the first iteration: the measured scale is the probe's price RMS over the RMS
        of the outputs' moves from the start; rho is moved into [:data:`PROBE_RHO_FACTOR`, 1]
        times it (within ``rho_min``/``rho_max``), so a rho already in that band stays. The
        scaled duals are rescaled so the prices stay. Returns whether rho changed."""
        scale, self._probe_scale = self._probe_scale, None
        moved = float(np.sqrt(np.mean((x_new - self._probe_start) ** 2)))
        if not (np.isfinite(moved) and moved > 0):
            return False
        s = self.settings
        measured = scale / moved
        new_rho = float(np.clip(np.clip(self.rho, PROBE_RHO_FACTOR * measured, measured),
                                s.rho_min, s.rho_max))
        if new_rho == self.rho:
            return False
        self._rescale_duals(self.rho / new_rho)
        self.rho = new_rho
        if self.accelerator is not None:
            self.accelerator.reset()
        return True

    def _entry_rho(self, rho: float) -> np.ndarray | float:
        """The penalty per flat entry at scalar ``rho`` (forms with per-entry scales override)."""
        return rho

    def _untouched(self, x_new: np.ndarray) -> bool:
        """Whether outputs and state are still exactly the all-zero start."""
        return not np.any(x_new) and not np.any(self._get_state())

    def _probe_smaller_rho(self) -> bool:
        """Divide rho by the largest adaptation factor if the adaptation still may; ``False`` if
        it may not (fixed rho, bound or number of changes reached)."""
        s = self.settings
        if not s.adaptive_rho or self._rho_updates >= s.adapt_max_updates or self.rho <= s.rho_min:
            return False
        new_rho = max(self.rho / s.adapt_max_factor, s.rho_min)
        self._rho_updates += 1
        self._rescale_duals(self.rho / new_rho)  # the duals are zero here; kept for symmetry
        self.rho = new_rho
        if self.accelerator is not None:
            self.accelerator.reset()
        return True

    def _adapt_rho(self, res: Residuals) -> None:
        # Normalised residual balancing (as OSQP does): compares relative residuals, so the rule
        # does not depend on the units of the actors' outputs.
        s = self.settings
        # Bounded, infrequent and finitely many changes keep ADMM's convergence guarantee
        # (He, Yang & Wang 2000) and stop one saturated iteration (dual residual ~ 0) from
        # throwing rho across orders of magnitude.
        if not s.adaptive_rho or self.iteration % s.adapt_interval \
                or self._rho_updates >= s.adapt_max_updates:
            return
        rn = res.primal / max(res.primal_scale, _TINY)
        sn = res.dual / max(res.dual_scale, _TINY)
        if rn <= 0.0 or sn <= 0.0 or res.dual_scale <= _TINY:
            return
        ratio = float(np.sqrt(rn / sn))
        if 1.0 / s.adapt_threshold < ratio < s.adapt_threshold:
            return
        ratio = float(np.clip(ratio, 1.0 / s.adapt_max_factor, s.adapt_max_factor))
        self._rho_updates += 1
        new_rho = float(np.clip(self.rho * ratio, s.rho_min, s.rho_max))
        if new_rho != self.rho:
            self._rescale_duals(self.rho / new_rho)
            self.rho = new_rho

    def actor_outputs(self) -> ActorValues:
        """Each actor's outputs (a copy of the flat ``x``, viewed per actor)."""
        return ActorValues(self.names, self.actor_offsets, self.x.copy())

    def result(self, wall_time_s: float,
               actor_objectives: np.ndarray | None = None) -> ADMMResult:
        """Package the run for users; ``actor_objectives`` holds each actor's ``f_i(x_i)`` in
        the actors' order (NaN where unknown)."""
        g = self.global_objective()
        costs = np.full(len(self.names), np.nan) if actor_objectives is None else \
            np.asarray(actor_objectives, dtype=float)
        objs = ActorValues(self.names, None, costs, scalar=True)
        known = costs.size > 0 and not np.isnan(costs).any()
        local_objective = float(costs.sum()) if known else None
        return ADMMResult(
            status=self.status or ADMMStatus.MAX_ITERATIONS,
            iterations=self.iteration,
            x=self.actor_outputs(),
            z=self.global_value(),
            objective=None if local_objective is None else local_objective + g,
            primal_residuals=np.array(self.history.primal),
            dual_residuals=np.array(self.history.dual),
            eps_primal=np.array(self.history.eps_primal),
            eps_dual=np.array(self.history.eps_dual),
            rho_history=np.array(self.history.rho),
            wall_time_s=wall_time_s,
            z_labels=self.global_labels(),
            actor_objectives=objs,
            lower_bound=self.bound.lower_bound,
            bound_objective=self.bound.objective,
            gap_certified=self.bound.gap_certified(),
            lower_bound_history=np.array(self.bound.lower_bounds, dtype=float),
            objective_history=np.array(self.bound.objectives, dtype=float),
            stopping_history={k: np.asarray(v, dtype=float)
                              for k, v in self.stopping.history.items()},
            last_x=np.array(self.last_x),
            prices=self.last_prices,
            entry_labels=self.entry_labels(),
            stopped_by=self.stopped_by or f"max_iters ({self.settings.max_iters})",
        )

    def entry_labels(self) -> list | None:
        """The global variable of each actor entry, where the form names them."""
        return None

    def warm_start(self, warm: WarmStart) -> None:
        """Start from an earlier run's outputs and prices (entries it does not know start at
        0) and its penalty; call before the first iteration."""
        if self.iteration:
            raise RuntimeError("warm_start: the run has started already")
        actors = np.repeat(np.array(self.names, dtype=object), self.actor_sizes)
        labels = self.entry_labels()
        entries = [str(v) for v in labels] if labels is not None else \
            [str(k) for n in self.actor_sizes for k in range(n)]
        x, y = warm.match(actors, entries)
        if warm.rho is not None:
            self.rho = float(warm.rho)
        self._probing = False  # the earlier run's rho and prices are the better start
        self.x[:] = x
        self.last_x = self.x.copy()
        self._warm_state(x, y)

    @abstractmethod
    def _warm_state(self, x: np.ndarray, y: np.ndarray) -> None:
        """Set the fixed-point state from outputs and prices per actor entry (at ``self.rho``)."""

    def global_labels(self) -> list | None:
        """Names of the entries of :meth:`global_value`, where the form has them."""
        return None



def equal_output_size(specs: Sequence[ParticipantSpec], dimension: int | None, form: str) -> int:
    """The one output length of all actors (``ValueError`` naming ``form`` if they differ, or if
    it is not the target's ``dimension``)."""
    sizes = {n for s in specs for n in s.sizes}
    if len(sizes) != 1:
        raise ValueError(f"{form} ADMM needs actors with outputs of equal length, got lengths "
                         f"{sorted(sizes)}")
    m = sizes.pop()
    if dimension is not None and m != dimension:
        raise ValueError(f"target has length {dimension} but the actors' outputs have length {m}")
    return m



class ProblemForm(ABC):
    """A problem form of ADMM (sharing, consensus, general-form consensus) with its global
    objective ``g`` of the z-update: creates the coordinator's :class:`FormState` of a run.

    The reference package calls it a global actor (``ADMMGlobalActor``; :data:`GlobalActor`)."""

    def __init__(self, objective: GlobalObjective | None = None) -> None:
        if objective is not None and not isinstance(objective, GlobalObjective):
            raise TypeError(f"objective must be a GlobalObjective, got {type(objective).__name__}")
        self.objective = objective if objective is not None else self._default_objective()

    @staticmethod
    def _default_objective() -> GlobalObjective:
        return ZeroObjective()

    @abstractmethod
    def create_state(self, specs: Sequence[ParticipantSpec], data: TargetData | None,
                     settings: ADMMSettings) -> FormState:
        """The coordinator state for these participants."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.objective).__name__}())"


#: The reference package's name of a problem form (its ``ADMMGlobalActor``).
GlobalActor = ProblemForm
