"""The entry points of runs: coordinated (ADMM) and coordinator-free, async and synchronous.

:func:`start_coordinated_optimization` (the tutorial's) runs ADMM between local models and a
coordinator on a :class:`~.transport.Transport` (default: in this process);
:func:`start_distributed_optimization` runs a coordinator-free algorithm in this process
(:mod:`.inproc`) or with every participant an agent of its own on a transport (:mod:`.peers`);
:func:`start_cohda_multistart` runs multi-start COHDA. Each has a synchronous ``run_*`` twin
that also works inside a running event loop (Jupyter).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from distributed_resource_optimization.admm.coordinator import ADMMGenericCoordinator, ADMMStart
from distributed_resource_optimization.admm.results import ADMMResult
from distributed_resource_optimization.algorithm.carrier import DistributedResult
from distributed_resource_optimization.algorithm.core import Coordinator, check_distinct_ids
from distributed_resource_optimization.algorithm.heuristic.cohda.core import WorkingMemory
from distributed_resource_optimization.algorithm.heuristic.cohda.multistart import (
    COHDARestart,
    MultiStartCOHDAParticipant,
    MultiStartResult,
)
from distributed_resource_optimization.algorithm.topology import neighbour_lists
from distributed_resource_optimization.checks import positive_seconds
from distributed_resource_optimization.interior_point.sharing import InteriorPointCoordinator
from distributed_resource_optimization.local.base import LocalModel
from distributed_resource_optimization.local.flex import FlexFleet
from distributed_resource_optimization.local.grouping import make_blocks
from distributed_resource_optimization.runtime.engine import coordinate_in_process
from distributed_resource_optimization.runtime.inproc import (
    DEFAULT_TIMEOUT_S,
    run_in_process,
    start_coordinated_distributed,
)
from distributed_resource_optimization.runtime.peers import run_on_transport
from distributed_resource_optimization.runtime.sync import run_sync
from distributed_resource_optimization.runtime.transport import (
    InProcessTransport,
    Transport,
    transport_argument,
)


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
    coordinator: ADMMGenericCoordinator | InteriorPointCoordinator,
    start: ADMMStart,
    *,
    transport: Transport | None = None,
    vectorize: bool = True,
    progress: Callable[[Any], None] | None = None,
    carrier: Transport | None = None,
) -> ADMMResult:
    """Run ADMM between ``actors`` and ``coordinator`` and return the result (it also reads as
    the list of the actors' outputs, as the reference package returns them).

    Every actor becomes a participant agent on ``transport`` (default: in this process,
    :class:`~.transport.InProcessTransport`; ``carrier=`` is its old name); flex
    actors of equal output length are solved as one vectorised fleet unless ``vectorize=False``.
    Afterwards each actor's ``x`` holds its output. A ``start`` with a ``warm_start`` (see
    :func:`~.admm.coordinator.create_admm_start`) begins at an earlier run's outputs and prices.
    ``progress`` is called with the coordinator state after every iteration. Each actor's
    local work runs in a worker thread, off the event loop. An
    :class:`~.interior_point.sharing.InteriorPointCoordinator` (e.g.
    ``create_sharing_target_distance_interior_point_coordinator()``) runs the distributed
    interior-point method for sharing instead: the same actors and start, tens of rounds;
    ``progress`` then receives a :class:`~.interior_point.consensus.NewtonProgress` every Newton
    iteration.
    """
    transport = transport_argument(transport, carrier)
    if isinstance(coordinator, Coordinator):
        # A coordinator written as message handlers (the reference package's way).
        return await start_coordinated_distributed(actors, coordinator, start)
    if not isinstance(coordinator, (ADMMGenericCoordinator, InteriorPointCoordinator)):
        raise TypeError(f"coordinator must be an ADMMGenericCoordinator or an "
                        f"InteriorPointCoordinator, got {type(coordinator).__name__}")
    if not isinstance(start, ADMMStart):
        raise TypeError(f"start must come from create_admm_start, got {type(start).__name__}")
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
                                       transport or InProcessTransport(), progress,
                                       start.warm_start)


def run_coordinated_optimization(actors: Sequence[LocalModel],
                                 coordinator: ADMMGenericCoordinator | InteriorPointCoordinator,
                                 start: ADMMStart, **kwargs: Any) -> ADMMResult:
    """Synchronous twin of :func:`start_coordinated_optimization`; also works where an event
    loop is already running (Jupyter), see :func:`~.runtime.sync.run_sync`."""
    return run_sync(lambda: start_coordinated_optimization(actors, coordinator, start, **kwargs))


async def start_distributed_optimization(actors: Sequence[Any], start_message: Any, *,
                                         topology: Any = None, transport: Transport | None = None,
                                         timeout: float = DEFAULT_TIMEOUT_S,
                                         carrier: Transport | None = None) -> DistributedResult:
    """Run the coordinator-free algorithm of ``actors`` from ``start_message`` until no message
    is in flight; returns a :class:`DistributedResult` (each actor also keeps its state).

    The start message goes to the second participant from the first (to the only one, from
    itself, if there is one); before that, no two participants may have the same
    ``algorithm_id()`` (e.g. COHDA's ``participant_id``; ``ValueError`` naming both), and every
    participant with a ``check_start(start_message)`` method checks it (and raises
    ``ValueError`` for a start it cannot take part in).
    ``topology``: ``None`` / ``"complete"``, ``"ring"``, an adjacency
    or a networkx graph over the actors' positions (:func:`~.topology.neighbour_lists`).
    ``transport``: ``None`` for this process; or a transport of the runtime
    (:class:`~.runtime.transport.InProcessTransport`, optionally with a codec;
    :class:`~.runtime.mango.MangoTransport` ``.tcp()`` / ``.mqtt(broker)``): every
    participant is then an agent of its own on it and their messages travel as plain data
    (:mod:`~.runtime.peers`; one process per participant:
    :func:`~.runtime.processes.start_distributed_processes`; ``carrier=`` is the old name of
    ``transport=``). The run starts and stops that transport
    and registers its agents on it (``participant-1`` ..., ``controller``): give each run a
    fresh one. ``timeout``
    (s) bounds the run: :class:`~.runtime.transport.CoordinationTimeoutError` after it; a handler's
    exception ends the run as :class:`~.runtime.engine.ParticipantError` naming the participant.
    """
    actors = list(actors)
    if not actors:
        raise ValueError("actors must not be empty")
    for i, a in enumerate(actors):
        if not callable(getattr(a, "on_exchange_message", None)):
            raise TypeError(f"actors[{i}] is a {type(a).__name__}, not a distributed algorithm "
                            "participant (it needs on_exchange_message)")
    check_distinct_ids(actors)
    positive_seconds(timeout, "timeout")
    transport = transport_argument(transport, carrier)
    nbrs = neighbour_lists(topology, len(actors))
    for a in actors:  # each participant may refuse a start it cannot take part in, up front
        check = getattr(a, "check_start", None)
        if callable(check):
            check(start_message)
    if transport is not None:
        return await run_on_transport(actors, start_message, nbrs, transport, timeout=timeout)
    return await run_in_process(actors, start_message, nbrs if topology is not None else None,
                                timeout)


def run_distributed_optimization(actors: Sequence[Any], start_message: Any,
                                 **kwargs: Any) -> DistributedResult:
    """Synchronous twin of :func:`start_distributed_optimization` (also inside a running event
    loop, e.g. Jupyter)."""
    return run_sync(lambda: start_distributed_optimization(actors, start_message, **kwargs))


async def start_cohda_multistart(actors: Sequence[MultiStartCOHDAParticipant],
                                 start_message: WorkingMemory, runs: int = 4,
                                 perturb: float | None = None, **kwargs: Any) -> MultiStartResult:
    """Run multi-start COHDA: ``runs`` distributed COHDA runs (run 0 from ``start_message``,
    each later one from a :class:`COHDARestart`: a fresh restart, or with ``perturb`` a
    perturbation of the best candidate so far), then the final message; ``kwargs`` go to
    :func:`start_distributed_optimization` (``topology``, ``timeout``).
    Each participant ends with its best candidate in ``memory.solution_candidate``."""
    actors = list(actors)
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or runs < 1:
        raise ValueError(f"runs must be an int >= 1, got {runs!r}")
    for i, a in enumerate(actors):
        if not isinstance(a, MultiStartCOHDAParticipant):
            raise TypeError(f"actors[{i}] is a {type(a).__name__}, not a "
                            "MultiStartCOHDAParticipant (create_multistart_cohda_participant)")
    if perturb is not None and not (isinstance(perturb, (int, float))
                                    and not isinstance(perturb, bool) and 0 < perturb <= 1):
        raise ValueError(f"perturb must be None or a fraction in (0, 1], got {perturb!r}")
    out = MultiStartResult()
    for r in range(int(runs)):
        restart = COHDARestart(r, perturb=None if perturb is None else float(perturb))
        res = await start_distributed_optimization(
            actors, start_message if r == 0 else restart, **kwargs)
        out.run_messages.append(res.messages)
        out.run_wall_time_s.append(res.wall_time_s)
        out.run_perf.append(actors[0].current_performance())
    res = await start_distributed_optimization(actors, COHDARestart(int(runs), final=True),
                                               **kwargs)
    out.run_messages.append(res.messages)
    out.run_wall_time_s.append(res.wall_time_s)
    out.messages = sum(out.run_messages)
    out.wall_time_s = sum(out.run_wall_time_s)
    out.best_perf = actors[0].memory.solution_candidate.perf
    return out


def run_cohda_multistart(actors: Sequence[MultiStartCOHDAParticipant],
                         start_message: WorkingMemory, runs: int = 4,
                         perturb: float | None = None, **kwargs: Any) -> MultiStartResult:
    """Synchronous twin of :func:`start_cohda_multistart`."""
    return run_sync(lambda: start_cohda_multistart(actors, start_message, runs, perturb,
                                                   **kwargs))
