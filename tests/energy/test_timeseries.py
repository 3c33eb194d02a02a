"""Time axis, price and weather loaders against the raw CSV values."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR, DataFileError
from distributed_resource_optimization.energy.timeseries import (
    PRICE_FILE,
    WEATHER_COLUMNS,
    WEATHER_FILE,
    load_price,
    load_timesteps,
    load_weather,
    timestep_hours,
)


def _raw(relative: str) -> list[dict[str, str]]:
    with open(DEFAULT_DATA_DIR / relative, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "district"
    shutil.copytree(DEFAULT_DATA_DIR, folder)
    return folder


def test_timesteps_30min_and_hourly() -> None:
    steps = load_timesteps()
    assert len(steps) == 48
    assert steps[0] == pd.Timestamp("2017-01-02 00:00")
    assert steps[-1] == pd.Timestamp("2017-01-02 23:30")
    assert (steps[1:] - steps[:-1] == pd.Timedelta("30min")).all()
    hourly = load_timesteps(resolution="60min")
    assert len(hourly) == 24
    assert hourly[-1] == pd.Timestamp("2017-01-02 23:00")
    assert timestep_hours("30min") == 0.5
    assert timestep_hours("60min") == 1.0


def test_bad_resolution_names_parameter() -> None:
    with pytest.raises(ValueError, match="resolution"):
        load_timesteps(resolution="15min")


def test_price_equals_file_at_30min() -> None:
    price = load_price()
    raw = {pd.Timestamp(r["time"]): float(r["price_value"]) for r in _raw(PRICE_FILE)}
    assert len(price) == 48
    expected = np.array([raw[t] for t in price.index])
    np.testing.assert_allclose(price.to_numpy(), expected, rtol=0, atol=1e-12)
    assert price.iloc[0] == pytest.approx(0.08099, abs=1e-12)
    assert price.iloc[-1] == pytest.approx(0.08141, abs=1e-12)


def test_hourly_price_is_mean_of_half_hours() -> None:
    half = load_price().to_numpy()
    hourly = load_price(resolution="60min")
    assert len(hourly) == 24
    np.testing.assert_allclose(hourly.to_numpy(), half.reshape(24, 2).mean(axis=1), atol=1e-12)
    # 00:00 and 00:30 of the file: (0.08099 + 0.08078) / 2.
    assert hourly.iloc[0] == pytest.approx(0.080885, abs=1e-12)


def test_weather_interpolation_hits_hourly_points() -> None:
    weather = load_weather()
    raw = {pd.Timestamp(r["time"]): r for r in _raw(WEATHER_FILE)}
    assert len(weather) == 48
    for t in weather.index[::2]:  # full hours equal the file
        for column in WEATHER_COLUMNS:
            assert weather.at[t, column] == pytest.approx(float(raw[t][column]), abs=1e-12)
    # Half hours are the mean of the neighbouring hours (linear interpolation).
    t = pd.Timestamp("2017-01-02 13:30")
    for column in WEATHER_COLUMNS:
        before = float(raw[pd.Timestamp("2017-01-02 13:00")][column])
        after = float(raw[pd.Timestamp("2017-01-02 14:00")][column])
        assert weather.at[t, column] == pytest.approx(0.5 * (before + after), abs=1e-12)
    # 23:30 interpolates towards the file's 2017-01-03 00:00 record: (25.9 + 25.7) / 2.
    assert weather["ambient_air_temperature"].iloc[-1] == pytest.approx(25.8, abs=1e-12)
    hourly = load_weather(resolution="60min")
    assert len(hourly) == 24
    np.testing.assert_allclose(hourly.to_numpy(), weather.to_numpy()[::2], atol=1e-12)


def test_weather_ending_early_holds_last_value(data_copy: Path) -> None:
    path = data_copy / WEATHER_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # drop the 2017-01-03 00:00 record
    weather = load_weather(data_copy)
    assert weather["ambient_air_temperature"].iloc[-2] == pytest.approx(25.9, abs=1e-12)
    assert weather["ambient_air_temperature"].iloc[-1] == pytest.approx(25.9, abs=1e-12)


def test_weather_starting_late_is_an_error(data_copy: Path) -> None:
    path = data_copy / WEATHER_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    with pytest.raises(DataFileError, match="weather_singapore_iwec.csv"):
        load_weather(data_copy)


def test_malformed_price_names_file_row_column(data_copy: Path) -> None:
    path = data_copy / PRICE_FILE
    lines = path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",0.07x"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError) as info:
        load_price(data_copy)
    message = str(info.value)
    assert "price_singapore_wholesale.csv" in message
    assert "row 5" in message
    assert "column 'price_value'" in message


def test_missing_price_half_hour_names_file(data_copy: Path) -> None:
    path = data_copy / PRICE_FILE
    lines = path.read_text().splitlines()
    del lines[10]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match=r"price_singapore_wholesale\.csv.*04:30"):
        load_price(data_copy)


def test_unordered_weather_times_name_row(data_copy: Path) -> None:
    path = data_copy / WEATHER_FILE
    lines = path.read_text().splitlines()
    lines[3], lines[4] = lines[4], lines[3]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match=r"weather_singapore_iwec\.csv, row 4, column 'time'"):
        load_weather(data_copy)
