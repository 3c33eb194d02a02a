"""Convex QP local models: given as sparse matrices (OSQP) or as a cvxpy problem (Parameters).

Both are set up once. Per iteration only the linear term ``q - rho * v`` (and, when rho changes,
the diagonal of the quadratic term) is updated, and the solver warm-starts from the last solution.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import clarabel
import numpy as np
import osqp
import scipy.sparse as sp

from distributed_resource_optimization.checks import as_finite_vector, renamed_keyword, tolerance
from distributed_resource_optimization.local.base import LocalModel, LocalModelError
from distributed_resource_optimization.local.clarabel_prox import scaled_rows

#: OSQP iterations per proximal solve before the step is handed to Clarabel (first-order OSQP
#: stalls on the LP-like parts of a model at tight tolerances; an interior point does not).
OSQP_MAX_ITER = 20000

#: Up to this many variables the constructor checks that P is positive semidefinite (a dense
#: eigenvalue decomposition); larger models rely on OSQP's own check at setup.
_PSD_CHECK_MAX_SIZE = 2000


def _osqp_error(exc: Exception) -> str:
    """OSQP's error code as words (it raises ``OSQPException(<code>)``)."""
    code = exc.args[0] if exc.args else None
    try:
        name = osqp.SolverError(int(code)).name
    except (TypeError, ValueError):
        return str(exc) or type(exc).__name__
    meaning = {"OSQP_NONCVX_ERROR": "P is not positive semidefinite (the model is not convex)",
               "OSQP_DATA_VALIDATION_ERROR": "the matrices or bounds are invalid",
               "OSQP_SETTINGS_VALIDATION_ERROR": "invalid solver settings",
               "OSQP_MEM_ALLOC_ERROR": "out of memory"}.get(name, name)
    return f"{meaning} (OSQP error {code}, {name})"


def _rho_vector(rho: float | np.ndarray, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(rho, dtype=float), (n,)).copy()


class QPLocalModel(LocalModel):
    """``f(x) = 1/2 x' P x + q' x`` subject to ``l <= A x <= u`` (OSQP, set up once).

    ``P`` (n x n, positive semidefinite, may be ``None`` for an LP), ``q`` (n), ``A`` (k x n) with
    bounds ``l``/``u`` (k; use ``-inf``/``inf`` for one-sided rows). ``solver_tol`` is the OSQP
    tolerance (absolute and relative, in (0, 1), default 1e-9; ``eps``: its former name). Errors
    in ``P``, ``A``, ``l`` and ``u`` name the model. ``exchange``: the indices of the variables
    the actor shares (its output, in this order); the others stay private, e.g. the flows and
    angles inside an area of a multi-area OPF (default: all are shared). A proximal step OSQP
    does not finish in :data:`OSQP_MAX_ITER` iterations is solved again by Clarabel (interior
    point, same data; :attr:`fallbacks_used` counts those steps); only if both fail does the
    actor fail.
    """

    def __init__(self, q: Sequence[float], P: Any = None, A: Any = None,
                 l: Sequence[float] | None = None, u: Sequence[float] | None = None,  # noqa: E741
                 *, name: str | None = None, variables: Sequence[Hashable] | None = None,
                 rho_scale: Sequence[float] | None = None, solver_tol: float | None = None,
                 eps: float | None = None,
                 exchange: Sequence[int] | np.ndarray | None = None) -> None:
        q_arr = as_finite_vector(q, "q")
        n = q_arr.size
        if n == 0:
            raise ValueError("q must not be empty")
        shared = np.arange(n) if exchange is None else np.asarray(exchange)
        if (shared.ndim != 1 or shared.size == 0 or not np.issubdtype(shared.dtype, np.integer)
                or shared.min() < 0 or shared.max() >= n or np.unique(shared).size != shared.size):
            raise ValueError(f"exchange must list distinct variable indices in [0, {n}), at "
                             "least one")
        # Checked before the matrices: OSQP would report a bad value only at setup, as a bare
        # "invalid solver settings" that does not say which.
        solver_tol, keyword = renamed_keyword(solver_tol, "solver_tol", eps, "eps")
        self.solver_tol = 1e-9 if solver_tol is None else tolerance(solver_tol, keyword)
        super().__init__(shared.size, name=name, variables=variables, rho_scale=rho_scale)
        self.exchange = shared.astype(int)
        self.w = np.zeros(n)  # all variables of the last solve (the private ones included)
        # A user builds many QP models; the errors on their matrices say which one.
        who = f"QPLocalModel {name!r}" if name is not None else \
            "an unnamed QPLocalModel (pass name=... to tell them apart)"
        self.q = q_arr
        self.P = sp.csc_matrix((n, n)) if P is None else sp.csc_matrix(P, dtype=float)
        if self.P.shape != (n, n):
            raise ValueError(f"{who}: P has shape {self.P.shape}, expected ({n}, {n}) to match q")
        if not np.all(np.isfinite(self.P.data)):
            raise ValueError(f"{who}: P contains NaN or infinite values")
        if abs(self.P - self.P.T).max() > 1e-12 * max(1.0, abs(self.P).max()):
            raise ValueError(f"{who}: P must be symmetric")
        if n <= _PSD_CHECK_MAX_SIZE and self.P.nnz:
            # OSQP reports a non-convex P at setup only for the first rho, and silently keeps
            # its old matrix when a later rho update makes the KKT system indefinite.
            lowest = float(np.linalg.eigvalsh(self.P.toarray()).min())
            if lowest < -1e-9 * max(1.0, abs(self.P).max()):
                raise ValueError(f"{who}: P must be positive semidefinite (its smallest "
                                 f"eigenvalue is {lowest:.3g}): the model must be convex")
        if A is None:
            self.A = sp.csc_matrix((0, n))
            self.l = np.zeros(0)
            self.u = np.zeros(0)
        else:
            self.A = sp.csc_matrix(A, dtype=float)
            k = self.A.shape[0]
            if self.A.shape[1] != n:
                raise ValueError(f"{who}: A has {self.A.shape[1]} columns, expected {n} to match q")
            if not np.all(np.isfinite(self.A.data)):
                raise ValueError(f"{who}: A contains NaN or infinite values")
            self.l = np.full(k, -np.inf) if l is None else np.asarray(l, dtype=float).ravel()
            self.u = np.full(k, np.inf) if u is None else np.asarray(u, dtype=float).ravel()
            for label, b in (("l", self.l), ("u", self.u)):
                if b.shape != (k,):
                    raise ValueError(f"{who}: {label} has length {b.size}, expected {k} (rows of A)")
                if np.any(np.isnan(b)):
                    raise ValueError(f"{who}: {label} contains NaN")
            if np.any(self.l > self.u):
                raise ValueError(f"{who}: l must not exceed u in any row")
        self._solver: Any = None
        self._rho: np.ndarray | None = None
        self._clarabel: Any = None
        #: Proximal steps that only the Clarabel fallback finished.
        self.fallbacks_used = 0

    def prepare(self) -> None:
        n = self.q.size
        # Upper triangle of P plus an explicit diagonal entry in every column (built as a
        # pattern, so no entry cancels out), so later rho changes keep the sparsity pattern
        # OSQP factorised once.
        upper = sp.triu(self.P, format="coo")
        P_up = sp.coo_matrix((np.r_[upper.data, np.zeros(n)],
                              (np.r_[upper.row, np.arange(n)], np.r_[upper.col, np.arange(n)])),
                             shape=(n, n)).tocsc()
        P_up.sort_indices()
        diag_pos = np.empty(n, dtype=int)
        for j in range(n):
            rows = P_up.indices[P_up.indptr[j]:P_up.indptr[j + 1]]
            diag_pos[j] = P_up.indptr[j] + int(np.flatnonzero(rows == j)[0])
        self._P_base = P_up.data.copy()
        self._diag_pos = diag_pos
        # P + diag(rho) on that pattern, for the current rho (what OSQP holds, and what the
        # Clarabel fallback is given).
        self._P_prox = P_up
        self._solver = osqp.OSQP()
        self._rho = np.ones(self.size)
        P_up.data = self._prox_hessian(self._rho)
        try:
            self._solver.setup(P_up, self.q.copy(), self.A, self.l, self.u, verbose=False,
                               eps_abs=self.solver_tol, eps_rel=self.solver_tol, polishing=False,
                               max_iter=OSQP_MAX_ITER, warm_starting=True)
        except Exception as exc:  # OSQP reports a bare error code
            raise LocalModelError(f"actor {self.label!r}: OSQP setup failed: "
                                  f"{_osqp_error(exc)}") from None
        # A first solve finds an infeasible model before any ADMM iteration runs.
        self._run(self._prox_q(np.ones(self.size), np.zeros(self.size)))

    @property
    def eps(self) -> float:
        """The former name of :attr:`solver_tol`."""
        return self.solver_tol

    def _run(self, q: np.ndarray) -> np.ndarray:
        self._solver.update(q=q)
        res = self._solver.solve(raise_error=False)
        status = res.info.status
        if "infeasible" in status:
            raise LocalModelError(f"actor {self.label!r}: local model is infeasible ({status})")
        if status in ("solved", "solved inaccurate"):
            self.w = np.asarray(res.x, dtype=float)
        else:
            self.w = self._run_clarabel(q, status)
            self._solver.warm_start(x=self.w)  # OSQP's next step starts from the answer
        return self.w[self.exchange]

    def _clarabel_rows(self) -> tuple[sp.csc_matrix, np.ndarray, list[Any]]:
        """``l <= A x <= u`` as Clarabel cones: equalities, then ``A x <= u``, then ``-A x <= -l``
        (infinite sides dropped); rows scaled to unit largest coefficient."""
        eq = self.l == self.u
        up = ~eq & np.isfinite(self.u)
        lo = ~eq & np.isfinite(self.l)
        A = sp.csr_matrix(self.A)
        a, b = scaled_rows(sp.vstack([A[eq], A[up], -A[lo]], format="csr"),
                           np.r_[self.u[eq], self.u[up], -self.l[lo]])
        cones = [clarabel.ZeroConeT(int(eq.sum())),
                 clarabel.NonnegativeConeT(int(up.sum() + lo.sum()))]
        return a, b, cones

    def _run_clarabel(self, q: np.ndarray, osqp_status: str) -> np.ndarray:
        """The proximal QP ``q`` (the current ``P + diag(rho)``, :attr:`_P_prox`) by Clarabel,
        set up on first use with OSQP's upper-triangular pattern, so later calls only update
        values."""
        P = self._P_prox
        if self._clarabel is None:
            a, b, cones = self._clarabel_rows()
            settings = clarabel.DefaultSettings()
            settings.verbose = False
            settings.presolve_enable = False  # keeps the data layout fixed for updates
            settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = \
                max(self.solver_tol, 1e-10)
            self._clarabel = clarabel.DefaultSolver(P, q.copy(), a, b, cones, settings)
        else:
            self._clarabel.update(P=P.data, q=q)
        sol = self._clarabel.solve()
        status = str(sol.status)
        if "Infeasible" in status:
            raise LocalModelError(f"actor {self.label!r}: local model is infeasible (OSQP: "
                                  f"{osqp_status}; Clarabel: {status})")
        if status not in ("Solved", "AlmostSolved"):
            raise LocalModelError(f"actor {self.label!r}: local QP not solved (OSQP: "
                                  f"{osqp_status}; Clarabel: {status})")
        self.fallbacks_used += 1
        return np.asarray(sol.x, dtype=float)

    def _prox_hessian(self, r: np.ndarray) -> np.ndarray:
        """The values of ``P + diag(r)`` (``r`` on the exchanged variables) on the pattern."""
        data = self._P_base.copy()
        data[self._diag_pos[self.exchange]] += r
        return data

    def _prox_q(self, r: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The linear cost with the proximal term ``(r/2)||w[exchange] - v||^2``."""
        q = self.q.copy()
        q[self.exchange] -= r * np.asarray(v, dtype=float)
        return q

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        if self._solver is None:
            self.prepare()
        r = _rho_vector(rho, self.size)
        if self._rho is None or not np.array_equal(r, self._rho):
            self._P_prox.data = self._prox_hessian(r)
            self._solver.update(Px=self._P_prox.data)
            self._rho = r
        return self._run(self._prox_q(r, v))

    def objective(self, x: np.ndarray) -> float:
        """``f`` at the last solve's variables (``x`` is their shared part); with every
        variable shared, at ``x`` itself."""
        if self.exchange.size == self.q.size:
            w = np.empty(self.q.size)
            w[self.exchange] = np.asarray(x, dtype=float)
        else:
            w = self.w
        return float(0.5 * w @ (self.P @ w) + self.q @ w)


class CvxpyLocalModel(LocalModel):
    """A local model written in cvxpy: variable ``x``, convex ``objective`` and ``constraints``.

    The engine adds ``(rho/2)||x - v||^2`` through cvxpy Parameters (DPP), so the problem is
    compiled once and re-solved with new parameter values each iteration. ``solver`` is any cvxpy
    QP solver name (default Clarabel); where it fails or stalls on a proximal problem, each of
    ``fallback_solvers`` is tried in turn (:attr:`fallbacks_used` counts those solves), and only
    if all fail does the actor fail, naming each solver's outcome.
    """

    def __init__(self, x: Any, objective: Any = None, constraints: Sequence[Any] = (),
                 *, name: str | None = None, variables: Sequence[Hashable] | None = None,
                 rho_scale: Sequence[float] | None = None, solver: str = "CLARABEL",
                 fallback_solvers: Sequence[str] = ("OSQP", "SCS")) -> None:
        try:
            # cvxpy is heavy (0.7 s) and an optional extra, for cvxpy models only: loaded here
            import cvxpy as cp
        except ImportError as exc:
            raise ImportError("CvxpyLocalModel needs cvxpy, an optional extra: pip install "
                              "'distributed-resource-optimization[cvxpy]'") from exc

        if not isinstance(x, cp.Variable):
            raise TypeError(f"x must be a cvxpy Variable, got {type(x).__name__}")
        if x.ndim > 1:
            raise ValueError("x must be a one-dimensional cvxpy Variable")
        super().__init__(x.size, name=name, variables=variables, rho_scale=rho_scale)
        self.var = x
        self.cost = cp.Constant(0.0) if objective is None else objective
        self.constraints = list(constraints)
        self._sqrt_rho = cp.Parameter(x.size, nonneg=True, value=np.ones(x.size))
        self._w = cp.Parameter(x.size, value=np.zeros(x.size))
        prox = 0.5 * cp.sum_squares(cp.multiply(self._sqrt_rho, x) - self._w)
        self.problem = cp.Problem(cp.Minimize(self.cost + prox), self.constraints)
        if not self.problem.is_dcp(dpp=True):
            raise ValueError(f"actor {self.label!r}: the cvxpy local model is not convex (DCP) "
                             "or uses parameters in a non-DPP way")
        self.solver = solver
        self.fallback_solvers = tuple(s for s in fallback_solvers if s != solver)
        #: Proximal solves that only a fallback solver finished.
        self.fallbacks_used = 0
        self._prepared = False

    def prepare(self) -> None:
        self._solve_with(np.ones(self.size), np.zeros(self.size))
        self._prepared = True

    def _solve_with(self, rho: np.ndarray, v: np.ndarray) -> np.ndarray:
        # cvxpy is heavy: loaded by the constructor already, this only binds the name
        import cvxpy as cp

        sr = np.sqrt(rho)
        self._sqrt_rho.value = sr
        self._w.value = sr * v
        failures = []
        # A solver that stalls on one proximal problem does not end the run: the next one of
        # ``fallback_solvers`` tries the same problem.
        for solver in (self.solver, *self.fallback_solvers):
            try:
                self.problem.solve(solver=solver, warm_start=True)
            except cp.error.SolverError as exc:
                failures.append(f"{solver}: {' '.join(str(exc).split())[:120]}")
                continue
            status = self.problem.status
            if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
                raise LocalModelError(f"actor {self.label!r}: local model is infeasible")
            if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and self.var.value is not None:
                if solver != self.solver:
                    self.fallbacks_used += 1
                return np.asarray(self.var.value, dtype=float).ravel()
            failures.append(f"{solver}: {status}")
        raise LocalModelError(f"actor {self.label!r}: local model not solved "
                              f"({'; '.join(failures)})")

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        return self._solve_with(_rho_vector(rho, self.size), np.asarray(v, dtype=float))

    def objective(self, x: np.ndarray) -> float:
        self.var.value = np.asarray(x, dtype=float).reshape(self.var.shape)
        value = self.cost.value
        return float(value) if value is not None else 0.0
