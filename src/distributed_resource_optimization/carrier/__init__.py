"""Carriers of coordinator-free runs: what a participant's handlers use to reach the others.

:class:`~.core.Carrier` is the interface; :class:`~.simple.SimpleCarrier` runs every
participant in this process. (The ADMM engine's carriers, which move its protocol messages
between named agents, are in :mod:`..runtime.carrier`.)
"""

from distributed_resource_optimization.carrier.core import Carrier, EventWithValue
from distributed_resource_optimization.carrier.simple import (
    ActorContainer,
    DistributedResult,
    SimpleCarrier,
    cid,
    run_distributed_optimization,
    start_distributed_optimization,
)
from distributed_resource_optimization.carrier.topology import TOPOLOGIES, neighbour_lists

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
