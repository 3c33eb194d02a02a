"""The reference package's ``algorithm.admm.consensus_admm`` names (see docs/reference_names.md)."""

from distributed_resource_optimization.admm.coordinator import (
    ADMMConsensusGlobalActor,
    create_admm_start_consensus,
    create_consensus_target_reach_admm_coordinator,
)

__all__ = ["ADMMConsensusGlobalActor", "create_admm_start_consensus",
           "create_consensus_target_reach_admm_coordinator"]
