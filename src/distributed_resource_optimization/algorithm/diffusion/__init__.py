"""Diffusion (adapt-then-combine) and exact diffusion on a price vector over a horizon;
economic dispatch of generators (:class:`LinearCostEconomicDispatchDiffusionActor`) and
storages (:class:`ReservoirStorageDiffusionActor`)."""

from distributed_resource_optimization.algorithm.diffusion.diffusion import (
    DiffusionActor,
    DiffusionAlgorithm,
    DiffusionMessage,
    NoDiffusionActor,
    create_diffusion_participant,
    create_diffusion_start,
)
from distributed_resource_optimization.algorithm.diffusion.economic_dispatch import (
    LinearCostEconomicDispatchDiffusionActor,
)
from distributed_resource_optimization.algorithm.diffusion.exact_diffusion import (
    ExactDiffusionAlgorithm,
    create_exact_diffusion_participant,
    create_exact_diffusion_start,
)
from distributed_resource_optimization.algorithm.diffusion.storage import (
    ReservoirStorageDiffusionActor,
    StorageSolveError,
)

__all__ = [
    "DiffusionActor",
    "NoDiffusionActor",
    "DiffusionMessage",
    "DiffusionAlgorithm",
    "create_diffusion_participant",
    "create_diffusion_start",
    "LinearCostEconomicDispatchDiffusionActor",
    "ReservoirStorageDiffusionActor",
    "StorageSolveError",
    "ExactDiffusionAlgorithm",
    "create_exact_diffusion_participant",
    "create_exact_diffusion_start",
]
