"""ReducedProxQP (elimination + DAQP) against cvxpy/Clarabel solves of the same proximal QP."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp

from distributed_resource_optimization.local.reduced import ReducedProxQP, ReductionError


def _instance(seed: int, parts: int = 2, n_free: int = 4, n_dep: int = 3):
    """``parts`` independent blocks; per block free ``x`` and ``y = M x + m`` (equalities),
    bounds on ``y``, ``sum x <= cap``; exchanged: all ``x`` and the first ``y``."""
    rng = np.random.default_rng(seed)
    n_blk = n_free + n_dep
    n = parts * n_blk
    c = rng.normal(size=n)
    eq_rows, b_eq, ub_rows, b_ub = [], [], [], []
    lb, ub = np.full(n, -np.inf), np.full(n, np.inf)
    free, exchange = [], []
    for p in range(parts):
        x = p * n_blk + np.arange(n_free)
        y = p * n_blk + n_free + np.arange(n_dep)
        m = rng.normal(size=(n_dep, n_free))
        row = np.zeros((n_dep, n))
        row[:, y] = np.eye(n_dep)
        row[:, x] = -m
        eq_rows.append(row)
        b_eq.append(rng.normal(size=n_dep))
        r = np.zeros((1, n))
        r[0, x] = 1.0
        ub_rows.append(r)
        b_ub.append([rng.uniform(1.0, 3.0)])
        lb[y] = -2.0
        ub[y] = 2.0
        lb[x] = -5.0
        free.extend(x)
        exchange.extend([*x, y[0]])
    return (c, sp.csr_matrix(np.vstack(eq_rows)), np.concatenate(b_eq),
            sp.csr_matrix(np.vstack(ub_rows)), np.concatenate(b_ub), lb, ub,
            np.array(exchange), np.array(free))


def _reference(c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, v, rho):
    w = cp.Variable(c.size)
    cons = [a_eq @ w == b_eq, a_ub @ w <= b_ub]
    fin_l, fin_u = np.isfinite(lb), np.isfinite(ub)
    cons += [w[fin_l] >= lb[fin_l], w[fin_u] <= ub[fin_u]]
    obj = c @ w + 0.5 * cp.sum(cp.multiply(rho, cp.square(w[exchange] - v)))
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return w.value[exchange], prob.value


@pytest.mark.parametrize("seed", range(6))
def test_matches_centralized_qp(seed):
    data = _instance(seed)
    c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free = data
    qp = ReducedProxQP(c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free)
    assert len(qp.parts) == 2  # the blocks share no constraint
    rng = np.random.default_rng(100 + seed)
    for _ in range(3):  # repeated solves reuse the DAQP workspaces (warm start)
        v = rng.normal(scale=2.0, size=exchange.size)
        rho = rng.uniform(0.5, 5.0, exchange.size)
        x = qp.solve(v, rho)
        x_ref, val_ref = _reference(c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, v, rho)
        np.testing.assert_allclose(x, x_ref, atol=1e-5)
        w = qp.full_solution()
        val = c @ w + 0.5 * np.sum(rho * (w[exchange] - v) ** 2)
        assert val == pytest.approx(val_ref, abs=1e-7, rel=1e-7)
        assert np.abs(a_eq @ w - b_eq).max() < 1e-9
        assert (a_ub @ w - b_ub).max() < 1e-9
        assert (lb - w).max() < 1e-9 and (w - ub).max() < 1e-9


def test_rho_change_equals_fresh_solve():
    c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free = _instance(7)
    v = np.linspace(-1, 1, exchange.size)
    warm = ReducedProxQP(c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free)
    warm.solve(v, np.full(exchange.size, 1.0))
    x_warm = warm.solve(v, np.full(exchange.size, 30.0))
    fresh = ReducedProxQP(c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free)
    np.testing.assert_allclose(x_warm, fresh.solve(v, np.full(exchange.size, 30.0)), atol=1e-9)


def test_equalities_must_determine_the_rest():
    c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free = _instance(1)
    with pytest.raises(ReductionError, match="equality rows for .* non-free variables"):
        ReducedProxQP(c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free[1:])


def test_infeasible_model_is_reported():
    c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free = _instance(2, parts=1)
    b_ub = np.array([-1e6])  # sum x <= -1e6 with x >= -5: infeasible
    qp = ReducedProxQP(c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free)
    with pytest.raises(ReductionError, match="DAQP failed"):
        qp.solve(np.zeros(exchange.size), np.ones(exchange.size))


@pytest.mark.slow
def test_district_entities_match_clarabel():
    from distributed_resource_optimization.energy.district import load_district
    from distributed_resource_optimization.local.blocks import publish_and_configure
    from distributed_resource_optimization.market.entities import market_entities

    district = load_district(resolution="60min")
    fast = market_entities(district, "thermal-congestion")
    slow = market_entities(district, "thermal-congestion", solver="clarabel")
    publish_and_configure(fast)
    publish_and_configure(slow)
    rng = np.random.default_rng(0)
    for entity_a, entity_b in zip(fast, slow, strict=True):
        a, b = entity_a.lp, entity_b.lp
        assert a.solver == "daqp" and b.solver == "clarabel"
        rho = 20.0 * a.rho_scale
        base = b.solve(np.zeros(b.size), rho)
        v = base + rng.normal(scale=300.0, size=a.size)
        xa, xb = a.solve(v, rho), b.solve(v, rho)
        fa = a.objective(xa) + 0.5 * np.sum(rho * (xa - v) ** 2)
        fb = b.objective(xb) + 0.5 * np.sum(rho * (xb - v) ** 2)
        # The active-set solution is at least as good as the interior-point one (which is
        # accurate to about 1 kW here) and feasible for the full block.
        assert fa <= fb + 1e-6 * abs(fb)
        assert fa == pytest.approx(fb, rel=1e-7)
        blk, w = a.block, a.w
        assert np.abs(blk.A_eq @ w - blk.b_eq).max() < 1e-6
        assert (blk.A_ub @ w - blk.b_ub).max(initial=0.0) < 1e-6
        np.testing.assert_allclose(xa, xb, atol=5.0)


def test_stalled_part_is_solved_by_interior_point():
    """When DAQP reports a stall (cycling / iteration limit) the part is re-solved by Clarabel."""
    c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free = _instance(3)
    v = np.linspace(-2, 2, exchange.size)
    rho = np.full(exchange.size, 2.0)
    qp = ReducedProxQP(c, a_eq, b_eq, a_ub, b_ub, lb, ub, exchange, free)
    expected = qp.solve(v, rho)

    class Stalling:
        def __init__(self, model):
            self.model = model

        def update(self, **kwargs):
            self.model.update(**kwargs)

        def solve(self):
            x, fval, _, info = self.model.solve()
            return x, fval, -2, info  # DAQP's cycling exit flag

    qp.parts[0].model = Stalling(qp.parts[0].model)
    np.testing.assert_allclose(qp.solve(v, rho), expected, atol=1e-6)
