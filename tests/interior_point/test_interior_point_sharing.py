"""The distributed interior-point method for sharing (the actors' outputs add up, the coordinator
holds the target distance) against the whole problem as one model solved by Clarabel (cvxpy).

Tolerances: the objective within 1e-6 of the reference (relative, absolute below 1); the
method stops with every residual and the duality measure at 1e-7, and Clarabel solves to
about 1e-8. The Lagrangian bound at the final price (each actor's dual term, the target
distance's conjugate) lies below the optimum, by at most 1e-6; above the reference by at most
1e-7, its own accuracy (measured: Clarabel 2.7e-8 above the exact optimum of a one-actor
instance, the bound 2e-10 below it).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from conftest import random_flex_instance, relative_gap
from hypothesis import given, settings
from hypothesis import strategies as st

import distributed_resource_optimization as dro
from distributed_resource_optimization.interior_point.consensus import (
    ROUNDS_PER_ITERATION,
    drive,
    predictor_corrector,
)
from distributed_resource_optimization.interior_point.sharing import (
    SharingNewton,
    TargetDistanceBarrier,
)
from distributed_resource_optimization.local.interior_point import FleetBarrier, SummedBarrier


def _reference(actors, target, priorities) -> float:
    """min sum_i S_i'x_i + w'|sum_i x_i - target| over each actor's polytope (Clarabel)."""
    xs = [cp.Variable(a.size) for a in actors]
    cons = []
    for a, x in zip(actors, xs):
        cons += [x >= a.lb, x <= a.u]
        if a.direction is not None:  # one-to-many: x = s d, s in [0, 1]
            s = cp.Variable()
            cons += [x == s * a.direction, s >= 0, s <= 1]
        elif a.C.shape[0]:
            cons.append(a.C @ x <= a.d)
    total = sum(xs)
    prob = cp.Problem(cp.Minimize(sum(a.S @ x for a, x in zip(actors, xs))
                                  + priorities @ cp.abs(total - target)), cons)
    prob.solve(solver="CLARABEL")
    assert prob.status == cp.OPTIMAL
    return float(prob.value)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 40), m=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_a_fleet_reaches_the_optimum_with_a_bound_below_it(n, m, seed):
    inst = random_flex_instance(n, m, seed, with_P=True)
    D = inst.caps[:, None] * inst.etas
    fleet = FleetBarrier(D, (inst.P * D).sum(axis=1))
    target = TargetDistanceBarrier(inst.target, inst.priorities)
    run = drive([fleet, target], predictor_corrector(SharingNewton(m, [1, -1])))
    assert run.converged
    assert run.rounds == ROUNDS_PER_ITERATION * run.iterations + 1
    optimum, _ = inst.centralized()
    assert relative_gap(run.objective, optimum) <= 1e-6
    # The outputs add up to the sum the target distance takes.
    np.testing.assert_allclose(fleet.outputs().reshape(n, m).sum(axis=0), target.z,
                               atol=1e-6 * (1 + np.abs(target.z).max()))
    # The final price certifies the optimum: the Lagrangian bound lies just below it.
    price = run.y[0]
    bound = float(np.minimum(0.0, fleet.c + D @ price).sum()) + target.dual_term(-price)
    scale = max(1.0, abs(optimum))
    assert optimum - 1e-6 * scale <= bound <= optimum + 1e-7 * scale


def test_actors_of_any_polytope_are_summed_and_reach_the_optimum():
    """General flex actors (a box and inequalities, each its own LP) next to one-to-many ones,
    summed by one agent: the LP participants' sensitivities add up with the fleet's."""
    rng = np.random.default_rng(5)
    actors = [dro.create_admm_flex_actor_one_to_many(c, e, p) for c, e, p in
              zip(rng.uniform(1, 10, 4), rng.uniform(-1, 1, (4, 3)), rng.uniform(-0.5, 1, (4, 3)))]
    for _ in range(3):
        lb, ub = -rng.uniform(0, 5, 3), rng.uniform(0, 5, 3)
        actors.append(dro.ADMMFlexActor(lb, ub, C=rng.normal(size=(2, 3)),
                                        d=rng.uniform(0.5, 2, 2), S=rng.normal(size=3)))
    target, priorities = rng.uniform(-5, 5, 3), rng.uniform(0.5, 5, 3)
    group = SummedBarrier([a.barrier() for a in actors])
    tb = TargetDistanceBarrier(target, priorities)
    run = drive([group, tb], predictor_corrector(SharingNewton(3, [1, -1])))
    assert run.converged
    assert relative_gap(run.objective, _reference(actors, target, priorities)) <= 1e-6
    assert group.outputs().shape == (7 * 3,)


@pytest.mark.parametrize("vectorize", [True, False])
def test_the_tutorial_api_runs_the_method_with_flex_actors(vectorize):
    inst = random_flex_instance(30, 3, seed=4, with_P=True)
    actors = inst.actors()
    coordinator = dro.create_sharing_target_distance_interior_point_coordinator()
    start = dro.create_admm_start(dro.create_admm_sharing_data(inst.target, inst.priorities))
    result = dro.run_coordinated_optimization(actors, coordinator, start, vectorize=vectorize)
    assert result.converged and result.method == "interior-point"
    optimum, _ = inst.centralized()
    X = np.array([a.x for a in actors])  # every actor keeps its own output
    np.testing.assert_allclose(np.array(list(result)), X)
    assert relative_gap(inst.objective(X), optimum) <= 1e-6
    assert relative_gap(result.objective, optimum) <= 1e-6
    true_gap = (result.objective - optimum) / max(1.0, abs(optimum))
    assert true_gap - 1e-7 <= result.gap_certified <= 1e-6
    # Tens of rounds, not hundreds (measured: 28 at N = 1000).
    assert result.iterations <= 60


def test_the_tutorial_api_shows_newton_iterations_and_refuses_what_belongs_to_admm():
    inst = random_flex_instance(3, 2, seed=1, with_P=True)
    coordinator = dro.create_sharing_target_distance_interior_point_coordinator()
    start = dro.create_admm_start(dro.create_admm_sharing_data(inst.target, inst.priorities))
    shown = []
    result = dro.run_coordinated_optimization(inst.actors(), coordinator, start,
                                              progress=shown.append)
    assert [s.iteration for s in shown] == list(range(len(result.primal_residuals)))
    assert shown[-1].measures["consensus"] == result.primal_residuals[-1]
    with pytest.raises(ValueError, match="no warm_start"):
        warm = dro.create_admm_start(dro.create_admm_sharing_data(inst.target, inst.priorities),
                                     warm_start=result)
        dro.run_coordinated_optimization(inst.actors(), coordinator, warm)
    with pytest.raises(ValueError, match="objective must be one of target_distance"):
        dro.InteriorPointCoordinator("target_distance_squared")
