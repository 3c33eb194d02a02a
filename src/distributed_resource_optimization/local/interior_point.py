"""A participant's LP in the distributed interior-point method
(:mod:`~distributed_resource_optimization.interior_point.consensus`).

The LP ``min c'w  s.t.  A_eq w = b_eq,  A_ub w <= b_ub,  lb <= w <= ub`` is held in the form
``G w + s = h, s >= 0`` (the inequalities and the finite bounds), with prices ``lam >= 0`` of the
inequalities, ``nu`` of the equalities and ``y`` of the exchanged entries ``x = w[exchange]``.
Each Newton step solves, per independent part of the LP (connected components of its constraint
graph: a timestep of a grid, a building of an aggregator),

    [ G' diag(lam/s) G   A_eq' ] [dw ]   [ rhs - S' dy ]
    [ A_eq               0     ] [dnu] = [ -r_p        ]

once factored per iteration; the condensed sensitivity ``D = S K^{-1} S'`` on the exchanged
entries is what the participant reveals of its model: how its exchanges answer a price change
around the current point (its local bid curve). Pure numerics (numpy, scipy).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import scipy.sparse as sp

from distributed_resource_optimization.interior_point.consensus import (
    BARRIER_REGULARISATION,
    STEP_FRACTION,
    BarrierParticipant,
    Factored,
    Predicted,
    StepLimits,
    dense_sum,
    step_limit,
)
from distributed_resource_optimization.local.base import LocalModel, LocalModelError

#: Diagonal regularisation of the barrier Hessian and of the equality block: keeps each part's
#: factorisation defined for columns without inequalities. Small, because the step solves the
#: regularised system: at 1e-9 the market's stationarity residual stalled at 3e-7 (measured).
#: Tried in turn where a part's system is exactly singular in floating point (barrier terms
#: of 1e18 and more at the last iterations).
_REGULARISATIONS = (BARRIER_REGULARISATION, 1e-8, 1e-5)
#: ... and then these times the largest barrier term (the last iterations before the stop).
_RELATIVE_REGULARISATIONS = (1e-12, 1e-8)
#: Local Newton steps allowed to find an interior point before the model counts as infeasible.
START_ITERS = 100


class _KKTPattern:
    """One part's Newton matrix ``[[G' diag(d) G + reg I, A'], [A, -0.1 reg I]]`` with its
    sparsity worked out once: per iteration only its values are computed (``d``: the barrier
    weights ``lam / s`` of the part's inequality rows). Building it from sparse products every
    iteration cost 2.5 ms per part in scipy's bookkeeping, ten times its factorisation
    (measured: 9 of the 25 s of the 30-min market)."""

    def __init__(self, g: sp.spmatrix, a: sp.spmatrix) -> None:
        g = sp.csr_matrix(g)
        g.sum_duplicates()
        n = g.shape[1]
        k = a.shape[0]
        # The Hessian's pattern: every pair of columns that share a row, and the diagonal.
        ones = g.copy()
        ones.data[:] = 1.0
        pattern = (ones.T @ ones + sp.identity(n, format="csr")).tocsc()
        pattern.sort_indices()
        column = np.repeat(np.arange(n), np.diff(pattern.indptr))
        keys = column * n + pattern.indices  # column-major, sorted
        # Hessian entry (i, j) = sum over rows r of (g[r, i] g[r, j]) d[r]: one sparse product.
        # Every pair of stored entries of a row, the row's entries repeated per partner.
        counts = np.diff(g.indptr)
        row_of = np.repeat(np.arange(g.shape[0]), counts)
        partners = counts[row_of]
        first = np.repeat(np.arange(g.nnz), partners)
        offset = np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners)
        second = g.indptr[row_of[first]] + offset
        self._weights = sp.csr_matrix(
            (g.data[first] * g.data[second],
             (np.searchsorted(keys, g.indices[second] * n + g.indices[first]), row_of[first])),
            shape=(keys.size, g.shape[0]))
        self._diagonal = np.searchsorted(keys, np.arange(n) * n + np.arange(n))
        # The whole matrix's pattern, each stored entry traced to its source by a code: the
        # Hessian's entries 1..n_h, A's (and A''s) next, the equality block's diagonal last.
        n_h = keys.size
        a = sp.csc_matrix(a)
        a.sum_duplicates()
        code = pattern.copy()
        code.data = np.arange(1.0, n_h + 1.0)
        if k:
            fixed = sp.csc_matrix((np.arange(n_h + 1.0, n_h + 1.0 + a.nnz), a.indices, a.indptr),
                                  shape=a.shape)
            eye = sp.identity(k, format="csc") * (n_h + 1.0 + a.nnz)
            whole = sp.bmat([[code, fixed.T], [fixed, eye]], format="csc")
        else:
            whole = code
        whole.sort_indices()
        tag = whole.data.astype(np.int64)
        self._indices, self._indptr = whole.indices.copy(), whole.indptr.copy()
        self.size = whole.shape[0]
        self._hessian_at = np.flatnonzero(tag <= n_h)
        self._hessian_of = tag[self._hessian_at] - 1
        a_at = (tag > n_h) & (tag <= n_h + a.nnz)
        self._base = np.zeros(tag.size)
        self._base[a_at] = a.data[tag[a_at] - n_h - 1]
        self._equality_at = np.flatnonzero(tag == n_h + a.nnz + 1)
        self._hessian_diagonal_at = self._hessian_at[np.argsort(self._hessian_of)][
            self._diagonal]

    def hessian(self, d: np.ndarray) -> np.ndarray:
        """The values of ``G' diag(d) G`` on the pattern."""
        return self._weights @ d

    def largest(self, hessian: np.ndarray) -> float:
        """The largest diagonal entry's magnitude (at least 1)."""
        return float(np.max(np.abs(hessian[self._diagonal]), initial=1.0))

    def matrix(self, hessian: np.ndarray, reg: float) -> sp.csc_matrix:
        """The regularised Newton matrix (CSC)."""
        data = self._base.copy()
        data[self._hessian_at] = hessian[self._hessian_of]
        data[self._hessian_diagonal_at] += reg
        data[self._equality_at] = -0.1 * reg
        return sp.csc_matrix((data, self._indices, self._indptr), shape=(self.size, self.size))


class LPBarrier:
    """One participant's LP as a :class:`~..interior_point.consensus.BarrierParticipant`.

    Arguments as :class:`~distributed_resource_optimization.local.lp.LPLocalModel`'s (the bounds
    are the ones the LP really has, e.g. its ``certificate_bounds``); ``exchange``: the columns
    of its exchanged entries, in output order. ``name`` labels errors.
    """

    def __init__(self, c, A_eq, b_eq, A_ub, b_ub, lb, ub, exchange: Sequence[int] | np.ndarray,
                 *, name: str | None = None) -> None:
        # scipy.sparse.csgraph: only the interior-point method needs it
        from scipy.sparse.csgraph import connected_components

        self.name = name or "participant"
        self.c = np.asarray(c, dtype=float)
        n = self.c.size
        a = sp.csr_matrix(A_eq if A_eq is not None else (0, n), dtype=float)
        b = np.asarray(b_eq if b_eq is not None else np.zeros(0), dtype=float)
        keep = np.diff(a.indptr) > 0
        if np.any(np.abs(b[~keep]) > 0):
            raise LocalModelError(f"{self.name}: an empty equality row has a nonzero right side")
        self.A, self.b = a[keep], b[keep]
        lb, ub = np.asarray(lb, dtype=float), np.asarray(ub, dtype=float)
        fl, fu = np.isfinite(lb), np.isfinite(ub)
        eye = sp.identity(n, format="csr")
        g_ub = sp.csr_matrix(A_ub if A_ub is not None else (0, n), dtype=float)
        self.G = sp.vstack([g_ub, -eye[fl], eye[fu]], format="csr")
        self.h = np.concatenate([np.asarray(b_ub if b_ub is not None else np.zeros(0),
                                            dtype=float), -lb[fl], ub[fu]])
        self.exchange = np.asarray(exchange, dtype=int)
        self.size = self.exchange.size
        self.count = self.G.shape[0]
        self._bounds = (lb, ub)
        # Independent parts: columns linked by a shared row.
        pattern = (abs(self.A).T @ abs(self.A) + abs(self.G).T @ abs(self.G)
                   + sp.identity(n)).tocsr()
        n_parts, label = connected_components(pattern, directed=False)
        k = self.A.shape[0]
        eq_part = label[self.A.indices[self.A.indptr[:-1]]] if k else np.zeros(0, dtype=int)
        g_rows = np.diff(self.G.indptr) > 0
        g_first = np.where(g_rows, self.G.indices[np.minimum(self.G.indptr[:-1],
                                                             max(self.G.nnz - 1, 0))], 0)
        g_part = np.where(g_rows, label[g_first], -1)
        ex_part = label[self.exchange]
        self._parts = []
        for p in range(n_parts):
            cols = np.flatnonzero(label == p)
            rows = np.flatnonzero(eq_part == p)
            grows = np.flatnonzero(g_part == p)
            ex = np.flatnonzero(ex_part == p)
            local = {int(col): j for j, col in enumerate(cols)}
            self._parts.append({
                "idx": np.concatenate([cols, n + rows]),
                "kkt": _KKTPattern(self.G[grows][:, cols], self.A[rows][:, cols]),
                "grows": grows, "ex": ex,
                "ex_local": np.array([local[int(col)] for col in self.exchange[ex]], dtype=int),
            })
        self._scale_primal = 1.0 + max(float(np.max(np.abs(self.b), initial=0.0)),
                                       float(np.max(np.abs(self.h), initial=0.0)))
        self._scale_dual = 1.0 + float(np.max(np.abs(self.c), initial=0.0))
        self.w = np.zeros(n)
        self.s = np.ones(self.count)
        self.lam = np.ones(self.count)
        self.nu = np.zeros(k)
        self.y = np.zeros(self.size)
        self._lus: list = []
        self._pending = None
        self._affine = None

    # -- state ------------------------------------------------------------------------------
    @property
    def x(self) -> np.ndarray:
        """Exchanged entries at the current point."""
        return self.w[self.exchange]

    def objective(self) -> float:
        """``c'w`` at the current point (cost unit)."""
        return float(self.c @ self.w)

    def _residuals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rd = self.c + self.A.T @ self.nu + self.G.T @ self.lam
        rd[self.exchange] += self.y
        return rd, self.A @ self.w - self.b, self.G @ self.w + self.s - self.h

    def _factor(self) -> None:
        # scipy.sparse.linalg takes 0.1 s to import; only the interior-point method needs it
        from scipy.sparse.linalg import splu

        d = self.lam / self.s
        self._lus = []
        for part in self._parts:
            kkt = part["kkt"]
            h = kkt.hessian(d[part["grows"]])
            largest = kkt.largest(h)
            for reg in _REGULARISATIONS + tuple(r * largest for r in _RELATIVE_REGULARISATIONS):
                try:
                    # A symmetric ordering keeps the fill low; partial pivoting stays on: near
                    # the optimum the barrier terms span many decades and unpivoted factors
                    # lose the digits that make the condensed sensitivity agree with the step.
                    self._lus.append(splu(kkt.matrix(h, reg), permc_spec="MMD_AT_PLUS_A"))
                    break
                except RuntimeError:  # exactly singular in floating point: regularise more
                    continue
            else:
                raise LocalModelError(f"{self.name}: the Newton system stays singular")

    def _solve(self, rhs: np.ndarray) -> np.ndarray:
        out = np.empty_like(rhs)
        for part, lu in zip(self._parts, self._lus):
            out[part["idx"]] = lu.solve(rhs[part["idx"]])
        return out

    def _direction(self, rc: np.ndarray, dy: np.ndarray | None, residuals
                   ) -> tuple[np.ndarray, ...]:
        rd, rp, rg = residuals
        n = self.c.size
        rw = -rd - self.G.T @ ((rc + self.lam * rg) / self.s)
        if dy is not None:
            rw[self.exchange] -= dy
        sol = self._solve(np.concatenate([rw, -rp]))
        dw, dnu = sol[:n], sol[n:]
        ds = -rg - self.G @ dw
        dlam = (rc - self.lam * ds) / self.s
        return dw, dnu, ds, dlam

    def _exchanged_rhs(self, rc: np.ndarray, residuals, with_residuals: bool = True
                       ) -> np.ndarray:
        rd, rp, rg = residuals
        if with_residuals:
            rw = -rd - self.G.T @ ((rc + self.lam * rg) / self.s)
            rhs = np.concatenate([rw, -rp])
        else:  # the part linear in rc alone
            rhs = np.concatenate([-self.G.T @ (rc / self.s), np.zeros(self.A.shape[0])])
        return self._solve(rhs)[self.exchange]

    def _sensitivity(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        blocks = []
        for part, lu in zip(self._parts, self._lus):
            ex = part["ex"]
            if not ex.size:
                continue
            r = np.zeros((part["idx"].size, ex.size))
            r[part["ex_local"], np.arange(ex.size)] = 1.0
            # Not symmetrised: the step the participant takes uses these very factors.
            blocks.append((ex, lu.solve(r)[part["ex_local"]]))
        return tuple(blocks)

    def dual_term(self, price: np.ndarray) -> float | None:
        """``min c'w + price'w[exchange]`` over the LP (HiGHS; ``-inf`` if unbounded, ``None``
        if HiGHS ends without an answer): the participant's term of the Lagrangian bound."""
        # scipy.optimize takes 0.2 s to import and only the certified bound needs HiGHS
        from scipy.optimize import linprog

        cost = self.c.copy()
        cost[self.exchange] += np.asarray(price, dtype=float)
        lb, ub = self._bounds
        g_ub = self.G[: self.G.shape[0] - int(np.isfinite(lb).sum() + np.isfinite(ub).sum())]
        h_ub = self.h[: g_ub.shape[0]]
        res = linprog(cost, A_ub=g_ub if g_ub.shape[0] else None,
                      b_ub=h_ub if g_ub.shape[0] else None,
                      A_eq=self.A if self.A.shape[0] else None,
                      b_eq=self.b if self.A.shape[0] else None,
                      bounds=np.c_[lb, ub], method="highs")
        if res.status == 0:
            return float(res.fun)
        return -np.inf if res.status == 3 else None

    # -- the protocol ---------------------------------------------------------------------------
    def start(self) -> None:
        """A strictly interior point of the LP's inequalities that satisfies its equalities:
        Newton steps at prices 0 that keep the barrier weight where it started (no messages).
        Raises :class:`LocalModelError` if none is found (the LP is infeasible)."""
        lb, ub = self._bounds
        fl, fu = np.isfinite(lb), np.isfinite(ub)
        w = np.where(fl & fu, 0.9 * np.clip(0.0, np.where(fl, lb, 0), np.where(fu, ub, 0))
                     + 0.05 * (np.where(fl, lb, 0) + np.where(fu, ub, 0)), 0.0)
        w = np.where(fl & ~fu, np.where(fl, lb, 0) + 1.0, w)
        w = np.where(fu & ~fl, np.where(fu, ub, 0) - 1.0, w)
        self.w = w
        self.s = np.maximum(self.h - self.G @ w, 1.0)
        self.lam = np.ones(self.count)
        self.nu = np.zeros(self.A.shape[0])
        self.y = np.zeros(self.size)
        self._pending = None
        if self.count == 0:
            return
        mu_goal = float(self.s @ self.lam) / self.count
        for _ in range(START_ITERS):
            res = self._residuals()
            feasible = max(float(np.max(np.abs(res[1]), initial=0.0)),
                           float(np.max(np.abs(res[2]), initial=0.0))) \
                <= 1e-9 * self._scale_primal
            if feasible:
                return
            self._factor()
            mu = float(self.s @ self.lam) / self.count
            aff = self._direction(-self.s * self.lam, None, res)
            a_p = min(1.0, step_limit((self.s, aff[2])))
            a_d = min(1.0, step_limit((self.lam, aff[3])))
            mu_aff = float((self.s + a_p * aff[2]) @ (self.lam + a_d * aff[3])) / self.count
            sigma_mu = max((mu_aff / mu) ** 3 * mu, mu_goal)
            d = self._direction(-self.s * self.lam - aff[2] * aff[3] + sigma_mu, None, res)
            a_p = min(1.0, STEP_FRACTION * step_limit((self.s, d[2])))
            a_d = min(1.0, STEP_FRACTION * step_limit((self.lam, d[3])))
            self.w += a_p * d[0]
            self.s += a_p * d[2]
            self.nu += a_d * d[1]
            self.lam += a_d * d[3]
        raise LocalModelError(f"{self.name}: no point satisfies the local model's constraints "
                              f"after {START_ITERS} Newton steps (infeasible?)")

    def factor(self, primal_step: float, dual_step: float) -> Factored:
        if self._pending is not None:
            dw, dnu, ds, dlam, dy = self._pending
            self.w += primal_step * dw
            self.s += primal_step * ds
            self.nu += dual_step * dnu
            self.lam += dual_step * dlam
            self.y += dual_step * dy
            self._pending = None
        res = self._residuals()
        self._res = res
        self._factor()
        rd, rp, rg = res
        return Factored(
            x=self.x.copy(), sensitivity=self._sensitivity(),
            affine=self._exchanged_rhs(-self.s * self.lam, res),
            complementarity=float(self.s @ self.lam), count=self.count,
            primal_residual=max(float(np.max(np.abs(rp), initial=0.0)),
                                float(np.max(np.abs(rg), initial=0.0))) / self._scale_primal,
            dual_residual=float(np.max(np.abs(rd), initial=0.0)) / self._scale_dual,
            objective=self.objective())

    def predict(self, dy: np.ndarray) -> Predicted:
        res = self._res
        dw, dnu, ds, dlam = self._direction(-self.s * self.lam, dy, res)
        self._affine = (ds, dlam)
        base = self._exchanged_rhs(-self.s * self.lam - ds * dlam, res)
        centre = self._exchanged_rhs(np.ones(self.count), res, with_residuals=False)
        return Predicted(primal_limit=step_limit((self.s, ds)),
                         dual_limit=step_limit((self.lam, dlam)),
                         products=(float(ds @ self.lam), float(self.s @ dlam), float(ds @ dlam)),
                         base=base, centre=centre)

    def correct(self, dy: np.ndarray, sigma_mu: float) -> StepLimits:
        ds_aff, dlam_aff = self._affine
        rc = -self.s * self.lam - ds_aff * dlam_aff + sigma_mu
        dw, dnu, ds, dlam = self._direction(rc, dy, self._res)
        self._pending = (dw, dnu, ds, dlam, np.asarray(dy, dtype=float).copy())
        return StepLimits(primal=step_limit((self.s, ds)), dual=step_limit((self.lam, dlam)))


class _Parts:
    """What several participants that answer as one have in common: their costs and start."""

    def __init__(self, parts: Sequence[BarrierParticipant]) -> None:
        self.parts = list(parts)

    def objectives(self) -> list[float]:
        """Each part's (each actor's) cost at its current point."""
        return [c for p in self.parts for c in _objectives(p)]

    def objective(self) -> float:
        return float(sum(self.objectives()))

    def start(self) -> None:
        for p in self.parts:
            p.start()


class StackedBarrier(_Parts):
    """Several participants of the interior-point method that answer as one (the actors of one
    agent): values, right-hand sides and step lengths flat over them in order, sensitivity
    blocks at their stacked positions, scalars summed, limits and residuals the smallest and
    largest."""

    def __init__(self, parts: Sequence[BarrierParticipant]) -> None:
        super().__init__(parts)
        self.offsets = np.concatenate([[0], np.cumsum([p.size for p in self.parts])]).astype(int)
        self.size = int(self.offsets[-1])

    def _split(self, v: np.ndarray) -> list[np.ndarray]:
        return [v[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def factor(self, primal_step: float, dual_step: float) -> Factored:
        replies = [p.factor(primal_step, dual_step) for p in self.parts]
        return _merged_factored(replies, np.concatenate, tuple(
            (offset + pos, block) for r, offset in zip(replies, self.offsets)
            for pos, block in r.sensitivity))

    def predict(self, dy: np.ndarray) -> Predicted:
        return _merged_predicted([p.predict(d) for p, d in zip(self.parts, self._split(dy))],
                                 np.concatenate)

    def correct(self, dy: np.ndarray, sigma_mu: float) -> StepLimits:
        return _merged_limits([p.correct(d, sigma_mu)
                               for p, d in zip(self.parts, self._split(dy))])


class SummedBarrier(_Parts):
    """Several participants that exchange the same ``m`` entries and answer with their sum (the
    actors of one agent in sharing: one price for all, so their values, sensitivities and
    right-hand sides add up; step limits are the smallest). :meth:`outputs` gives each part's
    own exchanged values."""

    def __init__(self, parts: Sequence[BarrierParticipant]) -> None:
        super().__init__(parts)
        sizes = {p.size for p in self.parts}
        if len(sizes) != 1:
            raise ValueError(f"summed participants must exchange the same number of entries, "
                             f"got {sorted(sizes)}")
        self.size = sizes.pop()

    def outputs(self) -> np.ndarray:
        """Every part's exchanged values, flat in order."""
        return np.concatenate([_outputs(p) for p in self.parts])

    def factor(self, primal_step: float, dual_step: float) -> Factored:
        replies = [p.factor(primal_step, dual_step) for p in self.parts]
        total = dense_sum((b for r in replies for b in r.sensitivity), self.size)
        return _merged_factored(replies, _summed, ((np.arange(self.size), total),))

    def predict(self, dy: np.ndarray) -> Predicted:
        return _merged_predicted([p.predict(dy) for p in self.parts], _summed)

    def correct(self, dy: np.ndarray, sigma_mu: float) -> StepLimits:
        return _merged_limits([p.correct(dy, sigma_mu) for p in self.parts])


def _summed(vectors: Sequence[np.ndarray]) -> np.ndarray:
    return np.sum(vectors, axis=0)


def _merged_factored(replies: Sequence[Factored], merge, sensitivity) -> Factored:
    """The replies of several parts as one: vectors merged (stacked or summed), scalars summed,
    residuals the largest, with the merged ``sensitivity``."""
    return Factored(
        x=merge([r.x for r in replies]), sensitivity=sensitivity,
        affine=merge([r.affine for r in replies]),
        complementarity=float(sum(r.complementarity for r in replies)),
        count=int(sum(r.count for r in replies)),
        primal_residual=max(r.primal_residual for r in replies),
        dual_residual=max(r.dual_residual for r in replies),
        objective=float(sum(r.objective for r in replies)))


def _merged_predicted(replies: Sequence[Predicted], merge) -> Predicted:
    return Predicted(primal_limit=min(r.primal_limit for r in replies),
                     dual_limit=min(r.dual_limit for r in replies),
                     products=tuple(float(sum(r.products[k] for r in replies)) for k in range(3)),
                     base=merge([r.base for r in replies]),
                     centre=merge([r.centre for r in replies]))


def _merged_limits(replies: Sequence[StepLimits]) -> StepLimits:
    return StepLimits(primal=min(r.primal for r in replies), dual=min(r.dual for r in replies))


def _outputs(part: object) -> np.ndarray:
    outputs = getattr(part, "outputs", None)
    return np.asarray(outputs() if outputs is not None else part.x, dtype=float)


def _objectives(part: object) -> list[float]:
    objectives = getattr(part, "objectives", None)
    return list(objectives()) if objectives is not None else [part.objective()]


class FleetBarrier:
    """``N`` one-to-many flex actors (outputs ``s_i d_i``, utilisation ``s_i`` in [0, 1], cost
    ``c_i s_i``) as one participant of the interior-point method for sharing, vectorised:
    each actor's Newton system is a scalar, and the fleet answers with the sum of its outputs
    ``X = D's`` (``m`` entries), its summed sensitivity ``D' diag(1/H) D`` (``m x m``) and summed
    right-hand sides, whatever ``N``. ``D``: ``(N, m)`` directions (kW), ``cost``: ``(N,)``
    (S$ at full utilisation)."""

    def __init__(self, D: np.ndarray, cost: np.ndarray) -> None:
        self.D = np.asarray(D, dtype=float)
        self.c = np.asarray(cost, dtype=float)
        if self.D.ndim != 2 or self.c.shape != (self.D.shape[0],):
            raise ValueError(f"D must be (N, m) and cost (N,), got {self.D.shape} and "
                             f"{self.c.shape}")
        self.size = self.D.shape[1]
        self._scale_dual = 1.0 + float(np.max(np.abs(self.c), initial=0.0))
        self._pending = None
        self.start()

    def outputs(self) -> np.ndarray:
        """Every actor's outputs ``s_i d_i``, flat (kW)."""
        return (self.w[:, None] * self.D).ravel()

    def objectives(self) -> list[float]:
        return (self.c * self.w).tolist()

    def objective(self) -> float:
        return float(self.c @ self.w)

    def start(self) -> None:
        """The middle of every actor's range, bound prices 1: strictly feasible, no local
        iterations needed. (Prices that make it dual feasible, ``ll - lu = c``, took more
        iterations at N = 1000: 9-12 against 8-10, measured on the benchmark family.)"""
        n = self.c.size
        self.w = np.full(n, 0.5)
        self.sl, self.su = np.full(n, 0.5), np.full(n, 0.5)  # slacks of s >= 0 and s <= 1
        self.ll, self.lu = np.ones(n), np.ones(n)             # their prices
        self.y = np.zeros(self.size)                          # the price of the sum
        self._pending = None

    def _residuals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rd = self.c - self.ll + self.lu + self.D @ self.y
        return rd, self.sl - self.w, self.w + self.su - 1.0

    def _rw(self, rcl: np.ndarray, rcu: np.ndarray, residuals) -> np.ndarray:
        rd, rgl, rgu = residuals
        return -rd + (rcl + self.ll * rgl) / self.sl - (rcu + self.lu * rgu) / self.su

    def _direction(self, rcl, rcu, dy, residuals):
        _, rgl, rgu = residuals
        dw = (self._rw(rcl, rcu, residuals) - self.D @ dy) / self._h
        dsl, dsu = -rgl + dw, -rgu - dw
        return dw, dsl, dsu, (rcl - self.ll * dsl) / self.sl, (rcu - self.lu * dsu) / self.su

    def _summed(self, rw: np.ndarray) -> np.ndarray:
        return self.D.T @ (rw / self._h)

    def factor(self, primal_step: float, dual_step: float) -> Factored:
        if self._pending is not None:
            dw, dsl, dsu, dll, dlu, dy = self._pending
            self.w += primal_step * dw
            self.sl += primal_step * dsl
            self.su += primal_step * dsu
            self.ll += dual_step * dll
            self.lu += dual_step * dlu
            self.y += dual_step * dy
            self._pending = None
        res = self._res = self._residuals()
        self._h = self.ll / self.sl + self.lu / self.su + BARRIER_REGULARISATION
        rd, rgl, rgu = res
        return Factored(
            x=self.D.T @ self.w,
            sensitivity=((np.arange(self.size), (self.D / self._h[:, None]).T @ self.D),),
            affine=self._summed(self._rw(-self.sl * self.ll, -self.su * self.lu, res)),
            complementarity=float(self.sl @ self.ll + self.su @ self.lu),
            count=2 * self.c.size,
            primal_residual=max(float(np.max(np.abs(rgl), initial=0.0)),
                                float(np.max(np.abs(rgu), initial=0.0))) / 2.0,
            dual_residual=float(np.max(np.abs(rd), initial=0.0)) / self._scale_dual,
            objective=self.objective())

    def predict(self, dy: np.ndarray) -> Predicted:
        res = self._res
        dw, dsl, dsu, dll, dlu = self._direction(-self.sl * self.ll, -self.su * self.lu,
                                                 dy, res)
        self._affine = (dsl, dsu, dll, dlu)
        zeros = (np.zeros_like(self.w),) * 3
        return Predicted(
            primal_limit=step_limit((self.sl, dsl), (self.su, dsu)),
            dual_limit=step_limit((self.ll, dll), (self.lu, dlu)),
            products=(float(dsl @ self.ll + dsu @ self.lu), float(self.sl @ dll + self.su @ dlu),
                      float(dsl @ dll + dsu @ dlu)),
            base=self._summed(self._rw(-self.sl * self.ll - dsl * dll,
                                       -self.su * self.lu - dsu * dlu, res)),
            # The part linear in the centring target alone (no residuals).
            centre=self._summed(self._rw(np.ones_like(self.w), np.ones_like(self.w), zeros)))

    def correct(self, dy: np.ndarray, sigma_mu: float) -> StepLimits:
        dsl_a, dsu_a, dll_a, dlu_a = self._affine
        d = self._direction(-self.sl * self.ll - dsl_a * dll_a + sigma_mu,
                            -self.su * self.lu - dsu_a * dlu_a + sigma_mu, dy, self._res)
        self._pending = (*d, np.asarray(dy, dtype=float).copy())
        return StepLimits(primal=step_limit((self.sl, d[1]), (self.su, d[2])),
                          dual=step_limit((self.ll, d[3]), (self.lu, d[4])))


def target_distance_barrier(target: np.ndarray, priorities: np.ndarray) -> LPBarrier:
    """The global objective of sharing ``w'|target - z|`` (S$ for kW) as an LP participant that
    exchanges ``z`` (``min w't`` s.t. ``-t <= z - target <= t``)."""
    target = np.asarray(target, dtype=float)
    w = np.asarray(priorities, dtype=float)
    m = target.size
    if w.shape != (m,):
        raise ValueError(f"priorities must hold {m} values, got shape {w.shape}")
    eye = np.eye(m)
    return LPBarrier(np.concatenate([np.zeros(m), w]), None, None,
                     np.block([[eye, -eye], [-eye, -eye]]), np.concatenate([target, -target]),
                     np.full(2 * m, -np.inf), np.full(2 * m, np.inf), np.arange(m),
                     name="target distance")


def barrier_participants(models: Sequence[LocalModel]
                         ) -> tuple[list[LPBarrier], list[np.ndarray], list[Hashable]]:
    """The interior-point participants of configured general-form models (each one's
    :meth:`~..local.base.LocalModel.barrier`), the global entry of each of their exchanged
    entries, and the global variables' names (in order of first appearance). Raises
    ``ValueError`` naming a model that has no LP form or no variable names."""
    names: dict[Hashable, int] = {}
    participants, index = [], []
    for model in models:
        if model.variables is None:
            raise ValueError(f"actor {model.label!r}: the interior-point method couples "
                             "general-form models (variables=...)")
        participant = model.barrier()
        if participant is None:
            raise ValueError(f"actor {model.label!r}: {type(model).__name__} has no LP form for "
                             "the interior-point method (an LPLocalModel has)")
        participants.append(participant)
        index.append(np.array([names.setdefault(v, len(names)) for v in model.variables],
                              dtype=int))
    return participants, index, list(names)
