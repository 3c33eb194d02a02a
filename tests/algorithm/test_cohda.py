"""COHDA: the reference's unit behaviours, its tutorial, quality against exhaustive search and a
MILP (HiGHS), topologies and bad input.

Independent references: hand-derived numbers of the reference's tests (ported, our style), a
brute-force enumeration of every combination (small instances) and ``scipy.optimize.milp``
(large instance). Runs are deterministic (in-process FIFO carrier, fixed seeds).

``python tests/algorithm/test_cohda.py`` prints the quality figures (``--large-seeds`` adds the large
instance over seeds 0-4 on a ring and a small-world graph, a few minutes).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from distributed_resource_optimization.algorithm.carrier import Carrier
from distributed_resource_optimization.algorithm.heuristic.cohda import (
    COHDAAlgorithmData,
    LocalSearchDecider,
    ScheduleSelection,
    SolutionCandidate,
    SystemConfig,
    TargetParams,
    WorkingMemory,
    cohda_default_performance,
    cohda_result,
    create_cohda_participant,
    create_cohda_participant_with_decider,
    create_cohda_start_message,
    create_multistart_cohda_participant,
    decide,
    merge_candidates,
    merge_sysconfigs,
    perceive,
)
from distributed_resource_optimization.algorithm.heuristic.cohda.core import _option_sums
from distributed_resource_optimization.algorithm.heuristic.cohda.decider import (
    _find_in_local_search_room,
    _find_new_value,
)
from distributed_resource_optimization.algorithm.heuristic.cohda.multistart import (
    COHDARestart,
    COHDARunMessage,
)
from distributed_resource_optimization.carrier import (
    ActorContainer,
    SimpleCarrier,
    cid,
    run_distributed_optimization,
)
from distributed_resource_optimization.runtime.engine import ParticipantError
from distributed_resource_optimization.runtime.factories import ParticipantFactory
from distributed_resource_optimization.runtime.processes import run_distributed_processes
from distributed_resource_optimization.runtime.run import run_cohda_multistart

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cohda_schedule_coordination.py"
TESTS = Path(__file__).resolve().parents[1]  # tests/: peer_factories.py for the spawned peers


class RecordingCarrier(Carrier):
    """A carrier without delivery: records what is sent, to step participants by hand."""

    def __init__(self, neighbours: list[int]) -> None:
        self.neighbours = neighbours
        self.sent: list[tuple[int, Any]] = []

    def send_to_other(self, content: Any, receiver: Any, meta: dict | None = None) -> None:
        self.sent.append((receiver, content))

    def reply_to_other(self, content: Any, meta: dict) -> None:
        self.send_to_other(content, meta["sender"], meta)

    def send_awaitable(self, content: Any, receiver: Any, meta: dict | None = None) -> Any:
        raise NotImplementedError("COHDA does not use request-reply")

    def others(self, participant_id: Any) -> list[int]:
        return list(self.neighbours)

    def get_address(self) -> int:
        return 0


def deliver(participant: COHDAAlgorithmData, carrier: RecordingCarrier, message: Any) -> None:
    asyncio.run(participant.on_exchange_message(carrier, message, None))


def weighted_l1(X: np.ndarray, target: np.ndarray, weights: np.ndarray) -> float:
    """The distance COHDA minimises, computed independently of the library."""
    return float(np.sum(np.asarray(weights) * np.abs(np.asarray(target) - np.sum(X, axis=0))))


# ------------------------------------------------------------------------------------------------
# Reference unit behaviours (ported from the reference's tests; same numbers)
# ------------------------------------------------------------------------------------------------

MAT = np.array([[1, 2, 3], [1, 2, 3], [1, 1, 2]], dtype=float)


def test_default_performance_is_minus_weighted_l1() -> None:
    # sums [3, 5, 8] against [3, 3, 5]: deviations 0, 2, 3.
    assert cohda_default_performance(MAT, TargetParams(np.array([3.0, 3, 5]), np.ones(3))) == -5.0
    assert cohda_default_performance(
        MAT, TargetParams(np.array([3.0, 3, 5]), np.array([1.0, 2, 3]))) == -13.0


def _sysconfig(entries: dict[int, tuple[list[float], int]]) -> SystemConfig:
    return SystemConfig({pid: ScheduleSelection(np.array(s, dtype=float), c)
                         for pid, (s, c) in entries.items()})


@pytest.mark.parametrize("i, j, expected", [
    ({1: ([1, 2], 42), 2: ([4, 2], 4)}, {1: ([10, 20], 45), 2: ([40, 20], 5)},
     {1: ([10, 20], 45), 2: ([40, 20], 5)}),
    ({1: ([1, 2], 42)}, {1: ([10, 20], 40), 2: ([40, 20], 5)},
     {1: ([1, 2], 42), 2: ([40, 20], 5)}),
    ({1: ([1, 2], 42)}, {2: ([40, 20], 5)}, {1: ([1, 2], 42), 2: ([40, 20], 5)}),
    ({1: ([1, 2], 42)}, {1: ([40, 20], 5)}, {1: ([1, 2], 42)}),
    ({1: ([1, 2], 42), 2: ([40, 20], 5)}, {1: ([1, 2], 42), 2: ([40, 20], 5)},
     {1: ([1, 2], 42), 2: ([40, 20], 5)}),
])
def test_merge_sysconfigs_keeps_the_newer_entry(i: dict, j: dict, expected: dict) -> None:
    sc_i = _sysconfig(i)
    merged = merge_sysconfigs(sc_i, _sysconfig(j))
    assert merged == _sysconfig(expected)
    # Nothing taken from j: the very same object (how a participant tells "unchanged").
    assert (merged is sc_i) == (sc_i == _sysconfig(expected))


def _sum_perf(cluster_schedule: np.ndarray, _target: Any) -> float:
    return float(np.sum(cluster_schedule))


@pytest.mark.parametrize("si, pi, pid_i, perf_i, sj, pj, pid_j, perf_j, exp_s, exp_pid, exp_perf", [
    # same participants, equal perf: the lower creator id (i) wins
    ([[1, 2], [4, 2]], [1, 2], 1, 0.5, [[10, 20], [40, 20]], [1, 2], 2, 0.5, [[1, 2], [4, 2]], 1, 0.5),
    # same participants: the higher perf wins
    ([[1, 2], [4, 2]], [1, 2], 1, 0.4, [[10, 20], [40, 20]], [1, 2], 2, 0.5,
     [[10, 20], [40, 20]], 2, 0.5),
    # j's participants are a subset of i's: keep i whatever the perf
    ([[1, 2], [4, 2]], [1, 2], 1, 0.4, [[0, 0], [40, 20]], [1], 2, 0.5, [[1, 2], [4, 2]], 1, 0.4),
    # i's participants are a subset of j's: take j
    ([[1, 2], [0, 0]], [1], 1, 0.4, [[10, 20], [40, 20]], [1, 2], 2, 0.5,
     [[10, 20], [40, 20]], 2, 0.5),
    # disjoint: the union, built by the merging participant (3), not evaluated
    ([[1, 2], [0, 0]], [1], 1, 0.4, [[0, 0], [40, 20]], [2], 2, 0.5, [[1, 2], [40, 20]], 3, None),
])
def test_merge_candidates(si: list, pi: list, pid_i: int, perf_i: float, sj: list, pj: list,
                          pid_j: int, perf_j: float, exp_s: list, exp_pid: int,
                          exp_perf: float | None) -> None:
    ci = SolutionCandidate(pid_i, np.array(si, dtype=float), perf_i, frozenset(pi))
    cj = SolutionCandidate(pid_j, np.array(sj, dtype=float), perf_j, frozenset(pj))
    merged = merge_candidates(ci, cj, 3, _sum_perf, None)
    assert merged.participant_id == exp_pid
    np.testing.assert_array_equal(merged.schedules, np.array(exp_s, dtype=float))
    assert merged.perf == exp_perf


def test_merge_candidates_evaluates_lazily_and_keeps_the_original_on_a_win() -> None:
    ci = SolutionCandidate(1, np.array([[5.0]]), None, (1,))
    cj = SolutionCandidate(2, np.array([[1.0]]), None, (1,))
    merged = merge_candidates(ci, cj, 3, _sum_perf, None)
    assert merged is ci and merged.perf is None  # i won; its perf stays unevaluated
    merged = merge_candidates(cj, ci, 3, _sum_perf, None)
    assert merged.participant_id == 1 and merged.perf == 5.0  # the evaluated copy of the winner


def test_perceive_stores_the_target() -> None:
    cohda = create_cohda_participant(1, [[0.0, 1, 2], [1, 2, 3]])
    wm = WorkingMemory(TargetParams(np.array([1.0, 2, 3]), np.ones(3)), SystemConfig(), None)
    perceive(cohda, [wm])
    assert cohda.memory.target_params == TargetParams(np.array([1.0, 2, 3]), np.ones(3))


def test_perceive_then_decide_picks_the_best_schedule() -> None:
    # Against [1, 2, 1]: [0,1,2] -> -3 (initial, counter 1), [1,2,3] -> -2, [1,1,1] -> -1 (best,
    # counter 2), [4,2,3] -> -5.
    cohda = create_cohda_participant(1, [[0.0, 1, 2], [1, 2, 3], [1, 1, 1], [4, 2, 3]])
    wm = WorkingMemory(TargetParams(np.array([1.0, 2, 1]), np.ones(3)), SystemConfig(),
                       SolutionCandidate(1, np.zeros((1, 3)), 0.0, frozenset()))
    sysconf, candidate = perceive(cohda, [wm])
    sysconf, candidate = decide(cohda, cohda.decider, sysconf, candidate)
    np.testing.assert_array_equal(candidate.schedules[0], [1, 1, 1])
    assert candidate.perf == -1.0
    assert sysconf.schedule_choices[1].counter == 2


def test_two_participant_exchange_trace() -> None:
    carrier = RecordingCarrier([1])
    part1 = create_cohda_participant(1, [[1, 1, 0.0], [1, 1, 1], [4, 2, 1], [0, 1, 0]])
    part2 = create_cohda_participant(2, [[0.0, 1, 2], [1, 2.0, 3], [1, 1, 1], [4, 2, 3]])
    start = create_cohda_start_message([1, 2.0, 1])

    deliver(part1, carrier, start)
    wm = carrier.sent[-1][1]
    np.testing.assert_array_equal(wm.solution_candidate.schedules, [[1, 1, 1]])
    deliver(part2, carrier, wm)
    deliver(part1, carrier, carrier.sent[-1][1])
    wm = carrier.sent[-1][1]
    assert part1.memory.target_params == start.target_params
    # Own counter: 1 (initial [1,1,0]) -> 2 ([1,1,1] alone) -> 3 (back to [1,1,0] beside 2's).
    assert part1.memory.system_config.schedule_choices == {
        1: ScheduleSelection(np.array([1.0, 1, 0]), 3),
        2: ScheduleSelection(np.array([0.0, 1, 2]), 1)}
    np.testing.assert_array_equal(wm.solution_candidate.schedules, [[1, 1, 0], [0, 1, 2]])

    deliver(part2, carrier, wm)
    wm = carrier.sent[-1][1]
    for part in (part1, part2):
        np.testing.assert_array_equal(part.memory.solution_candidate.schedules,
                                      [[1, 1, 0], [0, 1, 2]])
    n_sent = len(carrier.sent)
    deliver(part1, carrier, wm)
    assert len(carrier.sent) == n_sent  # nothing changed: nothing sent (termination)


S_HINRICHS = [
    [[1.0, 1, 1, 1, 1], [4, 3, 3, 3, 3], [6, 6, 6, 6, 6], [9, 8, 8, 8, 8], [11, 11, 11, 11, 11]],
    [[13, 12, 12, 12, 12], [15, 15, 15, 14, 14], [18, 17, 17, 17, 17], [20, 20, 20, 19, 19],
     [23, 22, 22, 22, 22]],
    [[25, 24, 23, 23, 23], [27, 26, 26, 25, 25], [30, 29, 28, 28, 28], [32, 31, 31, 30, 30],
     [35, 34, 33, 33, 33]],
    [[36, 35, 35, 34, 34], [39, 38, 37, 36, 36], [41, 40, 40, 39, 39], [44, 43, 42, 41, 41],
     [46, 45, 45, 44, 44]],
    [[48, 47, 46, 45, 45], [50, 49, 48, 48, 47], [53, 52, 51, 50, 50], [55, 54, 53, 53, 52],
     [58, 57, 56, 55, 55]],
    [[60, 58, 57, 56, 56], [62, 61, 60, 59, 58], [65, 63, 62, 61, 61], [67, 66, 65, 64, 63],
     [70, 68, 67, 66, 66]],
    [[71, 70, 68, 67, 67], [74, 72, 71, 70, 69], [76, 75, 73, 72, 72], [79, 77, 76, 75, 74],
     [81, 80, 78, 77, 77]],
    [[83, 81, 80, 78, 78], [85, 83, 82, 81, 80], [88, 86, 85, 83, 83], [90, 88, 87, 86, 85],
     [93, 91, 90, 88, 88]],
    [[95, 92, 91, 90, 89], [97, 95, 93, 92, 91], [100, 97, 96, 95, 94], [102, 100, 98, 97, 96],
     [105, 102, 101, 100, 99]],
    [[106, 104, 102, 101, 100], [109, 106, 105, 103, 102], [111, 109, 107, 106, 105],
     [114, 111, 110, 108, 107], [116, 114, 112, 111, 110]],
]


def test_hinrichs_ten_participants_round_robin() -> None:
    """Round robin, each participant handles the latest message, until one sends nothing."""
    carrier = RecordingCarrier([1])
    parts = [create_cohda_participant(i + 1, s) for i, s in enumerate(S_HINRICHS)]
    wm = create_cohda_start_message([542, 528, 519, 511, 509.0])
    quiet = False
    while not quiet:
        for part in parts:
            before = len(carrier.sent)
            deliver(part, carrier, wm)
            if carrier.sent:
                wm = carrier.sent[-1][1]
            if len(carrier.sent) == before:
                quiet = True
                break
    candidate = parts[0].memory.solution_candidate
    assert candidate.perf == pytest.approx(-5, abs=0.1)
    np.testing.assert_array_equal(candidate.schedules.sum(axis=0), [543, 529, 520, 512, 510])


def test_simple_carrier_by_hand_and_express() -> None:
    async def by_hand() -> COHDAAlgorithmData:
        container = ActorContainer()
        one = SimpleCarrier(container, create_cohda_participant(1, [[0.0, 1, 2], [1, 2, 3]]))
        two = SimpleCarrier(container, create_cohda_participant(2, [[0.0, 1, 2], [1, 2, 3]]))
        one.send_to_other(create_cohda_start_message([1.2, 2, 3]), cid(two))
        await container.done_event.wait()
        return one.actor

    actor = asyncio.run(by_hand())
    assert actor.memory.solution_candidate.perf < 0

    a1 = create_cohda_participant(1, [[0.0, 1, 2], [1, 2, 3]])
    a2 = create_cohda_participant(2, [[0.0, 1, 2], [1, 2, 3]])
    result = run_distributed_optimization([a1, a2], create_cohda_start_message([1.2, 2, 3]))
    # The reference's README example: both pick [0,1,2]; |1.2-0| + |2-2| + |3-4| = 2.2.
    for a in (a1, a2):
        np.testing.assert_array_equal(a.memory.solution_candidate.schedules, [[0, 1, 2], [0, 1, 2]])
        assert a.memory.solution_candidate.perf == pytest.approx(-2.2, abs=1e-12)
    for sol in result.solutions:  # solution(): the summed schedule each participant sees
        np.testing.assert_array_equal(sol, [0, 2, 4])
    np.testing.assert_array_equal(cohda_result(a1), [0, 2, 4])


# ------------------------------------------------------------------------------------------------
# LocalSearchDecider (continuous corridors)
# ------------------------------------------------------------------------------------------------

def _local_search(initial: list[float], corridors: list[tuple[float, float]],
                  local_perf: Any = None) -> LocalSearchDecider:
    return LocalSearchDecider(np.array(initial), corridors,
                              local_perf if local_perf is not None else (lambda _: 0.0),
                              max_iterations=20, sample_size_per_value=20)


def test_local_search_decider_attributes() -> None:
    d = _local_search([1.0, 2.0], [(0.0, 5.0), (0.0, 5.0)])
    memory = WorkingMemory(None, SystemConfig(), None)
    np.testing.assert_array_equal(d.initial_schedule(memory), [1.0, 2.0])
    assert d.corridors == [(0.0, 5.0), (0.0, 5.0)]
    random.seed(3)
    sampler = d.distribution(0.0, 1.0)
    assert all(0.0 <= sampler() <= 1.0 for _ in range(100))


def test_find_new_value_stays_in_the_corridor_and_follows_the_gap() -> None:
    random.seed(11)
    d = _local_search([0.5], [(0.0, 1.0)])
    assert 0.0 <= _find_new_value(d, 0, np.array([0.5]), 0.0) <= 1.0
    # Constant local performance: the score rises with the value, so the pruning keeps the
    # upper samples and the last pick drifts up (reference: mean of 10 > 3 on [0, 10]).
    d = _local_search([0.0], [(0.0, 10.0)])
    d.convergence_force_factor = 1.0
    values = [_find_new_value(d, 0, np.array([0.0]), 5.0) for _ in range(10)]
    assert np.mean(values) > 3.0
    d = _local_search([2.0, 3.0], [(1.0, 4.0), (2.0, 5.0)])
    new = _find_in_local_search_room(d, np.array([2.0, 3.0]), np.array([0.5, 0.5]))
    assert new.shape == (2,) and 1.0 <= new[0] <= 4.0 and 2.0 <= new[1] <= 5.0


def test_local_search_participants_converge() -> None:
    random.seed(5)
    parts = [create_cohda_participant_with_decider(
        i, LocalSearchDecider(np.array([1.0, 1.0]), [(0.0, 5.0), (0.0, 5.0)], lambda _: 0.0,
                              max_iterations=10, sample_size_per_value=10)) for i in (1, 2)]
    result = run_distributed_optimization(parts, create_cohda_start_message([4.0, 4.0]),
                                          timeout=60)
    for p in parts:
        assert set(p.memory.solution_candidate.present) == {1, 2}
        assert np.all((p.memory.solution_candidate.schedules >= 0)
                      & (p.memory.solution_candidate.schedules <= 5))
    assert result.messages < 1000


# ------------------------------------------------------------------------------------------------
# The reference tutorial, run unchanged
# ------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.processes
def test_tutorial_runs_unchanged_and_prints_the_reference_result() -> None:
    # As a user runs it: a script of its own, importing from the installed package.
    import subprocess

    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                          timeout=120, check=True)
    lines = done.stdout.splitlines()
    # The reference's output; -3 is optimal: supply is at most 6 against a target sum of 9.
    assert lines[0] == "Performance: -3.0"
    assert lines[1] == "Combined:   [3. 3. 0. 0.]"
    assert lines[2:] == ["Actor 1 chose: [1.0, 0.0, 0.0, 0.0]",
                         "Actor 2 chose: [2.0, 0.0, 0.0, 0.0]",
                         "Actor 3 chose: [0.0, 1.0, 0.0, 0.0]",
                         "Actor 4 chose: [0.0, 2.0, 0.0, 0.0]"]


def test_tutorial_participants_share_one_candidate() -> None:
    a = [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]
    b = [[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 2.0]]
    actors = [create_cohda_participant(i + 1, s) for i, s in enumerate([a, b, a, b])]
    run_distributed_optimization(actors, create_cohda_start_message([3.0, 3.0, 1.0, 2.0]))
    for actor in actors:
        np.testing.assert_array_equal(actor.memory.solution_candidate.schedules,
                                      [[1, 0, 0, 0], [2, 0, 0, 0], [0, 1, 0, 0], [0, 2, 0, 0]])


# ------------------------------------------------------------------------------------------------
# Messages: plain data, never changed by a receiver; the vectorised path is exact
# ------------------------------------------------------------------------------------------------

def _plain(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, np.ndarray):
        assert value.dtype.kind in "fiub", where
        return
    if isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            _plain(v, f"{where}[{k}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _plain(k, f"{where} key")
            _plain(v, f"{where}[{k!r}]")
        return
    assert dataclasses.is_dataclass(value), f"{where}: {type(value).__name__} is not plain data"
    for f in dataclasses.fields(value):
        _plain(getattr(value, f.name), f"{where}.{f.name}")


def test_messages_are_plain_data_and_receivers_do_not_change_the_sender() -> None:
    carrier = RecordingCarrier([1])
    parts = [create_cohda_participant(i + 1, s) for i, s in enumerate(S_HINRICHS[:4])]
    wm = create_cohda_start_message([120, 118, 116, 114, 112.0])
    for _ in range(3):
        for part in parts:
            sender_state = copy.deepcopy(wm)
            refs = (wm.target_params, wm.system_config, wm.solution_candidate)
            deliver(part, carrier, wm)
            assert wm == sender_state  # same content ...
            assert (wm.target_params, wm.system_config, wm.solution_candidate) == refs
            if carrier.sent:
                wm = carrier.sent[-1][1]
                _plain(wm, "WorkingMemory")
    # Shared arrays cannot be written by anyone.
    candidate = parts[0].memory.solution_candidate
    with pytest.raises(ValueError):
        candidate.schedules[0, 0] = 1.0
    with pytest.raises(ValueError):
        parts[0].memory.system_config.schedule_choices[1].schedule[0] = 1.0


def test_vectorised_option_sums_match_the_performance_function_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    for _ in range(300):
        n, steps, k = (int(v) for v in rng.integers(1, [130, 100, 12]))
        base = rng.normal(size=(n, steps)) * 10 ** rng.uniform(-3, 3, size=(n, 1))
        options = rng.normal(size=(k, steps)) * 10 ** rng.uniform(-3, 3)
        target = TargetParams(rng.normal(size=steps) * n, rng.uniform(0, 3, steps))
        row = int(rng.integers(0, n))
        sums = _option_sums(base, row, options)
        fast = -(target.weights * np.abs(target.schedule - sums)).sum(axis=-1)
        for j in range(k):
            m = base.copy()
            m[row] = options[j]
            assert cohda_default_performance(m, target) == fast[j]


def test_custom_performance_function_is_used() -> None:
    def l2(cluster_schedule: np.ndarray, target_params: TargetParams) -> float:
        return -float(np.sqrt(((target_params.schedule - cluster_schedule.sum(axis=0)) ** 2).sum()))

    # Against [2, 0] (participant 2 can only give [0, 0]): [1, 1] is 2 away in L1 and 1.41 in
    # L2, [0.5, 0] 1.5 in both; so L1 picks [0.5, 0] and L2 [1, 1].
    sets = [[[1.0, 1.0], [0.5, 0.0]], [[0.0, 0.0]]]
    for perf, expected in ((cohda_default_performance, [0.5, 0.0]), (l2, [1.0, 1.0])):
        actors = [create_cohda_participant(i + 1, s, perf) for i, s in enumerate(sets)]
        run_distributed_optimization(actors, create_cohda_start_message([2.0, 0.0]))
        np.testing.assert_array_equal(actors[0].memory.solution_candidate.schedules[0], expected)


# ------------------------------------------------------------------------------------------------
# Quality: exhaustive search on small instances
# ------------------------------------------------------------------------------------------------

def small_instance(seed: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """2-6 participants with 1-4 schedules of 1-8 steps; integer schedules for even seeds,
    float ones for odd; a float target anywhere in the reachable range +- 1; weights 0.2-3."""
    rng = np.random.default_rng(seed)
    n, k, steps = int(rng.integers(2, 7)), int(rng.integers(1, 5)), int(rng.integers(1, 9))
    if seed % 2 == 0:
        sets = [rng.integers(0, 6, size=(int(rng.integers(1, k + 1)), steps)).astype(float)
                for _ in range(n)]
    else:
        sets = [rng.uniform(-2, 5, size=(int(rng.integers(1, k + 1)), steps)) for _ in range(n)]
    hi = sum(s.max(axis=0) for s in sets)
    lo = sum(s.min(axis=0) for s in sets)
    return sets, rng.uniform(lo - 1, hi + 1), rng.uniform(0.2, 3.0, steps)


def exhaustive(sets: list[np.ndarray], target: np.ndarray, weights: np.ndarray
               ) -> tuple[float, float]:
    """The smallest and largest weighted L1 distance over every combination."""
    sums = np.zeros((1, len(target)))
    for s in sets:
        sums = (sums[:, None, :] + s[None, :, :]).reshape(-1, len(target))
    d = (weights * np.abs(target - sums)).sum(axis=1)
    return float(d.min()), float(d.max())


@functools.lru_cache(maxsize=1)
def small_quality() -> dict[str, Any]:
    excess, normalised, optimal = [], [], 0
    for seed in range(50):
        sets, target, weights = small_instance(seed)
        actors = [create_cohda_participant(i + 1, s.tolist()) for i, s in enumerate(sets)]
        run_distributed_optimization(actors, create_cohda_start_message(target, weights))
        X = actors[0].memory.solution_candidate.schedules
        d = weighted_l1(X, target, weights)
        d_opt, d_worst = exhaustive(sets, target, weights)
        assert d >= d_opt - 1e-9 * max(1.0, d_opt)  # nothing beats the enumeration
        optimal += d <= d_opt + 1e-9 * max(1.0, d_opt)
        excess.append((d - d_opt) / max(d_opt, 1e-12))
        normalised.append((d - d_opt) / (d_worst - d_opt) if d_worst > d_opt else 0.0)
    return {"optimal": optimal, "n": 50, "mean_excess": float(np.mean(excess)),
            "worst_excess": float(np.max(excess)), "mean_normalised": float(np.mean(normalised)),
            "worst_normalised": float(np.max(normalised))}


def test_small_instances_against_exhaustive_search() -> None:
    q = small_quality()
    # Measured (COHDA as specified, complete graph): optimal on 42 of 50; relative excess
    # (d - d*) / d* mean 0.331, worst 9.71 (an instance with d* = 0.23); normalised by the
    # worst combination (d - d*) / (d_worst - d*): mean 0.040, worst 0.614.
    assert q["optimal"] == 42
    assert q["mean_excess"] == pytest.approx(0.3309, abs=5e-4)
    assert q["worst_excess"] == pytest.approx(9.7075, abs=5e-4)
    assert q["mean_normalised"] == pytest.approx(0.0399, abs=5e-4)
    assert q["worst_normalised"] == pytest.approx(0.6137, abs=5e-4)


@functools.lru_cache(maxsize=1)
def small_quality_multistart(runs: int = 4) -> dict[str, Any]:
    """As :func:`small_quality` for multi-start COHDA (``runs`` runs, seed = the instance's)."""
    excess, normalised, optimal, messages = [], [], 0, []
    for seed in range(50):
        sets, target, weights = small_instance(seed)
        actors = [create_multistart_cohda_participant(i + 1, s.tolist(), seed=seed)
                  for i, s in enumerate(sets)]
        res = run_cohda_multistart(actors, create_cohda_start_message(target, weights), runs=runs)
        X = actors[0].memory.solution_candidate.schedules
        assert all(np.array_equal(a.memory.solution_candidate.schedules, X) for a in actors)
        d = weighted_l1(X, target, weights)
        d_opt, d_worst = exhaustive(sets, target, weights)
        assert d >= d_opt - 1e-9 * max(1.0, d_opt)
        optimal += d <= d_opt + 1e-9 * max(1.0, d_opt)
        excess.append((d - d_opt) / max(d_opt, 1e-12))
        normalised.append((d - d_opt) / (d_worst - d_opt) if d_worst > d_opt else 0.0)
        messages.append(res.messages)
    return {"optimal": optimal, "n": 50, "mean_excess": float(np.mean(excess)),
            "worst_excess": float(np.max(excess)), "mean_normalised": float(np.mean(normalised)),
            "worst_normalised": float(np.max(normalised)), "mean_messages": float(np.mean(messages))}


def test_small_instances_issue_target_90_percent() -> None:
    # The issue's target (the optimum on >= 90 %, 45 of 50): plain COHDA misses it (42 of 50,
    # test_small_instances_against_exhaustive_search); multi-start COHDA with 4 runs meets it.
    assert small_quality()["optimal"] == 42
    q = small_quality_multistart()
    assert q["optimal"] >= 45
    # Measured (4 runs, seed = the instance's seed): optimal on 46 of 50; relative excess mean
    # 0.128, worst 4.62; normalised mean 0.024, worst 0.614 (the same instance as plain COHDA's
    # worst: no run left that fixed point); 405.6 messages per instance on average (plain: 86.0).
    assert q["optimal"] == 46
    assert q["mean_excess"] == pytest.approx(0.1278, abs=5e-4)
    assert q["worst_excess"] == pytest.approx(4.6236, abs=5e-4)
    assert q["mean_normalised"] == pytest.approx(0.0240, abs=5e-4)
    assert q["worst_normalised"] == pytest.approx(0.6137, abs=5e-4)
    assert q["mean_messages"] == pytest.approx(405.6, abs=0.05)


def test_multistart_run_0_is_plain_cohda_and_the_best_run_is_kept() -> None:
    a = [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]
    b = [[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 2.0]]
    plain = [create_cohda_participant(i + 1, s) for i, s in enumerate([a, b, a, b])]
    res = run_distributed_optimization(plain, create_cohda_start_message([3.0, 3.0, 1.0, 2.0]))
    multi = [create_multistart_cohda_participant(i + 1, s) for i, s in enumerate([a, b, a, b])]
    out = run_cohda_multistart(multi, create_cohda_start_message([3.0, 3.0, 1.0, 2.0]), runs=1)
    # Run 0: the same trace (40 messages, the same candidate); then the final message flooded
    # (1 + 2 |E| = 13 on the complete graph of 4).
    assert out.run_messages == [res.messages, 13] and res.messages == 40
    for p, m in zip(plain, multi):
        assert m.memory.solution_candidate == p.memory.solution_candidate
        assert m.memory.system_config == p.memory.system_config

    # Small instance 3 (a miss of plain COHDA): the best of the runs is what everybody keeps.
    sets, target, weights = small_instance(next(s for s in range(50) if _plain_misses(s)))
    multi = [create_multistart_cohda_participant(i + 1, s, seed=7) for i, s in enumerate(sets)]
    out = run_cohda_multistart(multi, create_cohda_start_message(target, weights), runs=5,
                               topology="ring")
    assert len(out.run_perf) == 5 and out.best_perf == max(out.run_perf)
    assert out.messages == sum(out.run_messages)
    for m in multi:
        c = m.memory.solution_candidate
        assert c == multi[0].memory.solution_candidate and c.perf == out.best_perf
        assert c.perf == pytest.approx(-weighted_l1(c.schedules, target, weights), rel=1e-12)
        assert any(np.array_equal(c.schedules[m.participant_id - 1], row)
                   for row in sets[m.participant_id - 1])
    np.testing.assert_array_equal(multi[0].solution(), multi[0].memory.solution_candidate
                                  .schedules.sum(axis=0))


def _plain_misses(seed: int) -> bool:
    sets, target, weights = small_instance(seed)
    actors = [create_cohda_participant(i + 1, s) for i, s in enumerate(sets)]
    run_distributed_optimization(actors, create_cohda_start_message(target, weights))
    d = weighted_l1(actors[0].memory.solution_candidate.schedules, target, weights)
    return len(sets) >= 3 and d > exhaustive(sets, target, weights)[0] + 1e-9


def test_multistart_messages_are_plain_data_and_stale_runs_are_ignored() -> None:
    carrier = RecordingCarrier([2])
    part = create_multistart_cohda_participant(1, [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], seed=3)
    deliver(part, carrier, create_cohda_start_message([1.0, 1.0]))
    first = part.memory.solution_candidate
    assert isinstance(carrier.sent[-1][1], COHDARunMessage) and carrier.sent[-1][1].run == 0
    deliver(part, carrier, COHDARestart(1))
    assert part.run == 1 and part.best.perf is not None  # run 0's candidate, filed
    np.testing.assert_array_equal(part.best.schedules, first.schedules)
    assert part.memory.solution_candidate.present == (1,)  # run 1 begins from scratch
    for _, message in carrier.sent:
        _plain(message, type(message).__name__)
    n_sent = len(carrier.sent)
    deliver(part, carrier, COHDARunMessage(0, carrier.sent[0][1].memory))  # of a finished run
    deliver(part, carrier, COHDARestart(1))  # seen already
    assert len(carrier.sent) == n_sent
    deliver(part, carrier, COHDARestart(2, final=True))
    assert part.finished and part.memory.solution_candidate.perf == part.best.perf
    with pytest.raises(ValueError, match="seed"):
        create_multistart_cohda_participant(1, [[1.0]], seed=-1)
    with pytest.raises(ValueError, match="COHDARestart needs a finished run 0"):
        run_cohda_multistart([create_multistart_cohda_participant(1, [[1.0]])], COHDARestart(1))


# ------------------------------------------------------------------------------------------------
# Quality: a large instance against a MILP (HiGHS)
# ------------------------------------------------------------------------------------------------

def large_instance(seed: int = 0, n: int = 100, k: int = 10, steps: int = 96
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` participants with ``k`` schedules (a random daily profile, shifted by up to 12
    steps and scaled by 0.8-1.2) of ``steps`` steps; the target is one random combination plus
    N(0, 1) noise, except steps 40-51, where it is 5 % above the most all participants can give
    together (unreachable, so the optimal distance is clearly positive); weights 0.5-2."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    S = np.empty((n, k, steps))
    for i in range(n):
        amp, phase = rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
        base = amp * (1 + 0.8 * np.sin(2 * np.pi * t / steps + phase)
                      + 0.3 * rng.normal(size=steps).cumsum() / np.sqrt(steps))
        base = np.clip(base, 0, None)
        for j in range(k):
            S[i, j] = np.roll(base, rng.integers(-12, 13)) * rng.uniform(0.8, 1.2)
    pick = rng.integers(0, k, n)
    target = S[np.arange(n), pick].sum(axis=0) + rng.normal(0, 1.0, steps)
    most = S.max(axis=1).sum(axis=0)
    target[40:52] = most[40:52] * 1.05
    return S, target, rng.uniform(0.5, 2.0, steps)


def milp_optimum(S: np.ndarray, target: np.ndarray, weights: np.ndarray,
                 time_limit: float | None = None) -> tuple[float, float, np.ndarray]:
    """min sum_t w_t d_t  s.t.  d_t >= +-(target_t - sum_ij x_ij S_ijt), sum_j x_ij = 1,
    x binary: returns the incumbent's distance, HiGHS's lower bound and the choice per
    participant. Without ``time_limit`` (s) HiGHS stops after the root node: the same incumbent
    on any machine under any load, where a time limit makes it depend on the CPU it gets."""
    n, k, steps = S.shape
    A = sparse.csr_matrix(S.reshape(n * k, steps).T)
    eye = sparse.identity(steps, format="csr")
    one = sparse.hstack([sparse.kron(sparse.identity(n), np.ones((1, k))),
                         sparse.csr_matrix((n, steps))])
    res = milp(np.concatenate([np.zeros(n * k), weights]),
               constraints=[LinearConstraint(sparse.hstack([A, -eye]), -np.inf, target),
                            LinearConstraint(sparse.hstack([A, eye]), target, np.inf),
                            LinearConstraint(one, 1, 1)],
               integrality=np.concatenate([np.ones(n * k), np.zeros(steps)]),
               bounds=Bounds(0, np.concatenate([np.ones(n * k), np.full(steps, np.inf)])),
               options={"mip_rel_gap": 1e-6, **({"node_limit": 1} if time_limit is None
                                                 else {"time_limit": time_limit})})
    assert res.x is not None, res.message
    choice = res.x[:n * k].reshape(n, k).argmax(axis=1)
    return float(res.fun), float(res.mip_dual_bound), choice


def cohda_on(S: np.ndarray, target: np.ndarray, weights: np.ndarray, topology: Any
             ) -> tuple[float, Any, list[COHDAAlgorithmData]]:
    actors = [create_cohda_participant(i + 1, S[i]) for i in range(len(S))]
    result = run_distributed_optimization(actors, create_cohda_start_message(target, weights),
                                          topology=topology)
    return weighted_l1(actors[0].memory.solution_candidate.schedules, target, weights), result, \
        actors


def small_world(n: int) -> nx.Graph:
    return nx.connected_watts_strogatz_graph(n, 4, 0.3, seed=1)


def lp_relaxation_bound(S: np.ndarray, target: np.ndarray, weights: np.ndarray) -> float:
    """The MILP of :func:`milp_optimum` with the binaries relaxed to [0, 1] (HiGHS, well under a
    second): a lower bound of the optimal distance, independent of any time limit."""
    n, k, steps = S.shape
    A = sparse.csr_matrix(S.reshape(n * k, steps).T)
    eye = sparse.identity(steps, format="csr")
    one = sparse.hstack([sparse.kron(sparse.identity(n), np.ones((1, k))),
                         sparse.csr_matrix((n, steps))])
    res = linprog(np.concatenate([np.zeros(n * k), weights]),
                  A_ub=sparse.vstack([sparse.hstack([A, -eye]), sparse.hstack([-A, -eye])]),
                  b_ub=np.concatenate([target, -target]), A_eq=one, b_eq=np.ones(n),
                  bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


@pytest.mark.slow
def test_large_instance_within_five_percent_of_the_optimum() -> None:
    """COHDA is certified within 4 % (ring) / 5 % (small world) of the optimum: its distance is
    at most that far above the LP relaxation's bound, which lies below the optimum.
    (benchmarks/cohda_quality.py also runs the MILP: its 10 s incumbent is 1119.19, 120 s give
    1118.55; the optimum lies between those and the bound.)"""
    S, target, w = large_instance(0)
    floor = float(np.sum(w * np.clip(target - S.max(axis=1).sum(axis=0), 0, None)))
    assert floor > 100  # the unreachable steps alone: the optimum is clearly positive
    # The lower bound from the LP relaxation: deterministic, where HiGHS's MILP bound after 10 s
    # depends on the machine's load (measured: the same 1113.81; 120 s of HiGHS: 1114.06).
    bound = lp_relaxation_bound(S, target, w)
    assert floor <= bound and bound == pytest.approx(1113.8103, abs=1e-3)

    for topology, measured, limit in (("ring", 1153.9216, 0.040), (small_world(100), 1166.9757,
                                                                    0.050)):
        d, result, actors = cohda_on(S, target, w, topology)
        excess_bound = (d - bound) / bound      # >= the true relative excess
        print(f"\nlarge, {'ring' if topology == 'ring' else 'small world'}: COHDA {d:.2f} "
              f"({result.messages} messages), bound {bound:.2f}: at most {excess_bound:.2%} "
              "over the optimum")
        # Measured: ring 1153.92 (3.10 % over the 10 s incumbent, 3.60 % over the bound), small
        # world 1166.98 (4.27 % / 4.77 %); deterministic, so the distance is asserted tightly.
        # Seed 0 is the most favourable of seeds 0-4 (--large-seeds): over those the excess is
        # 3.1-5.5 % on the ring and 4.3-8.1 % on the small world, so 5 % is not met in general.
        assert d == pytest.approx(measured, abs=1e-3)
        assert excess_bound <= limit
        X = actors[0].memory.solution_candidate.schedules
        assert all(np.array_equal(a.memory.solution_candidate.schedules, X) for a in actors)


@pytest.mark.slow
def test_large_instance_multistart_perturbation_within_five_percent_on_seed_2() -> None:
    # Seed 2 is where plain COHDA misses 5 % on the ring (959.27: 5.43 % over the 10 s MILP
    # incumbent 909.89, 5.84 % over the LP relaxation's bound 906.30, which is also HiGHS's
    # bound after 10 s; benchmarks/cohda_quality.py measures both). Multi-start perturbing 10 %
    # of the participants: its second run finds 946.58, 4.44 % over the bound, i.e. certainly
    # within 5 % of the optimum (runs 3 and 4 find 950.87 and no better: 4 runs end at 946.58
    # too, for twice the time).
    S, target, w = large_instance(2)
    bound = lp_relaxation_bound(S, target, w)
    assert bound == pytest.approx(906.3047, abs=1e-3)
    actors = [create_multistart_cohda_participant(i + 1, S[i], seed=2) for i in range(len(S))]
    out = run_cohda_multistart(actors, create_cohda_start_message(target, w), runs=2,
                               perturb=0.1, topology="ring")
    d = weighted_l1(actors[0].memory.solution_candidate.schedules, target, w)
    print(f"\nlarge seed 2, ring, multi-start (2 runs, perturb 0.1): {d:.2f} "
          f"({out.messages} messages; runs {[round(-p, 2) for p in out.run_perf]}): "
          f"{(d - bound) / bound:.2%} over the MILP bound")
    assert -out.run_perf[0] == pytest.approx(959.2700, abs=1e-3)  # run 0: plain COHDA
    assert d == pytest.approx(946.5792, abs=1e-3)
    assert (d - bound) / bound <= 0.05
    X = actors[0].memory.solution_candidate.schedules
    assert all(np.array_equal(a.memory.solution_candidate.schedules, X) for a in actors)


# ------------------------------------------------------------------------------------------------
# Topologies
# ------------------------------------------------------------------------------------------------

def _check_valid(actors: list[COHDAAlgorithmData], sets: list[np.ndarray], target: np.ndarray,
                 weights: np.ndarray) -> float:
    first = actors[0].memory.solution_candidate
    for a in actors:
        c = a.memory.solution_candidate
        assert c == first  # every participant ends with the same candidate
        assert a.memory.system_config == actors[0].memory.system_config
    assert set(first.present) == set(range(1, len(actors) + 1))
    for i, s in enumerate(sets):  # each row is one of that participant's schedules
        assert any(np.array_equal(first.schedules[i], row) for row in s)
    d = weighted_l1(first.schedules, target, weights)
    assert first.perf == pytest.approx(-d, rel=1e-12)
    return d


@pytest.mark.parametrize("topology", ["ring", "small_world", "tree"])
def test_cohda_on_other_topologies_ends_consistent(topology: str) -> None:
    rng = np.random.default_rng(7)
    n = 8  # 4**8 combinations for the exhaustive reference
    sets = [rng.integers(0, 5, size=(4, 6)).astype(float) for _ in range(n)]
    target, weights = rng.uniform(5, 30, 6), rng.uniform(0.5, 2, 6)
    graph = {"ring": "ring", "small_world": small_world(n),
             "tree": nx.random_labeled_tree(n, seed=3)}[topology]
    actors = [create_cohda_participant(i + 1, s) for i, s in enumerate(sets)]
    result = run_distributed_optimization(actors, create_cohda_start_message(target, weights),
                                          topology=graph)
    d = _check_valid(actors, sets, target, weights)
    # Measured: the optimum 38.32 on every topology here, as on the complete graph (messages:
    # complete 743, ring 175, small world 315, tree 151).
    assert d == pytest.approx(exhaustive(sets, target, weights)[0], rel=1e-12)
    assert all(np.array_equal(s, result.solutions[0]) for s in result.solutions)


# ------------------------------------------------------------------------------------------------
# Bad input: clear errors before the run
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda: create_cohda_participant(1, []), ValueError, "schedule_set must not be empty"),
    (lambda: create_cohda_participant(1, [[1, 2], [1, 2, 3]]), ValueError,
     r"schedule_set\[1\] has 3 steps but schedule_set\[0\] has 2"),
    (lambda: create_cohda_participant(1, [[1, np.nan]]), ValueError, r"schedule_set\[0\]"),
    (lambda: create_cohda_participant(1, [[[1, 2]]]), ValueError, r"schedule_set\[0\]"),
    (lambda: create_cohda_participant(1, 5), TypeError, "schedule_set"),
    (lambda: create_cohda_participant(0, [[1.0]]), ValueError, "participant_id"),
    (lambda: create_cohda_participant("1", [[1.0]]), TypeError, "participant_id"),
    (lambda: create_cohda_participant(1, [[1.0]], "l1"), TypeError, "performance_function"),
    (lambda: create_cohda_participant_with_decider(1, object()), TypeError, "decider"),
    (lambda: create_cohda_start_message([[1, 2], [3, 4]]), ValueError, "target_schedule"),
    (lambda: create_cohda_start_message([]), ValueError, "target_schedule"),
    (lambda: create_cohda_start_message([1, np.inf]), ValueError, "target_schedule"),
    (lambda: create_cohda_start_message([1, 2, 3], [1, 2]), ValueError,
     "weights has 2 entries but target_schedule has 3"),
    (lambda: create_cohda_start_message([1, 2], [1, -1]), ValueError, "weights must be >= 0"),
    (lambda: LocalSearchDecider([1.0, 1.0], [(0, 1)], lambda _: 0.0), ValueError, "corridors"),
    (lambda: LocalSearchDecider([1.0], [(2, 1)], lambda _: 0.0), ValueError, r"corridors\[0\]"),
    (lambda: LocalSearchDecider([1.0], [(0, 1)], lambda _: 0.0, max_iterations=-1), ValueError,
     "max_iterations"),
])
def test_bad_input_is_refused_with_the_parameter_named(call: Any, error: type, match: str
                                                       ) -> None:
    with pytest.raises(error, match=match):
        call()


def test_schedule_of_the_wrong_length_is_refused_before_the_run() -> None:
    start = create_cohda_start_message([1.0, 2.0])
    actors = [create_cohda_participant(1, [[1.0, 2.0]]), create_cohda_participant(2, [[1.0]])]
    with pytest.raises(ValueError, match="target_schedule has 2 steps but participant 2's "
                       "schedules have 1"):
        run_distributed_optimization(actors, start)
    assert all(a.memory.target_params is None for a in actors)  # nobody got a message
    searcher = create_cohda_participant_with_decider(
        2, LocalSearchDecider([1.0, 1.0, 1.0], [(0, 2)] * 3, lambda _: 0.0))
    with pytest.raises(ValueError, match="participant 2's schedules have 3"):
        run_distributed_optimization([actors[0], searcher], start)
    with pytest.raises(TypeError, match="start_message must be a WorkingMemory"):
        run_distributed_optimization(actors, {"target": [1.0, 2.0]})
    with pytest.raises(ValueError, match="start_message has no target_params"):
        run_distributed_optimization(actors, WorkingMemory(None, SystemConfig(), None))


def test_provider_schedule_of_the_wrong_length_names_the_participant() -> None:
    # A provider's schedules are only known when the run asks for them: participant 2 refuses
    # the start on arrival, before it sends anything.
    actors = [create_cohda_participant(1, [[1.0, 2.0]]),
              create_cohda_participant(2, lambda memory: [[1.0]])]
    with pytest.raises(ParticipantError, match="participant 2: its schedule has 1 steps but the "
                       "target has 2"):
        run_distributed_optimization(actors, create_cohda_start_message([1.0, 2.0]))
    assert actors[0].memory.target_params is None
    with pytest.raises(TypeError, match="WorkingMemory"):
        deliver(actors[0], RecordingCarrier([]), {"target": [1.0, 2.0]})


# ------------------------------------------------------------------------------------------------
# Duplicate participant ids: refused before a run in one process; across processes the
# participant whose id another one claims ends the run
# ------------------------------------------------------------------------------------------------

# The optimum is [2, 2, 2] (the first two participants at [1, 1, 1], or the third at [2, 2, 2]).
# Two participants with id 1 share one row of every candidate: the run used to end with
# [1, 1, 1] and no error.
DUP_SETS = [[[1.0, 1, 1], [0, 0, 0]], [[0.0, 0, 0], [1, 1, 1]], [[0.0, 0, 0], [2, 2, 2]]]
DUP_TARGET = [2.0, 2.0, 2.0]


def duplicated_ids() -> list[COHDAAlgorithmData]:
    return [create_cohda_participant(pid, s) for pid, s in zip((1, 1, 2), DUP_SETS)]


def unchecked_run(actors: list[COHDAAlgorithmData]) -> ActorContainer:
    """A run without the runner's checks before the start, as peers in processes of their own."""
    async def run() -> ActorContainer:
        container = ActorContainer()
        carriers = [SimpleCarrier(container, a) for a in actors]
        carriers[0].send_to_other(create_cohda_start_message(DUP_TARGET), cid(carriers[1]))
        await asyncio.wait_for(container.done_event.wait(), 60)
        return container

    return asyncio.run(run())


def test_duplicate_participant_ids_are_refused_before_the_run(monkeypatch) -> None:
    distinct = [create_cohda_participant(i + 1, s) for i, s in enumerate(DUP_SETS)]
    res = run_distributed_optimization(distinct, create_cohda_start_message(DUP_TARGET))
    for solution in res.solutions:
        np.testing.assert_array_equal(solution, [2, 2, 2])

    # The reproduction: with no check at all, the duplicate ends quietly with a wrong answer.
    with monkeypatch.context() as m:
        m.setattr(COHDAAlgorithmData, "check_claims", lambda self, sysconfig: None)
        actors = duplicated_ids()
        assert unchecked_run(actors).error is None
        for a in actors:
            np.testing.assert_array_equal(a.solution(), [1, 1, 1])

    actors = duplicated_ids()
    with pytest.raises(ValueError, match=r"actors\[0\] and actors\[1\] have the same participant "
                       "id 1; every participant needs an id of its own"):
        run_distributed_optimization(actors, create_cohda_start_message(DUP_TARGET))
    assert all(a.memory.target_params is None for a in actors)  # nobody got a message
    multi = [create_multistart_cohda_participant(pid, s) for pid, s in zip((1, 2, 1), DUP_SETS)]
    with pytest.raises(ValueError, match=r"actors\[0\] and actors\[2\] have the same "
                       "participant id 1"):
        run_cohda_multistart(multi, create_cohda_start_message(DUP_TARGET), runs=2)
    assert all(a.memory.target_params is None for a in multi)


def test_a_participant_raises_when_another_claims_its_id() -> None:
    with pytest.raises(ParticipantError, match=r"participant \d \(COHDAAlgorithmData\): ValueError: "
                       "participant 1: received a schedule under its own id 1 that it never "
                       "chose .*another participant has participant_id 1 too"):
        unchecked_run(duplicated_ids()).raise_error()

    p = create_cohda_participant(1, [[1.0], [2.0]])
    first = p.own_choice(np.array([1.0]))
    p.memory.system_config = SystemConfig({1: p.own_choice(np.array([2.0]))})
    other = ScheduleSelection(np.array([3.0]), 7)
    for own in (first, p.memory.system_config.schedule_choices[1],
                ScheduleSelection(np.array([1.0]), 1),  # an older own entry, as decoded
                ScheduleSelection(np.array([5.0]), 0)):  # multi-start's kept schedules
        p.check_claims(SystemConfig({1: own, 2: other}))
    for foreign in (ScheduleSelection(np.array([2.0]), 1), ScheduleSelection(np.array([1.0]), 3)):
        with pytest.raises(ValueError, match="participant 1: received a schedule under its own "
                           "id 1 that it never chose"):
            p.check_claims(SystemConfig({1: foreign, 2: other}))


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_duplicate_ids_in_processes_of_their_own_end_the_run(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p))
    with pytest.raises(ParticipantError, match=r"participant \d \(participant-\d\): ValueError: "
                       "participant 1: received a schedule under its own id 1 that it never "
                       "chose"):
        run_distributed_processes(
            [ParticipantFactory("peer_factories:cohda", {"participant_id": pid, "schedules": s})
             for pid, s in zip((1, 1, 2), DUP_SETS)],
            create_cohda_start_message(DUP_TARGET), runtime="tcp", timeout=120)


# ------------------------------------------------------------------------------------------------

if __name__ == "__main__":  # the figures of the quality tests (and more seeds of the large one)
    print("small:", small_quality())
    if "--large-seeds" in sys.argv:
        for seed in range(5):
            S, target, w = large_instance(seed)
            d_milp, bound, _ = milp_optimum(S, target, w, time_limit=10)
            row = f"seed {seed}: MILP {d_milp:.2f} (bound {bound:.2f})"
            for name in ("ring", "small world"):
                t0 = time.perf_counter()
                d, res, _ = cohda_on(S, target, w, "ring" if name == "ring" else small_world(100))
                row += (f" | {name} {d:.2f}: {(d - d_milp) / d_milp:.2%} / "
                        f"{(d - bound) / bound:.2%} vs bound, {time.perf_counter() - t0:.1f} s, "
                        f"{res.messages} msgs")
            print(row, flush=True)
