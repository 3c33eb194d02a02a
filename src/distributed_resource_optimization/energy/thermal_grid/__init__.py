"""Thermal grid operator: data -> hydraulics -> linear model -> LP block, eq. (1h)-(1j).

One module per step: :mod:`.data` (``load_thermal_grid``, from the thermal grid files only),
:mod:`.hydraulics` (``solve_thermal_grid``), :mod:`.linear` (``linear_thermal_grid_model``) and
:mod:`.block` (``thermal_grid_block``, limits as data; a scenario's limits:
:mod:`..grid_operators`).

The network is radial with the central chiller plant and distribution pump at the source node. The
supply and return networks are identical, so one tree describes both. Every building draws chilled
water in proportion to its cooling demand (fixed supply/return enthalpy difference), hence branch
flows are linear in the demand; the head losses (Darcy-Weisbach) and the pump power are not.

Sign conventions and units: DER thermal power is cooling *demand*, positive = consumption, in kW
(the data files list loads as negative W). Volume flows are in m3/s; a branch flow is positive in
the direction *away from the source* (for the embedded data that is node_1 -> node_2 on every line,
see ``ThermalGridData.line_downstream_sign``). Node heads are supply-side pressure heads in m
relative to the source, so they are <= 0 and the lowest one marks the critical building. The
distribution pump head is ``RETURN_PIPE_FACTOR * max path head loss + ETS head loss`` (as in MESMO:
the return pipe mirrors the supply pipe, and the energy transfer station of the critical building
needs its own head).
"""

from .block import DEFAULT_PLANT_EFFICIENCY, thermal_grid_block
from .data import ThermalGridData, load_thermal_grid
from .hydraulics import (
    GRAVITY_M_S2,
    RETURN_PIPE_FACTOR,
    REYNOLDS_LAMINAR_MAX,
    REYNOLDS_TURBULENT_MIN,
    ThermalGridResult,
    friction_factor,
    solve_thermal_grid,
)
from .linear import (
    DEFAULT_BRANCH_FLOW_FACTOR,
    DEFAULT_NODE_HEAD_FACTOR,
    LinearThermalGridModel,
    linear_thermal_grid_model,
)

__all__ = [
    "DEFAULT_BRANCH_FLOW_FACTOR",
    "DEFAULT_NODE_HEAD_FACTOR",
    "DEFAULT_PLANT_EFFICIENCY",
    "GRAVITY_M_S2",
    "RETURN_PIPE_FACTOR",
    "REYNOLDS_LAMINAR_MAX",
    "REYNOLDS_TURBULENT_MIN",
    "LinearThermalGridModel",
    "ThermalGridData",
    "ThermalGridResult",
    "friction_factor",
    "linear_thermal_grid_model",
    "load_thermal_grid",
    "solve_thermal_grid",
    "thermal_grid_block",
]
