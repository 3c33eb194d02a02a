"""Thermal grid operator, step 4: the LP block of its sub-problem, eq. (1h)-(1j).

The plant supplies the buildings' cooling plus what the pump power costs in cooling-equivalent
terms; the cost is the plant's electricity at the wholesale price. :func:`thermal_grid_block`
takes the limits as data (a scenario's limits come from
:func:`~distributed_resource_optimization.energy.grid_operators.thermal_grid_operator_block`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..lp import LPBlock, check_step_models, per_step
from ..tables import check_price, limit
from .linear import LinearThermalGridModel

#: Chiller plant coefficient of performance set by the study's script (makes district cooling
#: attractive against the buildings' own chillers, which have 5.5).
DEFAULT_PLANT_EFFICIENCY: float = 10.0


def thermal_grid_block(model: LinearThermalGridModel, price_s_per_kwh: np.ndarray,
                       timestep_h: float, *, eta_ch: float = DEFAULT_PLANT_EFFICIENCY,
                       branch_flow_max: np.ndarray | float | None = None,
                       node_head_min: np.ndarray | float | None = None,
                       step_models: Sequence[LinearThermalGridModel] | None = None) -> LPBlock:
    """LP of the thermal grid operator, eq. (1h)-(1j), over ``T = len(price_s_per_kwh)`` steps.

    Variables: ``p_th`` (T*n_der, cooling demand kW, index ``t*n_der + k``, free) and ``p_th_src``
    (T, thermal power of the plant, kW, free). Cost: ``sum_t price_t * p_th_src_t / eta_ch *
    timestep_h`` (S$; price in S$/kWh of electricity). ``ub`` rows ``node_head_min`` (index
    ``t*n_node + i``) and ``branch_flow_max`` (``t*n_line + l``); ``eq`` rows
    ``thermal_power_balance`` (index ``t``): ``(p_th_src - sum p_th) / eta_ch = pump power``.
    ``branch_flow_max`` (m3/s) and ``node_head_min`` (m, <= 0) default to the model's loose limits;
    scalars apply to every line / node. ``step_models``: one linear model per step (each
    linearised at its own step's demand, :mod:`~..successive`) instead of ``model`` at every step;
    ``model`` still gives the default limits.
    """
    price = check_price(price_s_per_kwh, timestep_h)
    if not (np.isfinite(eta_ch) and eta_ch > 0):
        raise ValueError(f"eta_ch must be a positive number, got {eta_ch}")
    g = model.grid
    n_t, n_der, n_node, n_line = price.size, g.n_der, g.n_node, g.n_line
    f_max = limit("branch_flow_max", branch_flow_max, model.branch_flow_max_m3_s)
    h_min = limit("node_head_min", node_head_min, model.node_head_min_m)

    models = check_step_models(model, step_models, n_t)
    n_p = n_t * n_der
    idx_p = np.arange(n_p)
    idx_src = n_p + np.arange(n_t)
    n_var = n_p + n_t
    eye_t = sp.identity(n_t, format="csr")
    no_src = sp.csr_matrix((n_t * n_node, n_t))
    # h_min <= h_ref + M (p - p_ref)  <=>  -M p <= h_ref - M p_ref - h_min, per step.
    offset_h = [m.node_head_ref_m - m.m_node_head_by_p_th @ m.p_th_ref_kw for m in models]
    a_h = sp.hstack([per_step(models, lambda m: -m.m_node_head_by_p_th), no_src], format="csr")
    offset_f = [m.branch_flow_ref_m3_s - m.m_branch_flow_by_p_th @ m.p_th_ref_kw for m in models]
    a_f = sp.hstack([per_step(models, lambda m: m.m_branch_flow_by_p_th),
                     sp.csr_matrix((n_t * n_line, n_t))], format="csr")
    a_ub = sp.vstack([a_h, a_f], format="csr")
    b_ub = np.concatenate([*(o - h_min for o in offset_h), *(f_max - o for o in offset_f)])
    # (p_src - 1'p) / eta = P_ref + M (p - p_ref), per step.
    a_eq = sp.hstack([per_step(models, lambda m: -(1.0 / eta_ch + m.m_pump_power_by_p_th)[None, :]),
                      eye_t / eta_ch], format="csr")
    b_eq = np.array([m.pump_power_ref_kw - m.m_pump_power_by_p_th @ m.p_th_ref_kw
                     for m in models])

    c = np.zeros(n_var)
    c[idx_src] = price * timestep_h / eta_ch
    return LPBlock(
        n=n_var, c=c, lb=np.full(n_var, -np.inf), ub=np.full(n_var, np.inf),
        A_eq=a_eq, b_eq=b_eq, A_ub=a_ub, b_ub=b_ub,
        variables={"p_th": idx_p, "p_th_src": idx_src},
        eq_rows={"thermal_power_balance": np.arange(n_t)},
        ub_rows={"node_head_min": np.arange(n_t * n_node),
                 "branch_flow_max": n_t * n_node + np.arange(n_t * n_line)},
        name="thermal_grid",
    )

