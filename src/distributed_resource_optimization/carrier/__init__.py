"""The reference package's ``carrier`` package (a face): what a participant's handlers use to
reach the others. The participant's :class:`Carrier` lives in :mod:`..algorithm.carrier`, the
in-process :class:`SimpleCarrier` in :mod:`..runtime.inproc`, the runs in :mod:`..runtime.run`;
the runtime's transports, which move the engine's messages between named agents, are in
:mod:`..runtime.transport`."""

from distributed_resource_optimization.algorithm.carrier import (
    Carrier,
    DistributedResult,
    EventWithValue,
)
from distributed_resource_optimization.algorithm.topology import TOPOLOGIES, neighbour_lists
from distributed_resource_optimization.runtime.inproc import ActorContainer, SimpleCarrier, cid
from distributed_resource_optimization.runtime.run import (
    run_distributed_optimization,
    start_distributed_optimization,
)

__all__ = [
    "TOPOLOGIES",
    "ActorContainer",
    "Carrier",
    "DistributedResult",
    "EventWithValue",
    "SimpleCarrier",
    "cid",
    "neighbour_lists",
    "run_distributed_optimization",
    "start_distributed_optimization",
]
