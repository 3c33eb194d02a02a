"""Flexible loads: reduced-order thermal models of the district's air-conditioned buildings.

One module per step: :mod:`.data` (the building tables and each building's grid connection),
:mod:`.model` (``BuildingModel``, ``load_buildings``, ``simulate``,
``simulate_within_steps``), :mod:`.block`
(``building_block``, ``aggregator_block``) and :mod:`.baseline` (``Baseline``, ``building_baseline``:
the building's own cost-optimal demand, which it publishes to the grid operators).

Each building is one zone (as in the CoBMo data) modelled as a two-node RC network, eq. (1b)-(1f)
of the study:

- states ``x``: zone air temperature and construction (thermal mass) temperature, degC;
- controls ``c``: sensible cooling delivered to the zone air by the AHU (kW thermal) and,
  optionally, the part of the AHU coil load served by the building's own chiller (kW thermal);
- disturbances ``d``: ambient and sky temperature (degC), irradiation on the roof and the four
  facades (W/m2), occupancy and appliance schedules (per unit), the ventilation coil load of the
  scheduled fresh air (kW) and the fresh-air flow (m3/s);
- outputs ``y``: both temperatures, both controls, the thermal power drawn from the district
  cooling grid (kW) and the active power drawn from the electric grid (kW).

All exchanged powers are demand, positive = consumption (kW / kvar), as in :mod:`..lp`. The
continuous-time model is discretised exactly (matrix exponential) at the step length: controls
held over a step, the weather linear inside it and the comfort band held at points inside every
step (``comfort="whole-step"``, default), or everything held and the band at step starts only
(``"step-start"``, the study's model). Derivation, parameters and simplifications are
documented in ``docs/energy_buildings.md``.
"""

from .. import COMFORT_MODES, COMFORT_STEP_START, COMFORT_WHOLE_STEP, DEFAULT_COMFORT
from .baseline import BASELINE_GROUPS, Baseline, building_baseline
from .block import aggregator_block, building_block
from .model import (
    AIR_DENSITY,
    AIR_MASS_COUPLING_PER_FLOOR_AREA,
    AIR_SPECIFIC_HEAT,
    ATMOSPHERIC_PRESSURE,
    DEFAULT_COMFORT_SPACING_MIN,
    DIRECTIONS,
    DISTURBANCE_NAMES,
    EXTERIOR_CONVECTION,
    INTERIOR_CONVECTION,
    INTERNAL_GAIN_CONVECTIVE_FRACTION,
    STATE_NAMES,
    STEFAN_BOLTZMANN,
    VAPORISATION_ENTHALPY,
    VAPOUR_SPECIFIC_HEAT,
    WEATHER_DISTURBANCES,
    BuildingModel,
    check_comfort,
    controls_from_demand,
    load_buildings,
    simulate,
    simulate_within_steps,
)

__all__ = [
    "BASELINE_GROUPS",
    "Baseline",
    "AIR_DENSITY",
    "AIR_MASS_COUPLING_PER_FLOOR_AREA",
    "AIR_SPECIFIC_HEAT",
    "ATMOSPHERIC_PRESSURE",
    "DIRECTIONS",
    "DISTURBANCE_NAMES",
    "EXTERIOR_CONVECTION",
    "INTERIOR_CONVECTION",
    "INTERNAL_GAIN_CONVECTIVE_FRACTION",
    "STATE_NAMES",
    "STEFAN_BOLTZMANN",
    "VAPORISATION_ENTHALPY",
    "VAPOUR_SPECIFIC_HEAT",
    "COMFORT_MODES",
    "COMFORT_STEP_START",
    "COMFORT_WHOLE_STEP",
    "DEFAULT_COMFORT",
    "DEFAULT_COMFORT_SPACING_MIN",
    "WEATHER_DISTURBANCES",
    "BuildingModel",
    "aggregator_block",
    "check_comfort",
    "controls_from_demand",
    "building_baseline",
    "building_block",
    "load_buildings",
    "simulate",
    "simulate_within_steps",
]
