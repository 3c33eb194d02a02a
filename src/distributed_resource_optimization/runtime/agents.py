"""Deprecated module path (until 0.2): the coordinator and participant agents are in
:mod:`.engine`."""

from distributed_resource_optimization.runtime import engine
from distributed_resource_optimization.runtime.moved import moved_names

__getattr__ = moved_names(__name__, engine)
