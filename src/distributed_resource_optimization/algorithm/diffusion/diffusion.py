"""Diffusion (adapt-then-combine) on a price vector ``lam`` over a horizon, coordinator-free.

Each round a participant *adapts* with a local gradient step and *combines* by averaging its
own and its neighbours' intermediate values::

    phi_i = lam_i - epsilon * grad_i(lam_i)                 (adapt; grad from the actor)
    lam_i <- (phi_i + sum_j phi_j) / (d_i + 1)              (combine, own phi included)

For economic dispatch ``grad_i = P_i(lam) - target / n_guess`` (MW): over-production lowers the
price. On a complete graph the combine step is the exact network mean, so this is dual gradient
ascent of the centralised dispatch and its fixed point is the optimum. On other graphs the
constant step leaves a bias; :mod:`.exact_diffusion` removes it.

Rounds are synchronous (a participant advances once it holds every neighbour's ``phi`` of its
round; the start message is not counted). A run ends after ``max_iter`` rounds or, with
``patience``, once the network has settled; the ending participant sends a final message that
every participant forwards once, so every ``finish_callback`` fires exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from distributed_resource_optimization.algorithm.core import (
    OptimizationMessage,
)
from distributed_resource_optimization.algorithm.gossip import (
    DEFAULT_TOL,
    FINISH,
    IGNORE,
    JOIN,
    START,
    PriceGossipParticipant,
    check_int,
    check_real,
    data_length,
    new_run_token,
    run_horizon,
)

#: The reference's horizon of a participant before a start message fixes it.
DEFAULT_HORIZON = 24


class DiffusionActor:
    """Plug-in of a diffusion participant: the gradient of its local objective in ``lam``."""

    def gradient_term(self, lam: np.ndarray, data: Any) -> np.ndarray | float:
        """``grad J(lam, data)`` (default 0: plain averaging); the adapt step subtracts
        ``epsilon`` times it."""
        return 0

    def check_horizon(self, horizon: int) -> None:
        """Raise ``ValueError`` (naming the parameter) if this actor cannot plan ``horizon``
        steps; called before a run by the participant factories."""


class NoDiffusionActor(DiffusionActor):
    """No local objective: the participants only agree on a value."""


@dataclass
class DiffusionMessage(OptimizationMessage):
    """A participant's intermediate value ``phi`` (price units, one per time step) of round
    ``k`` or, with ``initial=True``, the start of a run; ``data`` is passed on unchanged (e.g.
    the total demand). Filled in by the participants: ``degree`` (the sender's number of
    neighbours), ``settled`` (its settled streak), ``final`` (the run has ended), ``run`` (a token
    of the run, so that stragglers of an ended run are told from a new one)."""

    phi: np.ndarray
    k: int
    data: Any
    initial: bool = False
    degree: int | None = None
    settled: int = 0
    final: bool = False
    run: str | None = None


class DiffusionAlgorithm(PriceGossipParticipant):
    """A participant of adapt-then-combine diffusion (see the module docstring).

    ``finish_callback(algorithm, carrier)`` is called once when the run ends. ``initial_lam``:
    starting price. ``epsilon`` (> 0): step of the adapt step (price units per unit of
    gradient). ``max_iter``: rounds. ``horizon``: time steps; ``None`` takes them from the
    start message (the reference's behaviour), an int must match it. ``tol`` (price units): a
    round with ``max |lam change| <= tol`` counts as settled; ``converged`` tells whether the
    last round was. ``patience``: stop early once this and every participant within
    ``patience - 1`` hops settled (``None``: always ``max_iter`` rounds, as the reference).
    """

    _name = "diffusion"
    _message_type = DiffusionMessage
    _divergence_hint = ("reduce epsilon (the step must stay below about 1 / the steepest "
                        "participant's gradient slope)")
    # Count a start message built with initial=False as a neighbour's round 0 (the reference).
    _count_untagged_start = True

    def __init__(self, finish_callback: Callable[[Any, Any], Any],
                 diffusion_actor: DiffusionActor | None = None, initial_lam: float = 10.0,
                 epsilon: float = 0.1, max_iter: int = 300, horizon: int | None = None, *,
                 tol: float = DEFAULT_TOL, patience: int | None = None) -> None:
        self._setup(finish_callback, diffusion_actor, NoDiffusionActor(), "diffusion_actor",
                    initial_lam, tol, patience)
        self.epsilon = check_real("epsilon", epsilon, positive=True)
        self.max_iter = check_int("max_iter", max_iter, low=1)
        self._fixed_horizon = None if horizon is None else check_int("horizon", horizon, low=1)
        self.horizon = self._fixed_horizon or DEFAULT_HORIZON
        check = getattr(self.actor, "check_horizon", None)
        if self._fixed_horizon is not None and callable(check):
            check(self._fixed_horizon)
        self._lam = np.full(self.horizon, self.initial_lam)
        self._phi = np.full(self.horizon, self.initial_lam)

    # -- protocol -----------------------------------------------------------------------------

    async def on_exchange_message(self, carrier: Any, message_data: Any, meta: dict) -> None:
        m = message_data
        action, nbrs = self._admit(carrier, m)
        if action in (IGNORE, FINISH):
            return
        if action in (START, JOIN):
            self.horizon = self._horizon_of(m)
            self._begin_run(m, new_run_token() if action == START else m.run, self.horizon)
            self._phi = self._first_phi()
            self._broadcast(carrier, nbrs)
            # The start message is no neighbour's round 0 (the reference queues one built
            # with initial=False; so does plain diffusion, for the same numbers).
            if action == START and (m.initial or not self._count_untagged_start):
                return
        if m.k < self._k:
            raise ValueError(f"{self._name}: round {m.k} message after round {self._k} was "
                             "completed")
        self._message_queue.setdefault(m.k, []).append(m)
        # Normally at most one round is complete; the loop also covers reordering carriers.
        while len(self._message_queue.get(self._k, ())) == len(nbrs):
            q = self._message_queue.pop(self._k)
            old = self._lam
            self._lam = self._combine(nbrs, q)
            self._phi = self._next_phi(old)
            self._k += 1
            stop = self._settling.update(old, self._lam, [x.settled for x in q])
            self._ending = self._k >= self.max_iter or stop
            # An ending participant's neighbours end on this message and echo it.
            self._broadcast(carrier, nbrs, final=self._ending)
            if self._ending:
                break

    # -- the steps (overridden by exact diffusion) ----------------------------------------------

    def check_start(self, start_message: Any) -> None:
        """Refuse, before the run, a start message whose horizon this participant cannot plan."""
        if isinstance(start_message, DiffusionMessage):
            self._horizon_of(start_message)

    def _horizon_of(self, m: DiffusionMessage) -> int:
        horizon = run_horizon(np.size(m.phi), m.data, "phi")
        if self._fixed_horizon is not None and horizon != self._fixed_horizon:
            raise ValueError(f"horizon mismatch: this participant plans {self._fixed_horizon} "
                             f"steps but the start message has {horizon}")
        return horizon

    def _first_phi(self) -> np.ndarray:
        return self._lam - self.epsilon * self._gradient(self._lam)

    def _combine(self, nbrs: list, q: list[DiffusionMessage]) -> np.ndarray:
        # The reference's unweighted mean over the closed neighbourhood.
        return (self._phi + sum(np.asarray(x.phi, dtype=float) for x in q)) / (len(q) + 1)

    def _next_phi(self, old_lam: np.ndarray) -> np.ndarray:
        return self._lam - self.epsilon * self._gradient(self._lam)

    def _broadcast(self, carrier: Any, nbrs: list, final: bool = False) -> None:
        for addr in nbrs:
            carrier.send_to_other(DiffusionMessage(
                phi=self._phi.copy(), k=self._k, data=self._data, degree=len(nbrs),
                settled=self._settling.streak, final=final, run=self._run), addr)


def create_diffusion_participant(
        finish_callback: Callable[[Any, Any], Any], diffusion_actor: DiffusionActor | None = None,
        initial_lam: float = 10.0, epsilon: float = 0.1, max_iter: int = 300,
        horizon: int | None = None, *, tol: float = DEFAULT_TOL, patience: int | None = None
) -> DiffusionAlgorithm:
    """A participant of adapt-then-combine diffusion (see :class:`DiffusionAlgorithm`)."""
    return DiffusionAlgorithm(finish_callback, diffusion_actor, initial_lam, epsilon, max_iter,
                              horizon, tol=tol, patience=patience)


def create_diffusion_start(initial_lam: float, data: Any = None, horizon: int = 1
                           ) -> DiffusionMessage:
    """The start message: ``phi = full(horizon, initial_lam)`` (the participants take the
    horizon from it) and ``data`` for every participant's actor (e.g. the total demand in MW,
    one value or one per step; its length must match ``horizon``)."""
    lam0 = check_real("initial_lam", initial_lam)
    horizon = check_int("horizon", horizon, low=1)
    n = data_length(data)
    if n is not None and n != horizon:
        raise ValueError(f"horizon mismatch: data has {n} time steps but horizon is {horizon}")
    return DiffusionMessage(phi=np.full(horizon, lam0), k=0, data=data, initial=True)
