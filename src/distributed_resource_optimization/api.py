"""The tutorial's entry point: run a coordinated optimisation in one asyncio process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from distributed_resource_optimization.admm.coordinator import ADMMGenericCoordinator, ADMMStart
from distributed_resource_optimization.admm.results import ADMMResult
from distributed_resource_optimization.local.base import LocalModel
from distributed_resource_optimization.local.flex import FlexFleet
from distributed_resource_optimization.local.grouping import make_blocks
from distributed_resource_optimization.runtime.agents import coordinate_in_process
from distributed_resource_optimization.runtime.carrier import AsyncioCarrier, Carrier
from distributed_resource_optimization.runtime.sync import run_sync


def check_actors(actors: Sequence[LocalModel]) -> tuple[list[LocalModel], list[str | None]]:
    """Validate the actor list; returns it with the actors' names for the run: their own, or
    ``actor_<position>`` for an unnamed one (for this run only, the model is not changed, so it
    can take part in the next run as it is); ``None`` for a :class:`~.local.flex.FlexFleet`,
    whose actors have their own names. Names must be unique over all actors."""

    if isinstance(actors, (LocalModel, FlexFleet)) or not isinstance(actors, Sequence):
        raise TypeError("actors must be a list of local models (e.g. flex actors)")
    actors = list(actors)
    if not actors:
        raise ValueError("actors must not be empty")
    ids: set[int] = set()
    for i, a in enumerate(actors):
        if not isinstance(a, (LocalModel, FlexFleet)):
            raise TypeError(f"actors[{i}] is a {type(a).__name__}, not a local model")
        if id(a) in ids:
            raise ValueError(f"actors[{i}] appears more than once in actors (duplicate actor)")
        ids.add(id(a))
    names: list[str | None] = [None if isinstance(a, FlexFleet) else
                               a.name if a.name is not None else f"actor_{i}"
                               for i, a in enumerate(actors)]
    seen: set[str] = set()
    for name in (n for a, own in zip(actors, names)
                 for n in (a.names if isinstance(a, FlexFleet) else [own])):
        if name in seen:
            raise ValueError(f"actors must have unique names; {name!r} appears twice")
        seen.add(name)
    return actors, names


async def start_coordinated_optimization(
    actors: Sequence[LocalModel],
    coordinator: ADMMGenericCoordinator,
    start: ADMMStart,
    *,
    carrier: Carrier | None = None,
    vectorize: bool = True,
    progress: Callable[[Any], None] | None = None,
) -> ADMMResult:
    """Run ADMM between ``actors`` and ``coordinator`` and return the result (it also reads as
    the list of the actors' outputs, as the reference package returns them).

    Every actor becomes a participant agent on ``carrier`` (default: in-process asyncio); flex
    actors of equal output length are solved as one vectorised fleet unless ``vectorize=False``.
    Afterwards each actor's ``x`` holds its output. A ``start`` with a ``warm_start`` (see
    :func:`~.admm.coordinator.create_admm_start`) begins at an earlier run's outputs and prices.
    ``progress`` is called with the coordinator state after every iteration. Each actor's
    local work runs in a worker thread, off the event loop.
    """
    from distributed_resource_optimization.algorithm.core import Coordinator

    if isinstance(coordinator, Coordinator):
        # A coordinator written as message handlers (the reference package's way).
        from distributed_resource_optimization.carrier.simple import (
            start_coordinated_distributed,
        )

        return await start_coordinated_distributed(actors, coordinator, start)
    if not isinstance(coordinator, ADMMGenericCoordinator):
        raise TypeError(f"coordinator must be an ADMMGenericCoordinator, got "
                        f"{type(coordinator).__name__}")
    if not isinstance(start, ADMMStart):
        raise TypeError(f"start must come from create_admm_start, got {type(start).__name__}")
    if carrier is not None and not isinstance(carrier, Carrier):
        raise TypeError(f"carrier must be a Carrier (e.g. AsyncioCarrier()), got "
                        f"{type(carrier).__name__}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a function of the state, got {type(progress).__name__}")
    actors, names = check_actors(actors)
    if start.length is not None:
        for i, a in enumerate(actors):
            size = a.D.shape[1] if isinstance(a, FlexFleet) else a.size
            if size != start.length:
                raise ValueError(f"actors[{i}] has {size} outputs but the start's length is "
                                 f"{start.length}")
    blocks = make_blocks(actors, vectorize=vectorize, names=names)
    participants = {f"participant_{i}": b for i, b in enumerate(blocks)}
    return await coordinate_in_process(participants, coordinator, start.data,
                                       carrier or AsyncioCarrier(), progress, start.warm_start)


def run_coordinated_optimization(actors: Sequence[LocalModel], coordinator: ADMMGenericCoordinator,
                                 start: ADMMStart, **kwargs: Any) -> ADMMResult:
    """Synchronous twin of :func:`start_coordinated_optimization`; also works where an event
    loop is already running (Jupyter), see :func:`~.runtime.sync.run_sync`."""
    return run_sync(lambda: start_coordinated_optimization(actors, coordinator, start, **kwargs))
