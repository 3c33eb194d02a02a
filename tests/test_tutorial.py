"""The seed tutorial's Complete Script, verbatim, must print the centralized optimum."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import distributed_resource_optimization as dro

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tutorial.py"


def _vector(line: str) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r"-?\d+\.?\d*", line.split(":", 1)[1])])


@pytest.mark.slow
@pytest.mark.processes
def test_complete_script_prints_centralized_aggregate() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if ":" in line}
    # Hand-derived optimum: resource 3 at 40 %, aggregate [-4, 0, 4], objective 5*0 + 0 + |4-6| = 2.
    np.testing.assert_array_equal(_vector(lines["Aggregate"]), [-4.0, 0.0, 4.0])
    np.testing.assert_array_equal(_vector(lines["Resource 3"]), [-4.0, 0.0, 4.0])
    np.testing.assert_array_equal(_vector(lines["Resource 1"]), [0.0, 0.0, 0.0])
    assert "-0." not in lines["Aggregate"]


def _tutorial() -> tuple[list[dro.ADMMFlexActor], dro.ADMMStart]:
    """The tutorial's three resources and its start (target [-4, 0, 6], priorities [5, 1, 1])."""
    actors = [dro.create_admm_flex_actor_one_to_many(10.0, [0.1, 0.5, -1.0]),
              dro.create_admm_flex_actor_one_to_many(15.0, [0.1, 0.5, -1.0]),
              dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0])]
    return actors, dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0],
                                                                      [5, 1, 1]))


def test_tutorial_result_object_and_objective() -> None:
    (r1, r2, r3), start = _tutorial()
    res = dro.run_coordinated_optimization(
        [r1, r2, r3], dro.create_sharing_target_distance_admm_coordinator(), start)
    assert res.converged and res.status is dro.ADMMStatus.CONVERGED
    assert abs(res.objective - 2.0) < 1e-4
    np.testing.assert_allclose(res.z, [-4.0, 0.0, 4.0], atol=1e-4)
    np.testing.assert_allclose(r3.x, [-4.0, 0.0, 4.0], atol=1e-4)
    assert abs(r3.utilisation() - 0.4) < 1e-5
    assert set(res.x) == {"actor_0", "actor_1", "actor_2"}
    assert res.iterations == len(res.primal_residuals) == len(res.dual_residuals)
    assert res.wall_time_s > 0


def test_tuning_section_coordinator() -> None:
    coordinator = dro.ADMMGenericCoordinator(
        global_actor=dro.ADMMSharingGlobalActor(dro.ADMMTargetDistanceObjective()),
        rho=5.0, max_iters=500, abs_tol=1e-5, rel_tol=1e-4)
    actors = [dro.create_admm_flex_actor_one_to_many(10.0, [0.1, 0.5, -1.0]),
              dro.create_admm_flex_actor_one_to_many(15.0, [0.1, 0.5, -1.0]),
              dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0])]
    start = dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1]))
    res = dro.run_coordinated_optimization(actors, coordinator, start)
    np.testing.assert_allclose(res.z, [-4.0, 0.0, 4.0], atol=1e-3)


def test_the_interior_point_coordinator_takes_the_tutorials_place() -> None:
    """The README's claim: the tutorial's actors and start with
    ``create_sharing_target_distance_interior_point_coordinator()`` reach the hand-derived
    optimum (aggregate [-4, 0, 4], objective 2; the method stops at 1e-7)."""
    (r1, r2, r3), start = _tutorial()
    res = dro.run_coordinated_optimization(
        [r1, r2, r3], dro.create_sharing_target_distance_interior_point_coordinator(), start)
    assert res.converged and res.method == "interior-point"
    np.testing.assert_allclose(r1.x + r2.x + r3.x, [-4.0, 0.0, 4.0], atol=1e-6)
    assert res.objective == pytest.approx(2.0, abs=1e-6)
    assert res.iterations <= 40  # rounds of messages
