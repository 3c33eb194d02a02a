"""Stopping rules of the ADMM engine: objects passed to the coordinator, combinable.

A rule sees the form's state after each iteration's z- and dual update and says whether the run
may stop; it keeps its own per-iteration history (``history``: name -> list of floats, one entry
per iteration, NaN where it measured nothing) for the results and plots. Three rules:

- :class:`ResidualRule`: Boyd et al. (2011, sec. 3.3): primal and dual residual norms below
  ``sqrt(n) abs_tol + rel_tol * scale``. The default.
- :class:`GroupResidualRule`: per group of global variables, the L1 disagreement of the owners
  (the seed study's ``r(a, b) = sum_t ||a_t - b_t||_1``) and the penalty-weighted movement of the
  consensus, all below ``eps``.
- :class:`CertifiedGapRule`: the Lagrangian dual bound (see :meth:`~.state.FormState.bound_prices`)
  against the objective at the actors' own outputs: stop once
  ``(objective - lower_bound) / max(|objective|, gap_floor) <= gap_tol``.

:class:`AllOf` and :class:`AnyOf` combine rules. The engine never accepts the untouched all-zero
start, whatever the rule (:meth:`~.state.FormState.step`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from distributed_resource_optimization.admm.results import GAP_FLOOR
from distributed_resource_optimization.checks import (
    non_negative_scalar,
    positive_int,
    positive_scalar,
)


@dataclass
class Residuals:
    """Norms of one iteration and the thresholds they are compared with."""

    primal: float
    dual: float
    eps_primal: float
    eps_dual: float
    primal_scale: float
    dual_scale: float

    @property
    def converged(self) -> bool:
        return self.primal <= self.eps_primal and self.dual <= self.eps_dual


class _BoundView(Protocol):
    fresh: bool

    def gap_certified(self, floor: float = GAP_FLOOR) -> float | None: ...


class StateView(Protocol):
    """What a stopping rule reads of the coordinator's state after an iteration (the state is
    :class:`~.state.FormState`, which imports the rules: this protocol keeps the rules below it)."""

    names: list[str]
    actor_sizes: list[int]
    rho: float
    bound: _BoundView


class ConsensusStateView(StateView, Protocol):
    """What :class:`GroupResidualRule` reads besides: the global variables of general-form
    consensus (:class:`~.general.GeneralConsensusState`)."""

    keys: list[Hashable]
    gidx: np.ndarray
    G: int
    z: np.ndarray
    weight: np.ndarray
    owners: np.ndarray


class StoppingRule(ABC):
    """Decides after each iteration whether the run may stop."""

    #: Every how many iterations the rule needs the Lagrangian bound (0: never).
    bound_every: int = 0

    def start(self, state: StateView) -> None:  # noqa: B027  (optional hook)
        """Called once when the run's state is created (precompute what the rule needs)."""

    @abstractmethod
    def check(self, state: StateView, x_new: np.ndarray, residuals: Residuals) -> bool:
        """Record this iteration; ``True`` if the run may stop here."""

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-iteration values the rule measured (name -> one float per iteration)."""
        return {}

    def wants_bound(self, iteration: int) -> bool:
        """Whether the participants should evaluate the Lagrangian bound in ``iteration``."""
        return self.bound_every > 0 and (iteration % self.bound_every == 0 or iteration == 1)

    def reason(self) -> str:
        """In words, what this rule found when it last said the run may stop (its ``repr``;
        combinations name the rules that held)."""
        return repr(self)


class ResidualRule(StoppingRule):
    """Boyd et al. (2011, sec. 3.3): primal and dual residuals below their thresholds
    (``abs_tol``/``rel_tol`` of the coordinator settings, see :class:`Residuals`)."""

    def check(self, state: StateView, x_new: np.ndarray, residuals: Residuals) -> bool:
        return residuals.converged

    def __repr__(self) -> str:
        return "ResidualRule()"


class GroupResidualRule(StoppingRule):
    """Per group of global variables: the owners' L1 disagreement and the movement of the
    consensus, both below ``eps`` (general-form consensus; the seed study's rule).

    ``group_of(key)`` names the group of a global variable; ``sign_of(actor_name)`` is +1 or -1
    so that ``sum_owners sign * x`` is the disagreement ``a - b`` of a variable's two owners;
    ``label_of(group)`` the name of the group in the history. The primal residual of a group is
    ``sum |sum_owners sign * x|`` over its variables (units of ``x``); the dual residual
    ``sum rho_j |z_j - z_j^prev| / scale`` (with ``scale`` e.g. the timestep in hours, so a price
    per kW and step becomes S$/kWh). ``eps=None`` records the residuals without ever stopping.
    """

    def __init__(self, eps: float | None, group_of: Callable[[Hashable], str],
                 sign_of: Callable[[str], float], groups: Sequence[str],
                 label_of: Callable[[str], str] = str, scale: float = 1.0) -> None:
        self.eps = None if eps is None else positive_scalar(eps, "eps")
        self.group_of, self.sign_of, self.label_of = group_of, sign_of, label_of
        self.groups = list(groups)
        self.scale = positive_scalar(scale, "scale")
        self.primal: dict[str, list[float]] = {label_of(g): [] for g in self.groups}
        self.dual: dict[str, list[float]] = {label_of(g): [] for g in self.groups}

    def start(self, state: ConsensusStateView) -> None:
        self._sign = np.concatenate([np.full(n, float(self.sign_of(name)))
                                     for name, n in zip(state.names, state.actor_sizes)])
        index = {g: i for i, g in enumerate(self.groups)}
        self._key_group = np.array([index[self.group_of(k)] for k in state.keys], dtype=int)
        self._z_prev = state.z.copy()
        for lists in (self.primal, self.dual):
            for v in lists.values():
                v.clear()

    def residuals(self, state: ConsensusStateView, x: np.ndarray) -> dict[str, float]:
        """The primal residual per group for actor outputs ``x`` (flat over actors)."""
        d = np.abs(np.bincount(state.gidx, weights=self._sign * x, minlength=state.G))
        per = np.bincount(self._key_group, weights=d, minlength=len(self.groups))
        return {self.label_of(g): float(per[i]) for i, g in enumerate(self.groups)}

    def check(self, state: ConsensusStateView, x_new: np.ndarray, residuals: Residuals) -> bool:
        r = self.residuals(state, x_new)
        # Penalty per global variable (the mean over its owners' scales).
        rho_key = state.rho * state.weight / np.maximum(state.owners, 1)
        moved = np.bincount(self._key_group, weights=rho_key * np.abs(state.z - self._z_prev),
                            minlength=len(self.groups)) / self.scale
        self._z_prev = state.z.copy()
        for i, g in enumerate(self.groups):
            self.primal[self.label_of(g)].append(r[self.label_of(g)])
            self.dual[self.label_of(g)].append(float(moved[i]))
        if self.eps is None:
            return False
        return all(v < self.eps for v in r.values()) and all(m < self.eps for m in moved)

    @property
    def history(self) -> dict[str, list[float]]:
        return {**{f"{k}_primal": v for k, v in self.primal.items()},
                **{f"{k}_dual": v for k, v in self.dual.items()}}

    def __repr__(self) -> str:
        return f"GroupResidualRule(eps={self.eps}, groups={self.groups})"


class SupportStateView(StateView, Protocol):
    """What :class:`PriceSupportRule` reads besides (general-form consensus)."""

    support_prices: np.ndarray
    last_prices: np.ndarray


class PriceSupportRule(StoppingRule):
    """Stop once the prices support every actor's output to ``tol``: each actor's last output
    is its exact best response to the prices ``p + rho (x - target)`` of its request (the
    optimality condition of its proximal step), and these lie within ``tol`` of the prices the
    run reports (``last_prices``), entry by entry, divided by ``scale`` (e.g. the timestep in
    hours, so that a price per kW and step is in S$/kWh). With the owners' outputs agreeing
    (a residual rule, :class:`AllOf`), no actor could gain more than ``tol`` per unit by
    deviating at the reported prices. History: ``price_support`` (the largest deviation).
    General-form consensus only."""

    def __init__(self, tol: float, scale: float = 1.0) -> None:
        self.tol = positive_scalar(tol, "tol")
        self.scale = positive_scalar(scale, "scale")
        self.deviation: list[float] = []

    def start(self, state: StateView) -> None:
        if not hasattr(state, "support_prices"):
            raise TypeError("PriceSupportRule needs general-form consensus (its state keeps "
                            f"the support prices), not {type(state).__name__}")
        self.deviation.clear()

    def check(self, state: SupportStateView, x_new: np.ndarray, residuals: Residuals) -> bool:
        d = state.support_prices - state.last_prices
        worst = float(np.max(np.abs(d))) / self.scale if d.size else 0.0
        self.deviation.append(worst)
        return worst <= self.tol

    @property
    def history(self) -> dict[str, list[float]]:
        return {"price_support": self.deviation}

    def __repr__(self) -> str:
        return f"PriceSupportRule(tol={self.tol:g}, scale={self.scale:g})"


class CertifiedGapRule(StoppingRule):
    """Stop once the certified relative gap is at most ``gap_tol``.

    Every ``every`` iterations (and in the first) each participant evaluates its share of the
    Lagrangian dual function at the coordinator's prices and its objective at its own output;
    the state sums them into a lower bound and an objective (:meth:`~.state.FormState.record_bound`).
    The gap is ``(objective - lower_bound) / max(|objective|, gap_floor)`` (``gap_floor`` in the
    objective's unit: below it the gap is absolute). For sharing, the objective at the actors'
    own feasible outputs is the objective of a feasible point, so the gap bounds the distance
    to the optimum; for the consensus forms the outputs agree only up to the primal residual,
    so combine it with a residual rule (:class:`AllOf`). Never stops while no bound is known
    (a participant whose model cannot evaluate its term, or prices outside the global
    objective's domain).
    """

    def __init__(self, gap_tol: float = 1e-4, every: int = 10,
                 gap_floor: float = GAP_FLOOR) -> None:
        self.gap_tol = non_negative_scalar(gap_tol, "gap_tol")
        self.bound_every = positive_int(every, "every")
        self.gap_floor = positive_scalar(gap_floor, "gap_floor")

    def check(self, state: StateView, x_new: np.ndarray, residuals: Residuals) -> bool:
        gap = state.bound.gap_certified(self.gap_floor) if state.bound.fresh else None
        return gap is not None and gap <= self.gap_tol

    def __repr__(self) -> str:
        return (f"CertifiedGapRule(gap_tol={self.gap_tol:g}, every={self.bound_every}, "
                f"gap_floor={self.gap_floor:g})")


class _Combined(StoppingRule):
    def __init__(self, *rules: StoppingRule) -> None:
        if not rules or not all(isinstance(r, StoppingRule) for r in rules):
            raise TypeError(f"{type(self).__name__} takes stopping rules, got {rules!r}")
        self.rules = rules
        every = [r.bound_every for r in rules if r.bound_every > 0]
        self.bound_every = min(every) if every else 0

    def start(self, state: StateView) -> None:
        for r in self.rules:
            r.start(state)

    def wants_bound(self, iteration: int) -> bool:
        return any(r.wants_bound(iteration) for r in self.rules)

    def _all(self, state: StateView, x_new: np.ndarray, residuals: Residuals) -> list[bool]:
        self._held = [r.check(state, x_new, residuals) for r in self.rules]  # every rule records
        return self._held

    def reason(self) -> str:
        held = [r.reason() for r, ok in zip(self.rules, getattr(self, "_held", ())) if ok]
        return " and ".join(held) if held else repr(self)

    @property
    def history(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for r in self.rules:
            out.update(r.history)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.rules))})"


class AllOf(_Combined):
    """Stop when every rule says so.

    The rules that need the Lagrangian bound (:class:`CertifiedGapRule`) get it only while the
    others hold (from the iteration after they first do, then every ``every`` iterations):
    the run cannot stop before, and each evaluation costs every participant a solve. If every
    rule needs the bound, each gets it at its own pace."""

    def __init__(self, *rules: StoppingRule) -> None:
        super().__init__(*rules)
        self._gate = [r for r in self.rules if r.bound_every == 0]
        self._holding_since: int | None = None

    def start(self, state: StateView) -> None:
        super().start(state)
        self._holding_since = None

    def wants_bound(self, iteration: int) -> bool:
        if not self._gate:
            return super().wants_bound(iteration)
        held = getattr(self, "_held", ())
        if not held or not all(ok for r, ok in zip(self.rules, held) if r in self._gate):
            self._holding_since = None
            return False
        if self._holding_since is None:
            self._holding_since = iteration
        return (iteration - self._holding_since) % self.bound_every == 0

    def check(self, state: StateView, x_new: np.ndarray, residuals: Residuals) -> bool:
        return all(self._all(state, x_new, residuals))


class AnyOf(_Combined):
    """Stop when any rule says so."""

    def check(self, state: StateView, x_new: np.ndarray, residuals: Residuals) -> bool:
        return any(self._all(state, x_new, residuals))


def as_stopping_rule(rule: Any) -> StoppingRule:
    """``rule`` if it is a :class:`StoppingRule` (``None``: :class:`ResidualRule`), else a
    ``TypeError`` naming ``stopping``."""
    if rule is None:
        return ResidualRule()
    if not isinstance(rule, StoppingRule):
        raise TypeError(f"stopping must be a StoppingRule (ResidualRule, GroupResidualRule, "
                        f"CertifiedGapRule, AllOf, AnyOf), got {type(rule).__name__}")
    return rule
