"""Time axis, electricity price and weather of the district test case.

The optimisation horizon is a scenario's ``timestep_start`` up to, not including, its
``timestep_end``: by default the building scenarios of ``buildings/scenarios.csv``; a grid
operator, which has no building files, reads the grid scenario of ``grid/scenarios.csv`` instead
(``source="grid"``). For the embedded data both are the same day, Monday 2017-01-02 00:00 up to,
not including, 2017-01-03 00:00. Two resolutions are supported: the study's 30-minute steps (48
steps) and hourly steps (24 steps).

Resampling rules (all values are point values at the start of a step unless noted):

- price: the file holds 30-minute USEP values in S$/kWh, each valid for its half hour; the hourly
  price is the mean of the hour's two half-hour values (the time-weighted mean over the hour).
- weather: the file is hourly; values are interpolated linearly in time to the step starts. Steps
  after the last record hold the last value (the embedded file ends at 2017-01-03 00:00, so this
  only matters for user files that stop earlier, e.g. at 23:00). A file that starts after the first
  step is an error: extrapolating backwards would invent a night.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import STEP_MINUTES
from .tables import (
    BUILDING_SCENARIOS_FILE,
    DEFAULT_DATA_DIR,
    GRID_SCENARIOS_FILE,
    PRICE_FILE,
    WEATHER_COLUMNS,
    WEATHER_FILE,
    WEATHER_HUMIDITY_COLUMN,
    DataFileError,
    read_table,
)

#: Supported resolutions and their step length.
RESOLUTIONS: dict[str, pd.Timedelta] = {name: pd.Timedelta(minutes=m)
                                        for name, m in STEP_MINUTES.items()}

# The files read here are PRICE_FILE, WEATHER_FILE and one of HORIZON_FILES; their schemas, and
# WEATHER_COLUMNS / WEATHER_HUMIDITY_COLUMN, are in .tables.

#: Horizon of the buildings (the default source).
SCENARIOS_FILE = BUILDING_SCENARIOS_FILE
#: Horizon file per ``source``: the buildings' scenarios or the grid operators' scenario.
HORIZON_FILES: dict[str, str] = {"buildings": BUILDING_SCENARIOS_FILE, "grid": GRID_SCENARIOS_FILE}


def timestep_hours(resolution: str) -> float:
    """Length of one step of ``resolution`` in hours (0.5 or 1.0)."""
    return _step(resolution) / pd.Timedelta(hours=1)


def load_timesteps(folder: Path | str = DEFAULT_DATA_DIR, resolution: str = "30min", *,
                   source: str = "buildings") -> pd.DatetimeIndex:
    """Step start times of the horizon at ``resolution``.

    ``source`` names the horizon file (:data:`HORIZON_FILES`): ``"buildings"`` (default,
    ``buildings/scenarios.csv``) or ``"grid"`` (``grid/scenarios.csv``, for a grid operator's
    folder). All scenarios of the file must share one horizon; the end time is exclusive (48
    steps at 30 min, 24 at 60 min for the embedded day).
    """
    step = _step(resolution)
    relative = _horizon_file(source)
    table = read_table(folder, relative)
    path = Path(folder) / relative
    starts = _parse_times(path, table, "timestep_start")
    ends = _parse_times(path, table, "timestep_end")
    for i in range(1, len(table)):
        if starts[i] != starts[0]:
            raise DataFileError(path, "all scenarios must share one horizon start", row=i + 1,
                                column="timestep_start")
        if ends[i] != ends[0]:
            raise DataFileError(path, "all scenarios must share one horizon end", row=i + 1,
                                column="timestep_end")
    start, end = starts[0], ends[0]
    if end <= start:
        raise DataFileError(path, "timestep_end must be after timestep_start", row=1,
                            column="timestep_end")
    if (end - start) % step != pd.Timedelta(0):
        raise DataFileError(path, f"horizon {end - start} is not a multiple of {resolution}",
                            row=1, column="timestep_end")
    return pd.date_range(start, end - step, freq=step, name="timestep")


def load_price(folder: Path | str = DEFAULT_DATA_DIR, resolution: str = "30min",
               price_type: str | None = None, *, source: str = "buildings") -> pd.Series:
    """Wholesale electricity price (USEP) in S$/kWh per step, indexed by :func:`load_timesteps`
    of ``source`` (``"grid"`` in a grid operator's folder).

    ``price_type`` selects rows of the file's ``price_type`` column; ``None`` requires the file to
    hold a single price type. Hourly values are the mean of the hour's two half-hour values.
    """
    timesteps = load_timesteps(folder, resolution, source=source)
    path = Path(folder) / PRICE_FILE
    table = read_table(folder, PRICE_FILE)
    table = _select_type(path, table, "price_type", price_type)
    times = _parse_times(path, table, "time")
    _check_increasing(path, table, times, "time")
    values = pd.Series(table["price_value"].to_numpy(dtype=float), index=times)
    half = pd.Timedelta(minutes=30)
    needed = pd.date_range(timesteps[0], timesteps[-1] + _step(resolution) - half, freq=half)
    missing = needed.difference(values.index)
    if len(missing) > 0:
        raise DataFileError(path, f"no price for {len(missing)} half-hour(s) of the horizon, "
                                  f"first missing: {missing[0].isoformat()}")
    half_hourly = values.reindex(needed)
    if resolution == "30min":
        result = half_hourly.to_numpy()
    else:
        result = half_hourly.to_numpy().reshape(len(timesteps), 2).mean(axis=1)
    return pd.Series(result, index=timesteps, name="price_sgd_per_kwh")


def load_weather(folder: Path | str = DEFAULT_DATA_DIR, resolution: str = "30min",
                 weather_type: str | None = None, *, include_end: bool = False) -> pd.DataFrame:
    """Weather per step, interpolated linearly from the hourly file.

    ``include_end`` adds a last row at the end of the horizon (the end of the last step), for
    models that let the weather move linearly inside each step.

    Columns: ``ambient_air_temperature`` and ``sky_temperature`` (degC), ``irradiation_horizontal``
    / ``_east`` / ``_south`` / ``_west`` / ``_north`` (W/m2 on the respective surface) and, if the
    file has it, ``ambient_air_absolute_humidity`` (kg/kg). Steps after the last record hold the
    last value. ``weather_type`` selects rows; ``None`` requires a single weather type in the file.
    """
    timesteps = load_timesteps(folder, resolution)
    if include_end:
        timesteps = timesteps.append(pd.DatetimeIndex([timesteps[-1] + _step(resolution)],
                                                      name=timesteps.name))
    path = Path(folder) / WEATHER_FILE
    table = read_table(folder, WEATHER_FILE)
    table = _select_type(path, table, "weather_type", weather_type)
    times = _parse_times(path, table, "time")
    _check_increasing(path, table, times, "time")
    if times[0] > timesteps[0]:
        raise DataFileError(path, f"weather starts at {times[0].isoformat()}, after the first "
                                  f"step {timesteps[0].isoformat()}")
    columns = list(WEATHER_COLUMNS)
    if WEATHER_HUMIDITY_COLUMN in table.columns:
        humidity = table[WEATHER_HUMIDITY_COLUMN].to_numpy(dtype=float)
        if np.isnan(humidity).any():
            row = int(table.index[int(np.flatnonzero(np.isnan(humidity))[0])]) + 1
            raise DataFileError(path, "empty value where a number is required", row=row,
                                column=WEATHER_HUMIDITY_COLUMN)
        columns.append(WEATHER_HUMIDITY_COLUMN)
    # Interpolate on seconds since the first record; np.interp holds the end values outside the
    # data range, which is the documented behaviour after the last record.
    t_data = (times - times[0]).total_seconds().to_numpy()
    t_steps = (timesteps - times[0]).total_seconds().to_numpy()
    out = {name: np.interp(t_steps, t_data, table[name].to_numpy(dtype=float))
           for name in columns}
    return pd.DataFrame(out, index=timesteps)


def _horizon_file(source: str) -> str:
    if source not in HORIZON_FILES:
        raise ValueError(f"source must be one of {sorted(HORIZON_FILES)}, got {source!r}")
    return HORIZON_FILES[source]


def _step(resolution: str) -> pd.Timedelta:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {sorted(RESOLUTIONS)}, got {resolution!r}")
    return RESOLUTIONS[resolution]


def _parse_times(path: Path, table: pd.DataFrame, column: str) -> pd.DatetimeIndex:
    # Row numbers refer to the file (the table keeps read_table's index through type selection).
    parsed = []
    for i, text in zip(table.index + 1, table[column].tolist(), strict=True):
        try:
            parsed.append(pd.Timestamp(text))
        except ValueError:
            raise DataFileError(path, f"'{text}' is not a date-time", row=i,
                                column=column) from None
        if parsed[-1] is pd.NaT or parsed[-1].tzinfo is not None:
            raise DataFileError(path, f"'{text}' is not a local date-time without time zone",
                                row=i, column=column)
    return pd.DatetimeIndex(parsed)


def _check_increasing(path: Path, table: pd.DataFrame, times: pd.DatetimeIndex,
                      column: str) -> None:
    steps = np.diff(times.asi8)
    if (steps <= 0).any():
        bad = int(table.index[int(np.flatnonzero(steps <= 0)[0]) + 1]) + 1
        raise DataFileError(path, "times must be strictly increasing", row=bad, column=column)


def _select_type(path: Path, table: pd.DataFrame, column: str, wanted: str | None
                 ) -> pd.DataFrame:
    kinds = list(dict.fromkeys(table[column].tolist()))
    if wanted is None:
        if len(kinds) != 1:
            raise DataFileError(path, f"file holds several {column} values {kinds}; choose one",
                                column=column)
        return table
    if wanted not in kinds:
        raise DataFileError(path, f"no rows with {column} {wanted!r} (found {kinds})",
                            column=column)
    return table[table[column] == wanted]
