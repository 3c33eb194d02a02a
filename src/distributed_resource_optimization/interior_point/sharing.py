"""The distributed interior-point method for sharing: participants whose exchanged values add up.

Problem: ``min sum_p c_p'w_p`` over each participant's polytope, coupled by
``sum_p s_p X_p = 0`` with signs ``s_p`` in {+1, -1}: the resources' aggregates ``X_p`` (+1; a
participant with many actors exchanges their sum) and the global objective's share ``z`` (-1;
e.g. the target distance ``w'|target - z|`` as an LP, held by the coordinator itself). One price
vector ``lam`` clears the sum; participant ``p`` sees ``s_p lam``.

Each Newton iteration the coordinator solves, for the step of ``lam``, the system

    (sum_p D_p) dlam = sum_p s_p a_p + sum_p s_p X_p

with each participant's condensed sensitivity ``D_p`` and affine right-hand side ``a_p`` on its
``m`` exchanged entries (the participant's exchanged step is ``a_p - D_p s_p dlam``): an
``m x m`` system whatever the number of participants and actors. The rounds, messages and
stop are :func:`~.consensus.predictor_corrector`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from distributed_resource_optimization.checks import positive_int, positive_scalar, tolerance
from distributed_resource_optimization.interior_point.consensus import (
    BARRIER_REGULARISATION,
    DEFAULT_GAP_TOL,
    DEFAULT_MAX_ITERS,
    DEFAULT_TOL,
    REFINE_STEPS,
    SENSITIVITY_EPS_REL,
    Factored,
    Predicted,
    StepLimits,
    dense_sum,
    step_limit,
    symmetric_solver,
)


class SharingNewton:
    """The coordinator's side of sharing: the price ``lam`` of the sum, the aggregate ``z`` (the
    sum of the participants with sign +1) and the ``m x m`` system of each Newton iteration.
    ``signs[p]``: +1 for a participant whose exchanged values add to the sum, -1 for one that
    takes it (the global objective); every participant exchanges the same ``m`` entries."""

    def __init__(self, m: int, signs: Sequence[int]) -> None:
        self.m = positive_int(m, "m")
        self.signs = np.asarray(signs, dtype=float)
        if self.signs.ndim != 1 or not self.signs.size or \
                not np.all(np.isin(self.signs, (-1.0, 1.0))):
            raise ValueError(f"signs must be +1 or -1, one per participant, got {signs!r}")
        self.lam = np.zeros(self.m)
        self.z: np.ndarray | None = None
        self._residual = np.zeros(self.m)
        self._dlam = np.zeros(self.m)

    @property
    def sizes(self) -> list[int]:
        return [self.m] * self.signs.size

    def receive(self, replies: Sequence[Factored]) -> None:
        """Take the participants' values: the sum's violation at the current point."""
        x = np.array([r.x for r in replies])
        self._residual = self.signs @ x
        self.z = x[self.signs > 0].sum(axis=0)

    @property
    def disagreement(self) -> float:
        """Largest ``|sum_p s_p X_p|`` (outputs' unit)."""
        return float(np.max(np.abs(self._residual), initial=0.0))

    @property
    def imbalance(self) -> float:
        """Zero: every participant sees the one price ``lam`` (with its sign)."""
        return 0.0

    def prices(self) -> list[np.ndarray]:
        return [s * self.lam for s in self.signs]

    def factor(self, replies: Sequence[Factored]) -> None:
        """Sum the participants' sensitivities and factor the sum (Cholesky, scaled to a unit
        diagonal; LU if rounding made it indefinite)."""
        total = dense_sum((b for r in replies for b in r.sensitivity), self.m)
        self._total = total
        largest = float(np.max(np.abs(total), initial=0.0))
        # eps keeps the system defined where every participant holds an entry fixed; solve()
        # refines against the exact sum.
        self._solve = symmetric_solver(
            total + SENSITIVITY_EPS_REL * max(largest, 1e-300) * np.eye(self.m))

    def solve(self, affine: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Price steps ``s_p dlam`` for the participants' right-hand sides (``dlam`` kept)."""
        rhs = self.signs @ np.array(affine) + self._residual
        dlam = self._solve(rhs)
        size = float(np.max(np.abs(rhs - self._total @ dlam), initial=0.0))
        for _ in range(REFINE_STEPS):  # iterative refinement while it gains
            trial = dlam + self._solve(rhs - self._total @ dlam)
            new = float(np.max(np.abs(rhs - self._total @ trial), initial=0.0))
            if not new < size:
                break
            dlam, size = trial, new
        self._dlam = dlam
        return [s * dlam for s in self.signs]

    def step(self, dy: Sequence[np.ndarray], primal: float, dual: float) -> None:
        """Apply the common dual step length to ``lam`` (``z`` follows the participants)."""
        self.lam = self.lam + dual * self._dlam


class TargetDistanceBarrier:
    """The global objective of sharing, ``w'|target - z|`` (cost per unit of output times the
    outputs' unit), as the participant that takes the sum ``z`` (sign -1).

    Held in the slacks of ``|z - target| <= t``: ``u = t - (z - target) >= 0`` and ``v = t + (z -
    target) >= 0``, so that ``z = target + (v - u) / 2`` and the cost is ``w (u + v) / 2``: every
    Newton system is diagonal and solved in closed form, vectorised over the entries. (In ``z``
    and ``t`` the two steps nearly cancel along an active constraint, and the slack steps lost
    their digits: measured, the runs stalled.)"""

    def __init__(self, target: np.ndarray, priorities: np.ndarray) -> None:
        self.target = np.asarray(target, dtype=float)
        self.w = np.asarray(priorities, dtype=float)
        if self.target.ndim != 1 or self.w.shape != self.target.shape:
            raise ValueError(f"target and priorities must be vectors of one length, got "
                             f"{self.target.shape} and {self.w.shape}")
        self.size = self.target.size
        self._scale_dual = 1.0 + float(np.max(np.abs(self.w), initial=0.0))
        self.start()

    @property
    def z(self) -> np.ndarray:
        """The sum it takes (outputs' unit)."""
        return self.target + 0.5 * (self.v - self.u)

    def start(self) -> None:
        """``z = target``, ``t = 1`` (both slacks 1) with the prices ``w / 2`` that make it dual
        feasible at price 0: strictly feasible, no local iterations needed."""
        m = self.size
        self.u, self.v = np.ones(m), np.ones(m)
        # A zero priority has no dual-feasible interior prices: a small positive one instead.
        floor = 1e-3 * (1.0 + float(np.max(self.w, initial=0.0)))
        self.lu = np.maximum(0.5 * self.w, floor)
        self.lv = self.lu.copy()
        self.y = np.zeros(m)
        self._pending = None

    def objective(self) -> float:
        return float(0.5 * self.w @ (self.u + self.v))

    def dual_term(self, price: np.ndarray) -> float:
        """``min w't + price'z`` over ``|z - target| <= t``: ``price'target`` where every
        ``|price_j| <= w_j``, else ``-inf``."""
        price = np.asarray(price, dtype=float)
        return float(price @ self.target) if np.all(np.abs(price) <= self.w) else -np.inf

    def _residuals(self) -> tuple[np.ndarray, np.ndarray]:
        # Stationarity in u and v: cost w/2, bound prices, and the price y of z = ... + (v-u)/2.
        return 0.5 * self.w - self.lu - 0.5 * self.y, 0.5 * self.w - self.lv + 0.5 * self.y

    def _curvature(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.lu / self.u + BARRIER_REGULARISATION,
                self.lv / self.v + BARRIER_REGULARISATION)

    def _steps(self, rcu, rcv, residuals, dy):
        """The slacks' steps for complementarity right-hand sides ``rc`` and price step ``dy``
        (``None``: the part without it)."""
        ru, rv = residuals
        hu, hv = self._curvature()
        bu, bv = -ru + rcu / self.u, -rv + rcv / self.v
        if dy is not None:
            bu, bv = bu + 0.5 * dy, bv - 0.5 * dy
        return bu / hu, bv / hv

    def _direction(self, rcu, rcv, dy, residuals):
        du, dv = self._steps(rcu, rcv, residuals, dy)
        return du, dv, (rcu - self.lu * du) / self.u, (rcv - self.lv * dv) / self.v

    def _exchanged(self, rcu, rcv, residuals) -> np.ndarray:
        du, dv = self._steps(rcu, rcv, residuals, None)
        return 0.5 * (dv - du)

    def factor(self, primal_step: float, dual_step: float) -> Factored:
        if self._pending is not None:
            du, dv, dlu, dlv, dy = self._pending
            self.u += primal_step * du
            self.v += primal_step * dv
            self.lu += dual_step * dlu
            self.lv += dual_step * dlv
            self.y += dual_step * dy
            self._pending = None
        res = self._res = self._residuals()
        hu, hv = self._curvature()
        return Factored(
            x=self.z, sensitivity=((np.arange(self.size), np.diag(0.25 * (1 / hu + 1 / hv))),),
            affine=self._exchanged(-self.u * self.lu, -self.v * self.lv, res),
            complementarity=float(self.u @ self.lu + self.v @ self.lv),
            count=2 * self.size, primal_residual=0.0,
            dual_residual=max(float(np.max(np.abs(r), initial=0.0)) for r in res)
            / self._scale_dual,
            objective=self.objective())

    def predict(self, dy: np.ndarray) -> Predicted:
        res = self._res
        du, dv, dlu, dlv = self._direction(-self.u * self.lu, -self.v * self.lv, dy, res)
        self._affine = (du, dv, dlu, dlv)
        ones, zeros = np.ones(self.size), (np.zeros(self.size),) * 2
        return Predicted(
            primal_limit=step_limit((self.u, du), (self.v, dv)),
            dual_limit=step_limit((self.lu, dlu), (self.lv, dlv)),
            products=(float(du @ self.lu + dv @ self.lv), float(self.u @ dlu + self.v @ dlv),
                      float(du @ dlu + dv @ dlv)),
            base=self._exchanged(-self.u * self.lu - du * dlu, -self.v * self.lv - dv * dlv,
                                 res),
            # The part linear in the centring target alone (no residuals).
            centre=self._exchanged(ones, ones, zeros))

    def correct(self, dy: np.ndarray, sigma_mu: float) -> StepLimits:
        du_a, dv_a, dlu_a, dlv_a = self._affine
        d = self._direction(-self.u * self.lu - du_a * dlu_a + sigma_mu,
                            -self.v * self.lv - dv_a * dlv_a + sigma_mu, dy, self._res)
        self._pending = (*d, np.asarray(dy, dtype=float).copy())
        return StepLimits(primal=step_limit((self.u, d[0]), (self.v, d[1])),
                          dual=step_limit((self.lu, d[2]), (self.lv, d[3])))


#: The global objectives of sharing the interior-point method takes.
SHARING_OBJECTIVES: tuple[str, ...] = ("target_distance",)


class InteriorPointCoordinator:
    """The coordinator of the distributed interior-point method for sharing, in the tutorial's
    API: pass it where an ADMM coordinator goes (``start_coordinated_optimization(actors,
    coordinator, create_admm_start(create_admm_sharing_data(target, priorities)))``). The
    actors' outputs add up, and the coordinator holds the global objective (``objective``:
    ``"target_distance"``, the priorities times ``|target - sum|``) as a participant of its
    own. Stops as :func:`~.consensus.predictor_corrector` (``tol``, ``gap_tol``, ``max_iters``
    Newton iterations, three rounds each); ``reply_timeout`` and ``setup_timeout`` (s) bound
    each round's wait as for ADMM. Each agent answers with its actors' sums (``m`` values and
    an ``m x m`` sensitivity, whatever its number of actors); the actors' own outputs travel
    once, at the end."""

    #: A round may not go on without a participant (ADMM's ``stale_rounds``).
    stale_rounds = 0

    def __init__(self, objective: str = "target_distance", *, tol: float = DEFAULT_TOL,
                 gap_tol: float = DEFAULT_GAP_TOL, max_iters: int = DEFAULT_MAX_ITERS,
                 reply_timeout: float = 30.0, setup_timeout: float = 600.0) -> None:
        if objective not in SHARING_OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(SHARING_OBJECTIVES)}, got "
                             f"{objective!r}")
        self.objective = objective
        self.tol = tolerance(tol, "tol")
        self.gap_tol = tolerance(gap_tol, "gap_tol")
        self.max_iters = positive_int(max_iters, "max_iters")
        self.reply_timeout = positive_scalar(reply_timeout, "reply_timeout")
        self.setup_timeout = positive_scalar(setup_timeout, "setup_timeout")

    def global_participant(self, target: np.ndarray, priorities: np.ndarray
                           ) -> TargetDistanceBarrier:
        """The global objective as the participant that takes the sum (held by the
        coordinator)."""
        return TargetDistanceBarrier(target, priorities)

    def __repr__(self) -> str:
        return (f"InteriorPointCoordinator({self.objective!r}, tol={self.tol:g}, "
                f"gap_tol={self.gap_tol:g}, max_iters={self.max_iters})")


def create_sharing_target_distance_interior_point_coordinator(**settings: float
                                                             ) -> InteriorPointCoordinator:
    """The interior-point counterpart of ``create_sharing_target_distance_admm_coordinator``:
    sharing towards a target schedule, priorities times the absolute distance (keywords as
    :class:`InteriorPointCoordinator`'s)."""
    return InteriorPointCoordinator("target_distance", **settings)
