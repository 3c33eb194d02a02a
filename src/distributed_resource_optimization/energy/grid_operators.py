"""The grid operators' LP blocks in a scenario of the study: each grid's block with the scenario's
limits, the one builder of both the centralized problem (:mod:`.centralized`) and the market's
grid operator agents.

The grids' blocks take limits as data (:func:`~.thermal_grid.thermal_grid_block`,
:func:`~.electric_grid.electric_grid_block`); the scenario's limits are computed above the grids,
from each operator's own linear model alone (:mod:`.scenarios`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .electric_grid import LinearElectricGridModel, electric_grid_block
from .lp import LPBlock
from .scenarios import (
    ElectricLimits,
    ThermalLimits,
    electric_scenario_limits,
    thermal_scenario_limits,
)
from .thermal_grid import LinearThermalGridModel, thermal_grid_block


def thermal_grid_operator_block(model: LinearThermalGridModel, price_s_per_kwh: np.ndarray,
                                timestep_h: float, eta_ch: float,
                                scenario: str | ThermalLimits,
                                step_models: Sequence[LinearThermalGridModel] | None = None
                                ) -> LPBlock:
    """The thermal grid operator's LP block in ``scenario``: :func:`thermal_grid_block` with the
    scenario's thermal limits (:func:`~.scenarios.thermal_scenario_limits` of ``model``).
    ``scenario`` is a scenario name or the limits themselves; ``step_models`` one linear model
    per step (:mod:`.successive`) instead of ``model`` at every step."""
    limits = (scenario if isinstance(scenario, ThermalLimits)
              else thermal_scenario_limits(model, scenario))
    return thermal_grid_block(model, price_s_per_kwh, timestep_h, eta_ch=eta_ch,
                              branch_flow_max=limits.branch_flow_max_m3_s,
                              node_head_min=limits.node_head_min_m, step_models=step_models)


def electric_grid_operator_block(model: LinearElectricGridModel, price_s_per_kwh: np.ndarray,
                                 timestep_h: float, scenario: str | ElectricLimits,
                                 step_models: Sequence[LinearElectricGridModel] | None = None
                                 ) -> LPBlock:
    """The electric grid operator's LP block in ``scenario``: :func:`electric_grid_block` with
    the scenario's electric limits (:func:`~.scenarios.electric_scenario_limits` of ``model``).
    ``scenario`` is a scenario name or the limits themselves; ``step_models`` one linear model
    per step (:mod:`.successive`) instead of ``model`` at every step."""
    limits = (scenario if isinstance(scenario, ElectricLimits)
              else electric_scenario_limits(model, scenario))
    return electric_grid_block(model, price_s_per_kwh, timestep_h,
                               voltage_min_pu=limits.voltage_min_pu,
                               branch_power_max_kva=limits.branch_power_max_kva,
                               step_models=step_models)
