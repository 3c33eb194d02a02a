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


def bound_demands(block: LPBlock, group: str, low_kw: np.ndarray, high_kw: np.ndarray) -> None:
    """Bound the grid's copy of demand ``group`` (per DER, repeated at every step) by its
    connections' ratings, where a DER has one (finite ``high_kw`` above ``low_kw``; others stay
    free). The ratings lie far above any dispatch, so the optimum is unchanged; they make the
    operator's term of the Lagrangian dual function finite at any prices, so a market run can
    certify its distance to the optimum (:class:`~..admm.stopping.CertifiedGapRule`)."""
    cols = block.variables[group]
    n = low_kw.size
    rated = np.isfinite(high_kw) & np.isfinite(low_kw) & (high_kw > low_kw)
    steps = cols.size // n
    block.lb[cols] = np.tile(np.where(rated, low_kw, -np.inf), steps)
    block.ub[cols] = np.tile(np.where(rated, high_kw, np.inf), steps)


def thermal_connection_ratings(model: LinearThermalGridModel) -> tuple[np.ndarray, np.ndarray]:
    """Per DER the range of thermal power its connection (energy transfer station) can carry,
    kW: +-the nominal thermal power of the thermal grid's DER table (``thermal_power_nominal``,
    the operator's own data). Symmetric, though the station only delivers cooling: a lower
    bound of 0 would bind at every step without demand and take part in the nodal price there."""
    nominal = np.abs(np.asarray(model.grid.der_p_th_nominal_kw, dtype=float))
    return -nominal, nominal


def electric_connection_ratings(model: LinearElectricGridModel) -> tuple[np.ndarray, np.ndarray]:
    """Per DER the range of active and of reactive power its connection can carry, kW / kvar:
    +-the nominal apparent power of the electric grid's DER table (``active_power_nominal``,
    ``reactive_power_nominal``, the operator's own data)."""
    g = model.grid
    apparent = np.hypot(np.asarray(g.der_p_nominal_kw, float), np.asarray(g.der_q_nominal_kvar,
                                                                            float))
    return -apparent, apparent


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
    block = thermal_grid_block(model, price_s_per_kwh, timestep_h, eta_ch=eta_ch,
                               branch_flow_max=limits.branch_flow_max_m3_s,
                               node_head_min=limits.node_head_min_m, step_models=step_models)
    bound_demands(block, "p_th", *thermal_connection_ratings(model))
    return block


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
    block = electric_grid_block(model, price_s_per_kwh, timestep_h,
                                voltage_min_pu=limits.voltage_min_pu,
                                branch_power_max_kva=limits.branch_power_max_kva,
                                step_models=step_models)
    low, high = electric_connection_ratings(model)
    for group in ("p", "q"):
        bound_demands(block, group, low, high)
    return block
