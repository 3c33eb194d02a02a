# TEMPORARY SHIM (issue 23 merge)
"""Former home of the figures: now :mod:`.io.plots`."""

from distributed_resource_optimization.io.plots import *  # noqa: F401,F403
from distributed_resource_optimization.io.plots import _new_figure, _save  # noqa: F401
