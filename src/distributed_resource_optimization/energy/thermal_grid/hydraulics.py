"""Thermal grid operator, step 2: hydraulics of the network (the nonlinear model).

Branch flows follow from mass balance on the tree; head losses from Darcy-Weisbach with a
friction factor that is laminar, transitional or turbulent (Swamee-Jain); the distribution pump
overcomes the critical building's path head loss on supply and return plus the energy transfer
station's head. Signs as in the package docstring (flows positive away from the source, heads
relative to the source and <= 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tables import check_vector
from .data import ThermalGridData

#: Standard gravity (m/s2).
GRAVITY_M_S2: float = 9.80665
#: Supply plus return pipe: the pump overcomes the path head loss twice.
RETURN_PIPE_FACTOR: float = 2.0
#: Reynolds numbers bounding the laminar (64/Re) and turbulent (Swamee-Jain) regimes; the friction
#: factor is interpolated linearly in between so head loss stays continuous.
REYNOLDS_LAMINAR_MAX: float = 2000.0
REYNOLDS_TURBULENT_MIN: float = 4000.0


def friction_factor(reynolds: np.ndarray, relative_roughness: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Darcy friction factor and its derivative with respect to the Reynolds number.

    Laminar ``64/Re`` below ``REYNOLDS_LAMINAR_MAX``, Swamee-Jain (explicit Colebrook
    approximation, within about 1 % for 5e3 < Re < 1e8, 1e-6 < eps/D < 1e-2) above
    ``REYNOLDS_TURBULENT_MIN``, linear in between. ``reynolds`` must be positive.
    """
    re = np.asarray(reynolds, dtype=float)
    rr = np.broadcast_to(np.asarray(relative_roughness, dtype=float), re.shape)

    def swamee_jain(r: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        arg = eps / 3.7 + 5.74 * r**-0.9
        log = np.log10(arg)
        f = 0.25 / log**2
        df = -0.5 / log**3 * (-0.9 * 5.74 * r**-1.9) / (arg * np.log(10.0))
        return f, df

    f_turb, df_turb = swamee_jain(np.maximum(re, REYNOLDS_TURBULENT_MIN), rr)
    f_lam = 64.0 / re
    df_lam = -64.0 / re**2
    f_edge, _ = swamee_jain(np.full(re.shape, REYNOLDS_TURBULENT_MIN), rr)
    f_low = 64.0 / REYNOLDS_LAMINAR_MAX
    slope = (f_edge - f_low) / (REYNOLDS_TURBULENT_MIN - REYNOLDS_LAMINAR_MAX)
    f_trans = f_low + slope * (re - REYNOLDS_LAMINAR_MAX)
    laminar = re <= REYNOLDS_LAMINAR_MAX
    turbulent = re >= REYNOLDS_TURBULENT_MIN
    f = np.where(laminar, f_lam, np.where(turbulent, f_turb, f_trans))
    df = np.where(laminar, df_lam, np.where(turbulent, df_turb, slope))
    return f, df


def branch_head_loss(grid: ThermalGridData, flow: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Darcy-Weisbach head loss per branch (m, sign of the flow) and d(head loss)/d(flow).

    Also returns Reynolds numbers and friction factors. Laminar flow is handled in closed form
    (head loss linear in flow) so zero flow has a finite slope.
    """
    d, length, nu = grid.line_diameter_m, grid.line_length_m, grid.kinematic_viscosity_m2_s
    k = 8.0 * length / (GRAVITY_M_S2 * np.pi**2 * d**5)  # head loss = k * f * Q|Q|
    re = 4.0 * np.abs(flow) / (np.pi * d * nu)
    dre_dq = 4.0 / (np.pi * d * nu)
    laminar = re <= REYNOLDS_LAMINAR_MAX
    # Laminar branches use the closed form below; evaluating 64/Re at Re -> 0 would only overflow.
    f, df = friction_factor(np.where(laminar, REYNOLDS_LAMINAR_MAX, re), grid.line_roughness_m / d)
    # 64/Re * Q|Q| = 16 pi D nu Q: linear, and well defined at Q = 0.
    k_lam = k * 16.0 * np.pi * d * nu
    head = np.where(laminar, k_lam * flow, k * f * flow * np.abs(flow))
    slope = np.where(laminar, k_lam, k * (2.0 * f * np.abs(flow) + df * dre_dq * flow**2))
    f_laminar = np.divide(64.0, re, out=np.full(re.shape, np.nan), where=re > 0.0)
    return head, slope, re, np.where(laminar, f_laminar, f)


@dataclass
class ThermalGridResult:
    """Hydraulic state of the network for a given cooling demand (signs: module docstring)."""

    der_flow_m3_s: np.ndarray
    source_flow_m3_s: float
    branch_flow_m3_s: np.ndarray  # positive away from the source
    branch_velocity_m_s: np.ndarray
    branch_reynolds: np.ndarray
    branch_friction_factor: np.ndarray  # Darcy; NaN where the flow is zero
    branch_head_loss_m: np.ndarray  # supply pipe, in the flow direction away from the source
    node_head_m: np.ndarray  # relative to the source, <= 0 for normal operation
    critical_node_index: int  # node with the largest path head loss
    pump_head_m: float
    pump_power_kw: float  # electric power of the distribution pump


def solve_thermal_grid(grid: ThermalGridData, p_th_kw: np.ndarray) -> ThermalGridResult:
    """Flows, head losses, node heads and pump power at cooling demand ``p_th_kw`` (n_der, kW)."""
    p = check_vector("p_th_kw", p_th_kw, grid.n_der)
    der_flow = p * grid.flow_per_kw
    node_flow = np.zeros(grid.n_node)
    np.add.at(node_flow, grid.der_node_index, der_flow)
    branch_flow = grid.line_subtree @ node_flow  # mass balance on a tree
    head_loss, _, re, f = branch_head_loss(grid, branch_flow)
    node_head = -grid.line_subtree.T @ head_loss
    critical = int(np.argmin(node_head))
    source_flow = float(np.sum(der_flow))
    pump_head = RETURN_PIPE_FACTOR * float(-node_head[critical]) + grid.ets_head_loss_m
    pump_power_kw = (grid.water_density_kg_m3 * GRAVITY_M_S2 * pump_head * source_flow
                     / grid.pump_efficiency / 1000.0)
    return ThermalGridResult(
        der_flow_m3_s=der_flow,
        source_flow_m3_s=source_flow,
        branch_flow_m3_s=branch_flow,
        branch_velocity_m_s=branch_flow / (np.pi * grid.line_diameter_m**2 / 4.0),
        branch_reynolds=re,
        branch_friction_factor=f,
        branch_head_loss_m=head_loss,
        node_head_m=node_head,
        critical_node_index=critical,
        pump_head_m=pump_head,
        pump_power_kw=float(pump_power_kw),
    )
