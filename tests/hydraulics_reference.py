"""An independent hydraulic reference for the tests: Darcy-Weisbach with the exact
Colebrook-White friction factor (fixed-point iteration), no code shared with the package's
hydraulics (which use the Swamee-Jain approximation, within about 1 % of Colebrook)."""

from __future__ import annotations

import numpy as np

from distributed_resource_optimization.energy.thermal_grid.hydraulics import (
    GRAVITY_M_S2,
    REYNOLDS_TURBULENT_MIN,
)


def colebrook_friction(re: float, relative_roughness: float) -> float:
    """Colebrook-White friction factor by fixed-point iteration on 1/sqrt(f)."""
    x = 8.0  # 1/sqrt(f), a turbulent start
    for _ in range(100):
        x = -2.0 * np.log10(relative_roughness / 3.7 + 2.51 * x / re)
    return 1.0 / x**2


def independent_head(grid, p_th_kw: np.ndarray, node: int) -> float:
    """Head (m, <= 0) at ``node``: Darcy-Weisbach with the exact Colebrook-White friction
    factor, summed over the lines on its path from the source (no code shared with the
    hydraulics module)."""
    node_flow = np.zeros(grid.n_node)
    np.add.at(node_flow, grid.der_node_index, p_th_kw * grid.flow_per_kw)
    flow = grid.line_subtree @ node_flow
    head = 0.0
    for k in np.flatnonzero(grid.line_subtree[:, node]):  # the lines feeding the node
        d, q = grid.line_diameter_m[k], abs(flow[k])
        re = 4.0 * q / (np.pi * d * grid.kinematic_viscosity_m2_s)
        assert re > REYNOLDS_TURBULENT_MIN  # Colebrook's regime
        v = q / (np.pi * d**2 / 4.0)
        f = colebrook_friction(re, grid.line_roughness_m[k] / d)
        head -= f * grid.line_length_m[k] / d * v**2 / (2.0 * GRAVITY_M_S2)
    return head
