"""Economic dispatch by incremental-cost consensus: a generator as a :class:`ConsensusActor`.

The unit's cost is ``cost * P + (epsilon / 2) * P**2`` on ``p_min <= P <= p_max`` (per time
step; MW and currency/MWh as the user's units), so its marginal cost is ``cost + epsilon * P``
and its best response to a price ``lam`` is the closed form
``P(lam) = clip((lam - cost) / epsilon, p_min, p_max)``. Its consensus step pushes the price up
while it produces less than its share ``target / n_guess`` of the total demand ``target`` (the
start message's ``data``), down otherwise. With ``n_guess`` = the number of participants the
consensus price is the clearing price of the centralised dispatch
``min sum_i cost_i P_i + eps_i/2 P_i^2  s.t.  sum_i P_i = target, bounds``
(exactly with ``tracking=True``; see :mod:`.averaging`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distributed_resource_optimization.algorithm.consensus.averaging import ConsensusActor
from distributed_resource_optimization.algorithm.gossip import (
    QuadraticCostUnit,
    check_real,
)


@dataclass(eq=False)
class LinearCostEconomicDispatchConsensusActor(QuadraticCostUnit, ConsensusActor):
    """A generator in incremental-cost consensus: ``cost`` (currency/MWh, number or one per
    step), bounds ``p_min``/``p_max`` (MW, ``0 <= p_min <= p_max``), ``epsilon`` (> 0, the
    quadratic coefficient: marginal cost ``cost + epsilon * P``), ``rho`` (> 0, price step per
    MW of imbalance), ``n_guess`` (number of participants sharing the demand). ``P`` holds the
    dispatch at the last price seen (MW)."""

    cost: float
    p_max: float
    rho: float = 0.05
    epsilon: float = 0.1
    p_min: float = 0.0
    n_guess: int = 10
    P: np.ndarray = field(default_factory=lambda: np.array([0.0]))

    def __post_init__(self) -> None:
        self._check_unit()
        check_real("rho", self.rho, positive=True)

    def gradient_term(self, lam: np.ndarray, p_target: Any) -> np.ndarray:
        """``-rho * (P(lam) - p_target / n_guess)`` (price units); ``p_target`` ``None`` is 0."""
        return -self.rho * self.imbalance(lam, p_target)
