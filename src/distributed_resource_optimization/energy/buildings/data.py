"""Buildings, step 1: the building tables and each building's grid connection.

Reads the CoBMo-format tables under ``buildings/`` (columns, types and value ranges in
:data:`~distributed_resource_optimization.energy.tables.SCHEMAS`) and the buildings' rows of both
DER tables (:func:`~distributed_resource_optimization.energy.ders.read_ders`): a building needs its
electric and thermal node and its power factor. Look-ups between tables name the referring file,
row and column when the referenced row is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..ders import DerTable, read_ders
from ..tables import BUILDING_SCENARIOS_FILE, DataFileError, read_table

#: Building tables by short name (the files' schemas are in ``tables.SCHEMAS``).
TABLE_FILES: dict[str, str] = {
    "buildings": "buildings/buildings.csv",
    "zones": "buildings/zones.csv",
    "zone_types": "buildings/zone_types.csv",
    "surfaces_exterior": "buildings/surfaces_exterior.csv",
    "surface_types": "buildings/surface_types.csv",
    "window_types": "buildings/window_types.csv",
    "internal_gain_types": "buildings/internal_gain_types.csv",
    "internal_gain_schedules": "buildings/internal_gain_schedules.csv",
    "constraint_schedules": "buildings/constraint_schedules.csv",
    "hvac_ahu_types": "buildings/hvac_ahu_types.csv",
    "plant_cooling_types": "buildings/plant_cooling_types.csv",
    "initial_state_types": "buildings/initial_state_types.csv",
    "scenarios": BUILDING_SCENARIOS_FILE,
}

_TIME_PERIOD = re.compile(r"^(\d{2})T(\d{2}):(\d{2})$")


@dataclass
class Table:
    """One building table as read; column ``"_row"`` holds the 1-based data row in the file."""

    path: Path
    frame: pd.DataFrame
    #: Per column the positions of each value (built on first use; the frame is not changed
    #: after reading). A model is built from 16 lookups per building: a boolean mask over the
    #: table each time was 0.7 ms per lookup, 0.25 s of every district's loading (measured).
    _positions: dict[str, dict[object, list[int]]] = field(default_factory=dict, repr=False,
                                                            compare=False)

    def positions_where(self, column: str, key: object) -> list[int]:
        """Positions of the rows whose ``column`` equals ``key``, in file order."""
        positions = self._positions.get(column)
        if positions is None:
            positions = {}
            for i, value in enumerate(self.frame[column].tolist()):
                positions.setdefault(value, []).append(i)
            self._positions[column] = positions
        return positions.get(key, [])

    def rows_where(self, column: str, key: object) -> pd.DataFrame:
        """The rows whose ``column`` equals ``key``, in file order."""
        return self.frame.iloc[self.positions_where(column, key)]


BuildingTables = dict[str, Table]


def read_building_tables(folder: Path | str) -> BuildingTables:
    """All building tables of ``folder``, validated against their schemas and cross-column rules."""
    folder = Path(folder)
    tables = {}
    for key, relative in TABLE_FILES.items():
        frame = read_table(folder, relative)
        frame["_row"] = np.arange(1, len(frame) + 1)
        tables[key] = Table(folder / relative, frame)
    constraints = tables["constraint_schedules"]
    frame = constraints.frame
    bad = frame["minimum_air_temperature"] > frame["maximum_air_temperature"]
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFileError(constraints.path, "minimum_air_temperature exceeds "
                            "maximum_air_temperature", row=i + 1,
                            column="minimum_air_temperature")
    gains = tables["internal_gain_types"]
    if "internal_gain_definition_type" in gains.frame.columns:
        for _, row in gains.frame.iterrows():
            if row["internal_gain_definition_type"] not in ("", "schedule"):
                raise DataFileError(gains.path, "only 'schedule' internal gains are supported",
                                    row=row["_row"], column="internal_gain_definition_type")
    return tables


def read_building_ders(folder: Path | str) -> DerTable:
    """The in-service flexible buildings with both grid connections, in DER order.

    DER order: the electric file's, or ascending numbers when every DER name is a number (as in
    the embedded data). The nominal active power must be non-zero: it fixes the power factor.
    """
    ders = read_ders(folder, ("electric", "thermal"))
    zero = np.flatnonzero(ders.active_power_nominal_kw == 0.0)
    if zero.size:
        raise DataFileError(ders.electric_path, "nominal active power of a building must be "
                            "non-zero (it fixes the power factor)",
                            row=int(ders.electric_rows[zero[0]]), column="active_power_nominal")
    if ders.n_der == 0:
        raise DataFileError(ders.electric_path, "no in-service flexible_building DERs",
                            column="der_type")
    if all(name.isdigit() for name in ders.der_names):
        ders = ders.take(np.argsort([int(name) for name in ders.der_names], kind="stable"))
    return ders


def lookup_row(data: BuildingTables, table_key: str, column: str, key: str, ref_path: Path,
               ref_row: int, ref_column: str) -> pd.Series:
    """The unique row of ``table_key`` whose ``column`` is ``key``; errors name the referrer."""
    table = data[table_key]
    hits = table.positions_where(column, key)
    if not hits:
        raise DataFileError(ref_path, f"{key!r} is not listed in {table.path.name}",
                            row=ref_row, column=ref_column)
    if len(hits) > 1:
        raise DataFileError(table.path, f"{column} {key!r} is listed more than once",
                            row=int(table.frame["_row"].iloc[hits[1]]), column=column)
    return table.frame.iloc[hits[0]]


def single_zone(data: BuildingTables, building_name: str) -> pd.Series:
    """The one zone of ``building_name`` (multi-zone buildings are not supported)."""
    zones = data["zones"]
    hits = zones.rows_where("building_name", building_name)
    if len(hits) != 1:
        raise DataFileError(zones.path, f"building {building_name!r} must have exactly one zone "
                            f"(found {len(hits)}); multi-zone buildings are not supported",
                            column="building_name")
    return hits.iloc[0]


def sample_schedules(data: BuildingTables, gain_type: str, constraint_type: str,
                     timesteps: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Schedule values at each step start; a value holds until the next listed period."""
    result = {}
    for key, type_column, type_name, value_columns in (
        ("internal_gain_schedules", "internal_gain_type", gain_type,
         ("internal_gain_occupancy", "internal_gain_appliances")),
        ("constraint_schedules", "constraint_type", constraint_type,
         ("minimum_air_temperature", "maximum_air_temperature", "minimum_fresh_air_flow")),
    ):
        table = data[key]
        rows = table.rows_where(type_column, type_name)
        if rows.empty:
            raise DataFileError(table.path, f"no schedule rows for {type_column} {type_name!r}",
                                column=type_column)
        minutes = np.array([_minute_of_week(table.path, text, row) for text, row in
                            zip(rows["time_period"], rows["_row"], strict=True)])
        order = np.argsort(minutes, kind="stable")
        minutes = minutes[order]
        duplicate = np.flatnonzero(np.diff(minutes) == 0)
        if duplicate.size:
            raise DataFileError(table.path, "time_period listed twice for this type",
                                row=int(rows["_row"].to_numpy()[order][duplicate[0] + 1]),
                                column="time_period")
        step_minutes = (timesteps.day_of_week * 1440 + timesteps.hour * 60
                        + timesteps.minute).to_numpy()
        # Before the first listed period of the week the last period of the week still holds.
        position = np.searchsorted(minutes, step_minutes, side="right") - 1
        position[position < 0] = minutes.size - 1
        for column in value_columns:
            result[column] = rows[column].to_numpy(dtype=float)[order][position]
    return result


def _minute_of_week(path: Path, text: str, row: int) -> int:
    match = _TIME_PERIOD.match(text)
    if match is not None:
        day, hour, minute = (int(g) for g in match.groups())
        if 1 <= day <= 7 and hour < 24 and minute < 60:
            return (day - 1) * 1440 + hour * 60 + minute
    raise DataFileError(path, f"'{text}' is not a time period ddTHH:MM (dd 01=Monday..07)",
                        row=row, column="time_period")
