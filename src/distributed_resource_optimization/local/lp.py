"""A local model that is a linear program, with exact warm-started proximal steps.

Most device and network models of the field are LPs: storage and building dynamics, linearised
grids, conversion units. :class:`LPLocalModel` takes the LP's matrices, the columns the actor
exchanges and the columns that determine all others through the equalities (e.g. the controls of a
storage model, whose states follow from the dynamics), and answers each ADMM iteration with the
proximal step solved by :class:`~distributed_resource_optimization.local.reduced.ReducedProxQP`
(elimination once, DAQP warm-started per independent part).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import scipy.sparse as sp

from distributed_resource_optimization.checks import as_finite_vector, renamed_keyword, tolerance
from distributed_resource_optimization.local.base import LocalModel, LocalModelError
from distributed_resource_optimization.local.clarabel_prox import ClarabelProxQP
from distributed_resource_optimization.local.interior_point import LPBarrier
from distributed_resource_optimization.local.reduced import ReducedProxQP, ReductionError

#: The proximal solvers of an LP model by name: eliminated and split into parts, each a
#: warm-started DAQP workspace (needs ``free``), or the whole LP in one Clarabel solver.
PROX_SOLVERS: dict[str, type] = {"daqp": ReducedProxQP, "clarabel": ClarabelProxQP}
#: Each solver's default tolerance (DAQP: primal feasibility; Clarabel: gap and feasibility).
DEFAULT_SOLVER_TOL: dict[str, float] = {"daqp": 1e-9, "clarabel": 1e-8}
#: The former name of :data:`DEFAULT_SOLVER_TOL`.
DEFAULT_TOL = DEFAULT_SOLVER_TOL


class LPLocalModel(LocalModel):
    """``f(x) = min c'w`` s.t. ``A_eq w = b_eq``, ``A_ub w <= b_ub``, ``lb <= w <= ub``,
    ``x = w[exchange]``; the other entries of ``w`` stay private.

    ``free``: column indices such that the equalities fix every other column (``A_eq``
    restricted to the others square and nonsingular in each independent part). Units are the
    caller's (``c`` in cost per unit of ``w``). Bad shapes, non-finite ``c`` / matrices or
    ``lb > ub`` raise ``ValueError`` naming the argument; a model whose equalities cannot be
    solved for the non-free columns, or that is infeasible, raises :class:`LocalModelError`
    naming the actor from :meth:`prepare` / :meth:`solve`. ``solver`` picks the proximal
    solver from :data:`PROX_SOLVERS` (default ``"daqp"``; ``"clarabel"`` needs no ``free``);
    ``solver_tol`` its tolerance (default :data:`DEFAULT_SOLVER_TOL`; ``tol``: its former name).
       ``certificate_only``: columns whose bounds hold for the certified lower bound
    (:meth:`dual_term`) but not in the proximal steps, e.g. ratings far above any dispatch that
    make the dual term finite: a relaxation with the same optimum while they do not bind.
    """

    def __init__(self, c: Sequence[float] | np.ndarray, A_eq, b_eq, A_ub, b_ub,
                 lb: Sequence[float] | np.ndarray, ub: Sequence[float] | np.ndarray,
                 exchange: Sequence[int] | np.ndarray, free: Sequence[int] | np.ndarray, *,
                 name: str | None = None, variables: Sequence[Hashable] | None = None,
                 rho_scale: Sequence[float] | np.ndarray | None = None,
                 solver_tol: float | None = None, solver: str = "daqp",
                 tol: float | None = None,
                 certificate_only: Sequence[int] | np.ndarray | None = None) -> None:
        if solver not in PROX_SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(PROX_SOLVERS)}, got {solver!r}")
        # Up front: DAQP and Clarabel would take a bad tolerance silently or fail at setup.
        solver_tol, keyword = renamed_keyword(solver_tol, "solver_tol", tol, "tol")
        solver_tol = DEFAULT_SOLVER_TOL[solver] if solver_tol is None else \
            tolerance(solver_tol, keyword)
        c = as_finite_vector(c, "c")
        if c.size == 0:
            raise ValueError("c must hold at least one cost")
        n = c.size
        a_eq, a_ub = _matrix("A_eq", A_eq, n), _matrix("A_ub", A_ub, n)
        b_eq, b_ub = _vector("b_eq", b_eq, a_eq.shape[0]), _vector("b_ub", b_ub, a_ub.shape[0])
        lb, ub = np.asarray(lb, dtype=float), np.asarray(ub, dtype=float)
        for label, arr in (("lb", lb), ("ub", ub)):
            if arr.shape != (n,) or np.any(np.isnan(arr)):
                raise ValueError(f"{label} must hold {n} bounds (+-inf for none), no NaN")
        if np.any(lb > ub):
            raise ValueError(f"lb exceeds ub at column {int(np.flatnonzero(lb > ub)[0])}")
        exchange = _columns("exchange", exchange, n)
        if exchange.size == 0:
            raise ValueError("exchange must name at least one column")
        free = _columns("free", free, n, allow_empty=True)
        relaxed = _columns("certificate_only", [] if certificate_only is None
                           else certificate_only, n, allow_empty=True)
        super().__init__(exchange.size, name=name, variables=variables, rho_scale=rho_scale)
        self.certificate_bounds = (lb, ub)
        if relaxed.size:
            lb, ub = lb.copy(), ub.copy()
            lb[relaxed], ub[relaxed] = -np.inf, np.inf
        self.lp = (c, a_eq, b_eq, a_ub, b_ub, lb, ub)
        self.exchange_index = exchange
        self.free_index = free
        self.solver = solver
        self.solver_tol = solver_tol
        self._reduced: ReducedProxQP | ClarabelProxQP | None = None
        self._w: np.ndarray | None = np.zeros(n)

    def prepare(self) -> None:
        try:
            self._reduced = PROX_SOLVERS[self.solver](*self.lp, self.exchange_index,
                                                      self.free_index, solver_tol=self.solver_tol)
        except ReductionError as exc:
            raise LocalModelError(f"actor {self.label!r}: {exc}") from None

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        if self._reduced is None:
            self.prepare()
        r = np.broadcast_to(np.asarray(rho, dtype=float), (self.size,))
        try:
            x = self._reduced.solve(np.asarray(v, dtype=float), r)
        except ReductionError as exc:
            raise LocalModelError(f"actor {self.label!r}: {exc}") from None
        self._w = None  # the private solution is assembled on demand (see ``w``)
        return x

    @property
    def tol(self) -> float:
        """The former name of :attr:`solver_tol`."""
        return self.solver_tol

    @property
    def w(self) -> np.ndarray:
        """All LP variables of the last solve (private to the actor)."""
        if self._w is None:
            self._w = self._reduced.full_solution()
        return self._w

    def objective(self, x: np.ndarray) -> float:
        """``c'w`` of the last solve (``x`` is its exchanged part)."""
        return float(self.lp[0] @ self.w)

    def barrier(self) -> LPBarrier:
        """The LP as a participant of the interior-point method, with its
        ``certificate_only`` bounds (they keep its polytope bounded)."""
        c, a_eq, b_eq, a_ub, b_ub, _, _ = self.lp
        return LPBarrier(c, a_eq, b_eq, a_ub, b_ub, *self.certificate_bounds,
                         self.exchange_index, name=self.label)

    def dual_term(self, price: np.ndarray) -> float | None:
        """``min c'w + price'w[exchange]`` over the LP's feasible set (with the
        ``certificate_only`` bounds), solved by HiGHS (``-inf`` if unbounded; ``None`` if HiGHS
        ends without an answer)."""
        # scipy.optimize takes 0.2 s to import and only the certified bound needs HiGHS
        from scipy.optimize import linprog

        c, a_eq, b_eq, a_ub, b_ub, _, _ = self.lp
        lb, ub = self.certificate_bounds
        cost = c.copy()
        cost[self.exchange_index] += np.asarray(price, dtype=float)
        res = linprog(cost, A_ub=a_ub if a_ub.shape[0] else None,
                      b_ub=b_ub if a_ub.shape[0] else None,
                      A_eq=a_eq if a_eq.shape[0] else None, b_eq=b_eq if a_eq.shape[0] else None,
                      bounds=np.c_[lb, ub], method="highs")
        if res.status == 0:
            return float(res.fun)
        if res.status == 3:
            return -np.inf
        if res.status == 2:
            raise LocalModelError(f"actor {self.label!r}: local model is infeasible")
        return None


def _matrix(label: str, a, n: int) -> sp.csr_matrix:
    try:
        m = sp.csr_matrix(a if a is not None else (0, n), dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{label} must be a 2-D matrix: {exc}") from None
    if m.shape[1] != n:
        raise ValueError(f"{label} has {m.shape[1]} columns, expected {n} (the length of c)")
    if not np.all(np.isfinite(m.data)):
        raise ValueError(f"{label} holds non-finite entries")
    return m


def _vector(label: str, b, rows: int) -> np.ndarray:
    b = np.zeros(0) if b is None else as_finite_vector(b, label, allow_scalar=True)
    if b.shape != (rows,):
        raise ValueError(f"{label} must hold {rows} finite values, got shape {b.shape}")
    return b


def _columns(label: str, idx, n: int, allow_empty: bool = False) -> np.ndarray:
    idx = np.asarray(idx if idx is not None else [], dtype=int).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{label} holds column indices outside 0..{n - 1}")
    if np.unique(idx).size != idx.size:
        raise ValueError(f"{label} names a column twice")
    if not allow_empty and idx.size == 0:
        raise ValueError(f"{label} must not be empty")
    return idx
