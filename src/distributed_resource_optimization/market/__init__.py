"""market layer: ADMM market clearing of the district (the study's sec. 2.2, Algorithm 1).

:mod:`.names` (the market's names and defaults), :mod:`.entities` (the organisations as local
models), :mod:`.rule` (the study's stopping rule), :mod:`.clearing` (the clearing on the ADMM
engine), :mod:`.processes` (the entities as agent processes) and :mod:`.split` (each entity's own
data).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "MarketResult": "clearing",
    "compare_with_centralized": "clearing",
    "run_market_clearing": "clearing",
    "start_market_clearing": "clearing",
    "LPBlockEntity": "entities",
    "MarketEntity": "entities",
    "market_entities": "entities",
    "load_entity": "entities",
    "split_data": "split",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    # pandas and scipy (the energy models) are heavy: the public names load them on first use, so
    # that the command line reads .names (its choices and defaults) without them.
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_PUBLIC[name]}"), name)
