"""Sharing ADMM with flex actors against centralized cvxpy+Clarabel solves of the same problem."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_flex_instance, relative_gap

import distributed_resource_optimization as dro

GAP = 1e-3        # relative objective gap to the centralized optimum (issue 3 acceptance)
FEAS = 1e-6       # outputs must lie on the actor's segment: x = s * cap * eta, 0 <= s <= 1


def _check_feasible(inst, actors) -> None:
    for a, cap, eta in zip(actors, inst.caps, inst.etas):
        d = cap * eta
        s = float(d @ a.x / (d @ d))
        assert -FEAS <= s <= 1 + FEAS
        np.testing.assert_allclose(a.x, s * d, atol=FEAS)


@pytest.mark.slow
@pytest.mark.parametrize("n", [3, 10, 50, 200, 500])
@pytest.mark.parametrize("with_P", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_l1_sharing_matches_centralized(n: int, with_P: bool, seed: int, run) -> None:
    inst = random_flex_instance(n, 3, seed=1000 * n + seed, with_P=with_P)
    actors = inst.actors()
    start = dro.create_admm_start(dro.create_admm_sharing_data(inst.target, inst.priorities))
    res = run(actors, dro.create_sharing_target_distance_admm_coordinator(), start)
    ref, _ = inst.centralized()
    X = np.stack([a.x for a in actors])
    assert relative_gap(inst.objective(X), ref) <= GAP, (res, ref)
    assert relative_gap(res.objective, ref) <= GAP
    _check_feasible(inst, actors)
    np.testing.assert_allclose(res.z, X.sum(axis=0))


@pytest.mark.parametrize("n", [5, 100])
def test_random_squared_sharing_matches_centralized(n: int, run) -> None:
    inst = random_flex_instance(n, 4, seed=7 + n, with_P=True)
    actors = inst.actors()
    coord = dro.ADMMGenericCoordinator(dro.ADMMSharingGlobalActor(
        dro.ADMMTargetDistanceSquaredObjective()))
    start = dro.create_admm_start(dro.create_admm_sharing_data(inst.target, inst.priorities))
    res = run(actors, coord, start)
    ref, Xref = inst.centralized(squared=True)
    X = np.stack([a.x for a in actors])
    assert res.converged
    assert relative_gap(inst.objective(X, squared=True), ref) <= GAP
    # Strictly convex in the aggregate: the aggregate itself is unique.
    np.testing.assert_allclose(X.sum(axis=0), Xref.sum(axis=0), atol=1e-3 * max(
        1.0, np.abs(Xref.sum(axis=0)).max()))
    _check_feasible(inst, actors)


def test_vectorised_and_per_actor_runs_agree(run) -> None:
    inst = random_flex_instance(20, 3, seed=3, with_P=True)
    start = dro.create_admm_start(dro.create_admm_sharing_data(inst.target, inst.priorities))
    a1, a2 = inst.actors(), inst.actors()
    r1 = run(a1, dro.create_sharing_target_distance_admm_coordinator(), start)
    r2 = run(a2, dro.create_sharing_target_distance_admm_coordinator(), start, vectorize=False)
    assert r1.iterations == r2.iterations
    for x, y in zip(a1, a2):
        np.testing.assert_allclose(x.x, y.x, atol=1e-12)


def test_residual_histories_reach_tolerance(run) -> None:
    inst = random_flex_instance(50, 3, seed=11, with_P=False)
    res = run(inst.actors(), dro.create_sharing_target_distance_admm_coordinator(),
              dro.create_admm_start(dro.create_admm_sharing_data(inst.target, inst.priorities)))
    assert res.converged
    assert res.primal_residuals[-1] <= res.eps_primal[-1]
    assert res.dual_residuals[-1] <= res.eps_dual[-1]
    assert res.primal_residuals[-1] < res.primal_residuals[0]


def test_max_iters_status(run) -> None:
    inst = random_flex_instance(30, 3, seed=5, with_P=True)
    coord = dro.create_sharing_target_distance_admm_coordinator(max_iters=3)
    res = run(inst.actors(), coord,
              dro.create_admm_start(dro.create_admm_sharing_data(inst.target, inst.priorities)))
    assert res.iterations == 3
    assert res.status is dro.ADMMStatus.MAX_ITERATIONS and not res.converged
