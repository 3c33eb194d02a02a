"""The reference package's ``algorithm.admm.sharing_admm`` names (see docs/reference_names.md);
its ``create_admm_start(data)`` is the package's :func:`create_admm_start`."""

from distributed_resource_optimization.admm.coordinator import (
    ADMMSharingGlobalActor,
    create_admm_sharing_data,
    create_admm_start,
    create_sharing_admm_coordinator,
    create_sharing_target_distance_admm_coordinator,
)
from distributed_resource_optimization.admm.objectives import (
    ADMMTargetDistanceObjective,
    TargetData,
)

#: The reference's name of the sharing data (target and priority weights).
ADMMSharingData = TargetData
#: The reference exports the sharing start under this name at the top level.
create_sharing_admm_start = create_admm_start

__all__ = ["ADMMSharingData", "ADMMSharingGlobalActor", "ADMMTargetDistanceObjective",
           "create_admm_sharing_data", "create_admm_start", "create_sharing_admm_coordinator",
           "create_sharing_admm_start", "create_sharing_target_distance_admm_coordinator"]
