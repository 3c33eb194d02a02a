"""Distributed optimization of flexible energy resources: flex actors, sharing and consensus
ADMM with a generic coordinator, custom local models and algorithms, in one process or one
process per participant.

``__all__`` holds the names to start from (the tutorial's, the engine's, local models, results,
errors and the ``run_*`` entry points). Every public name of the reference package
(Digitalized-Energy-Systems/distributed-resource-optimization) imports from here too, served on
first use from where it lives (``_LAZY``; docs/reference_names.md), so that
``import distributed_resource_optimization`` loads neither mango-agents nor the algorithm families
it does not use.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from distributed_resource_optimization.admm.coordinator import (
    ADMMConsensusGlobalActor,
    ADMMGeneralConsensusGlobalActor,
    ADMMGenericCoordinator,
    ADMMSharingGlobalActor,
    ADMMStart,
    ProblemForm,
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
from distributed_resource_optimization.admm.results import (
    ADMMResult,
    ADMMStatus,
)
from distributed_resource_optimization.admm.warm_start import (
    WarmStart,
)
from distributed_resource_optimization.algorithm.carrier import (
    Carrier,
    DistributedResult,
)
from distributed_resource_optimization.algorithm.core import (
    DistributedAlgorithm,
    message_type,
)
from distributed_resource_optimization.local.base import (
    LocalModel,
    LocalModelError,
)
from distributed_resource_optimization.local.flex import (
    ADMMFlexActor,
    FlexFleet,
    create_admm_flex_actor_one_to_many,
)
from distributed_resource_optimization.runtime.run import (
    run_cohda_multistart,
    run_coordinated_optimization,
    run_distributed_optimization,
    start_coordinated_optimization,
    start_distributed_optimization,
)
from distributed_resource_optimization.runtime.transport import (
    CoordinationError,
    CoordinationTimeoutError,
    InProcessTransport,
    ParticipantError,
    Transport,
)

__version__ = "0.1.0"

__all__ = [
    "ADMMConsensusGlobalActor",
    "ADMMGeneralConsensusGlobalActor",
    "ADMMGenericCoordinator",
    "ADMMSharingGlobalActor",
    "ADMMStart",
    "ProblemForm",
    "create_admm_sharing_data",
    "create_admm_start",
    "create_admm_start_consensus",
    "create_consensus_admm_coordinator",
    "create_consensus_target_reach_admm_coordinator",
    "create_sharing_admm_coordinator",
    "create_sharing_target_distance_admm_coordinator",
    "ADMMTargetDistanceObjective",
    "ADMMTargetDistanceSquaredObjective",
    "GlobalObjective",
    "TargetData",
    "ZeroObjective",
    "ADMMResult",
    "ADMMStatus",
    "WarmStart",
    "Carrier",
    "DistributedResult",
    "DistributedAlgorithm",
    "message_type",
    "LocalModel",
    "LocalModelError",
    "ADMMFlexActor",
    "FlexFleet",
    "create_admm_flex_actor_one_to_many",
    "run_coordinated_optimization",
    "run_distributed_optimization",
    "start_coordinated_optimization",
    "start_distributed_optimization",
    "run_cohda_multistart",
    "CoordinationError",
    "CoordinationTimeoutError",
    "InProcessTransport",
    "ParticipantError",
    "Transport",
]

#: Names served from their modules on first access: the reference package's other public
#: names, and the rest of the library's.
_PKG = "distributed_resource_optimization"
_LAZY: dict[str, str] = {
    **dict.fromkeys((
        "COHDAAlgorithmData", "DefaultLocalDecider", "LocalDecider", "LocalSearchDecider",
        "ScheduleSelection", "SolutionCandidate", "SystemConfig", "TargetParams", "WorkingMemory",
        "act", "cohda_default_performance", "cohda_result", "create_cohda_participant",
        "create_cohda_participant_with_decider", "create_cohda_start_message",
        "create_from_updated_sysconf", "decide", "merge_candidates", "merge_sysconfigs", "perceive",
    ), _PKG + ".algorithm.heuristic.cohda"),
    **dict.fromkeys((
        "AveragingConsensusAlgorithm", "AveragingConsensusMessage", "ConsensusActor",
        "ConsensusFinishedMessage", "LinearCostEconomicDispatchConsensusActor", "NoConsensusActor",
        "create_averaging_consensus_participant", "create_averaging_consensus_start",
    ), _PKG + ".algorithm.consensus"),
    **dict.fromkeys((
        "DiffusionActor", "DiffusionAlgorithm", "DiffusionMessage", "ExactDiffusionAlgorithm",
        "LinearCostEconomicDispatchDiffusionActor", "NoDiffusionActor",
        "ReservoirStorageDiffusionActor", "create_diffusion_participant", "create_diffusion_start",
        "create_exact_diffusion_participant", "create_exact_diffusion_start",
    ), _PKG + ".algorithm.diffusion"),
    **dict.fromkeys((
        "ADMMAnswer", "ADMMMessage",
    ), _PKG + ".algorithm.local_update"),
    **dict.fromkeys((
        "ADMMGlobalActor", "ADMMGlobalObjective",
    ), _PKG + ".algorithm.admm.core"),
    **dict.fromkeys((
        "ADMMSharingData", "create_sharing_admm_start",
    ), _PKG + ".algorithm.admm.sharing_admm"),
    **dict.fromkeys((
        "admm_flex_result",
    ), _PKG + ".algorithm.admm.flex_actor"),
    **dict.fromkeys((
        "Coordinator", "CoordinatedDistributedAlgorithm", "OptimizationMessage",
        "on_exchange_message", "start_optimization",
    ), _PKG + ".algorithm.core"),
    **dict.fromkeys((
        "EventWithValue",
    ), _PKG + ".algorithm.carrier"),
    **dict.fromkeys((
        "GlobalActor",
    ), _PKG + ".admm.coordinator"),
    **dict.fromkeys((
        "ActorContainer", "SimpleCarrier", "cid",
    ), _PKG + ".runtime.inproc"),
    **dict.fromkeys((
        "CoordinatorRole", "DistributedOptimizationRole", "MangoCarrier",
        "OptimizationFinishedMessage", "StartCoordinatedDistributedOptimization",
    ), _PKG + ".runtime.roles"),
    **dict.fromkeys((
        "PeerProcesses", "run_distributed_processes", "start_distributed_processes",
    ), _PKG + ".runtime.processes"),
    **dict.fromkeys((
        "ParticipantFactory", "participant_factory",
    ), _PKG + ".runtime.factories"),
    **dict.fromkeys((
        "start_cohda_multistart",
    ), _PKG + ".runtime.run"),
    # The local models for a participant's own LP / QP / cvxpy problem (their solvers load on
    # use; cvxpy is an optional extra).
    **dict.fromkeys(("QPLocalModel", "CvxpyLocalModel"), _PKG + ".local.qp"),
    **dict.fromkeys(("LPLocalModel",), _PKG + ".local.lp"),
    # Second-order coordination: the interior-point method for sharing, in the tutorial's API.
    **dict.fromkeys(("InteriorPointCoordinator",
                     "create_sharing_target_distance_interior_point_coordinator"),
                    _PKG + ".interior_point.sharing"),
    # The district, its market and the results as data (pandas, scipy and xarray load on use).
    **dict.fromkeys(("load_district",), _PKG + ".energy.district"),
    **dict.fromkeys(("CentralizedResult", "SolverStatus", "solve_district"),
                    _PKG + ".energy.centralized"),
    **dict.fromkeys(("MarketResult", "run_market_clearing", "clear_market_successively",
                     "compare_with_centralized"), _PKG + ".market.clearing"),
    **dict.fromkeys(("FlexSharingResult", "run_flex_sharing"), _PKG + ".flex_sharing"),
    **dict.fromkeys(("SavedRun", "read_results", "save_results"), _PKG + ".io.results"),
}

#: Old names kept working until 0.2 (the runtime's transports were called carriers).
_DEPRECATED: dict[str, str] = {"AsyncioCarrier": "InProcessTransport"}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        new = _DEPRECATED[name]
        warnings.warn(f"{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
        return globals()[new]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_DEPRECATED))
