# TEMPORARY SHIM (issue 23 merge)
"""Former home of the output folders: now :mod:`.io.output`."""

from distributed_resource_optimization.io.output import *  # noqa: F401,F403
from distributed_resource_optimization.io.output import (  # noqa: F401
    _command_name,
    _describe,
    _files_in,
    _make_parents,
    _signals_deferred,
)
