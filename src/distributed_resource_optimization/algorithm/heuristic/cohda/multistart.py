"""Multi-start COHDA: several complete, distributed COHDA runs, each participant keeping the best.

COHDA ends in a fixed point where no participant can improve by changing its own schedule
alone; which fixed point it reaches depends on where the search starts. Multi-start COHDA (the
"repeated runs, keep the best solution candidate" variant of the COHDA literature) runs COHDA
``runs`` times on the same participants:

- run 0 is plain COHDA, bit for bit (the same start message, initial schedules and trace);
- each later run ``r`` starts with a :class:`COHDARestart` message that the participants flood
  to their neighbours. On receiving it a participant files the candidate of the run that just
  ended (keeping the better of it and its best so far: :attr:`MultiStartCOHDAParticipant.best`),
  forgets the run (system config and candidate), picks its initial schedule at random from its
  *own* schedule set (its own generator, seeded by ``(seed, r, participant id)``) and waits; the
  one participant drawn as the run's starter (from ``(seed, r)``, among the participants of the
  finished run's candidate: all participants draw the same one) starts COHDA as the receiver of a
  start message does. COHDA messages are tagged with the run (:class:`COHDARunMessage`), so
  a message of an earlier run is ignored and one of a later run first starts that run;
- a final :class:`COHDARestart` with ``final=True`` makes every participant file the last run's
  candidate and put its best into ``memory.solution_candidate``.

No participant ever sees another's schedule set: it learns only the schedules the others chose,
as in plain COHDA. The best is selected by each participant from the candidates it held itself
(the runs end with one shared candidate, so all select the same one). The runs follow one another:
:func:`~...runtime.run.run_cohda_multistart` starts each with
:func:`~...runtime.run.start_distributed_optimization`
once the previous one has gone quiet, so the restart is triggered from outside, like the first
start (the participants cannot tell that a run has ended; a deployment would restart on a clock).
Cost: about ``runs`` times the messages and time of one COHDA run, plus ``1 + 2 |E|`` messages
flooding each restart and the final message (``|E|``: the overlay's links).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distributed_resource_optimization.algorithm.core import OptimizationMessage
from distributed_resource_optimization.algorithm.heuristic.cohda.core import (
    COHDAAlgorithmData,
    DefaultLocalDecider,
    LocalDecider,
    PerformanceFunction,
    ScheduleSelection,
    SolutionCandidate,
    SystemConfig,
    WorkingMemory,
    _check_length,
    _schedule_options,
    act,
    cohda_default_performance,
    decide,
    perceive,
    schedule_provider,
)


@dataclass
class COHDARunMessage(OptimizationMessage):
    """A COHDA message of run ``run`` (0-based): the sender's :class:`WorkingMemory`."""

    run: int
    memory: WorkingMemory
    #: The run's :attr:`COHDARestart.perturb` (a participant may hear of the run first here).
    perturb: float | None = None


@dataclass
class COHDARestart(OptimizationMessage):
    """Start run ``run`` (>= 1) of a multi-start COHDA (participants flood it to their
    neighbours); ``final=True``: no new run, every participant keeps its best candidate."""

    run: int
    final: bool = False
    #: ``None``: a fresh restart; a fraction in (0, 1]: perturb the best candidate instead (drop
    #: that share of the participants, drawn from ``(seed, run)``, and let them re-enter).
    perturb: float | None = None


@dataclass
class MultiStartResult:
    """What :func:`run_cohda_multistart` measured: per run the ``perf`` of the first
    participant's candidate at the run's end, the messages and the wall time (one more entry:
    the final message), the totals and the ``perf`` of the best candidate."""

    run_perf: list[float] = field(default_factory=list)
    run_messages: list[int] = field(default_factory=list)
    run_wall_time_s: list[float] = field(default_factory=list)
    messages: int = 0
    wall_time_s: float = 0.0
    best_perf: float | None = None


def _evaluated(candidate: SolutionCandidate, perf_func: PerformanceFunction,
               target: Any) -> SolutionCandidate:
    if candidate.perf is None:
        return candidate.with_perf(perf_func(candidate.schedules, target))
    return candidate


class MultiStartCOHDAParticipant(COHDAAlgorithmData):
    """A COHDA participant that takes part in several runs and keeps the best candidate it held
    at the end of one (:attr:`best`). ``seed`` seeds its random initial schedules and the starter
    draw of runs >= 1 (give all participants the same seed); run 0 is plain COHDA."""

    def __init__(self, participant_id: int, decider: LocalDecider,
                 performance_function: PerformanceFunction = cohda_default_performance,
                 seed: int = 0) -> None:
        super().__init__(participant_id, decider, performance_function)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        self.seed = int(seed)
        #: The run this participant is in (0-based).
        self.run = 0
        #: The best candidate of the finished runs (``None`` until a run has been filed).
        self.best: SolutionCandidate | None = None
        self.finished = False
        self._flooded = 0  # the last run whose restart this participant forwarded
        self._perturb: float | None = None  # the current run's perturbation

    # -- messages ---------------------------------------------------------------------------

    def check_start(self, start_message: Any) -> None:
        if isinstance(start_message, COHDARestart):
            if self.memory.target_params is None:
                raise ValueError("a COHDARestart needs a finished run 0: start the first run with "
                                 "create_cohda_start_message(...)")
            return
        super().check_start(start_message)

    async def on_exchange_message(self, carrier: Any, message_data: Any,
                                  meta: dict | None) -> None:
        if isinstance(message_data, COHDARestart):
            self._on_restart(carrier, message_data)
        elif isinstance(message_data, COHDARunMessage):
            if message_data.run < self.run or self.finished:
                return  # a message of a finished run
            if message_data.run > self.run:  # it overtook the restart
                self._begin_run(message_data.run, message_data.perturb, None)
            self._process(carrier, message_data.memory)
        elif isinstance(message_data, WorkingMemory):  # the start of run 0
            self._process(carrier, message_data)
        else:
            raise TypeError(f"participant {self.participant_id}: a multi-start COHDA message "
                            "must be a WorkingMemory, COHDARunMessage or COHDARestart, got "
                            f"{type(message_data).__name__}")

    def _on_restart(self, carrier: Any, restart: COHDARestart) -> None:
        if self.finished or restart.run <= self._flooded:
            return  # seen already
        self._flooded = restart.run
        for other in carrier.others(str(self.participant_id)):
            carrier.send_to_other(restart, other)
        if restart.final:
            self._file_candidate()
            self.finished = True
            if self.best is not None:
                self.memory.solution_candidate = self.best
            return
        if restart.run == self.run:
            return  # a message of this run overtook the restart: the run has begun here
        starter = self._begin_run(restart.run, restart.perturb, carrier)
        if restart.perturb is None and starter == self.participant_id:
            # As the receiver of a start message: decide from what it knows (itself) and send.
            self._process(carrier, WorkingMemory(self.memory.target_params, SystemConfig(), None),
                          force=True)

    def _process(self, carrier: Any, message: WorkingMemory, force: bool = False) -> None:
        """:func:`~.core.process_exchange_message`, sending run-tagged memories."""
        old_sysconfig = self.memory.system_config
        old_candidate = self.memory.solution_candidate
        sysconfig, candidate = perceive(self, [message])
        if force or sysconfig != old_sysconfig or candidate != old_candidate:
            sysconfig, candidate = decide(self, self.decider, sysconfig, candidate)
            memory = act(self, sysconfig, candidate)
            for other in carrier.others(str(self.participant_id)):
                carrier.send_to_other(COHDARunMessage(self.run, memory, self._perturb), other)

    # -- runs -------------------------------------------------------------------------------

    def _file_candidate(self) -> None:
        """Keep the run's candidate if it is better than the best so far (ties: the earlier)."""
        candidate = self.memory.solution_candidate
        if candidate is None:
            return
        candidate = _evaluated(candidate, self.performance_function, self.memory.target_params)
        if self.best is None or len(candidate.present) > len(self.best.present) or (
                candidate.present == self.best.present and candidate.perf > self.best.perf):
            self.best = candidate

    def _begin_run(self, run: int, perturb: float | None, carrier: Any) -> int:
        """File the finished run, forget it and set this participant's start of ``run``;
        returns the id of the run's starter (fresh restarts)."""
        self._file_candidate()
        self.run, self._perturb = run, perturb
        if perturb is not None and self.best is not None:
            self._begin_perturbed_run(run, perturb, carrier)
            return 0
        present = self.best.present if self.best is not None else (self.participant_id,)
        starter = int(present[np.random.default_rng([self.seed, run]).integers(len(present))])
        pid = self.participant_id
        memory = WorkingMemory(self.memory.target_params, SystemConfig(), None)
        if isinstance(self.decider, DefaultLocalDecider):
            options = _schedule_options(self.decider, memory, pid)
            rng = np.random.default_rng([self.seed, run, pid])
            initial = np.array(options[int(rng.integers(len(options)))], dtype=float)
        else:
            initial = np.asarray(self.decider.initial_schedule(memory), dtype=float)
        self.memory = memory
        _check_length(self, initial)
        memory.system_config = SystemConfig({pid: self.own_choice(initial)})
        base = np.zeros((pid, initial.size))
        base[pid - 1] = initial
        memory.solution_candidate = SolutionCandidate(pid, base, None, (pid,))
        return starter

    def _begin_perturbed_run(self, run: int, perturb: float, carrier: Any) -> None:
        """Perturb the best candidate (large-neighbourhood search, "ruin and recreate"): the
        share ``perturb`` of its participants, drawn from ``(seed, run)`` by everybody alike,
        leaves it; the others keep their schedules. A participant that left re-enters with its
        best schedule beside those kept; then COHDA runs on from there (a new fixed point,
        not necessarily better: the best is kept). Everybody sends its memory to start."""
        best = self.best
        pid = self.participant_id
        target = self.memory.target_params
        present = best.present
        rng = np.random.default_rng([self.seed, run])
        dropped = {present[k] for k in np.flatnonzero(rng.random(len(present)) < perturb)}
        if not dropped:
            dropped = {present[int(rng.integers(len(present)))]}
        keep = tuple(j for j in present if j not in dropped)
        partial = np.array(best.schedules)
        partial[[j - 1 for j in dropped]] = 0.0
        if pid in dropped and isinstance(self.decider, DefaultLocalDecider):
            options = _schedule_options(self.decider, self.memory, pid)
            perfs = []
            for option in options:
                trial = partial.copy()
                trial[pid - 1] = option
                perfs.append(self.performance_function(trial, target))
            own = np.array(options[int(np.nanargmax(np.array(perfs, dtype=float)))])
            partial[pid - 1] = own
            ids = tuple(sorted(keep + (pid,)))
        else:
            own = np.array(best.schedules[pid - 1])
            partial[pid - 1] = own
            ids = tuple(sorted(set(keep) | {pid}))
        partial.flags.writeable = False
        choices = {j: ScheduleSelection(best.schedules[j - 1], 0) for j in keep if j != pid}
        choices[pid] = self.own_choice(own)
        candidate = SolutionCandidate(pid, partial, self.performance_function(partial, target),
                                      ids)
        self.memory = WorkingMemory(target, SystemConfig(dict(sorted(choices.items()))),
                                    candidate)
        if carrier is not None:
            for other in carrier.others(str(pid)):
                carrier.send_to_other(COHDARunMessage(run, self.memory, perturb), other)

    def best_candidate(self) -> SolutionCandidate | None:
        """The best of the filed runs and the current one (evaluated)."""
        current = self.memory.solution_candidate
        if current is None:
            return self.best
        current = _evaluated(current, self.performance_function, self.memory.target_params)
        if self.best is None or len(current.present) > len(self.best.present) or (
                current.present == self.best.present and current.perf > self.best.perf):
            return current
        return self.best

    def current_performance(self) -> float:
        """The performance of the candidate this participant holds now (the run's result once
        a run has gone quiet)."""
        return _evaluated(self.memory.solution_candidate, self.performance_function,
                          self.memory.target_params).perf

    def solution(self) -> np.ndarray | None:
        best = self.best_candidate()
        return None if best is None else best.schedules.sum(axis=0)


def create_multistart_cohda_participant(
        participant_id: int,
        schedule_set: Sequence[Sequence[float]] | np.ndarray | Callable[[WorkingMemory], list],
        performance_function: PerformanceFunction = cohda_default_performance,
        seed: int = 0) -> MultiStartCOHDAParticipant:
    """:func:`~.core.create_cohda_participant` for multi-start COHDA (same arguments, plus the
    ``seed`` of the random restarts; give all participants the same)."""
    return MultiStartCOHDAParticipant(participant_id,
                                      DefaultLocalDecider(schedule_provider(schedule_set)),
                                      performance_function, seed)


__all__ = [
    "COHDARestart",
    "COHDARunMessage",
    "MultiStartCOHDAParticipant",
    "MultiStartResult",
    "create_multistart_cohda_participant",
]
