"""Electric grid operator, step 4: the LP block of its sub-problem, eq. (1k)-(1o).

The linear model's sensitivities act on every timestep (block-diagonal over time); the cost is the
energy bought at the substation. :func:`electric_grid_block` takes the limits as data (a
scenario's limits come from
:func:`~distributed_resource_optimization.energy.grid_operators.electric_grid_operator_block`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..lp import LPBlock, check_step_models, per_step
from ..tables import check_price, limit
from .linear import LinearElectricGridModel


def electric_grid_block(model: LinearElectricGridModel, price_s_per_kwh: np.ndarray,
                        timestep_h: float, *,
                        voltage_min_pu: np.ndarray | float | None = None,
                        voltage_max_pu: np.ndarray | float | None = None,
                        branch_power_max_kva: np.ndarray | float | None = None,
                        step_models: Sequence[LinearElectricGridModel] | None = None) -> LPBlock:
    """LP of the electric grid operator, eq. (1k)-(1o), over ``T = len(price_s_per_kwh)`` steps.

    Variables: ``p`` / ``q`` (T*n_der, DER demand kW / kvar, index ``t*n_der + k``, free),
    ``p_src`` / ``q_src`` (T, substation supply kW / kvar, free). Cost: ``sum_t price_t *
    p_src_t * timestep_h`` (S$; price in S$/kWh). ``ub`` rows ``voltage_min`` / ``voltage_max``
    (index ``t*n_node + i``), ``branch_power_from_max`` / ``branch_power_to_max``
    (``t*n_line + l``); ``eq`` rows ``active_power_balance`` / ``reactive_power_balance``
    (index ``t``). Limits default to the model's (loose) ones; scalars apply to every node / line.
    ``step_models``: one linear model per step (each linearised at its own step's demand,
    :mod:`~..successive`) instead of ``model`` at every step.
    """
    price = check_price(price_s_per_kwh, timestep_h)
    g = model.grid
    n_t, n_der, n_node, n_line = price.size, g.n_der, g.n_node, g.n_line
    v_min = limit("voltage_min_pu", voltage_min_pu, model.voltage_min_pu)
    v_max = limit("voltage_max_pu", voltage_max_pu, model.voltage_max_pu)
    s_max = limit("branch_power_max_kva", branch_power_max_kva, model.branch_power_max_kva)

    models = check_step_models(model, step_models, n_t)
    n_pq = n_t * n_der
    idx_p = np.arange(n_pq)
    idx_q = n_pq + np.arange(n_pq)
    idx_psrc = 2 * n_pq + np.arange(n_t)
    idx_qsrc = 2 * n_pq + n_t + np.arange(n_t)
    n_var = 2 * n_pq + 2 * n_t
    eye_t = sp.identity(n_t, format="csr")

    def rows(m_p: str, m_q: str) -> sp.csr_matrix:
        k = getattr(models[0], m_p).shape[0]
        return sp.hstack([per_step(models, lambda m: getattr(m, m_p)),
                          per_step(models, lambda m: getattr(m, m_q)),
                          sp.csr_matrix((n_t * k, 2 * n_t))], format="csr")

    def offsets(ref: str, m_p: str, m_q: str) -> list[np.ndarray]:
        # x_ref + M (x - x_ref) <= x_max  <=>  M x <= x_max - x_ref + M x_ref, per step.
        return [getattr(m, ref) - (getattr(m, m_p) @ m.p_ref_kw + getattr(m, m_q) @ m.q_ref_kvar)
                for m in models]

    offset_v = offsets("voltage_ref_pu", "m_voltage_by_p", "m_voltage_by_q")
    offset_sf = offsets("branch_power_from_ref_kva", "m_branch_from_by_p", "m_branch_from_by_q")
    offset_st = offsets("branch_power_to_ref_kva", "m_branch_to_by_p", "m_branch_to_by_q")
    a_v = rows("m_voltage_by_p", "m_voltage_by_q")
    a_sf = rows("m_branch_from_by_p", "m_branch_from_by_q")
    a_st = rows("m_branch_to_by_p", "m_branch_to_by_q")
    a_ub = sp.vstack([-a_v, a_v, a_sf, a_st], format="csr")
    b_ub = np.concatenate([*(o - v_min for o in offset_v), *(v_max - o for o in offset_v),
                           *(s_max - o for o in offset_sf), *(s_max - o for o in offset_st)])
    ub_rows = {}
    start = 0
    for fam, size in (("voltage_min", n_node), ("voltage_max", n_node),
                      ("branch_power_from_max", n_line), ("branch_power_to_max", n_line)):
        ub_rows[fam] = np.arange(start, start + n_t * size)
        start += n_t * size

    # p_src - 1'p = loss_ref + M_p (p - p_ref) + M_q (q - q_ref), per timestep.
    a_eq_p = sp.hstack([per_step(models, lambda m: -(1.0 + m.m_loss_active_by_p)[None, :]),
                        per_step(models, lambda m: -m.m_loss_active_by_q[None, :]),
                        eye_t, sp.csr_matrix((n_t, n_t))], format="csr")
    a_eq_q = sp.hstack([per_step(models, lambda m: -m.m_loss_reactive_by_p[None, :]),
                        per_step(models, lambda m: -(1.0 + m.m_loss_reactive_by_q)[None, :]),
                        sp.csr_matrix((n_t, n_t)), eye_t], format="csr")
    rhs_p = [m.loss_active_ref_kw - (m.m_loss_active_by_p @ m.p_ref_kw
                                     + m.m_loss_active_by_q @ m.q_ref_kvar) for m in models]
    rhs_q = [m.loss_reactive_ref_kvar - (m.m_loss_reactive_by_p @ m.p_ref_kw
                                         + m.m_loss_reactive_by_q @ m.q_ref_kvar) for m in models]
    a_eq = sp.vstack([a_eq_p, a_eq_q], format="csr")
    b_eq = np.concatenate([rhs_p, rhs_q])

    c = np.zeros(n_var)
    c[idx_psrc] = price * timestep_h
    return LPBlock(
        n=n_var, c=c, lb=np.full(n_var, -np.inf), ub=np.full(n_var, np.inf),
        A_eq=a_eq, b_eq=b_eq, A_ub=a_ub, b_ub=b_ub,
        variables={"p": idx_p, "q": idx_q, "p_src": idx_psrc, "q_src": idx_qsrc},
        eq_rows={"active_power_balance": np.arange(n_t),
                 "reactive_power_balance": n_t + np.arange(n_t)},
        ub_rows=ub_rows,
        name="electric_grid",
    )

