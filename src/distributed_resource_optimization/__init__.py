"""Distributed optimisation of flexible energy resources with ADMM.

The public names of the tutorial: flex actors, sharing and consensus ADMM with a generic
coordinator, and :func:`start_coordinated_optimization`.
"""

from distributed_resource_optimization.admm.coordinator import (
    ADMMConsensusGlobalActor,
    ADMMGeneralConsensusGlobalActor,
    ADMMGenericCoordinator,
    ADMMSharingGlobalActor,
    ADMMStart,
    GlobalActor,
    create_admm_sharing_data,
    create_admm_start,
    create_admm_start_consensus,
    create_consensus_admm_coordinator,
    create_consensus_target_reach_admm_coordinator,
    create_sharing_admm_coordinator,
    create_sharing_target_distance_admm_coordinator,
)
from distributed_resource_optimization.admm.objectives import (
    ADMMTargetDistanceObjective,
    ADMMTargetDistanceSquaredObjective,
    GlobalObjective,
    TargetData,
    ZeroObjective,
)
from distributed_resource_optimization.admm.results import ADMMResult, ADMMStatus
from distributed_resource_optimization.admm.warm_start import WarmStart
from distributed_resource_optimization.algorithm.admm.core import (
    ADMMAnswer,
    ADMMGlobalActor,
    ADMMGlobalObjective,
    ADMMMessage,
)
from distributed_resource_optimization.algorithm.admm.flex_actor import admm_flex_result
from distributed_resource_optimization.algorithm.admm.sharing_admm import (
    ADMMSharingData,
    create_sharing_admm_start,
)
from distributed_resource_optimization.algorithm.consensus import (
    AveragingConsensusAlgorithm,
    AveragingConsensusMessage,
    ConsensusActor,
    ConsensusFinishedMessage,
    LinearCostEconomicDispatchConsensusActor,
    NoConsensusActor,
    create_averaging_consensus_participant,
    create_averaging_consensus_start,
)
from distributed_resource_optimization.algorithm.core import (
    CoordinatedDistributedAlgorithm,
    Coordinator,
    DistributedAlgorithm,
    OptimizationMessage,
    message_type,
    on_exchange_message,
    start_optimization,
)
from distributed_resource_optimization.algorithm.diffusion import (
    DiffusionActor,
    DiffusionAlgorithm,
    DiffusionMessage,
    ExactDiffusionAlgorithm,
    LinearCostEconomicDispatchDiffusionActor,
    NoDiffusionActor,
    ReservoirStorageDiffusionActor,
    create_diffusion_participant,
    create_diffusion_start,
    create_exact_diffusion_participant,
    create_exact_diffusion_start,
)
from distributed_resource_optimization.algorithm.heuristic.cohda import (
    COHDAAlgorithmData,
    DefaultLocalDecider,
    LocalDecider,
    LocalSearchDecider,
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
from distributed_resource_optimization.api import (
    run_coordinated_optimization,
    start_coordinated_optimization,
)
from distributed_resource_optimization.carrier.core import EventWithValue
from distributed_resource_optimization.carrier.simple import (
    ActorContainer,
    DistributedResult,
    SimpleCarrier,
    cid,
    run_distributed_optimization,
    start_distributed_optimization,
)
from distributed_resource_optimization.local.base import LocalModel, LocalModelError
from distributed_resource_optimization.local.flex import (
    ADMMFlexActor,
    FlexFleet,
    create_admm_flex_actor_one_to_many,
)
from distributed_resource_optimization.runtime.agents import ParticipantError
from distributed_resource_optimization.runtime.carrier import (
    AsyncioCarrier,
    Carrier,
    CoordinationError,
    CoordinationTimeoutError,
)

__version__ = "0.1.0"

__all__ = [
    "COHDAAlgorithmData",
    "DefaultLocalDecider",
    "LocalDecider",
    "LocalSearchDecider",
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
    "AveragingConsensusAlgorithm",
    "AveragingConsensusMessage",
    "ConsensusActor",
    "ConsensusFinishedMessage",
    "DiffusionActor",
    "DiffusionAlgorithm",
    "DiffusionMessage",
    "ExactDiffusionAlgorithm",
    "LinearCostEconomicDispatchConsensusActor",
    "LinearCostEconomicDispatchDiffusionActor",
    "NoConsensusActor",
    "NoDiffusionActor",
    "ReservoirStorageDiffusionActor",
    "create_averaging_consensus_participant",
    "create_averaging_consensus_start",
    "create_diffusion_participant",
    "create_diffusion_start",
    "create_exact_diffusion_participant",
    "create_exact_diffusion_start",
    "ADMMAnswer",
    "ADMMGlobalActor",
    "ADMMGlobalObjective",
    "ADMMMessage",
    "ADMMSharingData",
    "ActorContainer",
    "Coordinator",
    "CoordinatedDistributedAlgorithm",
    "DistributedAlgorithm",
    "DistributedResult",
    "EventWithValue",
    "OptimizationMessage",
    "SimpleCarrier",
    "WarmStart",
    "admm_flex_result",
    "cid",
    "create_admm_start_consensus",
    "create_consensus_target_reach_admm_coordinator",
    "create_sharing_admm_coordinator",
    "create_sharing_admm_start",
    "on_exchange_message",
    "run_distributed_optimization",
    "start_distributed_optimization",
    "start_optimization",
    "ADMMConsensusGlobalActor",
    "ADMMFlexActor",
    "FlexFleet",
    "ADMMGeneralConsensusGlobalActor",
    "ADMMGenericCoordinator",
    "ADMMResult",
    "ADMMSharingGlobalActor",
    "ADMMStart",
    "ADMMStatus",
    "ADMMTargetDistanceObjective",
    "ADMMTargetDistanceSquaredObjective",
    "AsyncioCarrier",
    "Carrier",
    "CoordinationError",
    "CoordinationTimeoutError",
    "GlobalActor",
    "GlobalObjective",
    "LocalModel",
    "LocalModelError",
    "ParticipantError",
    "TargetData",
    "ZeroObjective",
    "create_admm_flex_actor_one_to_many",
    "create_admm_sharing_data",
    "create_admm_start",
    "create_consensus_admm_coordinator",
    "create_sharing_target_distance_admm_coordinator",
    "run_coordinated_optimization",
    "start_coordinated_optimization",
    # The reference's mango-agents roles (carrier.mango), imported on first use (mango is big).
    "CoordinatorRole",
    "DistributedOptimizationRole",
    "MangoCarrier",
    "OptimizationFinishedMessage",
    "StartCoordinatedDistributedOptimization",
    # Coordinator-free runs with one process per participant (runtime.peers, runtime.factories).
    "ParticipantFactory",
    "participant_factory",
    "PeerProcesses",
    "run_distributed_processes",
    "start_distributed_processes",
    "message_type",
]

#: Names served from submodules on first access (importing them here would import mango-agents
#: with every ``import distributed_resource_optimization``, about 0.25 s).
_LAZY = {name: "distributed_resource_optimization.carrier.mango" for name in (
    "CoordinatorRole", "DistributedOptimizationRole", "MangoCarrier",
    "OptimizationFinishedMessage", "StartCoordinatedDistributedOptimization")}
_LAZY.update({name: "distributed_resource_optimization.runtime.peers" for name in (
    "PeerProcesses", "run_distributed_processes", "start_distributed_processes")})
# A factory module needs only these, not the mango-agents runtime.
_LAZY.update({name: "distributed_resource_optimization.runtime.factories" for name in (
    "ParticipantFactory", "participant_factory")})


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
