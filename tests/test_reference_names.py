"""Every public name of the reference package (Digitalized-Energy-Systems/distributed-resource-
optimization, v0.1.0, its top-level ``__all__`` including the diffusion names added later)
imports from ``distributed_resource_optimization`` (the mango roles, which the reference exports
when mango-agents imports, included), and its module paths that its tests and
tutorials import from exist (docs/reference_names.md says where each lives)."""

from __future__ import annotations

import importlib

import pytest

import distributed_resource_optimization as dro

REFERENCE_NAMES = """
Carrier EventWithValue ActorContainer SimpleCarrier cid start_distributed_optimization
start_coordinated_optimization
DistributedAlgorithm Coordinator CoordinatedDistributedAlgorithm OptimizationMessage
on_exchange_message start_optimization
ScheduleSelection SystemConfig SolutionCandidate TargetParams WorkingMemory COHDAAlgorithmData
LocalDecider DefaultLocalDecider LocalSearchDecider cohda_default_performance merge_sysconfigs
merge_candidates perceive decide act create_from_updated_sysconf create_cohda_start_message
create_cohda_participant create_cohda_participant_with_decider cohda_result
ADMMStart ADMMMessage ADMMAnswer ADMMGlobalActor ADMMGlobalObjective ADMMGenericCoordinator
create_admm_start ADMMFlexActor create_admm_flex_actor_one_to_many admm_flex_result
ADMMConsensusGlobalActor create_consensus_target_reach_admm_coordinator
create_admm_start_consensus ADMMSharingData ADMMSharingGlobalActor ADMMTargetDistanceObjective
create_admm_sharing_data create_sharing_admm_start create_sharing_target_distance_admm_coordinator
create_sharing_admm_coordinator
ConsensusActor NoConsensusActor AveragingConsensusMessage ConsensusFinishedMessage
AveragingConsensusAlgorithm create_averaging_consensus_participant
create_averaging_consensus_start LinearCostEconomicDispatchConsensusActor
DiffusionActor NoDiffusionActor DiffusionMessage DiffusionAlgorithm create_diffusion_participant
create_diffusion_start LinearCostEconomicDispatchDiffusionActor ReservoirStorageDiffusionActor
MangoCarrier DistributedOptimizationRole CoordinatorRole StartCoordinatedDistributedOptimization
OptimizationFinishedMessage
""".split()

#: Module paths the reference's tests and docs import from, with a name from each.
REFERENCE_MODULES = {
    "algorithm.core": "DistributedAlgorithm",
    "carrier.core": "Carrier",
    "carrier.simple": "SimpleCarrier",
    "algorithm.admm.core": "ADMMMessage",
    "algorithm.admm.flex_actor": "ADMMFlexActor",
    "algorithm.admm.sharing_admm": "create_admm_start",
    "algorithm.admm.consensus_admm": "create_admm_start_consensus",
    "algorithm.heuristic.cohda": "LocalSearchDecider",
    "algorithm.heuristic.cohda.core": "create_cohda_participant",
    "algorithm.heuristic.cohda.decider": "LocalSearchDecider",
    "algorithm.consensus": "ConsensusActor",
    "algorithm.consensus.averaging": "create_averaging_consensus_participant",
    "algorithm.consensus.economic_dispatch": "LinearCostEconomicDispatchConsensusActor",
    "algorithm.diffusion": "DiffusionActor",
    "carrier.mango": "DistributedOptimizationRole",
}


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_reference_name_imports_from_the_package(name: str) -> None:
    """Importable and listed by ``dir()``; ``__all__`` holds the ~40 names to start from."""
    assert hasattr(dro, name), name
    assert name in dir(dro), name


def test_all_is_the_short_list_and_every_name_imports() -> None:
    assert 30 <= len(dro.__all__) <= 45
    assert all(hasattr(dro, n) for n in [*dro.__all__, *dro._LAZY])


def test_carrier_means_the_handlers_carrier() -> None:
    """One word per concept: the reference's mango carrier is a Carrier (the participant's
    handle); the runtime's transports are Transports, their old names still working."""
    from distributed_resource_optimization.runtime.mango import MangoTransport

    assert issubclass(dro.MangoCarrier, dro.Carrier)
    assert issubclass(MangoTransport, dro.Transport)
    with pytest.warns(DeprecationWarning):
        assert dro.AsyncioCarrier is dro.InProcessTransport


@pytest.mark.parametrize("module, name", sorted(REFERENCE_MODULES.items()))
def test_reference_module_paths_exist(module: str, name: str) -> None:
    mod = importlib.import_module(f"distributed_resource_optimization.{module}")
    assert hasattr(mod, name)


def test_the_names_table_lists_every_reference_name() -> None:
    from pathlib import Path

    table = (Path(__file__).parents[1] / "docs" / "reference_names.md").read_text()
    missing = [n for n in REFERENCE_NAMES if f"`{n}" not in table]
    assert not missing, f"docs/reference_names.md does not mention {missing}"
