"""Averaging consensus on a price vector ``lam`` (one entry per time step), coordinator-free.

Every participant keeps its own ``lam`` and, each round, mixes it with its neighbours' and adds
its plug-in's :meth:`ConsensusActor.gradient_term`:

* default (the reference's gradient rule)::

      lam_i <- lam_i + alpha * (mean_j lam_j - lam_i) + g_i(lam_i)

  with ``g_i = -rho (P_i(lam_i) - target / n_guess)`` for economic dispatch. It agrees and
  balances supply and demand, but with a constant step its fixed point is biased when the
  units' costs differ (``lam_i`` must differ for ``alpha (mean - lam_i)`` to cancel ``g_i``).
* ``tracking=True`` (gradient tracking, exact)::

      lam_i <- sum_j w_ij lam_j + z_i
      z_i   <- sum_j w_ij z_j + g_i(lam_i_new) - g_i(lam_i_old),      z_i(0) = g_i(lam_i(0))

  ``z_i`` tracks the network average of the ``g_j``; with symmetric weights
  ``w_ij = alpha / max(d_i, d_j)`` (``w_ii = 1 - sum_j w_ij``) the fixed point is the exact
  optimum: one common price with ``sum_i g_i = 0`` (for dispatch: supply = demand).

Rounds are synchronous: a participant advances when it holds every neighbour's message of its
current round (the reference mode also advances on a message of a later round, as the
reference does). A run ends after ``max_iter`` rounds or, with ``patience``, once the network has
settled (see :class:`~distributed_resource_optimization.algorithm.gossip.Settling`); the
ending participant sends a final message that every participant forwards once, so every
``finish_callback`` fires exactly once on any connected topology.
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
    degrees_of,
    float_array,
    metropolis_weights,
    new_run_token,
    run_horizon,
)


class ConsensusActor:
    """Plug-in of a consensus participant: its local objective as a gradient step on ``lam``."""

    def gradient_term(self, lam: np.ndarray, data: Any) -> np.ndarray | float:
        """Additive correction to ``lam`` for this round (price units; default 0: plain
        averaging). ``data`` is the start message's payload."""
        return 0

    def project_power(self, lam: np.ndarray, data: Any = None) -> np.ndarray | float:
        """This participant's power at the prices ``lam`` (default 0.0; the later reference's
        name for a unit's response)."""
        return 0.0


class NoConsensusActor(ConsensusActor):
    """No local objective: the participants only agree on a value."""


@dataclass
class AveragingConsensusMessage(OptimizationMessage):
    """One round of a participant (``lam``, price units, one entry per time step; round ``k``)
    or, with ``initial=True``, the start of a run. ``data`` is passed on unchanged (e.g. the
    total demand). The remaining fields are filled in by the participants: ``tracker`` (the
    gradient-tracking variable), ``degree`` (the sender's number of neighbours), ``settled``
    (its settled streak), ``final`` (the run has ended) and ``run`` (a token of the run, so
    that stragglers of an ended run are told from a new one)."""

    lam: np.ndarray
    k: int
    data: Any
    initial: bool = False
    tracker: np.ndarray | None = None
    degree: int | None = None
    settled: int = 0
    final: bool = False
    run: str | None = None


@dataclass
class ConsensusFinishedMessage:
    """The result of a participant (defined for compatibility; the participants do not send
    it)."""

    lam: np.ndarray
    k: int
    actor: ConsensusActor


class AveragingConsensusAlgorithm(PriceGossipParticipant):
    """A participant of averaging consensus (see the module docstring for the update rules).

    ``finish_callback(algorithm, carrier)`` is called once when the run ends. ``initial_lam``:
    this participant's starting price. ``alpha`` in (0, 1]: mixing weight of the neighbours.
    ``max_iter``: rounds. ``tracking``: exact gradient-tracking rule instead of the reference's
    gradient rule. ``tol`` (price units): a round with ``max |lam change| <= tol`` counts as
    settled; ``converged`` reports whether the last round was. ``patience``: stop early once
    this and every participant within ``patience - 1`` hops settled (``None``: always run
    ``max_iter`` rounds, as the reference).
    """

    _name = "averaging consensus"
    _message_type = AveragingConsensusMessage
    _divergence_hint = "reduce the actors' step (rho)"

    def __init__(self, finish_callback: Callable[[Any, Any], Any],
                 consensus_actor: ConsensusActor | None = None, initial_lam: float = 10.0,
                 alpha: float = 0.3, max_iter: int = 50, *, tracking: bool = False,
                 tol: float = DEFAULT_TOL, patience: int | None = None) -> None:
        self._setup(finish_callback, consensus_actor, NoConsensusActor(), "consensus_actor",
                    initial_lam, tol, patience)
        self.alpha = check_real("alpha", alpha, positive=True, high=1.0)
        self.max_iter = check_int("max_iter", max_iter, low=1)
        self.tracking = bool(tracking)
        self._lam = np.array([float(initial_lam)])
        self._z = np.zeros(1)   # tracking: the tracked average gradient step
        self._g = np.zeros(1)   # tracking: the own gradient step at the current lam

    # -- protocol -----------------------------------------------------------------------------

    async def on_exchange_message(self, carrier: Any, message_data: Any, meta: dict) -> None:
        m = message_data
        action, nbrs = self._admit(carrier, m)
        if action in (IGNORE, FINISH):
            return
        if action in (START, JOIN):
            self._begin_run(m, new_run_token() if action == START else m.run,
                            run_horizon(np.size(m.lam), m.data, "lam"))
            if self.tracking:
                self._g = self._gradient(self._lam)
                self._z = self._g.copy()
            self._broadcast(carrier, nbrs)
            # The reference counts the triggering message, even the start message, as a
            # neighbour's round-0 value; the exact rule does not count the start message.
            if self.tracking and action == START:
                return
        if self.tracking:
            self._on_tracking(carrier, nbrs, m)
        else:
            self._on_gradient(carrier, nbrs, m)

    def _broadcast(self, carrier: Any, nbrs: list, final: bool = False) -> None:
        for addr in nbrs:
            carrier.send_to_other(AveragingConsensusMessage(
                lam=self._lam.copy(), k=self._k, data=self._data,
                tracker=self._z.copy() if self.tracking else None, degree=len(nbrs),
                settled=self._settling.streak, final=final, run=self._run), addr)

    def _end_of_round(self, carrier: Any, nbrs: list, stop_early: bool) -> None:
        # After its last round a participant tells its neighbours, which end and echo it
        # (that ends this participant); until then it takes no further rounds.
        self._ending = self._k >= self.max_iter or stop_early
        self._broadcast(carrier, nbrs, final=self._ending)

    def _on_gradient(self, carrier: Any, nbrs: list, m: AveragingConsensusMessage) -> None:
        """The reference's rule, message for message (same numbers with FIFO delivery)."""
        q = self._message_queue.setdefault(m.k, [])
        q.append(m)
        if len(q) == len(nbrs) or self._k < m.k:
            avg = sum(np.asarray(x.lam, dtype=float) for x in q) / len(q)
            old = self._lam
            grad = self._gradient(old)  # at the old lam, as the reference
            self._lam = old + self.alpha * (avg - old) + grad
            self._k = m.k + 1
            del self._message_queue[m.k]
            stop = self._settling.update(old, self._lam, [x.settled for x in q])
            self._end_of_round(carrier, nbrs, stop)

    def _on_tracking(self, carrier: Any, nbrs: list, m: AveragingConsensusMessage) -> None:
        if m.tracker is None:
            raise ValueError("averaging consensus: a neighbour runs the gradient rule while this "
                             "participant tracks (tracking must be the same everywhere)")
        if m.k < self._k:
            raise ValueError(f"averaging consensus: round {m.k} message after round {self._k} "
                             "was completed")
        self._message_queue.setdefault(m.k, []).append(m)
        # Normally at most one round is complete; the loop also covers reordering carriers.
        while len(self._message_queue.get(self._k, ())) == len(nbrs):
            q = self._message_queue.pop(self._k)
            w_self, w = metropolis_weights(len(nbrs), degrees_of(q, "averaging consensus"),
                                           self.alpha)
            lams = np.array([np.asarray(x.lam, dtype=float) for x in q])
            zs = np.array([np.asarray(x.tracker, dtype=float) for x in q])
            old = self._lam
            self._lam = w_self * old + w @ lams + self._z
            g_new = self._gradient(self._lam)
            self._z = w_self * self._z + w @ zs + g_new - self._g
            self._g = g_new
            self._k += 1
            stop = self._settling.update(old, self._lam, [x.settled for x in q])
            self._end_of_round(carrier, nbrs, stop)
            if self._ending:
                break


def create_averaging_consensus_participant(
        finish_callback: Callable[[Any, Any], Any], consensus_actor: ConsensusActor | None = None,
        initial_lam: float = 10.0, alpha: float = 0.3, max_iter: int = 50, *,
        tracking: bool = False, tol: float = DEFAULT_TOL, patience: int | None = None
) -> AveragingConsensusAlgorithm:
    """A participant of averaging consensus (see :class:`AveragingConsensusAlgorithm`)."""
    return AveragingConsensusAlgorithm(finish_callback, consensus_actor, initial_lam, alpha,
                                       max_iter, tracking=tracking, tol=tol, patience=patience)


def create_averaging_consensus_start(initial_lam: float, data: Any = None
                                     ) -> AveragingConsensusMessage:
    """The start message: ``lam = [initial_lam]`` (the participants take the horizon from
    ``data`` when it is a vector), ``data`` passed to every participant's actor (e.g. the total
    demand, one value or one per time step)."""
    lam0 = check_real("initial_lam", initial_lam)
    if data is not None:
        float_array("data", data)
    return AveragingConsensusMessage(lam=np.array([lam0]), k=0, data=data, initial=True)
