"""Proximal steps of linear programs by elimination and a warm-started dual active-set method.

An ADMM actor whose private model is an LP,

    min c'w   s.t.  A_eq w = b_eq,  A_ub w <= b_ub,  lb <= w <= ub,

answers each iteration with the proximal step on its exchanged entries ``x = w[e]``:

    min c'w + sum_j rho_j / 2 (w[e_j] - v_j)^2   over the same constraints.

Energy models are LPs whose equality constraints fix most variables once a few *free* ones are
chosen (grid operators: source power from the nodal demands; buildings: states, outputs and
demands from the controls). :class:`ReducedProxQP` eliminates the equalities once,
``w = w0 + N xi``, splits the reduced problem into its independent parts (one per timestep for a
grid, one per building for an aggregator: connected components of the constraint graph), and keeps
one DAQP workspace per part. Each ADMM iteration then updates only the linear term (and the
Hessian when rho changes) and re-solves from the previous active set, which after the first few
iterations is usually already optimal: one factorisation, no interior-point restart. DAQP returns
an exact vertex of the active set (to rounding), so the ADMM map it defines is piecewise affine,
which is what makes Anderson acceleration effective.

Pure numerics: numpy, scipy and daqp (Clarabel for a stalled part); no energy models, no
runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

import clarabel
import daqp
import numpy as np
import scipy.sparse as sp

from distributed_resource_optimization.checks import renamed_keyword


class ReductionError(ValueError):
    """The equality constraints cannot be solved for the non-free variables."""


@dataclass
class _Part:
    cols: np.ndarray  # columns of w in this part; w[cols] = w0 + N xi
    w0: np.ndarray
    N: np.ndarray
    pos: np.ndarray  # positions in the exchange vector
    x0: np.ndarray  # x[pos] = x0 + X xi
    X: np.ndarray
    g: np.ndarray  # reduced linear cost N' c
    G: np.ndarray  # lo <= G xi <= hi
    lo: np.ndarray
    hi: np.ndarray
    model: object = None
    rho: np.ndarray | None = None
    d: np.ndarray | None = None  # Jacobi scaling of xi for the current rho
    scaled: tuple | None = None  # (H, G, lo, hi) in scaled variables


class ReducedProxQP:
    """Proximal step of an LP over its exchanged entries, solved part by part with DAQP.

    ``exchange`` are the column indices of the exchanged entries ``x = w[exchange]``; ``free`` the
    columns kept as unknowns; all other columns must be determined by ``A_eq`` given the free ones
    (``A_eq`` restricted to them square and nonsingular within each part, else
    :class:`ReductionError`). ``solver_tol`` (former name ``tol``) is DAQP's primal feasibility
    tolerance (in the rows' own units after scaling each row to unit largest coefficient).
    """

    def __init__(self, c: np.ndarray, A_eq: sp.spmatrix, b_eq: np.ndarray, A_ub: sp.spmatrix,
                 b_ub: np.ndarray, lb: np.ndarray, ub: np.ndarray, exchange: np.ndarray,
                 free: np.ndarray, *, solver_tol: float | None = None,
                 tol: float | None = None) -> None:
        solver_tol, _ = renamed_keyword(solver_tol, "solver_tol", tol, "tol")
        n = int(np.asarray(c).size)
        self.n = n
        self.c = np.asarray(c, dtype=float)
        self.exchange = np.asarray(exchange, dtype=int)
        self.solver_tol = 1e-9 if solver_tol is None else float(solver_tol)
        a_eq = sp.csr_matrix(A_eq)
        a_ub = sp.csr_matrix(A_ub)
        b_eq = np.asarray(b_eq, dtype=float)
        b_ub = np.asarray(b_ub, dtype=float)
        lb = np.asarray(lb, dtype=float)
        ub = np.asarray(ub, dtype=float)
        is_free = np.zeros(n, dtype=bool)
        is_free[np.asarray(free, dtype=int)] = True

        # Parts: columns linked by any constraint row belong together.
        pattern = sp.vstack([a_eq, a_ub], format="csr").astype(bool).astype(float)
        link = (pattern.T @ pattern).tocsr()
        # scipy.sparse.csgraph and .linalg (0.1 s with scipy.linalg): only a reduction needs
        # them, not every process that imports the local models (a flex agent never reduces)
        from scipy.sparse.csgraph import connected_components

        n_parts, label = connected_components(link, directed=False)
        pos_of_col = np.full(n, -1)
        pos_of_col[self.exchange] = np.arange(self.exchange.size)
        eq_part = _row_part(a_eq, label)
        ub_part = _row_part(a_ub, label)
        self.parts: list[_Part] = []
        for k in range(n_parts):
            cols = np.flatnonzero(label == k)
            pos_local = np.flatnonzero(pos_of_col[cols] >= 0)
            fr = np.flatnonzero(is_free[cols])
            dep = np.flatnonzero(~is_free[cols])
            rows = np.flatnonzero(eq_part == k)
            if rows.size != dep.size:
                raise ReductionError(
                    f"part {k}: {rows.size} equality rows for {dep.size} non-free variables; "
                    "choose the free variables so that the equalities determine the others")
            n_loc = np.zeros((cols.size, fr.size))
            w0 = np.zeros(cols.size)
            n_loc[fr, np.arange(fr.size)] = 1.0
            if dep.size:
                sub = a_eq[rows][:, cols]
                a_dep = sub[:, dep].tocsc()
                try:
                    from scipy.sparse.linalg import splu  # see connected_components above

                    lu = splu(a_dep)
                except RuntimeError as exc:
                    raise ReductionError(f"part {k}: the equalities do not determine the "
                                         f"non-free variables ({exc})") from None
                w0[dep] = lu.solve(b_eq[rows])
                if fr.size:
                    rhs = np.asarray(sub[:, fr].todense())
                    n_loc[dep] = -lu.solve(rhs)
            # Inequalities: A_ub rows of the part and finite bounds of its columns.
            urows = np.flatnonzero(ub_part == k)
            g_rows, lo, hi = [], [], []
            if urows.size:
                a = a_ub[urows][:, cols]
                g_rows.append(np.asarray(a @ n_loc))
                hi.append(b_ub[urows] - a @ w0)
                lo.append(np.full(urows.size, -np.inf))
            bounded = np.flatnonzero(np.isfinite(lb[cols]) | np.isfinite(ub[cols]))
            if bounded.size:
                g_rows.append(n_loc[bounded])
                lo.append(lb[cols][bounded] - w0[bounded])
                hi.append(ub[cols][bounded] - w0[bounded])
            if g_rows:
                G = np.vstack(g_rows)
                lo_v, hi_v = np.concatenate(lo), np.concatenate(hi)
            else:
                G, lo_v, hi_v = np.zeros((0, fr.size)), np.zeros(0), np.zeros(0)
            scale = np.max(np.abs(G), axis=1) if G.shape[1] else np.zeros(G.shape[0])
            zero = scale <= 1e-14 * max(1.0, float(np.max(scale, initial=0.0)))
            if np.any((lo_v[zero] > 1e-9) | (hi_v[zero] < -1e-9)):
                raise ReductionError(f"part {k}: a constraint fixed by the equalities is violated "
                                     "(the model is infeasible)")
            keep = ~zero  # rows are scaled per rho in ``_load``, with the Jacobi scaling
            G, lo_v, hi_v = G[keep], lo_v[keep], hi_v[keep]
            pos = pos_of_col[cols[pos_local]]
            self.parts.append(_Part(
                cols=cols, w0=w0, N=n_loc, pos=pos, x0=w0[pos_local],
                X=n_loc[pos_local], g=n_loc.T @ self.c[cols], G=np.ascontiguousarray(G),
                lo=lo_v, hi=hi_v))
        self.constant = float(sum(p.w0 @ self.c[p.cols] for p in self.parts))
        self._rho: np.ndarray | None = None
        # All parts' linear terms and answers in one sparse product each (the per-part Python
        # loop then only talks to DAQP): X_all maps the stacked xi to the exchange vector. Every
        # exchanged entry lies in exactly one part, so the parts' rows permute onto it. (Sparse
        # blocks: block_diag keeps every entry of a dense block, zeros included, 45x the work.)
        rows = np.argsort(np.concatenate([q.pos for q in self.parts]))
        self._x0 = np.concatenate([q.x0 for q in self.parts])[rows]
        self._X_all = sp.block_diag([sp.csr_matrix(q.X) for q in self.parts], format="csr")[rows]
        self._XT_all = self._X_all.T.tocsr()
        xi_off = np.cumsum([0] + [q.X.shape[1] for q in self.parts])
        self._slices = [slice(int(a), int(b)) for a, b in zip(xi_off[:-1], xi_off[1:])]
        self._g_all = np.concatenate([q.g for q in self.parts])
        self._d_all = np.ones(int(xi_off[-1]))
        self._xi: np.ndarray | None = None  # answers of the last solve, unscaled

    def solve(self, v: np.ndarray, rho: np.ndarray) -> np.ndarray:
        """Exchanged entries ``x`` of the proximal step for target ``v`` and per-entry ``rho``."""
        rho = np.asarray(rho, dtype=float)
        if self._rho is None or not np.array_equal(rho, self._rho):
            for k, p in enumerate(self.parts):
                if p.X.shape[1] and (p.model is None or not np.array_equal(rho[p.pos], p.rho)):
                    self._load(p, rho[p.pos])
                    self._d_all[self._slices[k]] = p.d
            self._rho = rho.copy()
        f_all = self._d_all * (self._g_all + self._XT_all @ (rho * (self._x0 - v)))
        # A fresh buffer: a solve that raises leaves the previous answers (full_solution) intact.
        xi_all = np.empty_like(self._d_all)
        for k, (p, sl) in enumerate(zip(self.parts, self._slices)):
            if sl.start == sl.stop:
                continue
            f = f_all[sl]
            p.model.update(f=f)
            xi, _, flag, _ = p.model.solve()
            if flag < 0 and flag != -1:
                # DAQP can stall (cycling, iteration limit) on a badly conditioned part after
                # rho moved by orders of magnitude: solve that part by interior point instead.
                xi, flag = self._fallback(p, f), 1
            if flag < 0:
                raise ReductionError(f"part {k}: DAQP failed (exit flag {flag}; -1 means "
                                     "infeasible)")
            xi_all[sl] = xi
        xi_all *= self._d_all
        self._xi = xi_all
        return self._x0 + self._X_all @ xi_all

    @property
    def tol(self) -> float:
        """The former name of :attr:`solver_tol`."""
        return self.solver_tol

    def _load(self, p: _Part, r: np.ndarray) -> None:
        """(Re)build the part's Hessian for ``rho = r`` in Jacobi-scaled variables ``xi / d``.

        The scaling keeps DAQP's factorisations well conditioned when the penalties of the
        entries differ by orders of magnitude; the warm-start active set stays valid because
        the constraint rows keep their order."""
        H = (p.X.T * r) @ p.X
        diag = np.diag(H).copy()
        d = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 1.0)
        Hs = H * d[:, None] * d[None, :]
        Gd = p.G * d[None, :]
        rows = np.max(np.abs(Gd), axis=1) if Gd.size else np.zeros(0)
        rows = np.where(rows > 0, rows, 1.0)
        Gs = np.ascontiguousarray(Gd / rows[:, None])
        hi, lo = p.hi / rows, p.lo / rows
        zero_f = np.zeros(H.shape[0])
        if p.model is None:
            p.model = daqp.Model()
            p.model.settings = {"primal_tol": self.solver_tol, "iter_limit": 10000}
            flag, _ = p.model.setup(Hs, zero_f, Gs, hi, lo)
            if flag < 0:
                raise ReductionError(f"DAQP setup failed (exit flag {flag})")
        else:
            p.model.update(H=Hs, f=zero_f, A=Gs, bupper=hi, blower=lo)
        p.rho = r.copy()
        p.d = d
        p.scaled = (Hs, Gs, lo, hi)

    def _fallback(self, p: _Part, f: np.ndarray) -> np.ndarray:
        Hs, Gs, lo, hi = p.scaled
        up, dn = np.isfinite(hi), np.isfinite(lo)
        a = sp.csc_matrix(np.vstack([Gs[up], -Gs[dn]]))
        b = np.concatenate([hi[up], -lo[dn]])
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-10
        solver = clarabel.DefaultSolver(sp.triu(sp.csc_matrix(Hs), format="csc"), f, a, b,
                                        [clarabel.NonnegativeConeT(b.size)], settings)
        sol = solver.solve()
        if str(sol.status) not in ("Solved", "AlmostSolved"):
            raise ReductionError(f"DAQP and Clarabel failed ({sol.status})")
        return np.asarray(sol.x)

    def full_solution(self) -> np.ndarray:
        """All variables ``w`` of the last solve."""
        w = np.zeros(self.n)
        for p, sl in zip(self.parts, self._slices):
            w[p.cols] = p.w0 if self._xi is None else p.w0 + p.N @ self._xi[sl]
        return w


def _row_part(a: sp.csr_matrix, label: np.ndarray) -> np.ndarray:
    """Part of each row: the label of its first nonzero column (a row lies within one part);
    -1 for empty rows."""
    a = sp.csr_matrix(a)
    nonempty = np.diff(a.indptr) > 0
    part = np.full(a.shape[0], -1)
    part[nonempty] = label[a.indices[a.indptr[:-1][nonempty]]]
    return part
