"""COHDA: distributed combinatorial schedule selection (perceive, decide, act).

See :mod:`.core` for the algorithm and ``docs/cohda.md`` for a tutorial.
"""

from distributed_resource_optimization.algorithm.heuristic.cohda.core import (
    COHDAAlgorithmData,
    DefaultLocalDecider,
    LocalDecider,
    ScheduleSelection,
    SolutionCandidate,
    SystemConfig,
    TargetParams,
    WorkingMemory,
    act,
    cohda_default_performance,
    cohda_result,
    create_cohda_participant,
    create_cohda_participant_with_decider,
    create_cohda_start_message,
    create_from_updated_sysconf,
    decide,
    merge_candidates,
    merge_sysconfigs,
    perceive,
)
from distributed_resource_optimization.algorithm.heuristic.cohda.decider import LocalSearchDecider
from distributed_resource_optimization.algorithm.heuristic.cohda.multistart import (
    COHDARestart,
    COHDARunMessage,
    MultiStartCOHDAParticipant,
    MultiStartResult,
    create_multistart_cohda_participant,
)

__all__ = [
    "ScheduleSelection",
    "SystemConfig",
    "SolutionCandidate",
    "TargetParams",
    "WorkingMemory",
    "COHDAAlgorithmData",
    "LocalDecider",
    "DefaultLocalDecider",
    "LocalSearchDecider",
    "cohda_default_performance",
    "merge_sysconfigs",
    "merge_candidates",
    "perceive",
    "decide",
    "act",
    "create_from_updated_sysconf",
    "create_cohda_start_message",
    "create_cohda_participant",
    "create_cohda_participant_with_decider",
    "cohda_result",
    "MultiStartCOHDAParticipant",
    "MultiStartResult",
    "COHDARunMessage",
    "COHDARestart",
    "create_multistart_cohda_participant",
]
