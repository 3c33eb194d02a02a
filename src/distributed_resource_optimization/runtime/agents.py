"""Deprecated module path (until 0.2): the coordinator and participant agents are in
:mod:`.engine`."""

from __future__ import annotations

import warnings
from typing import Any

from distributed_resource_optimization.runtime import engine as _engine


def __getattr__(name: str) -> Any:
    if not hasattr(_engine, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"distributed_resource_optimization.runtime.agents.{name} is deprecated; use "
                  f"distributed_resource_optimization.runtime.engine.{name}",
                  DeprecationWarning, stacklevel=2)
    return getattr(_engine, name)
