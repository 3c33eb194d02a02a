"""The reference package's ADMM core names (``algorithm.admm.core``), served by this library's
engine (:mod:`distributed_resource_optimization.admm`); docs/reference_names.md says where each
lives and how it differs.

:class:`ADMMMessage` / :class:`ADMMAnswer` (the reference's local-update protocol) live in
:mod:`distributed_resource_optimization.algorithm.local_update`.
"""

from __future__ import annotations

from distributed_resource_optimization.admm.coordinator import (
    ADMMGenericCoordinator,
    ADMMStart,
    GlobalActor,
    create_admm_start,
)
from distributed_resource_optimization.admm.objectives import GlobalObjective
from distributed_resource_optimization.algorithm.local_update import ADMMAnswer, ADMMMessage

#: The reference's names of the engine's extension points.
ADMMGlobalActor = GlobalActor
ADMMGlobalObjective = GlobalObjective


__all__ = ["ADMMAnswer", "ADMMGenericCoordinator", "ADMMGlobalActor", "ADMMGlobalObjective",
           "ADMMMessage", "ADMMStart", "create_admm_start"]
