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
from distributed_resource_optimization.algorithm.core import (
    CoordinatedDistributedAlgorithm,
    Coordinator,
    DistributedAlgorithm,
    OptimizationMessage,
    on_exchange_message,
    start_optimization,
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
]
