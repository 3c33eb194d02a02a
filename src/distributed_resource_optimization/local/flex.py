"""Flex actors: one input of capacity ``in_capacity`` converted into several outputs.

``x = s * in_capacity * eta`` for a single utilisation ``s`` in [0, 1]; the ratios between outputs
are fixed by ``eta`` (a negative entry means the resource consumes that output). ``P`` adds a linear
local cost ``P @ x``. The proximal step is one-dimensional in ``s`` and solved in closed form:

    s* = clip((sum_k rho_k d_k v_k - P @ d) / sum_k rho_k d_k^2, 0, 1),   d = in_capacity * eta,

for one actor or, vectorised, for a whole fleet in a few array operations.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from distributed_resource_optimization.admm.validation import as_finite_scalar, as_finite_vector
from distributed_resource_optimization.local.base import LocalBlock, LocalModel, LocalModelError


class ADMMFlexActor(LocalModel):
    """A one-to-many flexible resource (heat pump, battery, PV inverter, ...).

    ``in_capacity``: maximum input power (kW, > 0); ``eta``: output per unit input for each output
    (sector); ``P``: linear cost per unit output (positive = penalised, negative = rewarded).
    """

    closed_form = True  # the proximal step is one clip per actor (module doc)

    def __init__(self, in_capacity: float, eta: Sequence[float], P: Sequence[float] | None = None,
                 *, name: str | None = None, variables: Sequence[Hashable] | None = None,
                 rho_scale: Sequence[float] | None = None) -> None:
        cap = as_finite_scalar(in_capacity, "in_capacity")
        if cap <= 0:
            raise ValueError(f"in_capacity must be positive, got {cap}")
        eta_arr = as_finite_vector(eta, "eta")
        if eta_arr.size == 0:
            raise ValueError("eta must not be empty")
        if P is None:
            P_arr = np.zeros_like(eta_arr)
        else:
            P_arr = as_finite_vector(P, "P")
            if P_arr.shape != eta_arr.shape:
                raise ValueError(f"P has length {P_arr.size} but eta has length {eta_arr.size}")
        super().__init__(eta_arr.size, name=name, variables=variables, rho_scale=rho_scale)
        direction = cap * eta_arr
        with np.errstate(over="ignore", invalid="ignore"):
            full_cost = float(P_arr @ direction)
        if not (np.all(np.isfinite(direction)) and np.isfinite(full_cost)):
            raise ValueError(f"P @ (in_capacity * eta) = {full_cost}: in_capacity, eta and P are "
                             "too large for a finite cost")
        self.in_capacity = cap
        self.eta = eta_arr
        self.P = P_arr
        self.direction = direction

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        return flex_prox(self.direction[None, :], (self.P @ self.direction)[None],
                         np.asarray(v, dtype=float)[None, :], rho)[0]

    def objective(self, x: np.ndarray) -> float:
        return float(self.P @ x)

    def dual_term(self, price: np.ndarray) -> float:
        # min over s in [0, 1] of (P + price) @ (s d): s = 1 if that is negative, else 0.
        return min(0.0, float((self.P + np.asarray(price, dtype=float)) @ self.direction))

    def utilisation(self) -> float:
        """Utilisation ``s`` in [0, 1] of the current output ``x``."""
        dd = float(self.direction @ self.direction)
        return 0.0 if dd == 0 else float(self.direction @ self.x / dd)

    def __repr__(self) -> str:
        return (f"ADMMFlexActor(in_capacity={self.in_capacity}, eta={self.eta.tolist()}, "
                f"P={self.P.tolist()}, name={self.name!r})")


def flex_prox(D: np.ndarray, cost: np.ndarray, V: np.ndarray, rho: float | np.ndarray
              ) -> np.ndarray:
    """Vectorised flex proximal step: rows of ``D`` are directions, ``cost = P @ d`` per row.

    ``rho`` is a scalar or an array broadcastable to ``V``. Returns ``s * D`` row-wise.
    """
    R = np.broadcast_to(np.asarray(rho, dtype=float), V.shape)
    num = np.einsum("ij,ij,ij->i", R, D, V) - cost
    den = np.einsum("ij,ij,ij->i", R, D, D)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    # Without a direction (eta = 0) the output is zero whatever s is; cost sign picks s anyway.
    s = np.clip(s, 0.0, 1.0)
    return s[:, None] * D + 0.0  # + 0.0 turns -0.0 into 0.0 for tidy printing


class FlexFleetBlock(LocalBlock):
    """All flex actors of one output length, solved together as arrays."""

    def __init__(self, actors: Sequence[ADMMFlexActor], names: Sequence[str] | None = None) -> None:
        super().__init__(actors, names)
        self.D = np.stack([a.direction for a in actors])
        self.cost = np.array([a.P @ a.direction for a in actors])
        self.P = np.stack([a.P for a in actors])

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        V = np.asarray(v, dtype=float).reshape(self.D.shape)
        R = rho if np.isscalar(rho) else np.asarray(rho, dtype=float).reshape(self.D.shape)
        return flex_prox(self.D, self.cost, V, R).ravel()

    def objectives(self, x: np.ndarray) -> list[float]:
        costs = np.einsum("ij,ij->i", self.P, x.reshape(self.D.shape))
        if not np.all(np.isfinite(costs)):
            bad = int(np.flatnonzero(~np.isfinite(costs))[0])
            raise LocalModelError(f"actor {self.names[bad]!r}: its cost P @ x is {costs[bad]}, "
                                  "not finite")
        return costs.tolist()

    def objective(self, x: np.ndarray) -> float:
        return float(np.einsum("ij,ij->", self.P, x.reshape(self.D.shape)))

    def dual_term(self, price: np.ndarray) -> float:
        """Sum over the fleet of ``min(0, (P_i + y_i) @ d_i)`` (see :meth:`ADMMFlexActor.dual_term`)."""
        Y = np.asarray(price, dtype=float).reshape(self.D.shape)
        return float(np.minimum(0.0, self.cost + np.einsum("ij,ij->i", Y, self.D)).sum())


def create_admm_flex_actor_one_to_many(in_capacity: float, eta: Sequence[float],
                                       P: Sequence[float] | None = None, *,
                                       name: str | None = None) -> ADMMFlexActor:
    """A flex actor converting ``in_capacity`` (kW) of input into outputs ``s * in_capacity * eta``.

    ``P`` (default zeros) is a linear cost on the outputs: positive entries penalise, negative
    entries reward producing that output.
    """
    return ADMMFlexActor(in_capacity, eta, P, name=name)
