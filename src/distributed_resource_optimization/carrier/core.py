"""The reference package's module path ``carrier.core`` (a face): the participant's
:class:`Carrier` lives in :mod:`distributed_resource_optimization.algorithm.carrier`."""

from distributed_resource_optimization.algorithm.carrier import (
    Carrier,
    DistributedResult,
    EventWithValue,
    call_later,
)

__all__ = ["Carrier", "DistributedResult", "EventWithValue", "call_later"]
