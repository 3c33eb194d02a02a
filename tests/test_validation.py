"""Bad input gets a clear exception naming the parameter, before any iteration runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import distributed_resource_optimization as dro
from distributed_resource_optimization.admm.state import ADMMSettings
from distributed_resource_optimization.local.qp import QPLocalModel


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


# -- issue 22 (hostile-user review) ------------------------------------------------------------

def _tutorial_actors() -> list:
    return [dro.create_admm_flex_actor_one_to_many(10.0, [0.1, 0.5, -1.0]),
            dro.create_admm_flex_actor_one_to_many(15.0, [0.1, 0.5, -1.0]),
            dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0])]


def test_targets_and_priorities_whose_squares_overflow_are_refused() -> None:
    # A target of 1e300 used to "converge" at once: the stopping thresholds were inf.
    with pytest.raises(ValueError, match=r"target\[0\] = 1e\+300 is too large: entries beyond "
                       r"1e\+150 overflow float64"):
        dro.create_admm_sharing_data([1e300, 0, 0])
    with pytest.raises(ValueError, match=r"priorities\[2\] = 1e\+200 is too large"):
        dro.create_admm_sharing_data([1.0, 0, 0], [1, 1, 1e200])
    with pytest.raises(ValueError, match=r"target\[1\] = 1e\+100 with priorities\[1\] = 1e\+120 is "
                       r"too large: the squared distance priorities\[1\] \* target\[1\]\*\*2"):
        dro.create_admm_start_consensus([0.0, 1e100], [1.0, 1e120])
    with pytest.raises(ValueError, match=r"target contains NaN or infinite values \(target\[1\] = nan\)"):
        dro.create_admm_sharing_data([0.0, math.nan, 0.0])
    # Changed after creation: refused when the run starts, before the first iteration.
    for bad in (math.nan, 1e300):
        data = dro.create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1])
        data.target[0] = bad
        with pytest.raises(ValueError, match=r"target(\[0\] = 1e\+300 is too large| contains NaN)"):
            dro.run_coordinated_optimization(
                _tutorial_actors(), dro.create_sharing_target_distance_admm_coordinator(),
                dro.create_admm_start(data))
    # A large target within the bound still converges to the optimum: every resource that
    # moves the aggregate towards [+, +, -] runs at full capacity (the third moves it away in
    # the first, five times weighted, sector and stays off). Targets 10^18 and more times the
    # outputs used to end "converged" at z = 0: target + (w - target) rounded w away.
    for scale in (1e6, 1e16, 1e20, 1e100):
        res = dro.run_coordinated_optimization(
            _tutorial_actors(), dro.create_sharing_target_distance_admm_coordinator(),
            dro.create_admm_start(dro.create_admm_sharing_data([scale, scale, -scale],
                                                               [5, 1, 1])))
        assert res.converged, scale
        np.testing.assert_allclose(res.z, [2.5, 12.5, -25.0], atol=1e-6, err_msg=str(scale))


@pytest.mark.parametrize("field, value, error, match", [
    ("adapt_interval", 0, ValueError, "adapt_interval must be an integer >= 1, got 0"),
    ("adapt_interval", 2.5, TypeError, "adapt_interval must be an integer"),
    ("adapt_threshold", 0.5, ValueError, "adapt_threshold must be at least 1"),
    ("adapt_threshold", math.nan, ValueError, "adapt_threshold must be finite"),
    ("adapt_max_factor", 0.0, ValueError, "adapt_max_factor must be at least 1"),
    ("adapt_max_updates", -1, ValueError, "adapt_max_updates must be an integer >= 0"),
    ("rho_min", 0.0, ValueError, "rho_min must be positive"),
    ("rho_max", 1e-9, ValueError, "rho_max must be at least 1e-08"),
    ("anderson_memory", 0, ValueError, "anderson_memory must be at least 1"),
    ("anderson_max_pause", -1, ValueError, "anderson_max_pause must be non-negative"),
    ("adaptive_rho", "no", TypeError, "adaptive_rho must be True or False"),
    ("acceleration", None, TypeError, "acceleration must be True or False"),
    ("alpha", 2.0, ValueError, r"alpha must lie in \(0, 2\)"),
    ("stopping", 3, TypeError, "stopping must be a StoppingRule"),
    ("rho", -1.0, ValueError, "rho must be positive"),
])
def test_every_admm_setting_is_checked_at_construction_and_at_the_run_start(
        field: str, value: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ADMMSettings(**{field: value})
    # Set on a coordinator after construction (adapt_interval=0 was a ZeroDivisionError, a
    # negative rho ran to max_iters): refused by the same check when the run starts.
    coordinator = dro.create_sharing_target_distance_admm_coordinator()
    setattr(coordinator.settings, field, value)
    with pytest.raises(error, match=match):
        dro.run_coordinated_optimization(_tutorial_actors(), coordinator, _start((-4.0, 0.0, 6.0)))
    coordinator.settings = ADMMSettings()
    assert dro.run_coordinated_optimization(_tutorial_actors(), coordinator,
                                            _start((-4.0, 0.0, 6.0))).converged


def test_a_non_convex_qp_names_the_model() -> None:
    with pytest.raises(ValueError, match="QPLocalModel 'chiller': P must be positive semidefinite"):
        QPLocalModel([0.0, 0.0], P=-np.eye(2), name="chiller")
    with pytest.raises(ValueError, match=r"an unnamed QPLocalModel \(pass name=\.\.\. to tell them "
                       r"apart\): P must be positive semidefinite \(its smallest eigenvalue is -1\)"):
        QPLocalModel([0.0, 0.0], P=-np.eye(2))
    with pytest.raises(ValueError, match="QPLocalModel 'chiller': P must be symmetric"):
        QPLocalModel([0.0, 0.0], P=[[1.0, 1.0], [0.0, 1.0]], name="chiller")


@pytest.mark.parametrize("eps, match", [(0.0, "eps must be positive"),
                                        (-1e-6, "eps must be positive"),
                                        (math.nan, "eps must be finite"),
                                        (1.0, "eps must be below 1"),
                                        ("1e-6", "eps must be a real number")])
def test_a_bad_qp_solver_tolerance_names_eps(eps: object, match: str) -> None:
    error = TypeError if isinstance(eps, str) else ValueError
    with pytest.raises(error, match=match):
        QPLocalModel([1.0], P=np.eye(1), name="m", eps=eps)
    model = QPLocalModel([-1.0], P=np.eye(1), name="m", eps=1e-6)
    np.testing.assert_allclose(model.solve(np.zeros(1), 1.0), [0.5], atol=1e-5)


def test_the_markets_solver_tolerance_is_checked_naming_it(capsys) -> None:
    from distributed_resource_optimization.cli import main
    from distributed_resource_optimization.market.clearing import run_market_clearing

    with pytest.raises(ValueError, match="solver_eps must be positive, got -1"):
        run_market_clearing(None, "voltage", runtime="tcp", solver_eps=-1.0)
    assert main(["agent", "--entity", "aggregator", "--solver-eps", "2"]) == 2
    assert "--solver-eps must be below 1 (a solver tolerance), got 2" in capsys.readouterr().err
