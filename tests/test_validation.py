"""Bad input gets a clear exception naming the parameter, before any iteration runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import distributed_resource_optimization as dro


def _start(target=(1.0, 2.0, 3.0), priorities=None):
    return dro.create_admm_start(dro.create_admm_sharing_data(list(target), priorities))


def _actor(eta=(0.1, 0.5, -1.0)):
    return dro.create_admm_flex_actor_one_to_many(10.0, list(eta))


@pytest.mark.parametrize("cap", [0.0, -5.0])
def test_non_positive_capacity(cap: float) -> None:
    with pytest.raises(ValueError, match="in_capacity must be positive"):
        dro.create_admm_flex_actor_one_to_many(cap, [1.0, 2.0])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_inf_everywhere(bad: float) -> None:
    with pytest.raises(ValueError, match="in_capacity must be finite"):
        dro.create_admm_flex_actor_one_to_many(bad, [1.0, 2.0])
    with pytest.raises(ValueError, match="eta contains NaN"):
        dro.create_admm_flex_actor_one_to_many(1.0, [1.0, bad])
    with pytest.raises(ValueError, match="P contains NaN"):
        dro.create_admm_flex_actor_one_to_many(1.0, [1.0, 2.0], [0.0, bad])
    with pytest.raises(ValueError, match="target contains NaN"):
        dro.create_admm_sharing_data([1.0, bad])
    with pytest.raises(ValueError, match="priorities contains NaN"):
        dro.create_admm_sharing_data([1.0, 2.0], [1.0, bad])
    with pytest.raises(ValueError, match="rho must be finite"):
        dro.ADMMGenericCoordinator(rho=bad)


def test_length_mismatches() -> None:
    with pytest.raises(ValueError, match="P has length 2 but eta has length 3"):
        dro.create_admm_flex_actor_one_to_many(1.0, [1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="priorities has length 2 but target has length 3"):
        dro.create_admm_sharing_data([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="target has length 2 but the actors' outputs have length 3"):
        dro.run_coordinated_optimization(
            [_actor()], dro.create_sharing_target_distance_admm_coordinator(), _start((1.0, 2.0))
        )
    with pytest.raises(ValueError, match="equal length"):
        dro.run_coordinated_optimization(
            [_actor(), _actor((1.0, 2.0))], dro.create_sharing_target_distance_admm_coordinator(), _start()
        )


def test_wrong_types_and_shapes() -> None:
    with pytest.raises(TypeError, match="eta must be a sequence"):
        dro.create_admm_flex_actor_one_to_many(1.0, "abc")
    with pytest.raises(ValueError, match="eta must be one-dimensional"):
        dro.create_admm_flex_actor_one_to_many(1.0, [[1.0, 2.0]])
    with pytest.raises(ValueError, match="eta must not be empty"):
        dro.create_admm_flex_actor_one_to_many(1.0, [])
    with pytest.raises(ValueError, match="priorities must be non-negative"):
        dro.create_admm_sharing_data([1.0], [-1.0])
    with pytest.raises(TypeError, match="actors\\[1\\] is a str"):
        dro.run_coordinated_optimization(
            [_actor(), "x"], dro.create_sharing_target_distance_admm_coordinator(), _start()
        )
    with pytest.raises(TypeError, match="coordinator must be an ADMMGenericCoordinator"):
        dro.run_coordinated_optimization([_actor()], object(), _start())
    with pytest.raises(TypeError, match="start must come from create_admm_start"):
        dro.run_coordinated_optimization(
            [_actor()],
            dro.create_sharing_target_distance_admm_coordinator(),
            dro.create_admm_sharing_data([1.0, 2.0, 3.0]),
        )
    with pytest.raises(TypeError, match="global_actor must be an ADMM global actor"):
        dro.ADMMGenericCoordinator(global_actor="sharing")


def test_empty_actor_list() -> None:
    with pytest.raises(ValueError, match="actors must not be empty"):
        dro.run_coordinated_optimization([], dro.create_sharing_target_distance_admm_coordinator(), _start())


@pytest.mark.parametrize("rho", [0.0, -1.0])
def test_non_positive_rho(rho: float) -> None:
    with pytest.raises(ValueError, match="rho must be positive"):
        dro.ADMMGenericCoordinator(rho=rho)
    with pytest.raises(ValueError, match="rho must be positive"):
        dro.create_sharing_target_distance_admm_coordinator(rho=rho)


def test_max_iters_and_tolerances() -> None:
    with pytest.raises(ValueError, match="max_iters must be at least 1"):
        dro.ADMMGenericCoordinator(max_iters=0)
    with pytest.raises(TypeError, match="max_iters must be an integer"):
        dro.ADMMGenericCoordinator(max_iters=2.5)
    with pytest.raises(ValueError, match="abs_tol must be non-negative"):
        dro.ADMMGenericCoordinator(abs_tol=-1e-6)
    with pytest.raises(ValueError, match="rel_tol must be non-negative"):
        dro.ADMMGenericCoordinator(rel_tol=-1e-6)
    with pytest.raises(ValueError, match="abs_tol and rel_tol must not both be zero"):
        dro.ADMMGenericCoordinator(abs_tol=0.0, rel_tol=0.0)
    with pytest.raises(ValueError, match="alpha must lie in"):
        dro.ADMMGenericCoordinator(alpha=2.5)


def test_duplicate_actors() -> None:
    a = _actor()
    with pytest.raises(ValueError, match="duplicate actor"):
        dro.run_coordinated_optimization(
            [a, _actor(), a], dro.create_sharing_target_distance_admm_coordinator(), _start()
        )
    b, c = _actor(), _actor()
    b.name = c.name = "hp"
    with pytest.raises(ValueError, match="unique names; 'hp' appears twice"):
        dro.run_coordinated_optimization(
            [b, c], dro.create_sharing_target_distance_admm_coordinator(), _start()
        )


def test_sharing_without_target_data() -> None:
    with pytest.raises(ValueError, match="needs problem data with a target"):
        dro.run_coordinated_optimization(
            [_actor()], dro.create_sharing_target_distance_admm_coordinator(), dro.create_admm_start()
        )


def test_general_form_needs_variables() -> None:
    from distributed_resource_optimization.local.qp import QPLocalModel

    with pytest.raises(ValueError, match="declares no global variables"):
        dro.run_coordinated_optimization(
            [QPLocalModel([1.0], P=np.eye(1), name="m")],
            dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor()),
            dro.create_admm_start(),
        )


def test_qp_model_shapes() -> None:
    from distributed_resource_optimization.local.qp import QPLocalModel

    with pytest.raises(ValueError, match="P has shape"):
        QPLocalModel([1.0, 2.0], P=np.eye(3))
    with pytest.raises(ValueError, match="A has 3 columns"):
        QPLocalModel([1.0, 2.0], A=np.ones((1, 3)), l=[0.0], u=[1.0])
    with pytest.raises(ValueError, match="l must not exceed u"):
        QPLocalModel([1.0], A=np.ones((1, 1)), l=[2.0], u=[1.0])
    with pytest.raises(ValueError, match="q contains NaN"):
        QPLocalModel([math.nan])
