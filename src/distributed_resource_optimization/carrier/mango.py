"""The reference package's module path ``carrier.mango`` (a face): the mango-agents roles live
in :mod:`distributed_resource_optimization.runtime.roles`."""

from distributed_resource_optimization.runtime.roles import (
    CoordinatorRole,
    DistributedOptimizationRole,
    MangoCarrier,
    OptimizationFinishedMessage,
    StartCoordinatedDistributedOptimization,
)

__all__ = ["CoordinatorRole", "DistributedOptimizationRole", "MangoCarrier",
           "OptimizationFinishedMessage", "StartCoordinatedDistributedOptimization"]
