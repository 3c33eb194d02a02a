"""Thermal grid operator, step 3: the linear model of the network, eq. (1h)-(1j).

Branch flows are exactly linear in the demand on a tree; node heads and pump power are tangents
at the reference demand, which is the grid operator's own choice (nominal DER powers of its data,
or a demand the buildings publish, see
:func:`~distributed_resource_optimization.energy.district.load_district`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tables import check_vector
from .data import ThermalGridData
from .hydraulics import (
    GRAVITY_M_S2,
    RETURN_PIPE_FACTOR,
    ThermalGridResult,
    branch_head_loss,
    solve_thermal_grid,
)

#: Default limits of the study, as multiples of the reference values.
DEFAULT_BRANCH_FLOW_FACTOR: float = 100.0
DEFAULT_NODE_HEAD_FACTOR: float = 100.0


@dataclass
class LinearThermalGridModel:
    """First-order model of the thermal grid around a reference demand, eq. (1h)-(1j).

    ``m_branch_flow_by_p_th`` (n_line, n_der; m3/s per kW) is exact on a tree;
    ``m_node_head_by_p_th`` (n_node, n_der; m per kW) and ``m_pump_power_by_p_th``
    (n_der; kW per kW) are tangents at the reference (the pump head follows the reference's
    critical node). Default limits follow the study: branch flow <= 100x reference (lines with zero
    reference flow get 100x the largest reference flow), node head >= 100x reference (heads are
    negative, so this is a loose lower bound; the source node's bound is 0, its head is 0 by
    definition).
    """

    grid: ThermalGridData
    reference: ThermalGridResult
    p_th_ref_kw: np.ndarray
    branch_flow_ref_m3_s: np.ndarray
    node_head_ref_m: np.ndarray
    pump_power_ref_kw: float
    m_branch_flow_by_p_th: np.ndarray
    m_node_head_by_p_th: np.ndarray
    m_pump_power_by_p_th: np.ndarray
    branch_flow_max_m3_s: np.ndarray
    node_head_min_m: np.ndarray

    def _delta(self, p_th_kw: np.ndarray) -> np.ndarray:
        return check_vector("p_th_kw", p_th_kw, self.grid.n_der) - self.p_th_ref_kw

    def predict_branch_flow_m3_s(self, p_th_kw: np.ndarray) -> np.ndarray:
        """Branch volume flows (m3/s, positive away from the source)."""
        return self.branch_flow_ref_m3_s + self.m_branch_flow_by_p_th @ self._delta(p_th_kw)

    def predict_node_head_m(self, p_th_kw: np.ndarray) -> np.ndarray:
        """Linearised node heads (m, relative to the source)."""
        return self.node_head_ref_m + self.m_node_head_by_p_th @ self._delta(p_th_kw)

    def predict_pump_power_kw(self, p_th_kw: np.ndarray) -> float:
        """Linearised distribution pump electric power (kW)."""
        return float(self.pump_power_ref_kw + self.m_pump_power_by_p_th @ self._delta(p_th_kw))


def linear_thermal_grid_model(grid: ThermalGridData,
                              p_th_ref_kw: np.ndarray | None = None) -> LinearThermalGridModel:
    """Linearise :func:`solve_thermal_grid` at ``p_th_ref_kw`` (n_der, kW; default: nominal)."""
    p_ref = check_vector("p_th_ref_kw",
                          grid.der_p_th_nominal_kw if p_th_ref_kw is None else p_th_ref_kw,
                          grid.n_der)
    ref = solve_thermal_grid(grid, p_ref)
    der_incidence = np.zeros((grid.n_node, grid.n_der))
    der_incidence[grid.der_node_index, np.arange(grid.n_der)] = 1.0
    m_flow = grid.line_subtree @ der_incidence * grid.flow_per_kw
    _, slope, _, _ = branch_head_loss(grid, ref.branch_flow_m3_s)
    m_head = -grid.line_subtree.T @ (slope[:, None] * m_flow)
    # P = c * H * Q_src with H = 2 * (-h_critical) + H_ets; product rule at the reference.
    c = grid.water_density_kg_m3 * GRAVITY_M_S2 / grid.pump_efficiency / 1000.0
    m_pump = c * (ref.pump_head_m * grid.flow_per_kw
                  - RETURN_PIPE_FACTOR * ref.source_flow_m3_s * m_head[ref.critical_node_index])

    flow_ref = ref.branch_flow_m3_s
    flow_scale = np.where(flow_ref != 0.0, np.abs(flow_ref), np.max(np.abs(flow_ref)))
    return LinearThermalGridModel(
        grid=grid,
        reference=ref,
        p_th_ref_kw=p_ref.copy(),
        branch_flow_ref_m3_s=flow_ref,
        node_head_ref_m=ref.node_head_m,
        pump_power_ref_kw=ref.pump_power_kw,
        m_branch_flow_by_p_th=m_flow,
        m_node_head_by_p_th=m_head,
        m_pump_power_by_p_th=m_pump,
        branch_flow_max_m3_s=DEFAULT_BRANCH_FLOW_FACTOR * flow_scale,
        node_head_min_m=DEFAULT_NODE_HEAD_FACTOR * np.minimum(ref.node_head_m, 0.0),
    )
