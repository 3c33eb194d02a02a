"""Deprecated module path (until 0.2): the mango-agents transport is
:class:`~.mango.MangoTransport` in :mod:`.mango` (``MangoCarrier`` here was renamed; the top-level
``MangoCarrier`` is the reference package's role carrier, :mod:`.roles`)."""

from __future__ import annotations

import warnings
from typing import Any

from distributed_resource_optimization.runtime import mango as _mango


def __getattr__(name: str) -> Any:
    new = "MangoTransport" if name == "MangoCarrier" else name
    if not hasattr(_mango, new):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"distributed_resource_optimization.runtime.mango_carrier.{name} is deprecated; "
                  f"use distributed_resource_optimization.runtime.mango.{new}",
                  DeprecationWarning, stacklevel=2)
    return getattr(_mango, new)
