# TEMPORARY SHIM (issue 23 merge)
"""Former path of :mod:`.processes`; re-exports it until the importers move."""

from distributed_resource_optimization.market.processes import *  # noqa: F403
