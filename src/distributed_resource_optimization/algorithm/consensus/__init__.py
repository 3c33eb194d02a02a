"""Averaging consensus: participants agree on a price vector, optionally steered by a local
objective (:class:`ConsensusActor`); economic dispatch by incremental-cost consensus with
:class:`LinearCostEconomicDispatchConsensusActor`."""

from distributed_resource_optimization.algorithm.consensus.averaging import (
    AveragingConsensusAlgorithm,
    AveragingConsensusMessage,
    ConsensusActor,
    ConsensusFinishedMessage,
    NoConsensusActor,
    create_averaging_consensus_participant,
    create_averaging_consensus_start,
)
from distributed_resource_optimization.algorithm.consensus.economic_dispatch import (
    LinearCostEconomicDispatchConsensusActor,
)

__all__ = [
    "ConsensusActor",
    "NoConsensusActor",
    "AveragingConsensusMessage",
    "ConsensusFinishedMessage",
    "AveragingConsensusAlgorithm",
    "create_averaging_consensus_participant",
    "create_averaging_consensus_start",
    "LinearCostEconomicDispatchConsensusActor",
]
