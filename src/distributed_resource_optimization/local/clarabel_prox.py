"""Proximal step of an LP in one Clarabel interior-point solver, set up once.

The alternative to :class:`~.reduced.ReducedProxQP` for an LP whose equalities do not fix the
private variables from a few free ones (no elimination possible): the whole LP with the penalty
on its exchanged columns, ``min c'w + sum_j rho_j/2 (w_j - v_j)^2`` over the LP's constraints,
in one Clarabel solver. Per call only the linear term changes, and the Hessian's diagonal values
when rho changes (the pattern never does). About 30-200x slower per solve than the reduced DAQP
parts and accurate to about its tolerance ``solver_tol`` (docs/market_clearing.md).
"""

from __future__ import annotations

import clarabel
import numpy as np
import scipy.sparse as sp

from distributed_resource_optimization.checks import renamed_keyword
from distributed_resource_optimization.local.reduced import ReductionError


def scaled_rows(a: sp.spmatrix, b: np.ndarray) -> tuple[sp.csc_matrix, np.ndarray]:
    """Constraint rows ``a x (cone) b`` with every row divided by its largest coefficient (rows
    of zeros kept as they are): Clarabel's own equilibration does not reach coefficients many
    orders of magnitude apart."""
    a = sp.csr_matrix(a)
    big = np.asarray(abs(a).max(axis=1).todense()).ravel() if a.shape[0] else np.zeros(0)
    s = np.where(big > 0, 1.0 / np.where(big > 0, big, 1.0), 1.0)
    return (sp.diags(s) @ a).tocsc(), np.asarray(b, dtype=float) * s


class ClarabelProxQP:
    """Same interface as :class:`~.reduced.ReducedProxQP` (``free`` is not needed and ignored);
    ``solver_tol`` is Clarabel's gap and feasibility tolerance (``tol``: its former name)."""

    def __init__(self, c: np.ndarray, A_eq: sp.spmatrix, b_eq: np.ndarray, A_ub: sp.spmatrix,
                 b_ub: np.ndarray, lb: np.ndarray, ub: np.ndarray, exchange: np.ndarray,
                 free: np.ndarray | None = None, *, solver_tol: float | None = None,
                 tol: float | None = None) -> None:
        solver_tol, _ = renamed_keyword(solver_tol, "solver_tol", tol, "tol")
        self.c = np.asarray(c, dtype=float)
        n = self.c.size
        self.exchange = np.asarray(exchange, dtype=int)
        self.solver_tol = 1e-8 if solver_tol is None else float(solver_tol)
        lb, ub = np.asarray(lb, dtype=float), np.asarray(ub, dtype=float)
        fl, fu = np.isfinite(lb), np.isfinite(ub)
        eye = sp.identity(n, format="csr")
        a = sp.vstack([sp.csr_matrix(A_eq), sp.csr_matrix(A_ub), eye[fu], -eye[fl]],
                      format="csr")
        rhs = np.concatenate([np.asarray(b_eq, dtype=float), np.asarray(b_ub, dtype=float),
                              ub[fu], -lb[fl]])
        # Row scaling: the thermal grid's rows have coefficients of 1e-8..1e-5 per kW.
        self._a, self._rhs = scaled_rows(a, rhs)
        self._cones = [clarabel.ZeroConeT(int(np.asarray(b_eq).size)),
                       clarabel.NonnegativeConeT(int(np.asarray(b_ub).size) + int(fu.sum())
                                                 + int(fl.sum()))]
        # Diagonal Hessian on the exchanged columns only, stored in increasing column order;
        # rho changes update its values in place.
        self._order = np.argsort(self.exchange)
        diag = np.zeros(n)
        diag[self.exchange] = 1.0
        p = sp.csc_matrix(sp.diags(diag))
        p.eliminate_zeros()
        p.sort_indices()
        self._pattern = p
        self._rho = np.ones(self.exchange.size)
        self._w = np.zeros(n)
        self._setup()
        self._run(self.c.copy())  # a first solve: feasibility is known before the first round

    @property
    def tol(self) -> float:
        """The former name of :attr:`solver_tol`."""
        return self.solver_tol

    def _setup(self, robust: bool = False) -> None:
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.presolve_enable = False  # keep the problem data layout fixed for updates
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = self.solver_tol
        if robust:  # after a failed solve: more equilibration, stricter infeasibility test
            settings.equilibrate_max_iter = 50
            settings.tol_infeas_abs = settings.tol_infeas_rel = 1e-12
            settings.max_iter = 500
        p = self._pattern.copy()
        p.data = np.ascontiguousarray(self._rho[self._order], dtype=float)
        self._solver = clarabel.DefaultSolver(p, self.c.copy(), self._a, self._rhs, self._cones,
                                              settings)

    def _run(self, q: np.ndarray) -> np.ndarray:
        self._solver.update(q=q)
        sol = self._solver.solve()
        if str(sol.status) not in ("Solved", "AlmostSolved"):
            # Interior-point misdiagnoses (e.g. "DualInfeasible" at a large rho): the proximal
            # problem is feasible and bounded, so retry once from a fresh, more robust setup.
            self._setup(robust=True)
            self._solver.update(q=q)
            sol = self._solver.solve()
        status = str(sol.status)
        if "Infeasible" in status:
            raise ReductionError(f"local model is infeasible ({status})")
        if status not in ("Solved", "AlmostSolved"):
            raise ReductionError(f"local QP not solved ({status})")
        self._w = np.asarray(sol.x, dtype=float)
        return self._w[self.exchange]

    def solve(self, v: np.ndarray, rho: np.ndarray) -> np.ndarray:
        """``x = w[exchange]`` of the proximal step at ``v`` with per-entry penalty ``rho``."""
        r = np.broadcast_to(np.asarray(rho, dtype=float), (self.exchange.size,)).copy()
        if not np.array_equal(r, self._rho):
            self._solver.update(P=np.ascontiguousarray(r[self._order]))
            self._rho = r
        q = self.c.copy()
        q[self.exchange] -= r * np.asarray(v, dtype=float)
        return self._run(q)

    def full_solution(self) -> np.ndarray:
        """All variables ``w`` of the last solve."""
        return self._w
