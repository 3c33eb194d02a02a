"""Distributed Mehrotra predictor-corrector for LPs coupled by general-form consensus.

Problem: ``min sum_i c_i'w_i`` over each participant's polytope, with its exchanged entries
``x_i = S_i w_i`` equal to the global values they stand for, ``x_i = E_i z``. ``y_i`` are the
prices of these couplings (one per exchanged entry, unscaled, the same sign as ADMM's duals), and
at the optimum ``sum_i E_i' y_i = 0``.

One Newton iteration, three rounds of messages (requests from the coordinator, replies from
every participant):

1. *factor*: each participant takes the step of the previous iteration (the common step lengths
   travel in the request), factors its barrier-scaled KKT system and replies with
   :class:`Factored`: its exchanged values ``x_i``, the condensed sensitivity ``D_i`` (``S_i``
   times the inverse KKT matrix times ``S_i'``: how ``x_i`` moves per unit of price step, PSD)
   and the affine right-hand side ``a_i``, so that its exchanged step is ``a_i - D_i dy_i``;
2. *predict*: the coordinator solves the coupled system

       D_i dy_i + E_i dz = a_i + x_i - E_i z,      sum_i E_i' dy_i = -sum_i E_i' y_i

   for the affine price steps; each participant replies with :class:`Predicted` (how far it
   can step, the products that give the complementarity after the step, and the two
   right-hand sides of the corrector);
3. *correct*: the coordinator picks the centring weight ``sigma`` (Mehrotra's
   ``(mu_aff / mu)^3``), solves the same system again and sends the price steps; each participant
   replies with how far it can step (:class:`StepLimits`). The common step lengths are sent with
   the next *factor* request.

Only exchanged entries and scalars travel; the participants' own variables, constraints and
costs never leave them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from distributed_resource_optimization.checks import positive_int, tolerance

#: Relative tolerance of the stop: consensus, local feasibility and stationarity residuals.
DEFAULT_TOL = 1e-7
#: Relative tolerance on the duality measure: total complementarity over ``1 + |objective|``.
DEFAULT_GAP_TOL = 1e-7
#: Newton iterations before giving up (three rounds of messages each).
DEFAULT_MAX_ITERS = 100
#: Fraction of the way to the boundary a step may go (keeps slacks and their prices positive).
STEP_FRACTION = 0.995
#: Diagonal regularisation of every participant's barrier Hessian: bounds its sensitivity where
#: it is indifferent (a cost-free direction; without it the closed-form participants'
#: sensitivities overflowed near the optimum and the run stalled, measured).
BARRIER_REGULARISATION = 1e-11
#: Relative regularisation of the sensitivities in the coordinator's elimination, and the
#: refinement steps against the exact system that remove its effect.
SENSITIVITY_EPS_REL = 1e-10
REFINE_STEPS = 10
#: Up to this many global entries the coordinator factors its system as a dense matrix.
DENSE_LIMIT = 6000
#: Rounds of messages per Newton iteration (factor, predict, correct).
ROUNDS_PER_ITERATION = 3


def step_limit(*pairs: tuple[np.ndarray, np.ndarray]) -> float:
    """The longest step ``a`` with every ``v + a dv >= 0`` over the ``(v, dv)`` pairs (``v``
    positive: slacks or their prices); ``inf`` if no ``dv`` is negative."""
    out = np.inf
    for v, dv in pairs:
        neg = dv < 0
        if np.any(neg):
            out = min(out, float(np.min(-v[neg] / dv[neg])))
    return out


def check_block(positions: np.ndarray, block: np.ndarray, size: int) -> None:
    """One block of a condensed sensitivity fits ``size`` exchanged entries: ``positions`` a
    vector within ``0..size-1``, ``block`` square over them (``ValueError`` otherwise)."""
    k = np.shape(positions)
    if len(k) != 1 or np.shape(block) != (k[0], k[0]):
        raise ValueError(f"a block of shape {list(np.shape(block))} for "
                         f"{k[0] if len(k) == 1 else k} positions")
    if k[0] and (np.min(positions) < 0 or np.max(positions) >= size):
        raise ValueError(f"positions outside 0..{size - 1}")


def dense_sum(blocks: Iterable[tuple[np.ndarray, np.ndarray]], size: int) -> np.ndarray:
    """The sum of sensitivity blocks ``(positions, block)`` as one dense ``size x size``
    matrix."""
    total = np.zeros((size, size))
    for pos, block in blocks:
        total[np.ix_(pos, pos)] += block
    return total


def symmetric_solver(matrix: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A solver of ``matrix x = b`` for a matrix symmetric up to rounding (overwritten): scaled
    to a unit diagonal, then Cholesky of its upper triangle, or LU of it as it is where rounding
    made it indefinite. (Its entries span 30 decades near the optimum, and the subnormal
    numbers of the unscaled factorisation made it 7x slower, measured. Averaging it with its
    transpose first, a rounding-sized change as well, took a third of the Cholesky's time.)"""
    scale = 1.0 / np.sqrt(np.abs(np.diag(matrix)))
    matrix *= scale[:, None]
    matrix *= scale[None, :]
    try:
        factor = scipy.linalg.cho_factor(matrix, check_finite=False)
        return lambda b: scale * scipy.linalg.cho_solve(factor, scale * b, check_finite=False)
    except np.linalg.LinAlgError:
        lu = scipy.linalg.lu_factor(matrix, overwrite_a=True, check_finite=False)
        return lambda b: scale * scipy.linalg.lu_solve(lu, scale * b, check_finite=False)


@dataclass(frozen=True)
class Factored:
    """A participant's reply to *factor*: exchanged values ``x`` (outputs' unit), condensed
    sensitivity ``sensitivity`` (outputs per price; block-diagonal: ``(positions, block)`` per
    independent part, ``positions`` in ``x``, ``block`` dense and square), the affine right-hand
    side ``affine``, its complementarity ``complementarity`` (sum of slack x price, cost unit)
    over ``count`` inequalities, the largest local feasibility and stationarity residuals and
    its cost ``objective`` at the current point."""

    x: np.ndarray
    sensitivity: tuple[tuple[np.ndarray, np.ndarray], ...]
    affine: np.ndarray
    complementarity: float
    count: int
    primal_residual: float
    dual_residual: float
    objective: float


@dataclass(frozen=True)
class Predicted:
    """A participant's reply to *predict*: the longest affine steps it allows (primal,
    dual), the products ``(ds'lam, s'dlam, ds'dlam)`` of its affine step, and the corrector's
    right-hand sides without (``base``) and per unit of (``centre``) the centring term."""

    primal_limit: float
    dual_limit: float
    products: tuple[float, float, float]
    base: np.ndarray
    centre: np.ndarray


@dataclass(frozen=True)
class StepLimits:
    """A participant's reply to *correct*: the longest steps it allows (primal, dual)."""

    primal: float
    dual: float


class BarrierParticipant(Protocol):
    """What the coordination asks of a participant (an LP's is
    :class:`~distributed_resource_optimization.local.interior_point.LPBarrier`)."""

    size: int

    def start(self) -> None:
        """Find a local interior point (no messages)."""

    def factor(self, primal_step: float, dual_step: float) -> Factored:
        """Take the last step with these lengths (0 at the start), factor, reply."""

    def predict(self, dy: np.ndarray) -> Predicted:
        """The affine step for price step ``dy``."""

    def correct(self, dy: np.ndarray, sigma_mu: float) -> StepLimits:
        """The corrected step for price step ``dy`` and centring target ``sigma_mu``."""


class Coupling(Protocol):
    """The coordinator's side of a coupling (:class:`ConsensusNewton`,
    :class:`~.sharing.SharingNewton`): the prices, the agreed values ``z`` and the coupled
    Newton system of each iteration."""

    z: np.ndarray | None

    @property
    def sizes(self) -> list[int]:
        """Exchanged entries per participant."""

    def receive(self, replies: Sequence[Factored]) -> None:
        """Take the participants' values at the current point."""

    @property
    def disagreement(self) -> float:
        """Largest violation of the coupling at the current point (outputs' unit)."""

    @property
    def imbalance(self) -> float:
        """Largest violation of the prices' balance (cost per unit of output)."""

    def prices(self) -> list[np.ndarray]:
        """Every participant's prices."""

    def factor(self, replies: Sequence[Factored]) -> None:
        """Set up the coupled system from the participants' sensitivities."""

    def solve(self, affine: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Every participant's price step for these right-hand sides."""

    def step(self, dy: Sequence[np.ndarray], primal: float, dual: float) -> None:
        """Apply the common step lengths."""


class ConsensusNewton:
    """The coordinator's side: the global values ``z``, every participant's prices, and the
    coupled system of each Newton iteration. ``index[i]``: global entry of each exchanged
    entry of participant ``i``; ``n_global`` entries in all, each owned by at least one."""

    def __init__(self, index: Sequence[np.ndarray], n_global: int) -> None:
        self.n_global = positive_int(n_global, "n_global")
        self.index = [np.asarray(ix, dtype=int) for ix in index]
        stacked = np.concatenate(self.index) if self.index else np.zeros(0, dtype=int)
        if stacked.size and (stacked.min() < 0 or stacked.max() >= n_global):
            raise ValueError(f"index holds entries outside 0..{n_global - 1}")
        owners = np.bincount(stacked, minlength=n_global)
        if np.any(owners == 0):
            raise ValueError(f"global entry {int(np.flatnonzero(owners == 0)[0])} has no owner")
        self.owners = owners
        self._stacked = stacked
        self._offsets = np.concatenate([[0], np.cumsum([ix.size for ix in self.index])])
        self.E = sp.csr_matrix((np.ones(stacked.size), (np.arange(stacked.size), stacked)),
                               shape=(stacked.size, n_global))
        self.z: np.ndarray | None = None
        self.y = np.zeros(stacked.size)
        self._rhs_e = np.zeros(stacked.size)
        self._rhs_y = np.zeros(n_global)
        self._dz = np.zeros(n_global)

    @property
    def sizes(self) -> list[int]:
        """Exchanged entries per participant."""
        return [ix.size for ix in self.index]

    def parts(self, stacked: np.ndarray) -> list[np.ndarray]:
        """Split a stacked vector into the participants' parts."""
        return [stacked[a:b] for a, b in zip(self._offsets[:-1], self._offsets[1:])]

    def prices(self) -> list[np.ndarray]:
        """Every participant's prices (copies)."""
        return self.parts(self.y.copy())

    def consensus_residual(self, x: Sequence[np.ndarray]) -> np.ndarray:
        """``x_i - E_i z`` stacked (outputs' unit)."""
        return np.concatenate(x) - self.z[self._stacked]

    def price_balance(self) -> np.ndarray:
        """``sum_i E_i' y_i`` per global entry (zero at the optimum)."""
        return np.bincount(self._stacked, weights=self.y, minlength=self.n_global)

    def receive(self, replies: Sequence[Factored]) -> None:
        """Take the participants' values: the consensus residual and the prices' imbalance
        (:attr:`disagreement`, :attr:`imbalance`) at the current point."""
        x = [r.x for r in replies]
        if self.z is None:  # start at the owners' average
            self.z = np.bincount(self._stacked, weights=np.concatenate(x),
                                 minlength=self.n_global) / self.owners
        self._rhs_e = self.consensus_residual(x)
        self._rhs_y = -self.price_balance()

    @property
    def disagreement(self) -> float:
        """Largest ``|x_i - E_i z|`` at the current point (outputs' unit)."""
        return float(np.max(np.abs(self._rhs_e), initial=0.0))

    @property
    def imbalance(self) -> float:
        """Largest ``|sum_i E_i' y_i|`` at the current point (cost per unit of output)."""
        return float(np.max(np.abs(self._rhs_y), initial=0.0))

    def factor(self, replies: Sequence[Factored]) -> None:
        """Set up the coupled system from the participants' condensed sensitivities (after
        :meth:`receive` of the same replies)."""
        # Eliminate the price steps: with W = (D + eps I)^{-1}, taken block by block, the steps
        # of z solve (E' W E) dz = E' W r - q. eps keeps W defined where a participant holds an
        # entry fixed (zero sensitivity); solve() refines against the exact system.
        # Each block at its positions in the stacked vector; stacked position -> global entry
        # is self._stacked.
        blocks = [(offset + pos, block) for r, offset in zip(replies, self._offsets)
                  for pos, block in r.sensitivity]
        largest = max((float(np.max(np.abs(b))) for _, b in blocks if b.size), default=1.0)
        eps = SENSITIVITY_EPS_REL * max(largest, 1e-300)
        self._blocks = [(pos, b, np.linalg.inv(b + eps * np.eye(b.shape[0])))
                        for pos, b in blocks]
        covered = np.zeros(self._stacked.size, dtype=bool)
        for pos, _ in blocks:
            covered[pos] = True
        # Entries in no block have zero sensitivity: W is 1/eps there.
        self._bare = np.flatnonzero(~covered)
        if self.n_global <= DENSE_LIMIT:
            # The participants' blocks overlap (a building's across time, a grid's across
            # buildings): the elimination fills in almost completely, and LAPACK on the dense
            # matrix is as fast as a sparse factorisation; Cholesky halves it.
            schur = np.zeros((self.n_global, self.n_global))
            for pos, _, inv in self._blocks:
                g = self._stacked[pos]
                schur[np.ix_(g, g)] += inv
            np.add.at(schur, (self._stacked[self._bare], self._stacked[self._bare]), 1.0 / eps)
            # The sensitivities are symmetric up to rounding.
            self._schur_solve = symmetric_solver(schur)
        else:
            # scipy.sparse.linalg takes 0.1 s to import; only large systems need it
            from scipy.sparse.linalg import splu

            globals_ = [self._stacked[pos] for pos, _, _ in self._blocks]
            rows = [np.repeat(g, g.size) for g in globals_] + [self._stacked[self._bare]]
            cols = [np.tile(g, g.size) for g in globals_] + [self._stacked[self._bare]]
            vals = [inv.ravel() for _, _, inv in self._blocks] + \
                [np.full(self._bare.size, 1.0 / eps)]
            schur = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                          np.concatenate(cols))),
                                  shape=(self.n_global, self.n_global))
            self._schur_solve = splu(schur, permc_spec="MMD_AT_PLUS_A").solve
        self._eps = eps

    def _apply(self, v: np.ndarray, inverse: bool) -> np.ndarray:
        """``W v`` (``inverse``) or ``D v`` for a stacked vector ``v``."""
        out = np.zeros_like(v)
        for pos, block, inv in self._blocks:
            out[pos] = (inv if inverse else block) @ v[pos]
        if inverse:
            out[self._bare] = v[self._bare] / self._eps
        return out

    def _approximate(self, r: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dz = self._schur_solve(self.E.T @ self._apply(r, True) - q)
        return self._apply(r - self.E @ dz, True), dz

    def solve(self, affine: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Price steps ``dy_i`` for the participants' right-hand sides (``z``'s step kept)."""
        r = np.concatenate(affine) + self._rhs_e
        q = self._rhs_y
        dy, dz = self._approximate(r, q)
        # Iterative refinement against the exact system, while it gains.
        res_r, res_q = r - self._apply(dy, False) - self.E @ dz, q - self.E.T @ dy
        size = max(np.max(np.abs(res_r), initial=0.0), np.max(np.abs(res_q), initial=0.0))
        for _ in range(REFINE_STEPS):
            ey, ez = self._approximate(res_r, res_q)
            new_r = r - self._apply(dy + ey, False) - self.E @ (dz + ez)
            new_q = q - self.E.T @ (dy + ey)
            new_size = max(np.max(np.abs(new_r), initial=0.0), np.max(np.abs(new_q), initial=0.0))
            if not new_size < size:
                break
            dy, dz, res_r, res_q, size = dy + ey, dz + ez, new_r, new_q, new_size
        self._dz = dz
        return self.parts(dy)

    def step(self, dy: Sequence[np.ndarray], primal: float, dual: float) -> None:
        """Apply the common step lengths to ``z`` (primal) and the prices (dual)."""
        self.z = self.z + primal * self._dz
        self.y = self.y + dual * np.concatenate(dy)


@dataclass(frozen=True)
class NewtonProgress:
    """What a run of the method shows after each Newton iteration (a ``progress`` callback's
    argument): the iteration (from 0) and its measures (``objective``, ``mu``, ``consensus``,
    ``primal``, ``dual``, ``balance``, ``primal_step``, ``dual_step``: :func:`solve_consensus`'s
    histories)."""

    iteration: int
    measures: dict[str, float]


class InteriorPointStatus(str, Enum):
    """How a run ended."""

    CONVERGED = "converged"
    MAX_ITERATIONS = "max_iterations"


@dataclass
class InteriorPointRun:
    """Outcome of :func:`solve_consensus`: final exchanged values ``x`` and prices ``y`` per
    participant (outputs' unit, cost per unit), global values ``z``, iterations (Newton) and
    rounds of messages, per-iteration histories, wall time (s)."""

    status: InteriorPointStatus
    iterations: int
    rounds: int
    x: list[np.ndarray]
    y: list[np.ndarray]
    z: np.ndarray
    objective: float
    wall_time_s: float
    history: dict[str, list[float]] = field(default_factory=dict)
    #: What ended the run, in words.
    stopped_by: str = ""

    @property
    def converged(self) -> bool:
        return self.status == InteriorPointStatus.CONVERGED


@dataclass(frozen=True)
class Round:
    """One round of requests of :func:`predictor_corrector`: ``kind`` is ``"factor"`` (the
    arguments per participant: ``(primal_step, dual_step)``; at ``iteration`` 0 each
    participant first finds its own interior point, :meth:`BarrierParticipant.start`),
    ``"predict"`` (``(dy,)``) or ``"correct"`` (``(dy, sigma_mu)``); the replies are the
    participants' :class:`Factored`, :class:`Predicted` and :class:`StepLimits`."""

    kind: str
    iteration: int
    arguments: tuple[tuple, ...]


def predictor_corrector(coupling: Coupling, *, tol: float = DEFAULT_TOL,
                        gap_tol: float = DEFAULT_GAP_TOL, max_iters: int = DEFAULT_MAX_ITERS,
                        progress: Callable[[int, dict[str, float]], None] | None = None,
                        record: Callable[[list[np.ndarray], list[np.ndarray]], None] | None = None,
                        names: Sequence[str] | None = None
                        ) -> Generator[Round, Sequence, InteriorPointRun]:
    """The coordinator's side of the method, independent of how messages travel: a generator
    that yields each :class:`Round` of requests, is sent the participants' replies (in
    participant order) and returns the :class:`InteriorPointRun` (:func:`solve_consensus` drives
    it in this process; the runtime's coordinator agent over a transport). ``coupling``: how
    the participants' exchanged entries are coupled, and the coordinator's system
    (:class:`ConsensusNewton`; :class:`~.sharing.SharingNewton` for a sum); ``names`` name the
    participants in errors (a reply that does not fit its participant's entries is a
    ``ValueError``); the other arguments as :func:`solve_consensus`'s."""
    tol = tolerance(tol, "tol")
    gap_tol = tolerance(gap_tol, "gap_tol")
    max_iters = positive_int(max_iters, "max_iters")
    coord = coupling
    sizes = coord.sizes
    n = len(sizes)
    who = [f"participant {i}" for i in range(n)] if names is None else \
        [f"participant {name!r}" for name in names]
    t0 = time.perf_counter()
    history: dict[str, list[float]] = {k: [] for k in
                                       ("objective", "mu", "consensus", "primal", "dual",
                                        "balance", "primal_step", "dual_step")}
    step_p = step_d = 0.0
    status = InteriorPointStatus.MAX_ITERATIONS
    rounds = 0
    for it in range(max_iters + 1):
        replies = yield Round("factor", it, ((step_p, step_d),) * n)
        rounds += 1
        for r, size, name in zip(replies, sizes, who):
            _check_factored(r, size, name)
        coord.receive(replies)
        comp = sum(r.complementarity for r in replies)
        count = sum(r.count for r in replies)
        objective = sum(r.objective for r in replies)
        z_scale = 1.0 + float(np.max(np.abs(coord.z)))
        measures = {
            "objective": objective,
            "mu": comp / max(count, 1),
            "consensus": coord.disagreement / z_scale,
            "primal": max(r.primal_residual for r in replies),
            "dual": max(r.dual_residual for r in replies),
            "balance": coord.imbalance,
            "primal_step": step_p, "dual_step": step_d,
        }
        for k, v in measures.items():
            history[k].append(v)
        if record is not None:
            record([r.x for r in replies], coord.prices())
        if progress is not None:
            progress(it, measures)
        if (max(measures["consensus"], measures["primal"], measures["dual"],
                measures["balance"]) <= tol and comp <= gap_tol * (1.0 + abs(objective))):
            status = InteriorPointStatus.CONVERGED
            break
        if it == max_iters:
            break
        coord.factor(replies)
        mu = measures["mu"]
        # predictor
        dy = coord.solve([r.affine for r in replies])
        predicted = yield Round("predict", it, tuple((d,) for d in dy))
        rounds += 1
        for r, size, name in zip(predicted, sizes, who):
            _check_sizes(r, ("base", "centre"), size, name)
        a_p = min(1.0, min(r.primal_limit for r in predicted))
        a_d = min(1.0, min(r.dual_limit for r in predicted))
        comp_aff = comp + sum(a_p * r.products[0] + a_d * r.products[1]
                              + a_p * a_d * r.products[2] for r in predicted)
        sigma = min(1.0, max(comp_aff, 0.0) / max(comp, 1e-300)) ** 3
        # corrector
        dy = coord.solve([r.base + sigma * mu * r.centre for r in predicted])
        limits = yield Round("correct", it, tuple((d, sigma * mu) for d in dy))
        rounds += 1
        step_p = min(1.0, STEP_FRACTION * min(r.primal for r in limits))
        step_d = min(1.0, STEP_FRACTION * min(r.dual for r in limits))
        coord.step(dy, step_p, step_d)
    stopped_by = (f"interior point: residuals <= {tol:g}, duality measure <= {gap_tol:g}"
                  if status == InteriorPointStatus.CONVERGED
                  else f"max_iters ({max_iters} Newton iterations)")
    return InteriorPointRun(status=status, iterations=it, rounds=rounds, stopped_by=stopped_by,
                            x=[r.x for r in replies], y=coord.prices(),
                            z=coord.z.copy(), objective=objective,
                            wall_time_s=time.perf_counter() - t0, history=history)


def _check_sizes(reply: object, fields: Sequence[str], size: int, who: str) -> None:
    for name in fields:
        got = np.shape(getattr(reply, name))
        if got != (size,):
            raise ValueError(f"{who}: {name} of shape {got}, it exchanges {size} entries")


def _check_factored(reply: Factored, size: int, who: str) -> None:
    """A participant's factor reply fits its exchanged entries (a reply from the network is
    checked before the coordinator indexes with it)."""
    _check_sizes(reply, ("x", "affine"), size, who)
    for i, (positions, block) in enumerate(reply.sensitivity):
        try:
            check_block(positions, block, size)
        except ValueError as exc:
            raise ValueError(f"{who}: sensitivity block {i}: {exc}") from None


def solve_consensus(participants: Sequence[BarrierParticipant], index: Sequence[np.ndarray],
                    n_global: int, *, tol: float = DEFAULT_TOL, gap_tol: float = DEFAULT_GAP_TOL,
                    max_iters: int = DEFAULT_MAX_ITERS,
                    progress: Callable[[int, dict[str, float]], None] | None = None,
                    record: Callable[[list[np.ndarray], list[np.ndarray]], None] | None = None
                    ) -> InteriorPointRun:
    """Run the distributed predictor-corrector in this process to the stop: every residual
    within ``tol`` (relative) and the duality measure within ``gap_tol`` of the objective.
    ``progress(iteration, measures)`` is called every iteration, ``record(x, y)`` with the
    participants' exchanged values and prices at every iteration."""
    if len(participants) != len(index):
        raise ValueError(f"{len(participants)} participants but {len(index)} index arrays")
    for i, (p, ix) in enumerate(zip(participants, index)):
        if p.size != len(ix):
            raise ValueError(f"participant {i} exchanges {p.size} entries, index names {len(ix)}")
    return drive(participants, predictor_corrector(
        ConsensusNewton(index, n_global), tol=tol, gap_tol=gap_tol, max_iters=max_iters,
        progress=progress, record=record))


def drive(participants: Sequence[BarrierParticipant],
          method: Generator[Round, Sequence, InteriorPointRun]) -> InteriorPointRun:
    """Run ``method`` (a :func:`predictor_corrector`) with ``participants`` in this process,
    each answering its requests itself."""
    replies = None
    while True:
        try:
            request = method.send(replies)
        except StopIteration as done:
            return done.value
        replies = [answer(p, request.kind, request.iteration, args)
                   for p, args in zip(participants, request.arguments)]


def answer(participant: BarrierParticipant, kind: str, iteration: int, arguments: tuple
           ) -> Factored | Predicted | StepLimits:
    """A participant's reply to one request of a :class:`Round` (its local work)."""
    if kind == "factor":
        if iteration == 0:
            participant.start()
        return participant.factor(*arguments)
    if kind == "predict":
        return participant.predict(*arguments)
    if kind == "correct":
        return participant.correct(*arguments)
    raise ValueError(f"unknown round kind {kind!r}")
