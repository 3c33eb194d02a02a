"""market layer: ADMM market clearing of the district (seed sec. 2.2, Algorithm 1)."""

from distributed_resource_optimization.market.clearing import (
    MarketResult,
    compare_with_centralized,
    run_market_clearing,
)
from distributed_resource_optimization.market.entities import LPBlockEntity, market_entities

__all__ = ["LPBlockEntity", "MarketResult", "compare_with_centralized", "market_entities",
           "run_market_clearing"]
