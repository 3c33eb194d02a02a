"""Deprecated module path (until 0.2): the runtime's transports are in :mod:`.transport`.

``Carrier`` was renamed :class:`~.transport.Transport`, ``AsyncioCarrier``
:class:`~.transport.InProcessTransport` and ``FaultyCarrier`` :class:`~.transport.FaultyTransport`,
so that "carrier" means only a participant's handle, as in the reference package
(:class:`~distributed_resource_optimization.algorithm.carrier.Carrier`).
"""

from __future__ import annotations

import warnings
from typing import Any

from distributed_resource_optimization.runtime import transport as _transport

_RENAMED = {"Carrier": "Transport", "AsyncioCarrier": "InProcessTransport",
            "FaultyCarrier": "FaultyTransport"}


def __getattr__(name: str) -> Any:
    new = _RENAMED.get(name, name)
    if not hasattr(_transport, new):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"distributed_resource_optimization.runtime.carrier.{name} is deprecated; use "
                  f"distributed_resource_optimization.runtime.transport.{new}",
                  DeprecationWarning, stacklevel=2)
    return getattr(_transport, new)
