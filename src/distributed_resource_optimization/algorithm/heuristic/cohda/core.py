"""COHDA: combinatorial optimization heuristic for distributed agents (Hinrichs et al.).

Every participant picks one schedule out of its own set so that the *sum* of all picked schedules
comes as close as possible to a target. Participants gossip a :class:`WorkingMemory`: what each
knows of everybody's current choice (:class:`SystemConfig`, entries stamped with a per-participant
counter) and the best complete-ish solution it has seen (:class:`SolutionCandidate`). On every
message a participant

1. *perceives*: merges the incoming knowledge into its own (:func:`perceive`),
2. *decides*: picks its own schedule that is best given the others' current choices
   (:func:`decide`),
3. *acts*: stores the result and, only if something changed, sends its memory to its neighbours
   (:func:`act`).

There is no stop message: the run ends when nobody changes anything any more (quiescence).

Value objects (:class:`ScheduleSelection`, :class:`SystemConfig`, :class:`SolutionCandidate`,
:class:`TargetParams`) are never modified after construction: every change builds a new object
and their arrays are read-only. That is what makes it safe that participants share them (in one
process the message *is* the sender's live memory, see :func:`process_exchange_message`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distributed_resource_optimization.algorithm.core import (
    DistributedAlgorithm,
    OptimizationMessage,
    message_type,
)

#: A performance function: ``(cluster_schedule (n_participants x n_steps), target_params) ->
#: float``, higher is better.
PerformanceFunction = Callable[[np.ndarray, "TargetParams | None"], float]


def _frozen_array(values: Any, ndim: int, where: str) -> np.ndarray:
    """``values`` as a read-only float array of ``ndim`` dimensions.

    An array that is already read-only float64 is taken as is (the library's own, shared by
    design); anything else is copied first, so freezing never touches a caller's array.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != ndim:
        raise ValueError(f"{where} must be {ndim}-D, got shape {arr.shape}")
    if not (_is_frozen(arr) and arr.flags.c_contiguous):
        arr = np.array(arr, dtype=float, order="C")
        arr.flags.writeable = False
    return arr


def _is_frozen(arr: np.ndarray) -> bool:
    """Nobody can write ``arr``: neither it nor any array it is a view of is writeable."""
    while isinstance(arr, np.ndarray):
        if arr.flags.writeable:
            return False
        arr = arr.base
    return True


# ------------------------------------------------------------------------------------------------
# Data structures (the message parts: plain dataclasses of ints, floats, tuples, dicts, arrays)
# ------------------------------------------------------------------------------------------------

@message_type
@dataclass(eq=False)
class ScheduleSelection:
    """One participant's chosen ``schedule`` (per time step) and the ``counter`` of that choice
    (the participant's own count of its changes: a higher counter is newer)."""

    schedule: np.ndarray
    counter: int

    def __post_init__(self) -> None:
        self.schedule = _frozen_array(self.schedule, 1, "ScheduleSelection.schedule")
        self.counter = int(self.counter)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, ScheduleSelection):
            return NotImplemented
        return self.counter == other.counter and np.array_equal(self.schedule, other.schedule)

    def __hash__(self) -> int:
        return hash((tuple(float(v) for v in self.schedule), self.counter))

    def __repr__(self) -> str:
        return f"ScheduleSelection(schedule={self.schedule.tolist()}, counter={self.counter})"


@message_type
@dataclass(eq=False)
class SystemConfig:
    """What a participant knows of everybody's current choice: participant id (1-based) ->
    :class:`ScheduleSelection`."""

    schedule_choices: dict[int, ScheduleSelection] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        if self is other:  # the common case in a run: nothing was merged in
            return True
        if not isinstance(other, SystemConfig):
            return NotImplemented
        mine, theirs = self.schedule_choices, other.schedule_choices
        if mine.keys() != theirs.keys():
            return False
        return all(a is theirs[k] or a == theirs[k] for k, a in mine.items())

    def __hash__(self) -> int:
        return hash(frozenset(self.schedule_choices.items()))

    def __repr__(self) -> str:
        return f"SystemConfig(schedule_choices={self.schedule_choices!r})"


def _present_ids(present: Any, where: str) -> tuple[int, ...]:
    try:
        ids = sorted({int(i) for i in present})
    except (TypeError, ValueError):
        raise TypeError(f"{where} must be a collection of participant ids (ints), "
                        f"got {present!r}") from None
    if ids and ids[0] < 1:
        raise ValueError(f"{where}: participant ids are 1-based, got {ids[0]}")
    return tuple(ids)


@message_type
@dataclass(eq=False)
class SolutionCandidate:
    """A (partial) solution: ``schedules`` has one row per participant id (row ``pid - 1``,
    zeros for ids not in ``present``); ``participant_id`` is who built it, ``perf`` its cached
    performance (``None`` until evaluated), ``present`` the ids it contains.

    ``present`` is stored as a sorted tuple of ids (the reference uses a frozenset; a tuple
    travels in any codec). Any collection of ints is accepted.
    """

    participant_id: int
    schedules: np.ndarray
    perf: float | None
    present: tuple[int, ...]

    def __post_init__(self) -> None:
        self.participant_id = int(self.participant_id)
        self.schedules = _frozen_array(self.schedules, 2, "SolutionCandidate.schedules")
        self.present = _present_ids(self.present, "SolutionCandidate.present")
        if self.perf is not None:
            self.perf = float(self.perf)
        if self.present and self.present[-1] > self.schedules.shape[0]:
            raise ValueError(f"SolutionCandidate: participant {self.present[-1]} is present but "
                             f"schedules has only {self.schedules.shape[0]} rows")

    def with_perf(self, perf: float) -> SolutionCandidate:
        """The same candidate with ``perf`` cached (a new object; the array is shared)."""
        return SolutionCandidate(self.participant_id, self.schedules, perf, self.present)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, SolutionCandidate):
            return NotImplemented
        return (self.participant_id == other.participant_id and self.perf == other.perf
                and self.present == other.present
                and np.array_equal(self.schedules, other.schedules))

    def __hash__(self) -> int:
        return hash((self.participant_id, self.schedules.shape,
                     tuple(self.schedules.ravel().tolist()), self.perf, self.present))

    def __repr__(self) -> str:
        return (f"SolutionCandidate(participant_id={self.participant_id}, "
                f"schedules={self.schedules.tolist()}, perf={self.perf}, "
                f"present={set(self.present) or '{}'})")


@message_type
@dataclass(eq=False)
class TargetParams:
    """The target ``schedule`` of the sum (per time step) and the per-step ``weights`` of its
    absolute deviation."""

    schedule: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        self.schedule = _frozen_array(self.schedule, 1, "TargetParams.schedule")
        self.weights = _frozen_array(self.weights, 1, "TargetParams.weights")
        if self.weights.shape != self.schedule.shape:
            raise ValueError(f"TargetParams: weights has {self.weights.size} entries, the target "
                             f"schedule {self.schedule.size}")

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, TargetParams):
            return NotImplemented
        return (np.array_equal(self.schedule, other.schedule)
                and np.array_equal(self.weights, other.weights))

    def __hash__(self) -> int:
        return hash((tuple(self.schedule.tolist()), tuple(self.weights.tolist())))

    def __repr__(self) -> str:
        return (f"TargetParams(schedule={self.schedule.tolist()}, "
                f"weights={self.weights.tolist()})")


@dataclass
class WorkingMemory(OptimizationMessage):
    """A participant's knowledge, and the COHDA message (a participant sends its memory)."""

    target_params: TargetParams | None
    system_config: SystemConfig
    solution_candidate: SolutionCandidate | None
    additional_parameters: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------
# Performance
# ------------------------------------------------------------------------------------------------

def _weighted_l1_of_sums(sums: np.ndarray, target_params: TargetParams) -> np.ndarray:
    """Minus the weighted L1 distance of each summed schedule (last axis: time) to the target."""
    return -(target_params.weights * np.abs(target_params.schedule - sums)).sum(axis=-1)


def _require_target(target_params: Any) -> TargetParams:
    if target_params is None:
        raise ValueError("cohda_default_performance needs target_params (the target of the "
                         "start message, create_cohda_start_message); got None")
    return target_params


def cohda_default_performance(cluster_schedule: np.ndarray, target_params: TargetParams) -> float:
    """Minus the weighted L1 distance of the summed schedules to the target:
    ``-sum_t w_t * |target_t - sum_i cluster_schedule[i, t]|`` (in the schedules' unit, weighted;
    0 is perfect, higher is better)."""
    target_params = _require_target(target_params)
    sums = np.asarray(cluster_schedule, dtype=float).sum(axis=0)
    return float(_weighted_l1_of_sums(sums, target_params))


# ------------------------------------------------------------------------------------------------
# Deciders
# ------------------------------------------------------------------------------------------------

def _always_acceptable(_schedule: np.ndarray) -> bool:
    return True


class LocalDecider:
    """How a participant chooses its own schedule: its :meth:`initial_schedule` and its
    :meth:`decide` step. Subclass both for a new kind of participant."""

    def initial_schedule(self, memory: WorkingMemory) -> np.ndarray:
        """The schedule the participant starts with."""
        raise NotImplementedError(f"{type(self).__name__} does not implement initial_schedule")

    def decide(self, cohda_data: COHDAAlgorithmData, sysconfig: SystemConfig,
               candidate: SolutionCandidate) -> tuple[SystemConfig, SolutionCandidate]:
        """The decide step for this kind of decider (see :func:`decide`)."""
        raise NotImplementedError(f"decide is not implemented for {type(self).__name__}")

    def schedule_length(self) -> int | None:
        """The number of time steps of this participant's schedules if known before the run
        (``None``: only known once the run asks for them)."""
        return None


class DefaultLocalDecider(LocalDecider):
    """Choose among a discrete set: ``schedule_provider(memory)`` returns the participant's
    feasible schedules (a list of 1-D array-likes, the first is the initial one);
    ``is_local_acceptable(schedule)`` can veto schedules."""

    def __init__(self, schedule_provider: Callable[[WorkingMemory], list],
                 is_local_acceptable: Callable[[np.ndarray], bool] = _always_acceptable) -> None:
        if not callable(schedule_provider):
            raise TypeError("schedule_provider must be callable (memory -> list of schedules), "
                            f"got {type(schedule_provider).__name__}")
        if not callable(is_local_acceptable):
            raise TypeError("is_local_acceptable must be callable (schedule -> bool), got "
                            f"{type(is_local_acceptable).__name__}")
        self.schedule_provider = schedule_provider
        self.is_local_acceptable = is_local_acceptable

    def initial_schedule(self, memory: WorkingMemory) -> np.ndarray:
        return np.array(self.schedule_provider(memory)[0], dtype=float)

    def schedule_length(self) -> int | None:
        provider = self.schedule_provider
        return provider.matrix.shape[1] if isinstance(provider, _StaticSchedules) else None

    def decide(self, cohda_data: COHDAAlgorithmData, sysconfig: SystemConfig,
               candidate: SolutionCandidate) -> tuple[SystemConfig, SolutionCandidate]:
        return _default_decide(cohda_data, self, sysconfig, candidate)


# ------------------------------------------------------------------------------------------------
# The participant
# ------------------------------------------------------------------------------------------------

def _participant_id(participant_id: Any) -> int:
    if isinstance(participant_id, bool) or not isinstance(participant_id, (int, np.integer)):
        raise TypeError(f"participant_id must be an int (1-based), got "
                        f"{type(participant_id).__name__} {participant_id!r}")
    if participant_id < 1:
        raise ValueError(f"participant_id must be >= 1 (ids are 1-based), got {participant_id}")
    return int(participant_id)


class COHDAAlgorithmData(DistributedAlgorithm):
    """One COHDA participant: its id (1-based, its row in every candidate), its decider, its
    performance function and its :class:`WorkingMemory` (``memory``)."""

    def __init__(self, participant_id: int, decider: LocalDecider,
                 performance_function: PerformanceFunction = cohda_default_performance) -> None:
        if not isinstance(decider, LocalDecider):
            raise TypeError(f"decider must be a LocalDecider (DefaultLocalDecider, "
                            f"LocalSearchDecider), got {type(decider).__name__}")
        if not callable(performance_function):
            raise TypeError("performance_function must be callable (cluster_schedule, "
                            f"target_params) -> float, got {type(performance_function).__name__}")
        self.participant_id = _participant_id(participant_id)
        self.counter = 0
        # Hash of the entry made under each counter (own_choice): tells this participant's own
        # entries from those of another participant that has the same id.
        self._chosen: dict[int, int] = {}
        self.memory = WorkingMemory(target_params=None, system_config=SystemConfig(),
                                    solution_candidate=None)
        self.performance_function = performance_function
        self.decider = decider

    async def on_exchange_message(self, carrier: Any, message_data: WorkingMemory,
                                  meta: dict | None) -> None:
        """Perceive ``message_data`` (a :class:`WorkingMemory`), decide and, if anything changed,
        send the memory to every neighbour."""
        if not isinstance(message_data, WorkingMemory):
            raise TypeError(f"participant {self.participant_id}: a COHDA message must be a "
                            f"WorkingMemory (create_cohda_start_message), got "
                            f"{type(message_data).__name__}")
        process_exchange_message(self, [message_data], carrier)

    def check_start(self, start_message: Any) -> None:
        """Refuse, before the run, a start message this participant cannot take part in: not a
        :class:`WorkingMemory`, without a target, or a target of another length than its
        schedules (when the decider knows that length up front)."""
        if not isinstance(start_message, WorkingMemory):
            raise TypeError(f"start_message must be a WorkingMemory (create_cohda_start_message), "
                            f"got {type(start_message).__name__}")
        target = start_message.target_params
        if target is None:
            raise ValueError("start_message has no target_params; build it with "
                             "create_cohda_start_message(target_schedule, weights)")
        length = self.decider.schedule_length()
        if length is not None and length != target.schedule.size:
            raise ValueError(f"target_schedule has {target.schedule.size} steps but participant "
                             f"{self.participant_id}'s schedules have {length}; every schedule "
                             "must have the target's length")

    def solution(self) -> np.ndarray | None:
        """This participant's view of the result: the summed schedule (per time step) of the best
        candidate it knows (as :func:`result`); ``None`` before its first message. Its own
        choice is ``memory.solution_candidate.schedules[participant_id - 1]``."""
        if self.memory.solution_candidate is None:
            return None
        return result(self)

    def algorithm_id(self) -> int:
        """The ``participant_id``: no two participants of a run may share it (checked before a
        run in one process; across processes by :meth:`check_claims`)."""
        return self.participant_id

    def own_choice(self, schedule: np.ndarray) -> ScheduleSelection:
        """This participant's entry for its new choice ``schedule``: stamped with its next
        counter and remembered (see :meth:`check_claims`). Deciders make their entries here."""
        self.counter += 1
        selection = ScheduleSelection(schedule, self.counter)
        self._chosen[self.counter] = hash(selection)
        return selection

    def check_claims(self, sysconfig: SystemConfig) -> None:
        """Raise ``ValueError`` if ``sysconfig`` holds an entry under this participant's id that
        it did not make: a later counter than its own, or another schedule than it chose under
        that counter. Then another participant has the same id, and the two would silently
        share one row of every candidate (a wrong answer); a run across processes, where no one
        sees all participants before the start, learns it here."""
        pid = self.participant_id
        entry = sysconfig.schedule_choices.get(pid)
        # Counter 0 is never a participant's own stamp (multi-start's perturbed runs hand on the
        # kept schedules under it; they never win a merge), so it claims nothing.
        if entry is None or entry.counter < 1 \
                or entry is self.memory.system_config.schedule_choices.get(pid):
            return
        known = self._chosen.get(entry.counter)
        # An entry made without own_choice (a custom decider) is not known: no verdict on it.
        if entry.counter <= self.counter and (known is None or known == hash(entry)):
            return
        raise ValueError(f"participant {pid}: received a schedule under its own id {pid} that it "
                         f"never chose ({entry!r}, its own counter is {self.counter}): another "
                         f"participant has participant_id {pid} too; every participant needs an "
                         "id of its own")


# ------------------------------------------------------------------------------------------------
# Candidate matrices
# ------------------------------------------------------------------------------------------------

def _sysconfig_matrix(sysconfig: SystemConfig, participant_id: int, n_steps: int) -> np.ndarray:
    """The choices of ``sysconfig`` as a (max id x n_steps) matrix (writable, zero rows for ids
    not in it); also has a row for ``participant_id``."""
    choices = sysconfig.schedule_choices
    n_rows = max(max(choices, default=0), participant_id)
    base = np.zeros((n_rows, n_steps))
    if choices:
        rows = [sel.schedule for sel in choices.values()]
        try:
            values = np.array(rows)
        except ValueError:  # ragged: some schedules are of another length
            values = None
        if values is None or values.shape[1] != n_steps:
            pid = next(p for p, sel in choices.items() if sel.schedule.size != n_steps)
            raise ValueError(f"the schedule of participant {pid} has "
                             f"{choices[pid].schedule.size} steps, participant "
                             f"{participant_id}'s {n_steps}: all schedules and the target must "
                             "have the same length")
        base[np.fromiter(choices, dtype=np.intp, count=len(choices)) - 1] = values
    return base


def create_from_updated_sysconf(participant_id: int, sysconfig: SystemConfig,
                                new_schedule: np.ndarray) -> SolutionCandidate:
    """The candidate of everybody's choices in ``sysconfig`` with ``participant_id``'s row
    replaced by ``new_schedule`` (``perf`` not evaluated)."""
    new = np.asarray(new_schedule, dtype=float)
    base = _sysconfig_matrix(sysconfig, participant_id, new.size)
    base[participant_id - 1] = new
    base.flags.writeable = False
    present = set(sysconfig.schedule_choices) | {participant_id}
    return SolutionCandidate(participant_id, base, None, tuple(present))


# ------------------------------------------------------------------------------------------------
# Merging
# ------------------------------------------------------------------------------------------------

def merge_sysconfigs(sysconfig_i: SystemConfig, sysconfig_j: SystemConfig) -> SystemConfig:
    """Per participant the newer entry (higher counter; on a tie ``i``'s). Returns
    ``sysconfig_i`` itself when nothing was taken from ``j`` (identity tells "unchanged")."""
    ci, cj = sysconfig_i.schedule_choices, sysconfig_j.schedule_choices
    get = ci.get
    # Most entries are the very same object in both (value objects are shared, never copied
    # in one process): the identity test skips them before any attribute is read.
    newer_in_j = [k for k, sj in cj.items()
                  if (si := get(k)) is not sj and (si is None or sj.counter > si.counter)]
    if not newer_in_j:
        return sysconfig_i
    merged = dict(ci)
    for k in newer_in_j:
        merged[k] = cj[k]
    # Sorted by id like the reference's result (the order carries no meaning).
    return SystemConfig(dict(sorted(merged.items())))


def merge_candidates(candidate_i: SolutionCandidate | None, candidate_j: SolutionCandidate | None,
                     participant_id: int, perf_func: PerformanceFunction,
                     target_params: TargetParams | None) -> SolutionCandidate | None:
    """The better of two candidates: the one with more participants if one contains the other;
    with the same participants the higher ``perf`` (evaluated lazily), on a tie the lower
    creator id, else ``i``; if they contain different participants, their union built by
    ``participant_id`` (``perf`` not evaluated)."""
    if candidate_j is None:
        return candidate_i
    if candidate_i is None:
        return candidate_j
    ki, kj = set(candidate_i.present), set(candidate_j.present)
    if ki < kj:
        return candidate_j
    if ki == kj:
        i, j = candidate_i, candidate_j
        if i.perf is None:
            i = i.with_perf(perf_func(i.schedules, target_params))
        if j.perf is None:
            j = j.with_perf(perf_func(j.schedules, target_params))
        if j.perf > i.perf or (j.perf == i.perf and j.participant_id < i.participant_id):
            return j
        # i wins: the original object, not the evaluated copy (as the reference; the cached
        # perf is recomputed when needed).
        return candidate_i
    if kj - ki:
        both = sorted(ki | kj)
        n_steps = candidate_i.schedules.shape[1]
        if candidate_j.schedules.shape[1] != n_steps:
            raise ValueError(f"candidates of different lengths: {n_steps} and "
                             f"{candidate_j.schedules.shape[1]} steps")
        base = np.zeros((both[-1], n_steps))
        rows_i = np.array(sorted(ki), dtype=np.intp) - 1
        rows_j = np.array(sorted(kj - ki), dtype=np.intp) - 1
        base[rows_i] = candidate_i.schedules[rows_i]
        base[rows_j] = candidate_j.schedules[rows_j]
        base.flags.writeable = False
        return SolutionCandidate(participant_id, base, None, tuple(both))
    return candidate_i  # j's participants are a subset of i's


# ------------------------------------------------------------------------------------------------
# perceive -> decide -> act
# ------------------------------------------------------------------------------------------------

def _check_length(cohda_data: COHDAAlgorithmData, schedule: np.ndarray) -> None:
    target = cohda_data.memory.target_params
    if target is not None and schedule.shape != target.schedule.shape:
        raise ValueError(f"participant {cohda_data.participant_id}: its schedule has "
                         f"{schedule.size} steps but the target has {target.schedule.size}; "
                         "every schedule must have the target's length")


def perceive(cohda_data: COHDAAlgorithmData, working_memories: Sequence[WorkingMemory]
             ) -> tuple[SystemConfig, SolutionCandidate]:
    """Merge the incoming memories into this participant's knowledge; returns the resulting
    system config and candidate (its memory keeps the old ones until :func:`act`, except that
    the target, the first own entry and the first own candidate are stored right away)."""
    memory = cohda_data.memory
    pid = cohda_data.participant_id
    sysconfig: SystemConfig = memory.system_config
    candidate: SolutionCandidate | None = memory.solution_candidate
    for n, wm in enumerate(working_memories):
        cohda_data.check_claims(wm.system_config)
        if memory.target_params is None:
            memory.target_params = wm.target_params
        if n == 0:
            if pid not in memory.system_config.schedule_choices:
                initial = np.asarray(cohda_data.decider.initial_schedule(memory), dtype=float)
                _check_length(cohda_data, initial)
                # A new object instead of the reference's in-place write: value objects are
                # never modified once built (others may hold them).
                memory.system_config = SystemConfig(
                    {**memory.system_config.schedule_choices,
                     pid: cohda_data.own_choice(initial)})
            sysconfig = memory.system_config
            if memory.solution_candidate is None or pid not in memory.solution_candidate.present:
                own = np.asarray(cohda_data.decider.initial_schedule(memory), dtype=float)
                _check_length(cohda_data, own)
                base = np.zeros((pid, own.size))
                base[pid - 1] = own
                memory.solution_candidate = SolutionCandidate(pid, base, None, (pid,))
            candidate = memory.solution_candidate
        sysconfig = merge_sysconfigs(sysconfig, wm.system_config)
        candidate = merge_candidates(candidate, wm.solution_candidate, pid,
                                     cohda_data.performance_function, memory.target_params)
    return sysconfig, candidate


def decide(cohda_data: COHDAAlgorithmData, decider: LocalDecider, sysconfig: SystemConfig,
           candidate: SolutionCandidate) -> tuple[SystemConfig, SolutionCandidate]:
    """Choose this participant's schedule given ``sysconfig``; returns the updated system config
    (own entry re-stamped only if the choice changed) and the best candidate. Dispatches on the
    decider (:class:`DefaultLocalDecider`, :class:`~.decider.LocalSearchDecider`)."""
    return decider.decide(cohda_data, sysconfig, candidate)


class _StaticSchedules:
    """The provider of a fixed schedule set: fresh float arrays on every call (callers may keep
    or change them); :func:`_default_decide` reads the read-only ``matrix`` directly."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix
        self.matrix.flags.writeable = False

    def __call__(self, _memory: WorkingMemory) -> list[np.ndarray]:
        return [row.copy() for row in self.matrix]


def _schedule_options(decider: DefaultLocalDecider, memory: WorkingMemory,
                      participant_id: int) -> np.ndarray:
    if isinstance(decider.schedule_provider, _StaticSchedules):
        return decider.schedule_provider.matrix
    raw = decider.schedule_provider(memory)
    try:
        options = np.array([np.asarray(s, dtype=float) for s in raw], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"participant {participant_id}: the schedule provider must return a "
                         f"non-empty list of equally long schedules of numbers ({exc})") from None
    if options.ndim != 2 or options.shape[0] == 0:
        raise ValueError(f"participant {participant_id}: the schedule provider must return a "
                         f"non-empty list of 1-D schedules, got shape {options.shape}")
    return options


def _option_sums(base: np.ndarray, row: int, options: np.ndarray) -> np.ndarray:
    """The column sums of ``base`` with row ``row`` replaced by each option (k x steps).

    numpy sums a C-ordered matrix of two or more columns over its rows in row order; this folds
    the same rows in the same order (the rows above ``row`` summed once, then the option, then the
    rows below, for all options at once), so every value is bit for bit the one
    :func:`cohda_default_performance` sees for that matrix (tests/algorithm/test_cohda.py checks this, so a
    numpy that sums otherwise is noticed). Ties between options, and with candidates evaluated
    elsewhere, are therefore decided exactly as with one call per option.
    """
    if base.shape[1] < 2:
        # One time step: numpy sums that column pairwise, not in row order; stack the whole
        # matrix per option so it reduces the same way.
        full = np.repeat(base[None], len(options), axis=0)
        full[:, row] = options
        return full.sum(axis=1)
    below = base[row + 1:]
    stack = np.empty((len(below) + (2 if row else 1), len(options), base.shape[1]))
    if row:
        stack[0] = base[:row].sum(axis=0)
    stack[1 if row else 0] = options
    stack[len(stack) - len(below):] = below[:, None, :]
    return stack.sum(axis=0)


def _default_decide(cohda_data: COHDAAlgorithmData, decider: DefaultLocalDecider,
                    sysconfig: SystemConfig, candidate: SolutionCandidate
                    ) -> tuple[SystemConfig, SolutionCandidate]:
    memory = cohda_data.memory
    pid = cohda_data.participant_id
    target = memory.target_params
    perf_func = cohda_data.performance_function
    options = _schedule_options(decider, memory, pid)
    _check_length(cohda_data, options[0])

    best = candidate if candidate.perf is not None \
        else candidate.with_perf(perf_func(candidate.schedules, target))
    best_schedule = best.schedules[pid - 1]

    if decider.is_local_acceptable is _always_acceptable:
        acceptable = np.ones(len(options), dtype=bool)
    else:
        acceptable = np.array([bool(decider.is_local_acceptable(s)) for s in options])
    base = _sysconfig_matrix(sysconfig, pid, options.shape[1])
    perfs = np.full(len(options), -np.inf)
    if acceptable.any():
        if perf_func is cohda_default_performance:
            perfs = np.where(acceptable,
                             _weighted_l1_of_sums(_option_sums(base, pid - 1, options),
                                                  _require_target(target)),
                             -np.inf)
        else:
            for k in np.flatnonzero(acceptable):
                trial = base.copy()  # a fresh matrix per call: the function may keep it
                trial[pid - 1] = options[k]
                perfs[k] = perf_func(trial, target)
    perfs = np.where(np.isnan(perfs), -np.inf, perfs)
    k = int(np.argmax(perfs))  # the first of equally good options, as a strict ">" scan
    if perfs[k] > best.perf:
        base[pid - 1] = options[k]
        base.flags.writeable = False
        present = set(sysconfig.schedule_choices) | {pid}
        best = SolutionCandidate(pid, base, float(perfs[k]), tuple(present))
        best_schedule = options[k]

    existing = sysconfig.schedule_choices.get(pid)
    if existing is None or not np.array_equal(best_schedule, existing.schedule):
        sysconfig = _with_own_choice(cohda_data, sysconfig, best_schedule)
    return sysconfig, best


def _with_own_choice(cohda_data: COHDAAlgorithmData, sysconfig: SystemConfig,
                     schedule: np.ndarray) -> SystemConfig:
    """``sysconfig`` with this participant's entry set to ``schedule`` under its next counter
    (a new object; the reference edits in place, which nobody can observe)."""
    return SystemConfig({**sysconfig.schedule_choices,
                         cohda_data.participant_id: cohda_data.own_choice(schedule)})


def act(cohda_data: COHDAAlgorithmData, new_sysconfig: SystemConfig,
        new_candidate: SolutionCandidate) -> WorkingMemory:
    """Store the decision in the participant's memory; returns the memory (the message)."""
    cohda_data.memory.system_config = new_sysconfig
    cohda_data.memory.solution_candidate = new_candidate
    return cohda_data.memory


def process_exchange_message(cohda_data: COHDAAlgorithmData, messages: Sequence[WorkingMemory],
                             carrier: Any) -> None:
    """Perceive ``messages``; if the system config or the candidate changed, decide, act and
    send the memory to every neighbour of ``carrier``; otherwise send nothing (termination)."""
    old_sysconfig = cohda_data.memory.system_config
    old_candidate = cohda_data.memory.solution_candidate
    sysconfig, candidate = perceive(cohda_data, messages)
    if sysconfig != old_sysconfig or candidate != old_candidate:
        sysconfig, candidate = decide(cohda_data, cohda_data.decider, sysconfig, candidate)
        memory = act(cohda_data, sysconfig, candidate)
        # The message is the live memory object, as in the reference: in one process a receiver
        # reads the sender's state when it handles the message (not when it was sent), and the
        # reference's numbers depend on that. It is safe because receivers only read it: merging
        # builds new objects or keeps references to value objects that are never modified (their
        # arrays are read-only), and act rebinds the sender's memory attributes instead of
        # changing what they point to. Carriers that serialize send a snapshot instead.
        for other in carrier.others(str(cohda_data.participant_id)):
            carrier.send_to_other(memory, other)


# ------------------------------------------------------------------------------------------------
# Factories and result
# ------------------------------------------------------------------------------------------------

def _finite_vector(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.array(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got {values!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got shape "
                         f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def create_cohda_start_message(target_schedule: Sequence[float] | np.ndarray,
                               weights: Sequence[float] | np.ndarray | None = None
                               ) -> WorkingMemory:
    """The start message: the target of the summed schedules (per time step) and the per-step
    weights of its deviation (default: all 1; must be >= 0)."""
    target = _finite_vector(target_schedule, "target_schedule")
    if weights is None:
        w = np.ones_like(target)
    else:
        w = _finite_vector(weights, "weights")
        if w.shape != target.shape:
            raise ValueError(f"weights has {w.size} entries but target_schedule has "
                             f"{target.size}; give one weight per time step")
        if np.any(w < 0):
            raise ValueError("weights must be >= 0 (a negative weight rewards deviation)")
    return WorkingMemory(target_params=TargetParams(schedule=target, weights=w),
                         system_config=SystemConfig(), solution_candidate=None)


def _schedule_set_matrix(schedule_set: Any) -> np.ndarray:
    rows = list(schedule_set)
    if not rows:
        raise ValueError("schedule_set must not be empty: give at least one schedule")
    vectors = []
    for k, row in enumerate(rows):
        try:
            vec = np.array(row, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"schedule_set[{k}] must be a sequence of numbers, got "
                             f"{row!r}") from None
        if vec.ndim != 1 or vec.size == 0:
            raise ValueError(f"schedule_set[{k}] must be a non-empty 1-D schedule, got shape "
                             f"{vec.shape}")
        if vectors and vec.size != vectors[0].size:
            raise ValueError(f"schedule_set[{k}] has {vec.size} steps but schedule_set[0] has "
                             f"{vectors[0].size}; all schedules must have the same length")
        if not np.all(np.isfinite(vec)):
            raise ValueError(f"schedule_set[{k}] must be finite (no NaN or inf)")
        vectors.append(vec)
    return np.array(vectors)


def create_cohda_participant(participant_id: int,
                             schedule_set: Sequence[Sequence[float]] | np.ndarray
                             | Callable[[WorkingMemory], list],
                             performance_function: PerformanceFunction = cohda_default_performance
                             ) -> COHDAAlgorithmData:
    """A participant choosing among ``schedule_set``: a list (also a tuple or 2-D array) of
    equally long schedules, the first being its initial choice, or a provider
    ``(memory) -> list of schedules`` called on every decision. ``participant_id`` is 1-based
    and is the participant's row in every candidate."""
    return create_cohda_participant_with_decider(
        participant_id, DefaultLocalDecider(schedule_provider(schedule_set)),
        performance_function)


def schedule_provider(schedule_set: Sequence[Sequence[float]] | np.ndarray
                      | Callable[[WorkingMemory], list]) -> Callable[[WorkingMemory], Any]:
    """The ``(memory) -> schedules`` provider of a schedule set: the callable itself, or the
    checked, fixed list of schedules."""
    if callable(schedule_set):
        return schedule_set
    if isinstance(schedule_set, (list, tuple, np.ndarray)):
        return _StaticSchedules(_schedule_set_matrix(schedule_set))
    raise TypeError("schedule_set must be a list of schedules or a callable "
                    f"(memory -> list of schedules), got {type(schedule_set).__name__}")


def create_cohda_participant_with_decider(participant_id: int, decider: LocalDecider,
                                          performance_function: PerformanceFunction
                                          = cohda_default_performance) -> COHDAAlgorithmData:
    """A participant with its own ``decider`` (e.g. :class:`~.decider.LocalSearchDecider`)."""
    return COHDAAlgorithmData(participant_id, decider, performance_function)


def result(actor: COHDAAlgorithmData) -> np.ndarray:
    """The summed schedule (per time step) of the best candidate ``actor`` knows."""
    candidate = actor.memory.solution_candidate
    if candidate is None:
        raise ValueError(f"participant {actor.participant_id} has no solution candidate yet "
                         "(it has not received a message)")
    return candidate.schedules.sum(axis=0)


#: The reference's top-level name of :func:`result`.
cohda_result = result


__all__ = [
    "COHDAAlgorithmData",
    "DefaultLocalDecider",
    "LocalDecider",
    "PerformanceFunction",
    "ScheduleSelection",
    "SolutionCandidate",
    "SystemConfig",
    "TargetParams",
    "WorkingMemory",
    "act",
    "cohda_default_performance",
    "cohda_result",
    "create_cohda_participant",
    "create_cohda_participant_with_decider",
    "create_cohda_start_message",
    "create_from_updated_sysconf",
    "decide",
    "merge_candidates",
    "merge_sysconfigs",
    "perceive",
    "process_exchange_message",
    "result",
]
