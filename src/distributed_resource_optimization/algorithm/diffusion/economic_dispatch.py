"""Economic dispatch by diffusion: a generator as a :class:`~.diffusion.DiffusionActor`.

The unit's cost is ``cost * P + (epsilon / 2) * P**2`` on ``p_min <= P <= p_max`` per time step
(``p_max`` may differ per step), so its best response to the prices ``lam`` is the closed form
``P(lam) = clip((lam - cost) / epsilon, p_min, p_max)`` and its gradient is the imbalance
``P(lam) - target / n_guess`` against its share of the total demand ``target`` (the start
message's ``data``). With ``n_guess`` = the number of participants the diffusion fixed point is
the clearing price of the centralised multi-period dispatch (see :mod:`.diffusion`).
:class:`~.storage.ReservoirStorageDiffusionActor` is re-exported here, where the reference has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distributed_resource_optimization.algorithm.diffusion.diffusion import DiffusionActor
from distributed_resource_optimization.algorithm.diffusion.storage import (
    ReservoirStorageDiffusionActor,
)
from distributed_resource_optimization.algorithm.gossip import (
    QuadraticCostUnit,
    per_step,
)

__all__ = ["LinearCostEconomicDispatchDiffusionActor", "ReservoirStorageDiffusionActor"]


@dataclass(eq=False)
class LinearCostEconomicDispatchDiffusionActor(QuadraticCostUnit, DiffusionActor):
    """A generator in diffusion dispatch: ``cost`` (currency/MWh), bounds ``p_min``/``p_max``
    (MW, ``0 <= p_min <= p_max``; each a number or one value per step), ``epsilon`` (> 0, the
    quadratic coefficient: marginal cost ``cost + epsilon * P``), ``n_guess`` (number of
    participants sharing the demand). ``P`` holds the dispatch at the last prices seen (MW)."""

    cost: float
    p_max: float | np.ndarray
    epsilon: float = 0.1
    p_min: float = 0.0
    n_guess: int = 10
    P: np.ndarray = field(default_factory=lambda: np.array([0.0]))

    def __post_init__(self) -> None:
        self._check_unit()

    def check_horizon(self, horizon: int) -> None:
        for name in ("cost", "p_min", "p_max"):
            per_step(name, getattr(self, name), horizon)

    def gradient_term(self, lam: np.ndarray, p_target: Any) -> np.ndarray:
        """``P(lam) - p_target / n_guess`` (MW; ``p_target`` ``None`` is 0)."""
        return self.imbalance(lam, p_target)
