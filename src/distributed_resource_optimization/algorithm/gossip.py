"""Shared pieces of the price-gossip algorithms (averaging consensus, diffusion).

Parameter checks that name the offending parameter, the horizon of a run, symmetric
(Metropolis) mixing weights, the closed-form dispatch of a box-bounded quadratic-cost unit and
the settled-streak bookkeeping behind optional early stopping. Private: the public names live in
:mod:`.consensus` and :mod:`.diffusion`.
"""

from __future__ import annotations

import math
import uuid
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from distributed_resource_optimization.algorithm.core import DistributedAlgorithm
from distributed_resource_optimization.checks import (
    int_at_least,
    non_negative_scalar,
    positive_scalar,
    scalar_in_range,
)

#: Default tolerance (price units per round) below which a participant counts as settled.
DEFAULT_TOL = 1e-6


def check_callable(name: str, value: Any) -> None:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")


def check_real(name: str, value: Any, *, positive: bool = False, nonnegative: bool = False,
               low: float | None = None, high: float | None = None) -> float:
    """``value`` as a finite float in range; raises naming ``name`` (the checks of
    :mod:`...checks`, the one owner of them)."""
    if positive:
        positive_scalar(value, name)
    elif nonnegative:
        non_negative_scalar(value, name)
    return scalar_in_range(value, name, low, high)


def check_int(name: str, value: Any, *, low: int = 0) -> int:
    return int_at_least(value, name, low)


def check_patience(value: Any) -> int | None:
    return None if value is None else check_int("patience", value, low=1)


def check_tol(value: Any) -> float:
    return check_real("tol", value, nonnegative=True)


def float_array(name: str, value: Any) -> np.ndarray:
    """``value`` (number or 1-D sequence) as a finite float array; ``ValueError`` naming ``name``."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a 1-D sequence of numbers, "
                         f"got {type(value).__name__}") from None
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D sequence, got shape {arr.shape}")
    if arr.ndim == 1 and arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def data_length(data: Any) -> int | None:
    """How many time steps the start message's ``data`` (a total demand) covers: ``None`` for
    ``None`` or a single number (valid for any horizon)."""
    if data is None:
        return None
    arr = float_array("data", data)
    return None if arr.ndim == 0 or arr.size == 1 else int(arr.size)


def run_horizon(vector_len: int, data: Any, vector_name: str) -> int:
    """The horizon of a run from its start message: ``len(vector)``, or the length of ``data``
    when the vector has a single entry (the reference broadcasts a length-1 price up to the
    data's length in its first update; taking it up front gives the same numbers)."""
    n = data_length(data)
    if n is None or n == vector_len:
        return vector_len
    if vector_len == 1:
        return n
    raise ValueError(f"horizon mismatch: the start message's {vector_name} has {vector_len} "
                     f"entries but its data has {n}")


def per_step(name: str, value: Any, horizon: int) -> np.ndarray:
    """A scalar or per-time-step parameter as an array of length ``horizon`` (a scalar is
    broadcast); ``ValueError`` naming ``name`` when the lengths differ."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0 or arr.size == 1:
        return np.full(horizon, float(arr.reshape(-1)[0]) if arr.ndim else float(arr))
    if arr.size != horizon:
        raise ValueError(f"{name} shape {arr.shape} does not match lam shape ({horizon},)")
    return arr.reshape(horizon)


def check_box(p_min: Any, p_max: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated generator bounds: ``0 <= p_min <= p_max`` (element-wise), each a number or a
    per-step vector; ``ValueError`` names the parameter."""
    lo = float_array("p_min", p_min)
    hi = float_array("p_max", p_max)
    if np.any(hi < 0):
        raise ValueError(f"p_max must not be negative, got {p_max!r}")
    if np.any(lo < 0):
        raise ValueError(f"p_min must not be negative, got {p_min!r}")
    if lo.ndim and hi.ndim and lo.size > 1 and hi.size > 1 and lo.size != hi.size:
        raise ValueError(f"p_min has {lo.size} time steps but p_max has {hi.size}")
    if np.any(lo > hi):
        raise ValueError(f"p_min must not exceed p_max, got p_min={p_min!r} > p_max={p_max!r}")
    return lo, hi


def box_dispatch(lam: np.ndarray, cost: Any, epsilon: float, p_min: Any, p_max: Any
                 ) -> np.ndarray:
    """Closed-form best response of a unit with cost ``c P + (eps/2) P^2`` on
    ``[p_min, p_max]`` to the price ``lam``: ``clip((lam - c) / eps, p_min, p_max)``, per step.

    The minimiser of the strictly convex scalar QP ``c P + eps/2 P^2 - lam P`` is its
    stationary point projected onto the box, so this is exact."""
    lam = np.asarray(lam, dtype=float)
    horizon = lam.size if lam.ndim else 1
    shape = lam.shape
    c = per_step("cost", cost, horizon).reshape(shape)
    lo = per_step("p_min", p_min, horizon).reshape(shape)
    hi = per_step("p_max", p_max, horizon).reshape(shape)
    return np.clip((lam - c) / epsilon, lo, hi)


class QuadraticCostUnit:
    """A generator with the cost ``cost P + (epsilon / 2) P^2`` on ``[p_min, p_max]``, mixed into
    the dispatch actors of consensus and diffusion (the dataclass that mixes it in holds the
    fields ``cost``, ``p_min``, ``p_max``, ``epsilon``, ``n_guess`` and ``P``)."""

    def _check_unit(self) -> None:
        float_array("cost", self.cost)
        check_box(self.p_min, self.p_max)
        check_real("epsilon", self.epsilon, positive=True)
        check_int("n_guess", self.n_guess, low=1)

    def project_power(self, lam: np.ndarray, data: Any = None) -> np.ndarray:
        """Dispatch at the prices ``lam`` (closed form, MW); stored in ``P``."""
        self.P = box_dispatch(np.asarray(lam, dtype=float), self.cost, self.epsilon,
                              self.p_min, self.p_max)
        return self.P

    def imbalance(self, lam: np.ndarray, p_target: Any) -> np.ndarray:
        """``P(lam) - p_target / n_guess`` (MW): the dispatch against this unit's share of the
        total demand ``p_target`` (``None`` is 0)."""
        P = self.project_power(lam)
        target = np.asarray(p_target if p_target is not None else 0.0, dtype=float)
        return P - target / self.n_guess


def metropolis_weights(own_degree: int, neighbour_degrees: Sequence[int], scale: float = 1.0
                       ) -> tuple[float, np.ndarray]:
    """Self weight and neighbour weights ``w_ij = scale / (1 + max(d_i, d_j))`` (Metropolis).

    Symmetric, so the mixing matrix is doubly stochastic on any connected graph: averages are
    preserved, which the exact variants need for their fixed point to be the optimum. On a
    regular graph with ``scale = 1`` every weight is ``1/(d+1)``, the reference's plain
    average over the closed neighbourhood."""
    w = np.array([scale / (1.0 + max(own_degree, d)) for d in neighbour_degrees], dtype=float)
    return 1.0 - float(w.sum()), w


def degrees_of(messages: Sequence[Any], algorithm: str) -> list[int]:
    degs = []
    for m in messages:
        d = getattr(m, "degree", None)
        if d is None:
            raise ValueError(f"{algorithm}: a neighbour's message carries no degree; every "
                             "participant of a run must use the same algorithm variant")
        degs.append(int(d))
    return degs


class Settling:
    """Settled-streak bookkeeping: ``residual`` is the last round's ``max |lam_new - lam_old|``;
    a round is *settled* if ``residual <= tol``.

    ``streak`` is a min-consensus of consecutive settled rounds: ``1 + min(own, neighbours')``
    after a settled round, else 0. ``streak >= m`` therefore means this participant and every
    one within ``m - 1`` hops have settled recently, so early stopping at ``streak >=
    patience`` (``patience`` larger than the graph's diameter) stops only a settled network."""

    def __init__(self, tol: float, patience: int | None) -> None:
        self.tol = tol
        self.patience = patience
        self.reset()

    def reset(self) -> None:
        self.residual = math.inf
        self.streak = 0

    def update(self, old: np.ndarray, new: np.ndarray, neighbour_streaks: Sequence[int]) -> bool:
        """Record one round; ``True`` when this participant should stop early."""
        self.residual = float(np.max(np.abs(np.asarray(new) - np.asarray(old)))) \
            if np.size(new) else 0.0
        if self.residual <= self.tol:
            self.streak = 1 + min([self.streak, *[int(s) for s in neighbour_streaks]])
        else:
            self.streak = 0
        return self.patience is not None and self.streak >= self.patience

    @property
    def settled(self) -> bool:
        return self.residual <= self.tol


# What a participant does with a message (see :func:`admit`).
IGNORE, START, JOIN, CONTINUE, FINISH = "ignore", "start", "join", "continue", "finish"


def admit(m: Any, run: str | None, active: bool, ending: bool, max_iter: int) -> str:
    """Classify message ``m`` for a participant in run ``run`` (``None``: never started).

    Participants tag their messages with their run (a token the participant that got the start
    message draws). So a finished participant tells a new run (``JOIN``: restart) from
    stragglers of its own (``IGNORE``), and reused participants need no reset. ``START``: a
    start message (``initial=True`` or untagged). ``FINISH``: the end of this run reached this
    participant. ``CONTINUE``: a round message of the current run. ``active``: in a run and
    not finished; ``ending``: done with its rounds, waiting for the end to come back."""
    token = getattr(m, "run", None)
    if m.final or m.k >= max_iter:
        return FINISH if active and token is not None and token == run else IGNORE
    if m.initial or token is None:
        return START
    if token != run:
        return JOIN
    if not active or ending:
        return IGNORE
    return CONTINUE


def new_run_token() -> str:
    return uuid.uuid4().hex


class PriceGossipParticipant(DistributedAlgorithm):
    """What a participant of averaging consensus and of diffusion shares: its plug-in actor,
    its run bookkeeping (token, rounds, queued messages, settling) and the end of a run.

    Subclasses set ``_name`` (the algorithm, for messages), ``_message_type`` and
    ``_divergence_hint`` and call :meth:`_setup` from their constructor."""

    _name: str
    _message_type: type
    _divergence_hint: str

    def _setup(self, finish_callback: Any, actor: Any, default_actor: Any, actor_arg: str,
               initial_lam: Any, tol: Any, patience: Any) -> None:
        check_callable("finish_callback", finish_callback)
        if actor is not None and not callable(getattr(actor, "gradient_term", None)):
            raise TypeError(f"{actor_arg} must provide gradient_term(lam, data), got "
                            f"{type(actor).__name__}")
        self.finish_callback = finish_callback
        self.actor = actor if actor is not None else default_actor
        self.initial_lam = check_real("initial_lam", initial_lam)
        self.tol = check_tol(tol)
        self.patience = check_patience(patience)
        #: ``None`` until the run ends, then whether the last round settled (``residual <= tol``).
        self.converged: bool | None = None
        self._settling = Settling(self.tol, self.patience)
        self._message_queue: dict[int, list[Any]] = {}
        self._first_message = True  # not in a run (never started, or finished)
        self._ending = False  # done with its rounds, waiting for the end to come back
        self._run: str | None = None  # the token of its current or last run
        self._k = 0
        self._data: Any = None

    @property
    def residual(self) -> float:
        """``max |lam change|`` of the last round (price units; ``inf`` before any round)."""
        return self._settling.residual

    def solution(self) -> dict[str, Any]:
        """``{"lam": prices, "P": the actor's power (or None), "iterations": rounds,
        "residual": last max |lam change|, "converged": bool | None}``, plus ``"E"`` (energy
        at the start of each step) for an actor that has it (a storage)."""
        out: dict[str, Any] = {"lam": self._lam.copy(), "P": None, "iterations": self._k,
                               "residual": self.residual, "converged": self.converged}
        for key in ("P", "E"):
            value = getattr(self.actor, key, None)
            if value is not None:
                out[key] = np.array(value, dtype=float)
        return out

    def _admit(self, carrier: Any, m: Any) -> tuple[str, list]:
        """The message's action (:func:`admit`) and the neighbours; ends the run on ``FINISH``
        (the caller then returns, as on ``IGNORE``)."""
        if not isinstance(m, self._message_type):
            article = "an" if self._message_type.__name__[0] in "AEIOU" else "a"
            raise TypeError(f"{type(self).__name__} got a {type(m).__name__}, expected "
                            f"{article} {self._message_type.__name__}")
        nbrs = list(carrier.others(""))
        if not nbrs:
            raise ValueError(f"{self._name} needs at least one neighbour per participant")
        action = admit(m, self._run, not self._first_message, self._ending, self.max_iter)
        if action == FINISH:
            self._finish(carrier, nbrs)
        return action, nbrs

    def _begin_run(self, m: Any, run: str, horizon: int) -> None:
        """Reset the run bookkeeping for run ``run`` of ``horizon`` steps started by ``m``."""
        self._run = run
        self._first_message = False
        self._ending = False
        self.converged = None
        self._settling.reset()
        self._message_queue.clear()
        self._k = 0
        self._data = m.data
        self._lam = np.full(horizon, self.initial_lam)

    def _gradient(self, lam: np.ndarray) -> np.ndarray:
        """The actor's ``gradient_term`` at ``lam`` (this run's data), shaped like ``lam``."""
        if not np.all(np.isfinite(lam)):
            raise FloatingPointError(f"{self._name} diverged in round {self._k} (lam is not "
                                     f"finite): {self._divergence_hint}")
        g = np.asarray(self.actor.gradient_term(lam, self._data), dtype=float)
        try:
            return np.broadcast_to(g, lam.shape).copy()
        except ValueError:
            raise ValueError(f"{type(self.actor).__name__}.gradient_term returned shape {g.shape} "
                             f"for lam of shape {lam.shape}") from None

    @abstractmethod
    def _broadcast(self, carrier: Any, nbrs: list, final: bool = False) -> None:
        """Send this participant's round message to ``nbrs`` (``final``: the run has ended)."""

    def _finish(self, carrier: Any, nbrs: list) -> None:
        self._first_message = True
        self._ending = False
        self._message_queue.clear()
        self.converged = self._settling.settled
        # Forward the end once, so participants further away end too (any topology).
        self._broadcast(carrier, nbrs, final=True)
        self.finish_callback(self, carrier)
