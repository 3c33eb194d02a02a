"""Which local models answer the coordinator together: the grouping of a run's models into
participants (:class:`~.blocks.ModelGroup`), so models of one vectorisable kind are solved as
arrays."""

from __future__ import annotations

from collections.abc import Sequence

from distributed_resource_optimization.local.base import LocalModel
from distributed_resource_optimization.local.blocks import ModelGroup, SingleModelGroup
from distributed_resource_optimization.local.flex import ADMMFlexActor, FlexFleet, FlexFleetGroup


def make_blocks(models: Sequence[LocalModel], vectorize: bool = True,
                names: Sequence[str | None] | None = None) -> list[ModelGroup]:
    """Group models into participants: models of a vectorisable kind share one group; a
    :class:`~.flex.FlexFleet` (many actors as arrays) is a group of its own.

    ``names`` gives the actors' names for this run (default: their own). Vectorising changes
    nothing in the mathematics, only how many local solves are batched into one array operation
    (and so how many messages a run exchanges in one process).
    """
    names = [getattr(m, "label", None) for m in models] if names is None else list(names)
    blocks: list[ModelGroup] = []
    fleets: dict[int, list[tuple[ADMMFlexActor, str]]] = {}
    fleet_pos: dict[int, int] = {}
    for m, name in zip(models, names):
        if isinstance(m, FlexFleet):
            blocks.append(m)  # type: ignore[arg-type]  # arrays of many actors: its own group
        elif vectorize and type(m) is ADMMFlexActor and m.direction is not None:
            key = m.size
            if key not in fleets:
                fleets[key] = []
                fleet_pos[key] = len(blocks)
                blocks.append(None)  # type: ignore[arg-type]  # the fleet takes its first member's place
            fleets[key].append((m, name))
        else:
            blocks.append(SingleModelGroup(m, name))
    for key, members in fleets.items():
        blocks[fleet_pos[key]] = FlexFleetGroup([m for m, _ in members],
                                                [n for _, n in members])
    return blocks
