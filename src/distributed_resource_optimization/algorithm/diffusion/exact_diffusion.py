"""Exact diffusion (adapt-correct-combine): diffusion without the constant-step bias.

Yuan, Ying, Zhao and Sayed, "Exact diffusion for distributed optimization and learning", IEEE
TSP 2019. Per round, with ``psi_i(0) = lam_i(0)``::

    psi_i <- lam_i - epsilon * grad_i(lam_i)                (adapt)
    phi_i  = psi_i + lam_i - psi_i_previous                 (correct; phi = psi in round 0)
    lam_i <- sum_j wbar_ij phi_j                            (combine)

with ``wbar = (I + W) / 2`` and Metropolis weights ``W_ij = 1 / (1 + max(d_i, d_j))`` (each
message carries its sender's degree). ``W`` is symmetric and doubly stochastic on any connected
graph, so the fixed point is one common price with ``sum_i grad_i = 0``: for economic dispatch
the exact centralised optimum, on every topology. On a regular graph ``W`` is the reference's
closed-neighbourhood mean. Messages, start, termination and results are those of
:class:`~.diffusion.DiffusionAlgorithm`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from distributed_resource_optimization.algorithm.diffusion.diffusion import (
    DiffusionActor,
    DiffusionAlgorithm,
    DiffusionMessage,
    create_diffusion_start,
)
from distributed_resource_optimization.algorithm.gossip import (
    DEFAULT_TOL,
    degrees_of,
    metropolis_weights,
)


class ExactDiffusionAlgorithm(DiffusionAlgorithm):
    """A participant of exact diffusion; the parameters are those of
    :class:`~.diffusion.DiffusionAlgorithm` (``epsilon``: the adapt step)."""

    _name = "exact diffusion"
    _count_untagged_start = False

    def _first_phi(self) -> np.ndarray:
        # psi(0) = lam(0), so the first correction vanishes and phi = psi.
        self._psi = self._lam - self.epsilon * self._gradient(self._lam)
        return self._psi.copy()

    def _combine(self, nbrs: list, q: list[DiffusionMessage]) -> np.ndarray:
        w_self, w = metropolis_weights(len(nbrs), degrees_of(q, self._name))
        phis = np.array([np.asarray(x.phi, dtype=float) for x in q])
        mixed = w_self * self._phi + w @ phis
        return 0.5 * (self._phi + mixed)  # wbar = (I + W) / 2

    def _next_phi(self, old_lam: np.ndarray) -> np.ndarray:
        psi = self._lam - self.epsilon * self._gradient(self._lam)
        phi = psi + self._lam - self._psi
        self._psi = psi
        return phi


def create_exact_diffusion_participant(
        finish_callback: Callable[[Any, Any], Any], diffusion_actor: DiffusionActor | None = None,
        initial_lam: float = 10.0, epsilon: float = 0.1, max_iter: int = 300,
        horizon: int | None = None, *, tol: float = DEFAULT_TOL, patience: int | None = None
) -> ExactDiffusionAlgorithm:
    """A participant of exact diffusion (see :class:`ExactDiffusionAlgorithm`)."""
    return ExactDiffusionAlgorithm(finish_callback, diffusion_actor, initial_lam, epsilon,
                                   max_iter, horizon, tol=tol, patience=patience)


def create_exact_diffusion_start(initial_lam: float, data: Any = None, horizon: int = 1
                                 ) -> DiffusionMessage:
    """The start message of exact diffusion (the same as :func:`~.diffusion.create_diffusion_start`)."""
    return create_diffusion_start(initial_lam, data, horizon)
