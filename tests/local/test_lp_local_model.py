"""LPLocalModel: storage LPs as private models in sharing ADMM, against a centralized solve."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import relative_gap

import distributed_resource_optimization as dro
from distributed_resource_optimization.local.base import LocalModelError
from distributed_resource_optimization.local.lp import LPLocalModel

T = 6
DT = 1.0  # h


def storage_lp(price: np.ndarray, capacity: float, power: float, soc0: float, eta: float = 0.95):
    """Columns ``[p_0..p_{T-1}, soc_1..soc_T]``: charging power p (kW, exchanged, free) and state
    of charge (kWh, private): ``soc_{t+1} = soc_t + eta p_t dt``; cost ``price * p * dt`` (S$)."""
    n = 2 * T
    a_eq = np.zeros((T, n))
    b_eq = np.zeros(T)
    for t in range(T):
        a_eq[t, T + t] = 1.0
        a_eq[t, t] = -eta * DT
        if t:
            a_eq[t, T + t - 1] = -1.0
        else:
            b_eq[t] = soc0
    c = np.concatenate([price * DT, np.zeros(T)])
    lb = np.concatenate([np.full(T, -power), np.zeros(T)])
    ub = np.concatenate([np.full(T, power), np.full(T, capacity)])
    return c, a_eq, b_eq, lb, ub


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_storage_fleet_matches_centralized(seed, run):
    rng = np.random.default_rng(seed)
    target = rng.uniform(-4.0, 4.0, T)
    models, refs = [], []
    for i in range(4):
        price = rng.uniform(0.05, 0.3, T)
        c, a_eq, b_eq, lb, ub = storage_lp(price, rng.uniform(2, 8), rng.uniform(1, 3),
                                           rng.uniform(0, 2))
        models.append(LPLocalModel(c, a_eq, b_eq, None, None, lb, ub, exchange=np.arange(T),
                                   free=np.arange(T), name=f"storage{i}"))
        refs.append((c, a_eq, b_eq, lb, ub))
    coord = dro.ADMMGenericCoordinator(dro.ADMMSharingGlobalActor(
        dro.ADMMTargetDistanceSquaredObjective()))
    res = run(models, coord, dro.create_admm_start(dro.create_admm_sharing_data(target)))
    ws = [cp.Variable(2 * T) for _ in refs]
    cons = [con for w, (c, a, b, lb, ub) in zip(ws, refs)
            for con in (a @ w == b, w >= lb, w <= ub)]
    agg = sum(w[:T] for w in ws)
    ref = cp.Problem(cp.Minimize(sum(r[0] @ w for w, r in zip(ws, refs))
                                 + cp.sum_squares(agg - target)), cons)
    ref.solve(solver="CLARABEL")
    assert res.converged
    assert relative_gap(res.objective, ref.value) <= 1e-3
    # The private states stay consistent with the exchanged powers (exact local solves).
    for m, (_c, a_eq, b_eq, lb, ub) in zip(models, refs):
        assert np.abs(a_eq @ m.w - b_eq).max() < 1e-9
        assert (lb - m.w).max() < 1e-9 and (m.w - ub).max() < 1e-9
        np.testing.assert_allclose(m.w[:T], m.x, atol=1e-9)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(c=[np.nan, 0.0]), "c contains NaN or infinite values"),
    (dict(c=[]), "c must hold at least one cost"),
    (dict(A_eq=np.ones((1, 3))), "A_eq has 3 columns, expected 2"),
    (dict(b_eq=[1.0, 2.0]), "b_eq must hold 1 finite values"),
    (dict(lb=[0.0, 2.0], ub=[1.0, 1.0]), "lb exceeds ub at column 1"),
    (dict(exchange=[5]), "exchange holds column indices outside 0..1"),
    (dict(exchange=[]), "exchange must not be empty"),
    (dict(free=[0, 0]), "free names a column twice"),
    (dict(tol=0.0), "tol must be positive"),
    (dict(tol=2.0), "tol must be below 1"),
    (dict(tol=np.inf, solver="clarabel"), "tol must be finite"),
])
def test_bad_input_names_the_argument(kwargs, fragment):
    base = dict(c=[1.0, 0.0], A_eq=np.array([[1.0, -1.0]]), b_eq=[0.0], A_ub=None, b_ub=None,
                lb=[-1.0, -1.0], ub=[1.0, 1.0], exchange=[0], free=[0])
    base.update(kwargs)
    with pytest.raises(ValueError, match=fragment):
        LPLocalModel(**base)


def test_undetermined_and_infeasible_models_name_the_actor():
    # Two non-free columns but one equality: the reduction is impossible.
    model = LPLocalModel([0.0, 0.0, 0.0], sp.csr_matrix([[1.0, 1.0, 1.0]]), [1.0], None, None,
                         [-1.0] * 3, [1.0] * 3, exchange=[0], free=[0], name="loose")
    with pytest.raises(LocalModelError, match="'loose'.*equality rows"):
        model.prepare()
    # x fixed to 2 by the equality, but bounded by 1: infeasible.
    model = LPLocalModel([0.0, 0.0], np.array([[1.0, 0.0], [0.0, 1.0]]), [2.0, 0.0], None, None,
                         [-1.0, -1.0], [1.0, 1.0], exchange=[0], free=[], name="stuck")
    with pytest.raises(LocalModelError, match="'stuck'.*infeasible"):
        model.solve(np.zeros(1), 1.0)


def test_the_clarabel_prox_solver_reaches_the_same_optimum(run):
    """The same storage fleet with each model's prox in one Clarabel solver (no elimination)."""
    rng = np.random.default_rng(4)
    target = rng.uniform(-4.0, 4.0, T)
    results = {}
    for solver in ("daqp", "clarabel"):
        r = np.random.default_rng(9)
        models = []
        for i in range(3):
            c, a_eq, b_eq, lb, ub = storage_lp(r.uniform(0.05, 0.3, T), r.uniform(2, 8),
                                               r.uniform(1, 3), r.uniform(0, 2))
            models.append(LPLocalModel(c, a_eq, b_eq, None, None, lb, ub, exchange=np.arange(T),
                                       free=np.arange(T), name=f"s{i}", solver=solver))
        coord = dro.ADMMGenericCoordinator(dro.ADMMSharingGlobalActor(
            dro.ADMMTargetDistanceSquaredObjective()))
        results[solver] = run(models, coord,
                              dro.create_admm_start(dro.create_admm_sharing_data(target)))
    assert all(r.converged for r in results.values())
    assert relative_gap(results["clarabel"].objective, results["daqp"].objective) <= 1e-5
    with pytest.raises(ValueError, match="solver must be one of daqp, clarabel"):
        LPLocalModel([1.0], None, None, None, None, [0.0], [1.0], exchange=[0], free=[0],
                     solver="gurobi")
