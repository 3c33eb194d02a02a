"""The reference package's ``algorithm.admm.flex_actor`` names (see docs/reference_names.md)."""

from __future__ import annotations

import numpy as np

from distributed_resource_optimization.local.flex import (
    ADMMFlexActor,
    create_admm_flex_actor_one_to_many,
)


def result(actor: ADMMFlexActor) -> np.ndarray:
    """The actor's outputs after a run (``actor.x``)."""
    return actor.x


admm_flex_result = result

__all__ = ["ADMMFlexActor", "admm_flex_result", "create_admm_flex_actor_one_to_many", "result"]
