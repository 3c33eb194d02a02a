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

from distributed_resource_optimization.algorithm._gossip_utils import (
    box_dispatch,
    check_box,
    check_int,
    check_real,
    float_array,
    per_step,
)
from distributed_resource_optimization.algorithm.diffusion.diffusion import DiffusionActor
from distributed_resource_optimization.algorithm.diffusion.storage import (
    ReservoirStorageDiffusionActor,
)

__all__ = ["LinearCostEconomicDispatchDiffusionActor", "ReservoirStorageDiffusionActor"]


@dataclass(eq=False)
class LinearCostEconomicDispatchDiffusionActor(DiffusionActor):
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
        float_array("cost", self.cost)
        check_box(self.p_min, self.p_max)
        check_real("epsilon", self.epsilon, positive=True)
        check_int("n_guess", self.n_guess, low=1)

    def check_horizon(self, horizon: int) -> None:
        for name in ("cost", "p_min", "p_max"):
            per_step(name, getattr(self, name), horizon)

    def project_power(self, lam: np.ndarray, data: Any = None) -> np.ndarray:
        """Dispatch at the prices ``lam`` (closed form, MW); stored in :attr:`P`."""
        self.P = box_dispatch(np.asarray(lam, dtype=float), self.cost, self.epsilon,
                              self.p_min, self.p_max)
        return self.P

    def gradient_term(self, lam: np.ndarray, p_target: Any) -> np.ndarray:
        """``P(lam) - p_target / n_guess`` (MW; ``p_target`` ``None`` is 0)."""
        P = self.project_power(lam)
        target = np.asarray(p_target if p_target is not None else 0.0, dtype=float)
        return P - target / self.n_guess
