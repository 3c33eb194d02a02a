"""Deprecated module path (until 0.2): the runtime's transports are in :mod:`.transport`.

``Carrier`` was renamed :class:`~.transport.Transport`, ``AsyncioCarrier``
:class:`~.transport.InProcessTransport` and ``FaultyCarrier`` :class:`~.transport.FaultyTransport`,
so that "carrier" means only a participant's handle, as in the reference package
(:class:`~distributed_resource_optimization.algorithm.carrier.Carrier`).
"""

from distributed_resource_optimization.runtime import transport
from distributed_resource_optimization.runtime.moved import moved_names

__getattr__ = moved_names(__name__, transport, {"Carrier": "Transport",
                                                "AsyncioCarrier": "InProcessTransport",
                                                "FaultyCarrier": "FaultyTransport"})
