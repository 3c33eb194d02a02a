"""Buildings, step 4: what a building publishes about itself, its baseline demand.

A building's baseline is its own cost-optimal operation over the horizon without any grid
constraint: cooling from the district plant at the electricity price divided by the plant's
efficiency, electricity at the price. It needs only the building's own model and the public price,
so a building can compute it alone and send it to the grid operators, which linearise their grids
around it (:func:`~distributed_resource_optimization.energy.district.reference_point`) without
seeing any building's model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .. import GROUPS
from ..tables import check_price
from .block import building_block
from .model import BuildingModel

#: Exchanged quantities of a baseline, in the order it unpacks (the energy package's groups).
BASELINE_GROUPS: tuple[str, ...] = GROUPS


@dataclass(frozen=True, eq=False)
class Baseline:
    """A baseline demand: ``p_th_kw`` (cooling, kW), ``p_kw`` (active, kW), ``q_kvar`` (reactive,
    kvar), demand positive; each ``(T,)`` for one building, or ``(T, n_der)`` for several (one
    column per DER). Unpacks and indexes as ``(p_th, p, q)``, the tuple it used to be."""

    p_th_kw: np.ndarray
    p_kw: np.ndarray
    q_kvar: np.ndarray

    @classmethod
    def of(cls, value: Baseline | Sequence[np.ndarray]) -> Baseline:
        """``value`` as a :class:`Baseline` (a ``(p_th, p, q)`` sequence is accepted too)."""
        if isinstance(value, Baseline):
            return value
        p_th, p, q = value
        return cls(p_th, p, q)

    def group(self, group: str) -> np.ndarray:
        """The values of exchanged group ``group`` (``"p_th"``, ``"p"`` or ``"q"``)."""
        return self[BASELINE_GROUPS.index(group)]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.p_th_kw, self.p_kw, self.q_kvar))

    def __getitem__(self, index: int) -> np.ndarray:
        return (self.p_th_kw, self.p_kw, self.q_kvar)[index]

    def __len__(self) -> int:
        return 3


def building_baseline(model: BuildingModel, price_s_per_kwh: np.ndarray, timestep_h: float,
                      eta_ch: float) -> Baseline:
    """Cost-optimal demand of one building alone, a :class:`Baseline` of ``(T,)`` arrays (demand
    positive).

    Cost (S$): ``sum_t price_t * timestep_h * (p_th_t / eta_ch + p_t)`` with the price in S$/kWh;
    the building's LP (:func:`~.block.building_block`) solved by HiGHS (``scipy.optimize.linprog``).
    Raises ``ValueError`` for a price of the wrong length and ``RuntimeError`` if HiGHS does not
    report an optimum.
    """
    price = check_price(price_s_per_kwh, timestep_h)
    if price.size != model.n_timesteps:
        raise ValueError(f"price_s_per_kwh has {price.size} steps, building {model.name!r} "
                         f"{model.n_timesteps}")
    if not (np.isfinite(eta_ch) and eta_ch > 0):
        raise ValueError(f"eta_ch must be a positive number, got {eta_ch}")
    block = building_block(model, timestep_h)
    cost = np.zeros(block.n)
    cost[block.variables["p_th"]] = price * timestep_h / eta_ch
    cost[block.variables["p"]] = price * timestep_h
    # scipy.optimize is heavy (0.2 s): loaded by the processes that compute a baseline only
    from scipy.optimize import linprog

    res = linprog(cost, A_ub=block.A_ub if block.b_ub.size else None,
                  b_ub=block.b_ub if block.b_ub.size else None, A_eq=block.A_eq,
                  b_eq=block.b_eq, bounds=np.c_[block.lb, block.ub], method="highs")
    if res.status != 0:
        raise RuntimeError(f"baseline of building {model.name!r} failed: {res.message}")
    return Baseline(*(res.x[block.variables[g]].copy() for g in BASELINE_GROUPS))
