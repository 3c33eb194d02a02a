"""The distributed interior-point method on LPs coupled by general-form consensus.

Reference: the same LPs stacked into one and solved by HiGHS. The run must reach its objective,
and its prices must certify the optimum on their own: the exchanged values agree, the prices of
each entry balance over its owners, and every participant's point is its own best response to
its prices (its LP re-solved by HiGHS at those prices gives the same value).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from distributed_resource_optimization.interior_point import consensus
from distributed_resource_optimization.interior_point.consensus import (
    ROUNDS_PER_ITERATION,
    ConsensusNewton,
    solve_consensus,
)
from distributed_resource_optimization.local.base import LocalModelError
from distributed_resource_optimization.local.interior_point import LPBarrier, barrier_participants
from distributed_resource_optimization.local.lp import LPLocalModel
from distributed_resource_optimization.local.qp import QPLocalModel


def _instance(seed: int, n_parts: int = 3, n_global: int = 6):
    """Random feasible, bounded LPs: boxes, inequalities around an interior point, one equality
    each; every global entry owned by 2 or 3 participants."""
    rng = np.random.default_rng(seed)
    owners = [rng.choice(n_parts, size=rng.integers(2, n_parts + 1), replace=False)
              for _ in range(n_global)]
    agreed = rng.uniform(-1, 1, n_global)  # the exchanged entries' values at a joint point
    parts = []
    for i in range(n_parts):
        entries = [j for j in range(n_global) if i in owners[j]]
        n = len(entries) + int(rng.integers(2, 5))
        w0 = rng.uniform(-1, 1, n)  # an interior point of every participant, agreeing
        w0[:len(entries)] = agreed[entries]
        lb, ub = w0 - rng.uniform(0.5, 3, n), w0 + rng.uniform(0.5, 3, n)
        a_ub = rng.normal(size=(3, n))
        b_ub = a_ub @ w0 + rng.uniform(0.2, 1, 3)
        a_eq = rng.normal(size=(1, n))
        b_eq = a_eq @ w0
        c = rng.normal(size=n)
        parts.append(dict(c=c, A_eq=a_eq, b_eq=b_eq, A_ub=a_ub, b_ub=b_ub, lb=lb, ub=ub,
                          exchange=np.arange(len(entries)), index=np.array(entries)))
    return parts


def _centralized(parts, n_global):
    sizes = [p["c"].size for p in parts]
    offsets = np.cumsum([0] + sizes)
    n = offsets[-1] + n_global
    c = np.concatenate([p["c"] for p in parts] + [np.zeros(n_global)])
    eq_rows, eq_b, ub_rows, ub_b = [], [], [], []
    for p, o in zip(parts, offsets):
        k = p["c"].size
        eq_rows.append(sp.hstack([sp.csr_matrix((1, o)), sp.csr_matrix(p["A_eq"]),
                                  sp.csr_matrix((1, n - o - k))]))
        eq_b.append(p["b_eq"])
        ub_rows.append(sp.hstack([sp.csr_matrix((3, o)), sp.csr_matrix(p["A_ub"]),
                                  sp.csr_matrix((3, n - o - k))]))
        ub_b.append(p["b_ub"])
        for col, j in zip(p["exchange"], p["index"]):
            row = sp.csr_matrix(([1.0, -1.0], ([0, 0], [o + col, offsets[-1] + j])), shape=(1, n))
            eq_rows.append(row)
            eq_b.append(np.zeros(1))
    bounds = [(lo, hi) for p in parts for lo, hi in zip(p["lb"], p["ub"])] + \
        [(None, None)] * n_global
    res = linprog(c, A_ub=sp.vstack(ub_rows), b_ub=np.concatenate(ub_b), A_eq=sp.vstack(eq_rows),
                  b_eq=np.concatenate(eq_b), bounds=bounds, method="highs")
    assert res.status == 0
    return res.fun


def _participants(parts):
    return [LPBarrier(p["c"], p["A_eq"], p["b_eq"], p["A_ub"], p["b_ub"], p["lb"], p["ub"],
                      p["exchange"], name=f"part {i}") for i, p in enumerate(parts)]


def _best_response_value(p, price):
    cost = p["c"].copy()
    cost[p["exchange"]] += price
    res = linprog(cost, A_ub=p["A_ub"], b_ub=p["b_ub"], A_eq=p["A_eq"], b_eq=p["b_eq"],
                  bounds=np.c_[p["lb"], p["ub"]], method="highs")
    assert res.status == 0
    return res.fun


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_reaches_the_centralized_optimum_with_certifying_prices(seed):
    n_global = 6
    parts = _instance(seed, n_global=n_global)
    optimum = _centralized(parts, n_global)
    participants = _participants(parts)
    run = solve_consensus(participants, [p["index"] for p in parts], n_global)
    assert run.converged
    assert run.rounds == ROUNDS_PER_ITERATION * run.iterations + 1
    scale = 1.0 + abs(optimum)
    assert abs(run.objective - optimum) <= 1e-6 * scale
    # The exchanged values agree with z, the prices balance over each entry's owners ...
    for x, p in zip(run.x, parts):
        np.testing.assert_allclose(x, run.z[p["index"]], atol=1e-6)
    balance = np.zeros(n_global)
    for y, p in zip(run.y, parts):
        np.add.at(balance, p["index"], y)
    np.testing.assert_allclose(balance, 0.0, atol=1e-8)
    # ... and each participant's point is its best response to its prices (HiGHS).
    for q, p, y in zip(participants, parts, run.y):
        value = q.objective() + y @ q.x
        assert abs(value - _best_response_value(p, y)) <= 1e-6 * scale


def test_infeasible_participant_is_named():
    parts = _instance(3)
    p = parts[1]
    p["b_eq"] = p["A_eq"] @ p["ub"] + 100.0  # no point of the box satisfies it
    with pytest.raises(LocalModelError, match="part 1"):
        solve_consensus(_participants(parts), [q["index"] for q in parts], 6)


def test_an_entry_without_owner_is_refused():
    with pytest.raises(ValueError, match="global entry 2 has no owner"):
        ConsensusNewton([np.array([0, 1]), np.array([1])], 3)


def test_models_without_an_lp_form_are_named():
    lp = LPLocalModel([1.0, 1.0], None, None, None, None, [0, 0], [1, 1], [0], [0, 1],
                      name="store", variables=["a"])
    qp = QPLocalModel([0.0], P=np.eye(1), name="heat pump", variables=["a"])
    with pytest.raises(ValueError, match="'heat pump'.*no LP form"):
        barrier_participants([lp, qp])
    participants, index, labels = barrier_participants([lp, lp])
    assert labels == ["a"] and [list(i) for i in index] == [[0], [0]]
    assert isinstance(participants[0], LPBarrier)


def test_the_sparse_coordinator_gives_the_same_run(monkeypatch):
    """Above ``DENSE_LIMIT`` global entries the coordinator factors its system as a sparse
    matrix: the same iterates as the dense path, to rounding."""
    parts = _instance(11)
    dense = solve_consensus(_participants(parts), [p["index"] for p in parts], 6)
    monkeypatch.setattr(consensus, "DENSE_LIMIT", 0)
    sparse = solve_consensus(_participants(parts), [p["index"] for p in parts], 6)
    assert sparse.converged and sparse.iterations == dense.iterations
    assert abs(sparse.objective - dense.objective) <= 1e-9 * (1 + abs(dense.objective))
    np.testing.assert_allclose(np.concatenate(sparse.y), np.concatenate(dense.y), atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_each_parts_newton_matrix_is_the_sparse_product_it_stands_for(seed):
    """The Newton matrix of a part, its pattern set up once and its values computed per
    iteration, equals ``[[G' diag(d) G + reg I, A'], [A, -0.1 reg I]]`` built from sparse
    products (reference), for parts with and without inequalities and equalities, duplicate
    entries and empty rows."""
    from distributed_resource_optimization.local.interior_point import _KKTPattern

    rng = np.random.default_rng(seed)
    n, m, k = int(rng.integers(1, 10)), int(rng.integers(0, 12)), int(rng.integers(0, 4))
    g = sp.random(m, n, density=rng.uniform(0.05, 0.9), random_state=rng.integers(2**31),
                  format="coo")
    # a duplicate entry: summed, as every scipy construction sums it
    if g.nnz:
        g = sp.coo_matrix((np.r_[g.data, g.data[:1]], (np.r_[g.row, g.row[:1]],
                                                        np.r_[g.col, g.col[:1]])), shape=g.shape)
    a = sp.random(k, n, density=rng.uniform(0.2, 1.0), random_state=rng.integers(2**31),
                  format="csr")
    d = 10.0 ** rng.uniform(-6, 8, size=m)
    reg = 10.0 ** rng.uniform(-11, -5)
    kkt = _KKTPattern(g, a)
    values = kkt.hessian(d)
    got = kkt.matrix(values, reg)
    h = (g.T @ sp.diags(d) @ g).tocsc()
    want = sp.bmat([[h + reg * sp.identity(n), a.T], [a, -0.1 * reg * sp.identity(k)]]) \
        if k else h + reg * sp.identity(n)
    scale = max(1.0, float(np.max(np.abs(want.toarray()))))
    np.testing.assert_allclose(got.toarray(), want.toarray(), rtol=0, atol=1e-14 * scale)
    assert kkt.largest(values) == pytest.approx(
        max(1.0, float(np.max(np.abs(h.diagonal()), initial=1.0))), rel=1e-14)
