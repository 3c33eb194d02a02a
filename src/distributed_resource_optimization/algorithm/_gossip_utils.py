"""Shared pieces of the price-gossip algorithms (averaging consensus, diffusion).

Parameter checks that name the offending parameter, the horizon of a run, symmetric
(Metropolis) mixing weights, the closed-form dispatch of a box-bounded quadratic-cost unit and
the settled-streak bookkeeping behind optional early stopping. Private: the public names live in
:mod:`.consensus` and :mod:`.diffusion`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from distributed_resource_optimization.admm.validation import (
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
    :mod:`...admm.validation`, the one owner of them)."""
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
