"""The study's stopping rule of the market clearing (Algorithm 1 of the study, the seed paper) as an
engine stopping rule, and its residuals read back from a run's history.

Per quantity (``thermal``, ``active``, ``reactive``): the primal residual ``r(a, b) = sum_t
||a_t - b_t||_1`` between the grid operator's and the consumer's copies (kW / kvar), and the dual
residual ``sum rho_j |z_j - z_j^prev| / timestep_h`` (S$/kWh: how much the consensus still moves,
priced at the entries' penalties; the two owners' prices always sum to zero in this form, so the
study's price disagreement is no test). The run stops when all six are below ``eps``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from distributed_resource_optimization.admm.stopping import (
    AllOf,
    GroupResidualRule,
    PriceSupportRule,
)
from distributed_resource_optimization.market.names import (
    DEFAULT_EPS,
    DEFAULT_PRICE_TOL,
    GRID_OPERATORS,
    GROUPS,
    RESIDUAL_OF,
    variable_group,
)


def study_rule(eps: float | None = DEFAULT_EPS, timestep_h: float = 1.0) -> GroupResidualRule:
    """The study's stopping rule (Algorithm 1) as an engine rule: per quantity (``thermal``,
    ``active``, ``reactive``) the primal residual ``r(a, b) = sum |x_grid - x_consumer|`` over
    timesteps and DERs (kW / kvar) and the dual residual ``sum rho_j |z_j - z_j^prev| /
    timestep_h`` (S$/kWh: how much the consensus still moves, priced at the entries'
    penalties), all below ``eps``. ``eps=None`` records them without stopping."""
    return GroupResidualRule(eps, group_of=variable_group, sign_of=_grid_sign, groups=GROUPS,
                             label_of=RESIDUAL_OF.__getitem__, scale=timestep_h)


def certified_rule(eps: float = DEFAULT_EPS, price_tol: float = DEFAULT_PRICE_TOL,
                   timestep_h: float = 1.0) -> AllOf:
    """The market's default stop without its gap part: the study's rule (``eps``) and prices
    that support every entity's own dispatch to ``price_tol`` S$/kWh
    (:class:`~..admm.stopping.PriceSupportRule`). The coordinator adds the certified gap
    (``gap_tol``), which is evaluated only once these hold."""
    return AllOf(study_rule(eps, timestep_h), PriceSupportRule(price_tol, timestep_h))


def _grid_sign(actor: str) -> float:
    return 1.0 if actor in GRID_OPERATORS else -1.0


def market_residuals(history: Mapping[str, Sequence[float]]
                     ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The study's primal and dual residuals per quantity from a stopping rule's history (the
    state's ``stopping.history`` during a run, ``ADMMResult.stopping_history`` after it)."""
    return ({k: np.asarray(history[f"{k}_primal"], dtype=float) for k in RESIDUAL_OF.values()},
            {k: np.asarray(history[f"{k}_dual"], dtype=float) for k in RESIDUAL_OF.values()})


#: Former names (kept for existing callers): ``seed`` was the study's (the seed paper's) rule.
seed_rule = study_rule
seed_residuals = market_residuals
