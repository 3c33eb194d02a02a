"""The district's data tables: their schemas, reading with validation, and checks shared by loaders.

Every data file a loader reads has exactly one entry in :data:`SCHEMAS`, keyed by its path relative
to the data folder (e.g. ``"grid/electric_grid_lines.csv"``): the required columns and their types,
the optional columns, and the admissible value ranges. :func:`read_table` reads a file against its
entry, so a column's type or range is stated once, whichever organisation's loader reads the file.

Every malformed file gets a :class:`DataFileError` that names the file, the row (1-based data row,
as a spreadsheet shows it after the header) and the column, so users pointing the loader at their
own folder can fix it. The checks below (unique names, positive values, node look-up, radial
layout, grid selection, argument arrays) are shared by the electric and thermal grid loaders and
the LP blocks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: Folder of the embedded default test case (the study's Singapore district).
DEFAULT_DATA_DIR: Path = Path(str(resources.files(__package__) / "data" / "singapore_district"))

#: Data files named by more than one module (paths relative to the data folder).
ELECTRIC_GRID_DERS_FILE = "grid/electric_grid_ders.csv"
THERMAL_GRID_DERS_FILE = "grid/thermal_grid_ders.csv"
#: Horizon of the building scenarios and of the grid scenario (same columns and semantics).
BUILDING_SCENARIOS_FILE = "buildings/scenarios.csv"
GRID_SCENARIOS_FILE = "grid/scenarios.csv"
PRICE_FILE = "timeseries/price_singapore_wholesale.csv"
WEATHER_FILE = "timeseries/weather_singapore_iwec.csv"
#: Optional weather column (kg water / kg dry air).
WEATHER_HUMIDITY_COLUMN = "ambient_air_absolute_humidity"

#: A building's rows, in selection order: ``(file, key column, keys)`` where ``keys`` is
#: ``"building"`` (the building names) or ``(file, column)`` of a table selected before (the
#: type rows a building refers to). What ``dro data split`` gives each consumer, and what
#: ``dro data generate`` copies per building.
BUILDING_ROWS: tuple[tuple[str, str, str | tuple[str, str]], ...] = (
    ("buildings/buildings.csv", "building_name", "building"),
    ("buildings/zones.csv", "building_name", "building"),
    ("buildings/surfaces_exterior.csv", "building_name", "building"),
    (BUILDING_SCENARIOS_FILE, "building_name", "building"),
    (ELECTRIC_GRID_DERS_FILE, "der_model_name", "building"),
    (THERMAL_GRID_DERS_FILE, "der_model_name", "building"),
    ("buildings/zone_types.csv", "zone_type", ("buildings/zones.csv", "zone_type")),
    ("buildings/surface_types.csv", "surface_type",
     ("buildings/surfaces_exterior.csv", "surface_type")),
    ("buildings/window_types.csv", "window_type", ("buildings/surface_types.csv", "window_type")),
    ("buildings/internal_gain_types.csv", "internal_gain_type",
     ("buildings/zone_types.csv", "internal_gain_type")),
    ("buildings/internal_gain_schedules.csv", "internal_gain_type",
     ("buildings/zone_types.csv", "internal_gain_type")),
    ("buildings/constraint_schedules.csv", "constraint_type",
     ("buildings/zone_types.csv", "constraint_type")),
    ("buildings/hvac_ahu_types.csv", "hvac_ahu_type", ("buildings/zone_types.csv", "hvac_ahu_type")),
    ("buildings/plant_cooling_types.csv", "plant_cooling_type",
     ("buildings/buildings.csv", "plant_cooling_type")),
    ("buildings/initial_state_types.csv", "initial_state_type",
     ("buildings/scenarios.csv", "initial_state_type")),
    (WEATHER_FILE, "weather_type", ("buildings/buildings.csv", "weather_type")),
)


class DataFileError(ValueError):
    """A data file is missing or malformed; the message names file, row and column."""

    def __init__(self, path: Path | str, message: str, row: int | None = None,
                 column: str | None = None) -> None:
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")
        self.message = message
        self.path = Path(path)
        self.row = row
        self.column = column
        self.problems: list[DataFileError] = [self]

    @classmethod
    def of_many(cls, path: Path | str, problems: list[DataFileError]) -> DataFileError:
        """One error for several ``problems`` of one file (row and column: the first's), every
        problem in the message, in the file's order of columns."""
        def where(p: DataFileError) -> str:
            parts = ([f"row {p.row}"] if p.row is not None else []) + \
                ([f"column '{p.column}'"] if p.column is not None else [])
            return ", ".join(parts)

        listed = "; ".join(f"{where(p)}: {p.message}" for p in problems)
        error = cls(path, f"{len(problems)} problems: {listed}")
        error.row, error.column = problems[0].row, problems[0].column
        error.problems = list(problems)
        return error


class TextTables:
    """The CSV tables of one data folder, each read once, as text: for copying values, not
    interpreting them (``dro data split``, ``dro data generate``). ``tables[relative]`` is a
    frame of strings; a missing or unparsable file is a :class:`DataFileError`."""

    def __init__(self, src: Path | str) -> None:
        self.src = Path(src)
        self._read: dict[str, pd.DataFrame] = {}

    def __getitem__(self, relative: str) -> pd.DataFrame:
        if relative not in self._read:
            path = self.src / relative
            if not path.is_file():
                raise DataFileError(path, "file not found")
            try:
                self._read[relative] = pd.read_csv(path, dtype=str, keep_default_na=False)
            except (pd.errors.ParserError, pd.errors.EmptyDataError,
                    UnicodeDecodeError) as exc:
                raise DataFileError(path, f"cannot parse CSV ({exc})") from exc
        return self._read[relative]


def write_text_table(frame: pd.DataFrame, dest: Path, relative: str) -> None:
    """Write a table (e.g. of :class:`TextTables`) to ``dest / relative``, folders created."""
    path = dest / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)



# --------------------------------------------------------------------------------------------
# Schemas


@dataclass(frozen=True)
class Range:
    """Admissible values of a numeric column: ``low`` .. ``high`` with inclusive ends as flagged."""

    low: float
    high: float
    low_inclusive: bool = True
    high_inclusive: bool = True

    def outside(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask of the values outside the range (NaN, i.e. empty optional cells, is not)."""
        bad = (values < self.low) | (values > self.high)
        if not self.low_inclusive:
            bad |= values == self.low
        if not self.high_inclusive:
            bad |= values == self.high
        return bad

    def __str__(self) -> str:
        return (f"{'[' if self.low_inclusive else '('}{self.low}, {self.high}"
                f"{']' if self.high_inclusive else ')'}")


#: Shorthands for the ranges below.
_POSITIVE = Range(0, np.inf, False, False)
_NON_NEGATIVE = Range(0, np.inf, True, False)
_UNIT = Range(0, 1, True, True)
# Plausible physical ranges, far beyond any real district, so that a typo (1e300 for 0.3) is
# reported at its cell instead of surfacing as a diverged power flow or a solver failure.
_LENGTH_KM = Range(0, 1e3, False, True)
_PRICE_S_PER_KWH = Range(-1e3, 1e3)
_TEMPERATURE_C = Range(-100, 100)
_IRRADIATION_W_M2 = Range(0, 2e3)


@dataclass(frozen=True)
class TableSchema:
    """Columns of one data file: required ``columns`` and ``optional`` ones, each ``float``,
    ``int`` or ``str``; ``ranges`` of numeric columns (checked on every row of the file);
    ``units`` of the columns that carry one and ``notes`` (sign, meaning, when a column
    matters); ``ignored``: columns of the MESMO / CoBMo format the loaders read past (any other
    unknown column draws a :class:`DataColumnWarning`); ``owner``: the organisation whose
    loader reads the file."""

    columns: Mapping[str, type]
    optional: Mapping[str, type] = field(default_factory=dict)
    ranges: Mapping[str, Range] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    owner: str = ""


class DataColumnWarning(UserWarning):
    """A data file has a column no loader reads and the format does not know (a misspelt
    optional column is silently unused otherwise)."""


#: Weather columns every weather file holds (units: degC, degC, W/m2 x 5).
WEATHER_COLUMNS: tuple[str, ...] = (
    "ambient_air_temperature",
    "sky_temperature",
    "irradiation_horizontal",
    "irradiation_east",
    "irradiation_south",
    "irradiation_west",
    "irradiation_north",
)

#: Columns of a horizon (``timestep_end`` exclusive), shared by the building and grid scenarios.
_HORIZON = {"scenario_name": str, "timestep_start": str, "timestep_end": str}

#: Schema of every data file the loaders read, keyed by the path relative to the data folder.
SCHEMAS: dict[str, TableSchema] = {
    # Electric grid operator.
    "grid/electric_grids.csv": TableSchema(
        {"electric_grid_name": str, "source_node_name": str, "base_frequency": float},
        ranges={"base_frequency": Range(0, 1e3, False, True)}),
    "grid/electric_grid_nodes.csv": TableSchema(
        {"electric_grid_name": str, "node_name": str, "voltage": float},
        optional={"latitude": float, "longitude": float},
        ranges={"voltage": Range(0, 1e6, False, True), "latitude": Range(-90, 90),
                "longitude": Range(-180, 180)}),
    "grid/electric_grid_lines.csv": TableSchema(
        {"electric_grid_name": str, "line_name": str, "line_type": str, "node_1_name": str,
         "node_2_name": str, "length": float}, ranges={"length": _LENGTH_KM}),
    "grid/electric_grid_line_types.csv": TableSchema(
        {"line_type": str, "n_phases": int, "maximum_current": float},
        ranges={"maximum_current": Range(0, 1e5, False, True)}),
    "grid/electric_grid_line_types_matrices.csv": TableSchema(
        {"line_type": str, "row": int, "col": int, "resistance": float, "reactance": float,
         "capacitance": float},
        ranges={"resistance": Range(0, 1e3), "reactance": Range(-1e3, 1e3),
                "capacitance": Range(0, 1e6)}),
    # The DER tables list every DER type; only flexible buildings carry numbers in the power and
    # in-service columns (the cooling plant and PV carry parameter names), so those columns are
    # text here and converted per row once the buildings are selected (:mod:`.ders`).
    ELECTRIC_GRID_DERS_FILE: TableSchema(
        {"electric_grid_name": str, "der_name": str, "der_type": str, "der_model_name": str,
         "node_name": str, "active_power_nominal": str, "reactive_power_nominal": str,
         "in_service": str}),
    # Thermal grid operator.
    "grid/thermal_grids.csv": TableSchema(
        {"thermal_grid_name": str, "source_node_name": str, "distribution_pump_efficiency": float,
         "energy_transfer_station_head_loss": float,
         "enthalpy_difference_distribution_water": float, "water_density": float,
         "water_kinematic_viscosity": float},
        ranges={"distribution_pump_efficiency": Range(0, 1, False, True),
                "energy_transfer_station_head_loss": Range(0, 1e3),
                "enthalpy_difference_distribution_water": Range(0, 1e7, False, True),
                "water_density": Range(0, 1e4, False, True),
                "water_kinematic_viscosity": Range(0, 1, False, True)}),
    "grid/thermal_grid_nodes.csv": TableSchema({"thermal_grid_name": str, "node_name": str}),
    "grid/thermal_grid_line_types.csv": TableSchema(
        {"line_type": str, "diameter": float, "absolute_roughness": float},
        optional={"maximum_velocity": float},
        ranges={"diameter": Range(0, 10, False, True), "absolute_roughness": Range(0, 1e3),
                "maximum_velocity": Range(0, 100)}),
    "grid/thermal_grid_lines.csv": TableSchema(
        {"thermal_grid_name": str, "line_name": str, "line_type": str, "node_1_name": str,
         "node_2_name": str, "length": float}, ranges={"length": _LENGTH_KM}),
    THERMAL_GRID_DERS_FILE: TableSchema(
        {"thermal_grid_name": str, "der_name": str, "node_name": str, "der_type": str,
         "der_model_name": str, "thermal_power_nominal": str, "in_service": str}),
    # Both grid operators: the horizon of the grid scenario.
    GRID_SCENARIOS_FILE: TableSchema(dict(_HORIZON)),
    # Buildings.
    "buildings/buildings.csv": TableSchema(
        {"building_name": str, "weather_type": str, "plant_cooling_type": str}),
    "buildings/zones.csv": TableSchema(
        {"building_name": str, "zone_name": str, "zone_type": str, "zone_height": float,
         "zone_area": float},
        ranges={"zone_height": _POSITIVE, "zone_area": _POSITIVE}),
    "buildings/zone_types.csv": TableSchema(
        {"zone_type": str, "heat_capacity": float, "infiltration_rate": float,
         "internal_gain_type": str, "hvac_ahu_type": str, "constraint_type": str},
        ranges={"heat_capacity": _POSITIVE, "infiltration_rate": _NON_NEGATIVE}),
    "buildings/surfaces_exterior.csv": TableSchema(
        {"building_name": str, "zone_name": str, "direction_name": str, "surface_name": str,
         "surface_type": str, "surface_area": float},
        ranges={"surface_area": _NON_NEGATIVE}),
    "buildings/surface_types.csv": TableSchema(
        {"surface_type": str, "heat_capacity": float,
         "heat_transfer_coefficient_conduction_surface": float, "absorptivity_surface": float,
         "emissivity_surface": float, "window_wall_ratio": float, "sky_view_factor": float},
        optional={"window_type": str},
        ranges={"heat_capacity": _NON_NEGATIVE,
                "heat_transfer_coefficient_conduction_surface": _POSITIVE,
                "absorptivity_surface": _UNIT, "emissivity_surface": _UNIT,
                "window_wall_ratio": Range(0, 1, True, False), "sky_view_factor": _UNIT}),
    "buildings/window_types.csv": TableSchema(
        {"window_type": str, "heat_transfer_coefficient_conduction_window": float,
         "absorptivity_window": float, "emissivity_window": float},
        ranges={"heat_transfer_coefficient_conduction_window": _POSITIVE,
                "absorptivity_window": _UNIT, "emissivity_window": _UNIT}),
    "buildings/internal_gain_types.csv": TableSchema(
        {"internal_gain_type": str, "occupancy_density": float, "occupancy_heat_gain": float,
         "appliances_heat_gain": float},
        optional={"internal_gain_definition_type": str},
        ranges={"occupancy_density": _NON_NEGATIVE, "occupancy_heat_gain": _NON_NEGATIVE,
                "appliances_heat_gain": _NON_NEGATIVE}),
    "buildings/internal_gain_schedules.csv": TableSchema(
        {"internal_gain_type": str, "time_period": str, "internal_gain_occupancy": float,
         "internal_gain_appliances": float},
        ranges={"internal_gain_occupancy": _NON_NEGATIVE,
                "internal_gain_appliances": _NON_NEGATIVE}),
    "buildings/constraint_schedules.csv": TableSchema(
        {"constraint_type": str, "time_period": str, "minimum_air_temperature": float,
         "maximum_air_temperature": float, "minimum_fresh_air_flow": float},
        ranges={"minimum_fresh_air_flow": _NON_NEGATIVE}),
    "buildings/hvac_ahu_types.csv": TableSchema(
        {"hvac_ahu_type": str, "ahu_supply_air_temperature_setpoint": float,
         "ahu_supply_air_relative_humidity_setpoint": float, "ahu_fan_efficiency": float,
         "ahu_cooling_efficiency": float, "ahu_return_air_heat_recovery_efficiency": float},
        ranges={"ahu_supply_air_relative_humidity_setpoint": Range(0, 100, False, True),
                "ahu_fan_efficiency": _NON_NEGATIVE, "ahu_cooling_efficiency": _POSITIVE,
                "ahu_return_air_heat_recovery_efficiency": _UNIT}),
    "buildings/plant_cooling_types.csv": TableSchema(
        {"plant_cooling_type": str, "plant_cooling_efficiency": float},
        ranges={"plant_cooling_efficiency": _POSITIVE}),
    "buildings/initial_state_types.csv": TableSchema(
        {"initial_state_type": str, "initial_zone_temperature": float,
         "initial_surface_temperature": float}),
    # The building scenarios give each building its initial state and the buildings' horizon.
    BUILDING_SCENARIOS_FILE: TableSchema(
        {"building_name": str, "initial_state_type": str, **_HORIZON}),
    # Time series (price: both grid operators; weather: the buildings).
    PRICE_FILE: TableSchema({"price_type": str, "time": str, "price_value": float},
                            ranges={"price_value": _PRICE_S_PER_KWH}),
    WEATHER_FILE: TableSchema({"weather_type": str, "time": str,
                               **dict.fromkeys(WEATHER_COLUMNS, float)},
                              optional={WEATHER_HUMIDITY_COLUMN: float},
                              ranges={**{c: _TEMPERATURE_C for c in WEATHER_COLUMNS[:2]},
                                      **{c: _IRRADIATION_W_M2 for c in WEATHER_COLUMNS[2:]},
                                      WEATHER_HUMIDITY_COLUMN: Range(0, 0.1)}),
}


_PHASES = ("is_phase_1_connected", "is_phase_2_connected", "is_phase_3_connected")
_DEMAND_SIGN = "negative = consumption (MESMO's sign); used only by load_district(reference=" \
    "'nominal'), the study's linearisation point"

#: What each file's columns mean: units, notes, the format's columns read past, the owner.
_DOCS: dict[str, dict] = {
    "grid/electric_grids.csv": dict(owner="electric grid operator",
                                    units={"base_frequency": "Hz"}),
    "grid/electric_grid_nodes.csv": dict(
        owner="electric grid operator",
        units={"voltage": "V (line-to-line, nominal)", "latitude": "degree",
               "longitude": "degree"},
        notes={"latitude": "where the node is drawn on the grid map (both grids: their nodes "
               "coincide)"},
        ignored=_PHASES),
    "grid/electric_grid_lines.csv": dict(owner="electric grid operator", units={"length": "km"},
                                         ignored=_PHASES),
    "grid/electric_grid_line_types.csv": dict(
        owner="electric grid operator", units={"maximum_current": "A (per phase)"},
        notes={"n_phases": "must be 3 (balanced single-phase equivalent)",
               "maximum_current": "the cable's rating; the scenarios' cable ratings"}),
    "grid/electric_grid_line_types_matrices.csv": dict(
        owner="electric grid operator",
        units={"resistance": "ohm/km", "reactance": "ohm/km", "capacitance": "nF/km"},
        notes={"row": "1..3, with col: the entry of the 3x3 phase matrix (balanced)"}),
    ELECTRIC_GRID_DERS_FILE: dict(
        owner="electric grid operator", units={"active_power_nominal": "W",
                                               "reactive_power_nominal": "var"},
        notes={"active_power_nominal": _DEMAND_SIGN, "reactive_power_nominal": _DEMAND_SIGN,
               "in_service": "1 = in the model (only flexible_building rows are used)"},
        ignored=(*_PHASES, "connection")),
    "grid/thermal_grids.csv": dict(
        owner="thermal grid operator",
        units={"distribution_pump_efficiency": "1", "energy_transfer_station_head_loss": "m",
               "enthalpy_difference_distribution_water": "J/kg", "water_density": "kg/m3",
               "water_kinematic_viscosity": "m2/s"},
        notes={"energy_transfer_station_head_loss": "differential pressure the consumer "
               "substations need, added to the network's head loss for the pump"},
        ignored=("source_der_type", "source_der_model_name")),
    "grid/thermal_grid_nodes.csv": dict(owner="thermal grid operator",
                                        ignored=("latitude", "longitude")),
    "grid/thermal_grid_line_types.csv": dict(
        owner="thermal grid operator",
        units={"diameter": "m (inner)", "absolute_roughness": "mm", "maximum_velocity": "m/s"},
        notes={"maximum_velocity": "the pipe's velocity rating (physical scenario limits)"}),
    "grid/thermal_grid_lines.csv": dict(owner="thermal grid operator", units={"length": "km"}),
    THERMAL_GRID_DERS_FILE: dict(
        owner="thermal grid operator", units={"thermal_power_nominal": "W (cooling)"},
        notes={"thermal_power_nominal": _DEMAND_SIGN,
               "in_service": "1 = in the model (only flexible_building rows are used)"}),
    GRID_SCENARIOS_FILE: dict(
        owner="both grid operators",
        units={"timestep_start": "ISO 8601 time", "timestep_end": "ISO 8601 time (exclusive)"},
        ignored=("electric_grid_name", "thermal_grid_name", "parameter_set", "price_type",
                 "electric_grid_operation_limit_type", "thermal_grid_operation_limit_type",
                 "timestep_interval", "base_apparent_power", "base_voltage",
                 "base_thermal_power"),
        notes={"timestep_start": "the horizon; the step length is --resolution"}),
    "buildings/buildings.csv": dict(owner="aggregator (buildings)",
                                    ignored=("plant_heating_type", "storage_type")),
    "buildings/zones.csv": dict(owner="aggregator (buildings)",
                                units={"zone_height": "m", "zone_area": "m2 (floor)"},
                                ignored=("zone_comment",)),
    "buildings/zone_types.csv": dict(
        owner="aggregator (buildings)",
        units={"heat_capacity": "J/(m3 K) (air and construction, per zone volume)",
               "infiltration_rate": "1/s (air changes)"},
        ignored=("hvac_generic_type", "hvac_radiator_type", "hvac_tu_type")),
    "buildings/surfaces_exterior.csv": dict(
        owner="aggregator (buildings)", units={"surface_area": "m2"},
        notes={"direction_name": "horizontal, east, south, west or north"},
        ignored=("surface_comment",)),
    "buildings/surface_types.csv": dict(
        owner="aggregator (buildings)",
        units={"heat_capacity": "J/(m2 K)", "heat_transfer_coefficient_conduction_surface":
               "W/(m2 K)", "absorptivity_surface": "1", "emissivity_surface": "1",
               "window_wall_ratio": "1", "sky_view_factor": "1"},
        notes={"window_type": "required where window_wall_ratio > 0"}),
    "buildings/window_types.csv": dict(
        owner="aggregator (buildings)",
        units={"heat_transfer_coefficient_conduction_window": "W/(m2 K)",
               "absorptivity_window": "1", "emissivity_window": "1"}),
    "buildings/internal_gain_types.csv": dict(
        owner="aggregator (buildings)",
        units={"occupancy_density": "persons/m2", "occupancy_heat_gain": "W/person",
               "appliances_heat_gain": "W/m2 (also the appliances' electric load)"},
        ignored=("occupancy_co2_gain", "occupancy_humidity_gain",
                 "warm_water_demand_thermal_power")),
    "buildings/internal_gain_schedules.csv": dict(
        owner="aggregator (buildings)",
        units={"internal_gain_occupancy": "1 (share of the type's gain)",
               "internal_gain_appliances": "1 (share of the type's gain)",
               "time_period": "DDTHH:MM (day of week 01 = Monday)"},
        ignored=("warm_water_demand",)),
    "buildings/constraint_schedules.csv": dict(
        owner="aggregator (buildings)",
        units={"minimum_air_temperature": "degC", "maximum_air_temperature": "degC",
               "minimum_fresh_air_flow": "l/(s m2)", "time_period": "DDTHH:MM"},
        notes={"maximum_air_temperature": "the comfort band, held over the whole step by "
               "default (--comfort)"},
        ignored=("minimum_fresh_air_flow_building", "minimum_fresh_air_flow_occupants",
                 "maximum_co2_concentration", "minimum_relative_humidity",
                 "maximum_relative_humidity")),
    "buildings/hvac_ahu_types.csv": dict(
        owner="aggregator (buildings)",
        units={"ahu_supply_air_temperature_setpoint": "degC",
               "ahu_supply_air_relative_humidity_setpoint": "%",
               "ahu_fan_efficiency": "J/kg (fan energy per kg of supply air)",
               "ahu_cooling_efficiency": "1 (COP)",
               "ahu_return_air_heat_recovery_efficiency": "1"},
        ignored=("ahu_heating_efficiency",)),
    "buildings/plant_cooling_types.csv": dict(
        owner="aggregator (buildings)",
        units={"plant_cooling_efficiency": "1 (COP of the building's local chiller)"}),
    "buildings/initial_state_types.csv": dict(
        owner="aggregator (buildings)",
        units={"initial_zone_temperature": "degC", "initial_surface_temperature": "degC"},
        ignored=("initial_co2_concentration", "initial_absolute_humidity",
                 "initial_storage_state_of_charge")),
    BUILDING_SCENARIOS_FILE: dict(
        owner="aggregator (buildings)",
        units={"timestep_start": "ISO 8601 time", "timestep_end": "ISO 8601 time (exclusive)"},
        ignored=("parameter_set", "linearization_type", "price_type", "timestep_interval")),
    PRICE_FILE: dict(owner="grid operators and aggregator",
                     units={"price_value": "S$/kWh", "time": "ISO 8601, half-hourly"}),
    WEATHER_FILE: dict(owner="aggregator (buildings)",
                       units={**{c: "degC" for c in WEATHER_COLUMNS[:2]},
                              **{c: "W/m2" for c in WEATHER_COLUMNS[2:]},
                              WEATHER_HUMIDITY_COLUMN: "kg/kg (water per dry air)",
                              "time": "ISO 8601, hourly (interpolated inside the steps)"}),
}
SCHEMAS = {name: replace(schema, units=_DOCS[name].get("units", {}),
                         notes=_DOCS[name].get("notes", {}),
                         ignored=tuple(_DOCS[name].get("ignored", ())),
                         owner=_DOCS[name]["owner"])
           for name, schema in SCHEMAS.items()}


# --------------------------------------------------------------------------------------------
# Reading


def read_table(
    folder: Path | str,
    relative_path: str,
    columns: Mapping[str, type] | None = None,
    *,
    optional: Mapping[str, type] | None = None,
    allow_empty: bool = False,
) -> pd.DataFrame:
    """Read ``folder/relative_path`` and check its columns.

    Without ``columns`` the file's entry in :data:`SCHEMAS` applies (columns, optional columns and
    value ranges); the loaders always read that way. ``columns`` maps each required column to
    ``float``, ``int`` or ``str`` for files without a schema entry. Numeric columns must be finite
    numbers in every row; ``optional`` columns are checked only if present (empty cells allowed
    there, read as NaN). Other columns are kept as read. Returns a DataFrame whose checked columns
    have the requested types; its index is the 0-based data row.
    """
    ranges: Mapping[str, Range] = {}
    schema_ignored: tuple[str, ...] | None = None  # unknown columns are warned of with a schema
    if columns is None:
        if relative_path not in SCHEMAS:
            raise KeyError(f"no schema for {relative_path!r}; pass columns=...")
        schema = SCHEMAS[relative_path]
        columns, optional, ranges = schema.columns, schema.optional, schema.ranges
        schema_ignored = schema.ignored
    path = Path(folder) / relative_path
    if not path.is_file():
        raise DataFileError(path, "file not found")
    _check_separator(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataFileError(path, "the file is empty (no header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(path, f"cannot parse CSV ({exc})") from exc
    if table.empty and not allow_empty:
        raise DataFileError(path, "file has no data rows")
    # Every problem of the file at once: one per column (its first bad row and how many more).
    problems: list[DataFileError] = []
    checked = set()
    for name, kind in [(n, k) for n, k in columns.items()] + \
            [(n, k) for n, k in (optional or {}).items() if n in table.columns]:
        if name not in table.columns:
            problems.append(DataFileError(path, "required column is missing", column=name))
            continue
        try:
            table[name] = _convert(path, table, name, kind, required=name in columns)
            checked.add(name)
        except DataFileError as exc:
            problems.append(exc)
    for name, allowed in ranges.items():
        if name not in checked:
            continue
        values = table[name].to_numpy(dtype=float)
        bad = np.flatnonzero(allowed.outside(values))
        if bad.size:
            i = int(bad[0])
            more = f" (and {_rows(bad.size - 1)})" if bad.size > 1 else ""
            problems.append(DataFileError(path, f"{values[i]} is outside {allowed}{more}",
                                          row=i + 1, column=name))
    if problems:
        raise problems[0] if len(problems) == 1 else DataFileError.of_many(path, problems)
    if schema_ignored is not None:
        known = set(columns) | set(optional or {}) | set(schema_ignored)
        unknown = [c for c in table.columns if c not in known]
        if unknown:
            warnings.warn(DataColumnWarning(
                f"{path}: column(s) {', '.join(repr(c) for c in unknown)} are not read (not a "
                "column of this file's format; see docs/data_format.md): check the name"),
                stacklevel=2)
    return table


def _check_separator(path: Path) -> None:
    """Refuse a file whose header is one field holding ';' or tabs: it is separated by those
    (as spreadsheets in many locales save "CSV"). Read as CSV it would be a single column, and
    its first required column would be reported as missing."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as file:
            header = file.readline()
    except OSError as exc:
        raise DataFileError(path, f"cannot read the file ({exc})") from exc
    if "," in header:
        return
    for separator, words in ((";", "';'"), ("\t", "tabs")):
        if separator in header:
            raise DataFileError(path, f"the file is separated by {words}, but the data files "
                                "must be comma-separated (',' between the fields; save it as "
                                "CSV with comma as the separator)")


def parse_number(path: Path, text: str, row: int, column: str) -> float:
    """``text`` as a finite float, or a :class:`DataFileError` naming file, row and column."""
    try:
        number = float(text)
    except ValueError:
        raise DataFileError(path, f"'{text}' is not a number", row=row, column=column) from None
    if not math.isfinite(number):
        raise DataFileError(path, f"'{text}' is not a finite number", row=row, column=column)
    return number


def _rows(n: int) -> str:
    return f"{n} more row" if n == 1 else f"{n} more rows"


def _convert(path: Path, table: pd.DataFrame, name: str, kind: type, *, required: bool) -> pd.Series:
    """The column as ``kind``; a :class:`DataFileError` naming its first bad row and how many
    more there are."""
    values = []
    bad: list[DataFileError] = []
    for i, raw in enumerate(table[name].tolist(), start=1):
        text = raw.strip()
        try:
            if kind is str:
                if required and text == "":
                    raise DataFileError(path, "empty value", row=i, column=name)
                values.append(text)
                continue
            if text == "":
                if required:
                    raise DataFileError(path, "empty value where a number is required", row=i,
                                        column=name)
                values.append(math.nan)
                continue
            number = parse_number(path, raw, i, name)
            if kind is int:
                if number != int(number):
                    raise DataFileError(path, f"'{raw}' is not a whole number", row=i,
                                        column=name)
                number = int(number)
            values.append(number)
        except DataFileError as exc:
            bad.append(exc)
            values.append(None)
    if bad:
        if len(bad) == 1:
            raise bad[0]
        first = bad[0]
        raise DataFileError(path, f"{first.message} (and {_rows(len(bad) - 1)})",
                            row=first.row, column=name)
    return pd.Series(values, index=table.index, name=name)


# --------------------------------------------------------------------------------------------
# Checks of (filtered) tables; rows are named as in the file (the table keeps read_table's index)


def select_grid(path: Path, table: pd.DataFrame, column: str, grid_name: str | None) -> pd.Series:
    """The row of grid ``grid_name`` in a grids table; ``None`` requires a single grid."""
    if grid_name is None:
        if len(table) != 1:
            raise DataFileError(path, f"{len(table)} grids listed; pass grid_name to choose one",
                                column=column)
        return table.iloc[0]
    match = table[table[column] == grid_name]
    if match.empty:
        raise DataFileError(path, f"grid '{grid_name}' not found", column=column)
    return match.iloc[0]


def check_unique(path: Path, table: pd.DataFrame, column: str) -> None:
    """Names in ``column`` must not repeat."""
    dup = table[column].duplicated()
    if dup.any():
        row = int(table.index[np.argmax(dup.to_numpy())]) + 1
        raise DataFileError(path, f"duplicate name '{table[column][dup].iloc[0]}'", row=row,
                            column=column)


def check_positive(path: Path, table: pd.DataFrame, column: str) -> None:
    """Every value of the numeric ``column`` must be > 0."""
    bad = table[column].to_numpy(dtype=float) <= 0.0
    if bad.any():
        raise DataFileError(path, "value must be positive",
                            row=int(table.index[np.argmax(bad)]) + 1, column=column)


def lookup(path: Path, column: str, names: Iterable[str], rows: Iterable[int],
           index: Mapping[str, int]) -> np.ndarray:
    """Positions of node ``names`` in ``index``; ``rows`` (1-based, as in the file) name the row
    of an unknown node in the error."""
    names, rows = list(names), list(rows)
    out = np.empty(len(names), dtype=int)
    for i, (row, value) in enumerate(zip(rows, names, strict=True)):
        if value not in index:
            raise DataFileError(path, f"unknown node name '{value}'", row=int(row), column=column)
        out[i] = index[value]
    return out


def file_rows(table: pd.DataFrame) -> np.ndarray:
    """1-based file rows of a table read by :func:`read_table` (also after filtering)."""
    return np.asarray(table.index, dtype=int) + 1


def column_as_float(path: Path, table: pd.DataFrame, column: str) -> np.ndarray:
    """Convert a string column of an already filtered table, naming the original row on error."""
    out = np.empty(len(table))
    for i, (row, raw) in enumerate(table[column].items()):
        out[i] = parse_number(path, raw, int(row) + 1, column)
    return out


def check_radial(path: Path, n_node: int, line_from: np.ndarray, line_to: np.ndarray,
                 rows: np.ndarray | None = None) -> None:
    """The lines must connect all ``n_node`` nodes as a tree (no self-loops, no meshes);
    ``rows`` are the lines' 1-based file rows, for the message."""
    loops = np.flatnonzero(line_from == line_to)
    if loops.size:
        raise DataFileError(path, "the line connects a node to itself",
                            row=None if rows is None else int(rows[loops[0]]),
                            column="node_2_name")
    graph = sp.coo_matrix((np.ones(len(line_from)), (line_from, line_to)), shape=(n_node, n_node))
    # scipy.sparse.csgraph pulls in scipy.sparse.linalg (0.1 s): loaded by the grid checks only,
    # not by every agent process that reads its tables
    from scipy.sparse.csgraph import connected_components

    n_comp, _ = connected_components(graph, directed=False)
    if n_comp != 1:
        raise DataFileError(path, f"the grid is not connected ({n_comp} separate parts)")
    if len(line_from) != n_node - 1:
        raise DataFileError(path, f"the grid is not radial ({len(line_from)} lines for "
                            f"{n_node} nodes)")


# --------------------------------------------------------------------------------------------
# Checks of arrays passed to the models and LP blocks (ValueError naming the argument)


def check_vector(name: str, value: np.ndarray | float, size: int) -> np.ndarray:
    """``value`` as a finite float array of shape ``(size,)``."""
    arr = np.asarray(value, dtype=float)
    if arr.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN / inf)")
    return arr


def limit(name: str, value: np.ndarray | float | None, default: np.ndarray) -> np.ndarray:
    """A per-element limit: ``default`` for ``None``, a scalar for every element, or an array."""
    if value is None:
        return default
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(default.shape, float(arr))
    return check_vector(name, arr, default.size)


def check_price(price: np.ndarray, timestep_h: float) -> np.ndarray:
    """``price`` (S$/kWh per step) as a non-empty finite 1-D array, ``timestep_h`` (h) > 0."""
    price = np.asarray(price, dtype=float)
    if price.ndim != 1 or price.size == 0:
        raise ValueError(f"price_s_per_kwh must be a non-empty 1-D array, got shape {price.shape}")
    if not np.all(np.isfinite(price)):
        raise ValueError("price_s_per_kwh must be finite (no NaN / inf)")
    if not (np.isfinite(timestep_h) and timestep_h > 0):
        raise ValueError(f"timestep_h must be a positive number, got {timestep_h}")
    return price
