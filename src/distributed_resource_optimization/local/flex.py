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

from distributed_resource_optimization.admm.polish import PolishOffer, flex_offer
from distributed_resource_optimization.checks import as_finite_scalar, as_finite_vector
from distributed_resource_optimization.local.base import LocalModel, LocalModelError
from distributed_resource_optimization.local.blocks import ModelGroup
from distributed_resource_optimization.local.interior_point import FleetBarrier, LPBarrier
from distributed_resource_optimization.local.lp import LPLocalModel


class ADMMFlexActor(LocalModel):
    """A flexible resource with outputs ``x`` in ``lb <= x <= u``, ``C x <= d`` and the linear
    cost ``S @ x`` (the reference package's ``ADMMFlexActor(lb, u, C, d, S)``; units are the
    caller's, e.g. kW and S$/kW).

    The proximal step is set up once: a clip where only the box binds (``C`` empty), one
    clip of the utilisation for the one-to-many resources of :meth:`one_to_many` (module doc),
    else a small QP warm-started from the last solve (DAQP, :class:`~.lp.LPLocalModel`).
    """

    def __init__(self, lb: Sequence[float], u: Sequence[float], C: Sequence | np.ndarray | None = None,
                 d: Sequence[float] | None = None, S: Sequence[float] | None = None, *,
                 name: str | None = None, variables: Sequence[Hashable] | None = None,
                 rho_scale: Sequence[float] | None = None) -> None:
        lb_arr = _bounds(lb, "lb")
        u_arr = _bounds(u, "u")
        m = lb_arr.size
        if m == 0:
            raise ValueError("lb must not be empty")
        if u_arr.shape != lb_arr.shape:
            raise ValueError(f"u has length {u_arr.size} but lb has length {m}")
        if np.any(lb_arr > u_arr):
            raise ValueError(f"lb exceeds u at entry {int(np.flatnonzero(lb_arr > u_arr)[0])}")
        S_arr = np.zeros(m) if S is None else as_finite_vector(S, "S")
        if S_arr.shape != (m,):
            raise ValueError(f"S has length {S_arr.size} but lb has length {m}")
        if (C is None) != (d is None):
            raise ValueError("C and d go together: give both or neither")
        C_arr = np.zeros((0, m)) if C is None or not np.size(C) else np.asarray(C, dtype=float)
        if C_arr.ndim == 1:
            C_arr = C_arr[None, :]  # one inequality
        if C_arr.ndim != 2 or C_arr.shape[1] != m:
            # Never reshaped to fit: a C of another width is a mistake, not m columns.
            raise ValueError(f"C must have {m} columns (one per entry of lb), got shape "
                             f"{C_arr.shape}")
        d_arr = np.zeros(0) if d is None or not np.size(d) else as_finite_vector(d, "d")
        if C_arr.shape[0] != d_arr.size:
            raise ValueError(f"C has {C_arr.shape[0]} rows but d has {d_arr.size} entries")
        if not np.all(np.isfinite(C_arr)):
            raise ValueError("C must be finite")
        super().__init__(m, name=name, variables=variables, rho_scale=rho_scale)
        self.lb, self.u, self.C, self.d, self.S = lb_arr, u_arr, C_arr, d_arr, S_arr
        #: One-to-many resources (:meth:`one_to_many`): ``in_capacity * eta``, else ``None``.
        self.direction: np.ndarray | None = None
        self.in_capacity: float | None = None
        self.eta: np.ndarray | None = None
        self._polytope = None
        if C_arr.shape[0]:
            # The prox of the LP min S'x over the polytope, solved by the reduced DAQP QP
            # (no equalities: every column is free).
            self._polytope = LPLocalModel(S_arr, np.zeros((0, m)), np.zeros(0), C_arr, d_arr,
                                          lb_arr, u_arr, np.arange(m), np.arange(m),
                                          name=name)

    @classmethod
    def one_to_many(cls, in_capacity: float, eta: Sequence[float],
                    P: Sequence[float] | None = None, *, name: str | None = None,
                    variables: Sequence[Hashable] | None = None,
                    rho_scale: Sequence[float] | None = None) -> ADMMFlexActor:
        """One input of ``in_capacity`` (kW, > 0) converted into outputs ``s * in_capacity *
        eta``, ``s`` in [0, 1], at the linear cost ``P @ x`` (positive = penalised)."""
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
        direction = cap * eta_arr
        with np.errstate(over="ignore", invalid="ignore"):
            full_cost = float(P_arr @ direction)
        if not (np.all(np.isfinite(direction)) and np.isfinite(full_cost)):
            raise ValueError(f"P @ (in_capacity * eta) = {full_cost}: in_capacity, eta and P are "
                             "too large for a finite cost")
        actor = cls(np.minimum(direction, 0.0), np.maximum(direction, 0.0), S=P_arr, name=name,
                    variables=variables, rho_scale=rho_scale)
        # The polytope of the reference's construction, for inspection (the closed form below
        # solves exactly this set: the outputs move together along the direction).
        actor.C, actor.d = one_to_many_polytope(direction)
        actor.in_capacity, actor.eta, actor.direction = cap, eta_arr, direction
        return actor

    @property
    def P(self) -> np.ndarray:  # noqa: N802  (the name of the tutorial and of FlexFleet)
        """The linear cost per unit output (the same as ``S``)."""
        return self.S

    @property
    def closed_form(self) -> bool:  # type: ignore[override]
        """Whether the proximal step is a clip (no solver; run inline)."""
        return self._polytope is None

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        if self.direction is not None:
            return flex_prox(self.direction[None, :], (self.S @ self.direction)[None],
                             v[None, :], rho)[0]
        if self._polytope is not None:
            return self._polytope.solve(v, rho)
        return np.clip(v - self.S / np.asarray(rho, dtype=float), self.lb, self.u) + 0.0

    def objective(self, x: np.ndarray) -> float:
        return float(self.S @ x)

    def dual_term(self, price: np.ndarray) -> float:
        y = self.S + np.asarray(price, dtype=float)
        if self.direction is not None:
            # min over s in [0, 1] of (P + price) @ (s d): s = 1 if that is negative, else 0.
            return min(0.0, float(y @ self.direction))
        if self._polytope is not None:
            return self._polytope.dual_term(price)
        with np.errstate(invalid="ignore"):
            return float(np.sum(np.where(y > 0, y * self.lb, np.where(y < 0, y * self.u, 0.0))))

    def prepare(self) -> None:
        if self._polytope is not None:
            self._polytope.prepare()

    def polish_offer(self, price: np.ndarray, tolerance: float) -> PolishOffer | None:
        """A one-to-many resource's offer (:func:`~..admm.polish.flex_offer`); other actors
        take no part in a polish."""
        if self.direction is None:
            return None
        return flex_offer(self.direction[None, :], self.S[None, :],
                          np.array([self.S @ self.direction]), price, tolerance)

    def barrier(self) -> FleetBarrier | LPBarrier:
        """The actor in the interior-point method: a fleet of one for a one-to-many resource,
        else its polytope's LP."""
        if self.direction is not None:
            return FleetBarrier(self.direction[None, :], np.array([self.S @ self.direction]))
        if self._polytope is not None:
            return self._polytope.barrier()
        return LPBarrier(self.S, None, None, None, None, self.lb, self.u, np.arange(self.size),
                         name=self.name)

    def utilisation(self) -> float:
        """Utilisation ``s`` in [0, 1] of the current output ``x`` (one-to-many resources)."""
        if self.direction is None:
            raise ValueError("utilisation: only one-to-many resources (ADMMFlexActor.one_to_many) "
                             "have one")
        dd = float(self.direction @ self.direction)
        return 0.0 if dd == 0 else float(self.direction @ self.x / dd)

    def __repr__(self) -> str:
        if self.direction is not None:
            return (f"ADMMFlexActor.one_to_many(in_capacity={self.in_capacity}, "
                    f"eta={self.eta.tolist()}, P={self.S.tolist()}, name={self.name!r})")
        return (f"ADMMFlexActor(lb={self.lb.tolist()}, u={self.u.tolist()}, "
                f"C=<{self.C.shape[0]} rows>, S={self.S.tolist()}, name={self.name!r})")


def _bounds(value: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a vector of numbers ({exc})") from None
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} must not hold NaN")
    return arr


def one_to_many_polytope(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``C x <= d`` of a one-to-many resource with full output ``t`` (the reference package's
    construction): the total absolute output at most ``sum |t|``, and every output at the same
    utilisation as the last one (two opposite inequalities per output)."""
    m = t.size
    C = np.zeros((1 + 2 * (m - 1), m))
    d = np.zeros(C.shape[0])
    C[0] = np.where(t < 0, -1.0, 1.0)
    d[0] = float(np.abs(t).sum())
    for j in range(m - 1):
        if t[j] != 0 and t[m - 1] != 0:
            r = 1 + 2 * j
            C[r, j], C[r, m - 1] = 1.0 / t[j], -1.0 / t[m - 1]
            C[r + 1, j], C[r + 1, m - 1] = -1.0 / t[j], 1.0 / t[m - 1]
    return C, d


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


class FlexFleet:
    """Many flex actors held as arrays: one participant that is ``N`` actors to the protocol
    and the results, without an object per actor (10^6 actors in a few arrays).

    ``capacities`` (kW, ``(N,)``, > 0), ``etas`` (``(N, M)``), ``P`` (S$/kW, ``(N, M)``,
    default zeros); ``names`` (default ``actor_<i>``). After a run ``X`` holds the outputs
    ``(N, M)`` (kW). Pass it among the actors of :func:`~..runtime.run.run_coordinated_optimization`.
    """

    closed_form = True  # the proximal step is one clip per actor (module doc)

    def __init__(self, capacities: Sequence[float] | np.ndarray, etas: Sequence | np.ndarray,
                 P: Sequence | np.ndarray | None = None, *,
                 names: Sequence[str] | None = None) -> None:
        caps = as_finite_vector(capacities, "capacities")
        if caps.size == 0:
            raise ValueError("capacities must not be empty")
        if np.any(caps <= 0):
            i = int(np.flatnonzero(caps <= 0)[0])
            raise ValueError(f"capacities[{i}] must be positive, got {caps[i]}")
        eta = _finite_matrix(etas, "etas", caps.size)
        cost = np.zeros_like(eta) if P is None else _finite_matrix(P, "P", caps.size)
        if cost.shape != eta.shape:
            raise ValueError(f"P has shape {cost.shape} but etas has shape {eta.shape}")
        self.capacities, self.etas, self.P = caps, eta, cost
        self.D = caps[:, None] * eta
        with np.errstate(over="ignore", invalid="ignore"):
            self.cost = np.einsum("ij,ij->i", cost, self.D)
        if not (np.all(np.isfinite(self.D)) and np.all(np.isfinite(self.cost))):
            i = int(np.flatnonzero(~np.isfinite(self.cost) | ~np.isfinite(self.D).all(1))[0])
            raise ValueError(f"actor {i}: P @ (capacity * eta) is not finite (numbers too large)")
        n = caps.size
        self.names = [f"actor_{i}" for i in range(n)] if names is None else \
            [str(x) for x in names]
        if len(self.names) != n:
            raise ValueError(f"names holds {len(self.names)} names for {n} actors")
        self.X = np.zeros_like(self.D)

    @property
    def n_actors(self) -> int:
        return int(self.D.shape[0])

    @property
    def size(self) -> int:
        return int(self.D.size)

    def describe(self) -> dict[str, object]:
        return {"names": tuple(self.names), "sizes": (self.D.shape[1],) * self.n_actors,
                "variables": None}

    def publish(self) -> dict:
        return {}

    def configure(self, published: object) -> None:
        return None

    def prepare(self) -> None:
        return None

    def rho_scales(self) -> None:
        return None

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        V = np.asarray(v, dtype=float).reshape(self.D.shape)
        R = rho if np.isscalar(rho) else np.asarray(rho, dtype=float).reshape(self.D.shape)
        return flex_prox(self.D, self.cost, V, R).ravel()

    def assign(self, x: np.ndarray) -> None:
        self.X = np.array(x, dtype=float).reshape(self.D.shape)

    def objectives(self, x: np.ndarray) -> list[float]:
        costs = np.einsum("ij,ij->i", self.P, np.asarray(x).reshape(self.D.shape))
        if not np.all(np.isfinite(costs)):
            bad = int(np.flatnonzero(~np.isfinite(costs))[0])
            raise LocalModelError(f"actor {self.names[bad]!r}: its cost P @ x is {costs[bad]}, "
                                  "not finite")
        return costs.tolist()

    def objective(self, x: np.ndarray) -> float:
        return float(np.einsum("ij,ij->", self.P, np.asarray(x).reshape(self.D.shape)))

    def barrier(self, summed: bool = True) -> FleetBarrier:
        """The fleet in the interior-point method for sharing (its actors' outputs summed)."""
        if not summed:
            raise LocalModelError("a flex fleet takes part in the interior-point method for "
                                  "sharing only (summed outputs)")
        return FleetBarrier(self.D, self.cost)

    def polish_offer(self, price: np.ndarray, tolerance: float) -> PolishOffer:
        """The fleet's polish offer at the sector prices ``price`` (``M``):
        :func:`~..admm.polish.flex_offer` over its actors."""
        return flex_offer(self.D, self.P, self.cost, price, tolerance)

    def dual_term(self, price: np.ndarray) -> float:
        """Sum over the actors of ``min(0, (P_i + y_i) @ d_i)`` (see
        :meth:`ADMMFlexActor.dual_term`)."""
        Y = np.asarray(price, dtype=float).reshape(self.D.shape)
        return float(np.minimum(0.0, self.cost + np.einsum("ij,ij->i", Y, self.D)).sum())

    def utilisation(self) -> np.ndarray:
        """Each actor's utilisation ``s`` in [0, 1] of its output ``X``."""
        dd = np.einsum("ij,ij->i", self.D, self.D)
        return np.where(dd > 0, np.einsum("ij,ij->i", self.D, self.X) / np.where(dd > 0, dd, 1.0),
                        0.0)


def _finite_matrix(value: object, name: str, rows: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a matrix of numbers ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] != rows or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape ({rows}, M) with M >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        i, j = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name}[{i}, {j}] is not finite")
    return arr


class FlexFleetGroup(ModelGroup):
    """All flex actor objects of one output length, solved together as arrays (the arithmetic
    is :class:`FlexFleet`'s; the actor objects receive their outputs)."""

    def __init__(self, actors: Sequence[ADMMFlexActor], names: Sequence[str] | None = None) -> None:
        super().__init__(actors, names)
        self.fleet = FlexFleet([a.in_capacity for a in actors], [a.eta for a in actors],
                               [a.P for a in actors], names=self.names)
        # Each actor's own P @ d, so a fleet's steps are those of its actors to the last bit.
        self.fleet.cost = np.array([a.P @ a.direction for a in actors])

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        return self.fleet.solve(v, rho)

    def objectives(self, x: np.ndarray) -> list[float]:
        return self.fleet.objectives(x)

    def objective(self, x: np.ndarray) -> float:
        return self.fleet.objective(x)

    def dual_term(self, price: np.ndarray) -> float:
        return self.fleet.dual_term(price)

    def polish_offer(self, price: np.ndarray, tolerance: float) -> PolishOffer:
        return self.fleet.polish_offer(price, tolerance)

    def barrier(self, summed: bool = False) -> FleetBarrier:
        return self.fleet.barrier(summed)


#: The former name of :class:`FlexFleetGroup`.
FlexFleetBlock = FlexFleetGroup


def create_admm_flex_actor_one_to_many(in_capacity: float, eta: Sequence[float],
                                       P: Sequence[float] | None = None, *,
                                       name: str | None = None) -> ADMMFlexActor:
    """A flex actor converting ``in_capacity`` (kW) of input into outputs ``s * in_capacity * eta``.

    ``P`` (default zeros) is a linear cost on the outputs: positive entries penalise, negative
    entries reward producing that output.
    """
    return ADMMFlexActor.one_to_many(in_capacity, eta, P, name=name)
