"""Multi-energy district models: electric grid, thermal grid, buildings, scenarios.

One sub-package per organisation, each built from its own data files only: the electric grid
operator (:mod:`.electric_grid`), the thermal grid operator (:mod:`.thermal_grid`) and the
buildings with their aggregator (:mod:`.buildings`). Shared by all: :mod:`.tables` (table schemas,
reading and checks), :mod:`.ders` (where the buildings connect to the grids), :mod:`.timeseries`
(horizon, price, weather), :mod:`.lp` (the LP block) and :mod:`.radial_grid` (what both grid
loaders read). Above the three: :mod:`.scenarios` (the study's grid-limit scenarios, their limits
computed from the grids' linear models, as data), :mod:`.grid_operators` (each grid operator's
block with a scenario's limits), :mod:`.district` (loading the district) and
:mod:`.centralized` (the centralized problem, eq. (1)).

Numerics only: kernels take arrays, loaders turn data files into arrays. Nothing here knows ADMM
or the runtime.

The few names below are the package's vocabulary; they live here, free of pandas and scipy, so the
command line and :mod:`~distributed_resource_optimization.market.names` can list them without
loading the models.
"""

from __future__ import annotations

#: Supported resolutions of the models' time axis and their step length in minutes
#: (:data:`.timeseries.RESOLUTIONS`).
STEP_MINUTES: dict[str, int] = {"30min": 30, "60min": 60}

#: Exchanged quantities: result name -> LP variable group (demand drawn from the grids, kW /
#: kvar; see :mod:`.lp`), in the order of the coupling families of the centralized problem.
QUANTITIES: dict[str, str] = {"thermal_power": "p_th", "active_power": "p", "reactive_power": "q"}

#: The exchanged LP variable groups, in the order of :data:`QUANTITIES`.
GROUPS: tuple[str, ...] = tuple(QUANTITIES.values())

#: Unit of each quantity's dispatch (demand drawn from the grid, positive = consumption) and of
#: its price (at the DER's node), as the result tables and labelled results state them.
DISPATCH_UNITS: dict[str, str] = {"thermal_power": "kW", "active_power": "kW",
                                  "reactive_power": "kvar"}
PRICE_UNITS: dict[str, str] = {"thermal_power": "S$/kWh", "active_power": "S$/kWh",
                               "reactive_power": "S$/kvarh"}

#: How the buildings hold their comfort band (:func:`.buildings.load_buildings`): at every point of
#: a step, the weather moving linearly inside it (default), or at step starts only with the
#: weather held (the study's model, for comparison).
COMFORT_WHOLE_STEP = "whole-step"
COMFORT_STEP_START = "step-start"
COMFORT_MODES: tuple[str, ...] = (COMFORT_WHOLE_STEP, COMFORT_STEP_START)
DEFAULT_COMFORT = COMFORT_WHOLE_STEP
