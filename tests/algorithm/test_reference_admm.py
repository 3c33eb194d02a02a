"""The reference package's ADMM names and call shapes, answered with the optimum.

The cases are the reference's own tests (tests/admm/test_sharing_admm.py and
test_consensus_admm.py of Digitalized-Energy-Systems/distributed-resource-optimization). Its
asserted values are ADMM stopping points up to about 1 % off; here every case is checked against
a centralized solve of the same problem (cvxpy + Clarabel), objective within 1e-5 relative and,
where the optimum is unique, the outputs within 1e-3 (the outputs' unit, kW).
"""

from __future__ import annotations

import asyncio

import cvxpy as cp
import numpy as np
import pytest

from distributed_resource_optimization import (
    ADMMFlexActor,
    admm_flex_result,
    create_admm_flex_actor_one_to_many,
    create_admm_sharing_data,
    create_admm_start,
    create_admm_start_consensus,
    create_consensus_target_reach_admm_coordinator,
    create_sharing_admm_coordinator,
    create_sharing_admm_start,
    create_sharing_target_distance_admm_coordinator,
    start_coordinated_optimization,
)
from distributed_resource_optimization.algorithm.admm.sharing_admm import (
    create_admm_start as sharing_create_admm_start,
)

OBJ_TOL = 1e-5
X_TOL = 1e-3


def _central(actors, target, weights, squared: bool):
    """min sum_k w_k |sum_i x_ik - t_k| (or squared) + sum_i S_i'x_i over each actor's set."""
    xs = [cp.Variable(a.size) for a in actors]
    cons = []
    for x, a in zip(xs, actors):
        cons += [x >= a.lb, x <= a.u]
        if a.C.shape[0]:
            cons.append(a.C @ x <= a.d)
    dev = sum(xs) - np.asarray(target, float)
    w = np.ones(len(target)) if weights is None else np.asarray(weights, float)
    g = w @ cp.square(dev) if squared else w @ cp.abs(dev)
    prob = cp.Problem(cp.Minimize(g + sum(a.S @ x for x, a in zip(xs, actors))), cons)
    prob.solve(solver="CLARABEL")
    return prob.value, [x.value for x in xs]


def _objective(actors, outputs, target, weights, squared: bool) -> float:
    dev = np.sum(outputs, axis=0) - np.asarray(target, float)
    w = np.ones(len(target)) if weights is None else np.asarray(weights, float)
    g = w @ (dev ** 2) if squared else w @ np.abs(dev)
    return float(g + sum(a.S @ x for a, x in zip(actors, outputs)))


def _run(actors, coordinator, start):
    return asyncio.run(start_coordinated_optimization(actors, coordinator, start))


SHARING_CASES = [
    # (actors as (capacity, eta), target, priorities)
    ([(10, [0.1, 0.5, -1.0]), (15, [0.1, 0.5, -1.0]), (10, [-1.0, 0.0, 1.0])], [-4, 0, 6], None),
    ([(10, [0.1, 0.5, -1.0]), (15, [0.1, 0.5, -1.0]), (10, [0.1, 0.5, -1.0])], [0.2, 1, -2], None),
    ([(10, [0.1, 0.5, -1.0]), (15, [0.1, 0.5, -1.0]), (10, [-1.0, 0.0, 1.0])], [-4, 0, 6],
     [5, 1, 1]),
    ([(10, [0.1, 0.5, -1.0]), (15, [0.1, 0.5, -1.0]), (10, [1.0, 0.0, -1.0])], [1.2, 1, -4], None),
]


@pytest.mark.parametrize("specs, target, priorities", SHARING_CASES)
def test_reference_sharing_cases_reach_the_optimum(specs, target, priorities) -> None:
    actors = [create_admm_flex_actor_one_to_many(c, eta) for c, eta in specs]
    coordinator = create_sharing_target_distance_admm_coordinator()
    start = sharing_create_admm_start(create_admm_sharing_data(target, priorities))
    results = _run(actors, coordinator, start)
    optimum, _ = _central(actors, target, priorities, squared=False)
    got = _objective(actors, [admm_flex_result(a) for a in actors], target, priorities, False)
    assert abs(got - optimum) <= OBJ_TOL * max(1.0, abs(optimum))
    # The result reads as the reference's list of outputs, in actor order.
    assert len(results) == len(actors)
    for r, a in zip(results, actors):
        np.testing.assert_array_equal(r, a.x)


def test_tutorial_priorities_give_the_optimum_not_the_references_stop() -> None:
    # The reference stops at [-3.983, 0, 3.983]; the optimum is [-4, 0, 4] (sector 1 weighs 5).
    actors = [create_admm_flex_actor_one_to_many(10, [0.1, 0.5, -1.0]),
              create_admm_flex_actor_one_to_many(15, [0.1, 0.5, -1.0]),
              create_admm_flex_actor_one_to_many(10, [-1.0, 0.0, 1.0])]
    _run(actors, create_sharing_target_distance_admm_coordinator(),
         create_sharing_admm_start(create_admm_sharing_data([-4, 0, 6], [5, 1, 1])))
    np.testing.assert_allclose(actors[2].x, [-4.0, 0.0, 4.0], atol=X_TOL)
    np.testing.assert_allclose(actors[0].x, 0.0, atol=X_TOL)
    np.testing.assert_allclose(actors[1].x, 0.0, atol=X_TOL)


@pytest.mark.parametrize("n, target", [(3, [1.5, 7.5]), (2, [1.0, 2.0]), (3, [1.0, 2.0])])
def test_consensus_target_reach_optimum(n, target) -> None:
    eta = [0.1, 0.5] if target[0] == 1.5 else [0.6, 0.4]
    actors = [create_admm_flex_actor_one_to_many(10, eta) for _ in range(n)]
    results = _run(actors, create_consensus_target_reach_admm_coordinator(),
                   create_admm_start_consensus(target))
    optimum, _ = _central(actors, target, None, squared=True)
    got = _objective(actors, list(results), target, None, True)
    assert abs(got - optimum) <= OBJ_TOL * max(1.0, abs(optimum))
    # Identical actors share alike (the reference's "consensus property").
    for r in results:
        np.testing.assert_allclose(r, results[0], atol=X_TOL)
    if eta == [0.6, 0.4]:
        # x = s [6, 4] per actor, n s [6, 4] closest to [1, 2]: s = 14 / (52 n). The reference
        # asserts [0.816, 0.544] (n = 2) and [0.545, 0.364] (n = 3), about 1 % off.
        np.testing.assert_allclose(results[0], 14.0 / (52.0 * n) * np.array([6.0, 4.0]),
                                   atol=X_TOL)


def test_consensus_target_reach_negative_efficiency_stays_at_zero() -> None:
    actors = [create_admm_flex_actor_one_to_many(10, [0.1, 0.5, -1.0]) for _ in range(3)]
    results = _run(actors, create_consensus_target_reach_admm_coordinator(),
                   create_admm_start_consensus([2.0, 2.0, 3.0]))
    for r in results:
        np.testing.assert_allclose(r, 0.0, atol=X_TOL)


def _four_polytope_actors() -> list[ADMMFlexActor]:
    # The reference's test_consensus_admm_complex_four_actors, verbatim numbers.
    zero = [0.0, 0.0, 0.0]
    return [
        ADMMFlexActor(lb=zero, u=[6.428571428571429, 0.0, 4.5],
                      C=np.array([[1.0, 1.0, 1.0], [0.15555555555555556, 0.0, -0.2222222222222222],
                                  [-0.15555555555555556, 0.0, 0.2222222222222222], zero, zero]),
                      d=np.array([10.928571428571429, 0.0, 0.0, 0.0, 0.0]), S=np.array(zero)),
        ADMMFlexActor(lb=zero, u=[0.04000000000000001, 0.06, 0.1],
                      C=np.array([[1.0, 1.0, 1.0], [24.999999999999996, 0.0, -10.0],
                                  [-24.999999999999996, 0.0, 10.0], [0.0, 16.666666666666668, -10.0],
                                  [0.0, -16.666666666666668, 10.0]]),
                      d=np.array([0.2, 0.0, 0.0, 0.0, 0.0]), S=np.array(zero)),
        ADMMFlexActor(lb=zero, u=[0.3, 0.0, 0.3333333333333333],
                      C=np.array([[1.0, 1.0, 1.0], [3.3333333333333335, 0.0, -3.0],
                                  [-3.3333333333333335, 0.0, 3.0], zero, zero]),
                      d=np.array([0.6333333333333333, 0.0, 0.0, 0.0, 0.0]), S=np.array(zero)),
        ADMMFlexActor(lb=zero, u=[1.5, 0.0, 1.6666666666666665],
                      C=np.array([[1.0, 1.0, 1.0], [0.6666666666666666, 0.0, -0.6000000000000001],
                                  [-0.6666666666666666, 0.0, 0.6000000000000001], zero, zero]),
                      d=np.array([3.1666666666666665, 0.0, 0.0, 0.0, 0.0]), S=np.array(zero)),
    ]


def test_polytope_flex_actors_reach_their_bounds() -> None:
    actors = _four_polytope_actors()
    target = [22.559000761215636, -0.0, 22.559000761215636]
    results = _run(actors, create_consensus_target_reach_admm_coordinator(),
                   create_admm_start_consensus(target))
    optimum, xs = _central(actors, target, None, squared=True)
    got = _objective(actors, list(results), target, None, True)
    assert abs(got - optimum) <= OBJ_TOL * max(1.0, abs(optimum))
    # The target is out of reach: every actor at its upper bound (unique).
    for r, a in zip(results, actors):
        np.testing.assert_allclose(r, a.u, atol=X_TOL)


def test_flex_actor_forms_agree() -> None:
    # The one-to-many resource, its reference polytope and its closed form: the same steps.
    one = create_admm_flex_actor_one_to_many(10, [0.5, -1.0, 0.25], P=[0.1, 0.0, -0.2])
    poly = ADMMFlexActor(one.lb, one.u, one.C, one.d, one.S)
    np.testing.assert_array_equal(one.lb, [0.0, -10.0, 0.0])
    np.testing.assert_array_equal(one.u, [5.0, 0.0, 2.5])
    rng = np.random.default_rng(3)
    poly.prepare()
    for _ in range(20):
        v, rho = rng.normal(0, 5, 3), float(rng.uniform(0.1, 10))
        np.testing.assert_allclose(poly.solve(v, rho), one.solve(v, rho), atol=1e-6)
        y = rng.normal(0, 1, 3)
        assert poly.dual_term(y) == pytest.approx(one.dual_term(y), abs=1e-7)
    # A box alone: the clip.
    box = ADMMFlexActor([-1.0, 0.0], [1.0, 2.0], S=[0.5, -1.0])
    np.testing.assert_allclose(box.solve(np.array([0.0, 0.0]), 1.0), [-0.5, 1.0])
    assert box.dual_term(np.zeros(2)) == pytest.approx(-0.5 - 2.0)


def test_generic_start_with_length_and_custom_sharing_objective() -> None:
    from distributed_resource_optimization import ADMMTargetDistanceSquaredObjective

    actors = [create_admm_flex_actor_one_to_many(10, [1.0, -0.5]) for _ in range(2)]
    data = create_admm_sharing_data([3.0, -1.0])
    res = _run(actors, create_sharing_admm_coordinator(ADMMTargetDistanceSquaredObjective()),
               create_admm_start(data, 2))
    optimum, _ = _central(actors, [3.0, -1.0], None, squared=True)
    assert abs(_objective(actors, list(res), [3.0, -1.0], None, True) - optimum) <= 1e-5
    with pytest.raises(ValueError, match="length is 3 but the target has 2 entries"):
        create_admm_start(data, 3)
    with pytest.raises(ValueError, match=r"actors\[0\] has 2 outputs but the start's length is 4"):
        _run(actors, create_sharing_target_distance_admm_coordinator(), create_admm_start(None, 4))


def test_bad_flex_actor_input_names_the_parameter() -> None:
    with pytest.raises(ValueError, match="lb exceeds u at entry 1"):
        ADMMFlexActor([0.0, 2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="C has 1 rows but d has 2 entries"):
        ADMMFlexActor([0.0], [1.0], C=[[1.0]], d=[1.0, 2.0])
    with pytest.raises(ValueError, match="C and d go together"):
        ADMMFlexActor([0.0], [1.0], C=[[1.0]])
    with pytest.raises(ValueError, match="S has length 1 but lb has length 2"):
        ADMMFlexActor([0.0, 0.0], [1.0, 1.0], S=[1.0])


def test_a_polytope_of_another_width_is_refused() -> None:
    with pytest.raises(ValueError, match=r"C must have 2 columns \(one per entry of lb\), got "
                                         r"shape \(2, 3\)"):
        ADMMFlexActor([0.0, 0.0], [1.0, 1.0], C=np.ones((2, 3)), d=[1.0, 1.0, 1.0])
