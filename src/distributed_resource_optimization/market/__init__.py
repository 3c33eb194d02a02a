"""market layer: ADMM market clearing of the district (seed sec. 2.2, Algorithm 1).

The public names load on first use, so light submodules (:mod:`.names`) import without the
energy models.
"""

from __future__ import annotations

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
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_PUBLIC[name]}"), name)
