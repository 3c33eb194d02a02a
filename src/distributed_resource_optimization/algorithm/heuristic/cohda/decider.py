"""COHDA participants with continuous corridors: a sampled local search per time step.

Instead of a discrete schedule set, a :class:`LocalSearchDecider` participant may set every time
step ``t`` of its schedule anywhere in ``corridors[t] = (lo, hi)``. In each decide step it moves
every step towards the open gap ``target * weights - sum of the candidate`` by sampling values
from the corridor (``distribution``) and scoring each with ``local_performance(schedule)`` plus
``convergence_force_factor`` times the gap it would close (:func:`_find_new_value`).

Sampling uses the :mod:`random` module (seed it for repeatable runs), as the reference does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from distributed_resource_optimization.algorithm.heuristic.cohda.core import (
    COHDAAlgorithmData,
    LocalDecider,
    SolutionCandidate,
    SystemConfig,
    WorkingMemory,
    create_from_updated_sysconf,
)

#: ``distribution(lo, hi)`` returns a sampler: a function without arguments drawing a value.
Distribution = Callable[[float, float], Callable[[], float]]


def _uniform(lo: float, hi: float) -> Callable[[], float]:
    """Uniform samples in ``[lo, hi]`` from :mod:`random` (the default distribution)."""
    def sample() -> float:
        return random.uniform(lo, hi)

    return sample


def _count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class LocalSearchDecider(LocalDecider):
    """A participant whose schedule may take any value in per-step corridors.

    ``initial_schedule``: the starting schedule (one value per step); ``corridors``: per step a
    ``(lo, hi)`` pair; ``local_performance(schedule) -> float``: the participant's own score of a
    schedule (higher is better); ``convergence_force_factor``: weight of closing the open gap to
    the target; ``max_iterations`` samples are scored per step out of ``sample_size_per_value``
    drawn from ``distribution(lo, hi)`` (default uniform).
    """

    def __init__(self, initial_schedule: Sequence[float] | np.ndarray,
                 corridors: Sequence[tuple[float, float]],
                 local_performance: Callable[[np.ndarray], float],
                 convergence_force_factor: float = 0.1, max_iterations: int = 10,
                 sample_size_per_value: int = 10, distribution: Distribution | None = None
                 ) -> None:
        initial = np.asarray(initial_schedule, dtype=float)
        if initial.ndim != 1 or initial.size == 0:
            raise ValueError(f"initial_schedule must be a non-empty 1-D schedule, got shape "
                             f"{initial.shape}")
        if len(corridors) != initial.size:
            raise ValueError(f"corridors has {len(corridors)} entries but initial_schedule has "
                             f"{initial.size} steps; give one (lo, hi) per step")
        for t, corridor in enumerate(corridors):
            if len(corridor) != 2 or not float(corridor[0]) <= float(corridor[1]):
                raise ValueError(f"corridors[{t}] must be a pair (lo, hi) with lo <= hi, got "
                                 f"{corridor!r}")
        if not callable(local_performance):
            raise TypeError("local_performance must be callable (schedule -> float)")
        if distribution is not None and not callable(distribution):
            raise TypeError("distribution must be callable ((lo, hi) -> sampler) or None")
        self._initial_schedule = initial
        self.corridors = corridors
        self.local_performance = local_performance
        self.convergence_force_factor = float(convergence_force_factor)
        self.max_iterations = _count(max_iterations, "max_iterations", 0)
        self.sample_size_per_value = _count(sample_size_per_value, "sample_size_per_value", 1)
        self.distribution: Distribution = distribution if distribution is not None else _uniform

    def initial_schedule(self, memory: WorkingMemory) -> np.ndarray:
        return self._initial_schedule

    def schedule_length(self) -> int:
        return self._initial_schedule.size

    def decide(self, cohda_data: COHDAAlgorithmData, sysconfig: SystemConfig,
               candidate: SolutionCandidate) -> tuple[SystemConfig, SolutionCandidate]:
        return decide(cohda_data, self, sysconfig, candidate)


def _find_new_value(decider: LocalSearchDecider, i: int, current_schedule: np.ndarray,
                    delta_to_target: float) -> float:
    """A new value for step ``i``: scores up to ``max_iterations`` random picks out of
    ``sample_size_per_value`` samples of the corridor by ``local_performance`` plus the
    convergence force on ``(value - current) + delta_to_target``, narrowing the samples to the
    improving side once three are scored; returns the last value picked (the current value if
    none)."""
    lo, hi = decider.corridors[i]
    sampler = decider.distribution(lo, hi)
    possible = [sampler() for _ in range(decider.sample_size_per_value)]
    current_value = float(current_schedule[i])
    scored: list[tuple[float, float]] = []
    new_value: float | None = None
    iteration = 1
    while possible and iteration <= decider.max_iterations:
        new_value = possible[random.randrange(len(possible))]
        trial = np.array(current_schedule, dtype=float)
        trial[i] = new_value
        perf = decider.local_performance(trial) + decider.convergence_force_factor * (
            (new_value - current_value) + delta_to_target)
        scored.append((new_value, perf))
        if len(scored) == 3:
            # Three scored points tell the slope: keep the samples on the better side (only
            # at exactly three, as the reference).
            (v1, p1), (v2, p2), (v3, p3) = sorted(scored)
            if p1 > p2 > p3:
                possible = [v for v in possible if v < v2]
            elif p3 > p2 > p1:
                possible = [v for v in possible if v > v2]
            elif p2 > p1 > p3 or p3 > p1 > p2:
                lower, upper = min(v2, v3), max(v2, v3)
                possible = [v for v in possible if lower < v < upper]
        iteration += 1
    return new_value if new_value is not None else current_value


def _find_in_local_search_room(decider: LocalSearchDecider, current_schedule: np.ndarray,
                               open_schedule: np.ndarray) -> np.ndarray:
    """Every step searched independently (:func:`_find_new_value`) against its open gap."""
    current = np.asarray(current_schedule, dtype=float)
    new = current.copy()
    for i in range(current.size):
        new[i] = _find_new_value(decider, i, current, float(open_schedule[i]))
    return new


def decide(cohda_data: COHDAAlgorithmData, decider: LocalSearchDecider, sysconfig: SystemConfig,
           candidate: SolutionCandidate) -> tuple[SystemConfig, SolutionCandidate]:
    """The local-search decide step: a new own schedule searched against the open gap
    ``target * weights - sum of the candidate``; returns the system config and the new candidate
    (``perf`` not evaluated)."""
    pid = cohda_data.participant_id
    target = cohda_data.memory.target_params
    if target is None:
        raise ValueError(f"participant {pid}: no target yet (the first message must be the "
                         "start message, create_cohda_start_message)")
    current = np.array(candidate.schedules[pid - 1], dtype=float)
    if current.shape != target.schedule.shape or len(decider.corridors) != current.size:
        raise ValueError(f"participant {pid}: its schedule and corridors have "
                         f"{len(decider.corridors)} steps but the target has "
                         f"{target.schedule.size}")
    open_schedule = target.schedule * target.weights - candidate.schedules.sum(axis=0)
    new = _find_in_local_search_room(decider, current, open_schedule)
    new_candidate = create_from_updated_sysconf(pid, sysconfig, new)
    existing = sysconfig.schedule_choices.get(pid)
    # The system config records the schedule the perceived candidate holds for this participant,
    # not the freshly sampled one (as the reference). Recording the sample would change the
    # system config in every decide step, so every message would trigger another and the run
    # would never go quiet.
    if existing is None or not np.array_equal(current, existing.schedule):
        sysconfig = SystemConfig({**sysconfig.schedule_choices,
                                  pid: cohda_data.own_choice(current)})
    return sysconfig, new_candidate


__all__ = ["Distribution", "LocalSearchDecider"]
