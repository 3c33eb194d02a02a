"""The reference package's module path ``carrier.simple`` (a face): the in-process carrier lives
in :mod:`distributed_resource_optimization.runtime.inproc`, the runs in
:mod:`distributed_resource_optimization.runtime.run`."""

from distributed_resource_optimization.algorithm.carrier import DistributedResult
from distributed_resource_optimization.runtime.inproc import (
    DEFAULT_TIMEOUT_S,
    ActorContainer,
    SimpleCarrier,
    cid,
    start_coordinated_distributed,
)
from distributed_resource_optimization.runtime.run import (
    run_distributed_optimization,
    start_distributed_optimization,
)

__all__ = ["DEFAULT_TIMEOUT_S", "ActorContainer", "DistributedResult", "SimpleCarrier", "cid",
           "run_distributed_optimization", "start_coordinated_distributed",
           "start_distributed_optimization"]
