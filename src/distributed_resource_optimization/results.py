# TEMPORARY SHIM (issue 23 merge)
"""Former home of the result tables, summaries and warm-start files: now :mod:`.io.tables`,
:mod:`.io.summary`, :mod:`.io.warm_start` and :mod:`.io.writers`."""

from distributed_resource_optimization.io.summary import (  # noqa: F401
    SUMMARY_FILE,
    bound_summary,
    centralized_summary,
    flex_summary,
    market_summary,
    write_json,
)
from distributed_resource_optimization.io.tables import (  # noqa: F401
    ACTORS_FILE,
    COLUMNS,
    DISPATCH_FILE,
    ENGINE_HISTORY_COLUMNS,
    PRICE_COMPONENTS_FILE,
    PRICES_FILE,
    RESIDUAL_COLUMNS,
    RESIDUALS_FILE,
    centralized_frames,
    engine_history_frame,
    flex_actor_frame,
    long_frame,
    market_frames,
    residual_frame,
)
from distributed_resource_optimization.io.warm_start import (  # noqa: F401
    STATE_COLUMNS,
    STATE_FILE,
    read_warm_start,
    state_frame,
)
from distributed_resource_optimization.io.writers import write_centralized  # noqa: F401
