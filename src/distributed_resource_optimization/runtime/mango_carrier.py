"""Deprecated module path (until 0.2): the mango-agents transport is
:class:`~.mango.MangoTransport` in :mod:`.mango` (``MangoCarrier`` here was renamed; the top-level
``MangoCarrier`` is the reference package's role carrier, :mod:`.roles`)."""

from distributed_resource_optimization.runtime import mango
from distributed_resource_optimization.runtime.moved import moved_names

__getattr__ = moved_names(__name__, mango, {"MangoCarrier": "MangoTransport"})
