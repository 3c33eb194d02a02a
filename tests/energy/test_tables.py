"""Data tables per organisation: one schema per file, the DER tables, each operator from its files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distributed_resource_optimization.energy.buildings import load_buildings
from distributed_resource_optimization.energy.ders import read_ders
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.electric_grid import load_electric_grid
from distributed_resource_optimization.energy.tables import (
    DEFAULT_DATA_DIR,
    SCHEMAS,
    DataColumnWarning,
    DataFileError,
    read_table,
)
from distributed_resource_optimization.energy.thermal_grid import load_thermal_grid
from distributed_resource_optimization.energy.timeseries import (
    PRICE_FILE,
    load_price,
    load_timesteps,
)

ELECTRIC_FILES = ["grid/electric_grids.csv", "grid/electric_grid_nodes.csv",
                  "grid/electric_grid_lines.csv", "grid/electric_grid_line_types.csv",
                  "grid/electric_grid_line_types_matrices.csv", "grid/electric_grid_ders.csv"]
THERMAL_FILES = ["grid/thermal_grids.csv", "grid/thermal_grid_nodes.csv",
                 "grid/thermal_grid_line_types.csv", "grid/thermal_grid_lines.csv",
                 "grid/thermal_grid_ders.csv"]
#: What a grid operator has besides its grid: the horizon of the grid scenario and the price.
GRID_OPERATOR_FILES = ["grid/scenarios.csv", PRICE_FILE]


def _copy(files: list[str], folder: Path) -> Path:
    for relative in files:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEFAULT_DATA_DIR / relative, folder / relative)
    return folder


def test_every_file_read_has_exactly_one_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    original = pd.read_csv

    def recording(path, *args, **kwargs):
        read.append(Path(path).relative_to(DEFAULT_DATA_DIR).as_posix())
        return original(path, *args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", recording)
    load_district(resolution="60min")
    load_timesteps(resolution="60min", source="grid")
    assert set(read) == set(SCHEMAS)


def test_electric_grid_operator_from_its_own_files(tmp_path: Path) -> None:
    folder = _copy(ELECTRIC_FILES + GRID_OPERATOR_FILES, tmp_path / "electric_grid_operator")
    grid = load_electric_grid(folder)
    full = load_electric_grid()
    np.testing.assert_array_equal(grid.der_names, full.der_names)
    np.testing.assert_array_equal(grid.der_p_nominal_kw, full.der_p_nominal_kw)
    np.testing.assert_array_equal(grid.line_impedance_ohm, full.line_impedance_ohm)
    for resolution in ("30min", "60min"):
        steps = load_timesteps(folder, resolution, source="grid")
        assert steps.equals(load_timesteps(resolution=resolution))
        price = load_price(folder, resolution, source="grid")
        np.testing.assert_array_equal(price.to_numpy(), load_price(resolution=resolution))
    with pytest.raises(DataFileError, match=r"buildings/scenarios\.csv: file not found"):
        load_timesteps(folder)
    ders = read_ders(folder, ("electric",))
    assert ders.thermal_node_names is None and ders.n_der == 22


def test_thermal_grid_operator_from_its_own_files(tmp_path: Path) -> None:
    folder = _copy(THERMAL_FILES + GRID_OPERATOR_FILES, tmp_path / "thermal_grid_operator")
    grid = load_thermal_grid(folder)
    full = load_thermal_grid()
    np.testing.assert_array_equal(grid.der_names, full.der_names)
    np.testing.assert_array_equal(grid.der_p_th_nominal_kw, full.der_p_th_nominal_kw)
    np.testing.assert_array_equal(grid.line_subtree, full.line_subtree)
    assert load_timesteps(folder, "60min", source="grid").equals(load_timesteps(resolution="60min"))
    ders = read_ders(folder, ("thermal",))
    assert ders.electric_node_names is None
    np.testing.assert_array_equal(ders.thermal_power_nominal_kw, full.der_p_th_nominal_kw)


def test_a_building_from_its_own_rows(tmp_path: Path) -> None:
    """A folder holding one building's rows (DER tables included) gives that building's model."""
    folder = shutil.copytree(DEFAULT_DATA_DIR, tmp_path / "building_5")
    building = "paper_2021_troitzsch_admm_dlmp_building_5"
    for relative, column, value in (
            ("grid/electric_grid_ders.csv", "der_name", "5"),
            ("grid/thermal_grid_ders.csv", "der_name", "5"),
            ("buildings/buildings.csv", "building_name", building),
            ("buildings/zones.csv", "building_name", building),
            ("buildings/surfaces_exterior.csv", "building_name", building),
            ("buildings/scenarios.csv", "building_name", building)):
        table = pd.read_csv(folder / relative, dtype=str, keep_default_na=False)
        table[table[column] == value].to_csv(folder / relative, index=False)
    (model,) = load_buildings(folder, "60min")
    reference = load_buildings(resolution="60min")[4]
    assert (model.name, model.node_name, model.thermal_node_name) == ("5", "5", "5")
    for name in ("A", "B_c", "B_d", "C", "D_c", "D_d", "d", "y_min", "y_max", "M_q_y", "x0"):
        np.testing.assert_array_equal(getattr(model, name), getattr(reference, name))
    assert model.thermal_power_nominal_kw == reference.thermal_power_nominal_kw


def test_der_tables_must_agree(tmp_path: Path) -> None:
    folder = shutil.copytree(DEFAULT_DATA_DIR, tmp_path / "district")
    path = folder / "grid" / "thermal_grid_ders.csv"
    path.write_text(path.read_text().replace("dlmp,5,5,flexible_building", "dlmp,55,5,flexible_building"))
    with pytest.raises(DataFileError, match=r"thermal_grid_ders\.csv, column 'der_name': building "
                                            r"DER '5' of electric_grid_ders\.csv is missing"):
        read_ders(folder)
    assert read_ders(folder, ("electric",)).n_der == 22  # each operator reads only its own file
    assert "55" in read_ders(folder, ("thermal",)).der_names
    with pytest.raises(ValueError, match="grids"):
        read_ders(folder, ("gas",))


def test_horizon_source_is_checked() -> None:
    with pytest.raises(ValueError, match="source"):
        load_timesteps(source="weather")


@pytest.mark.parametrize("separator, words", [(";", "';'"), ("\t", "tabs")])
def test_a_file_separated_by_semicolons_or_tabs_is_named(tmp_path: Path, separator: str,
                                                         words: str) -> None:
    """As a spreadsheet in many locales saves "CSV": ';' between the fields (decimal commas
    too). It used to be read as one column and reported as a missing required column."""
    folder = _copy(ELECTRIC_FILES + GRID_OPERATOR_FILES, tmp_path / "electric_grid_operator")
    path = folder / "grid" / "electric_grid_lines.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    text = table.to_csv(index=False, sep=separator)
    path.write_text(text.replace(".", ",") if separator == ";" else text)
    with pytest.raises(DataFileError, match=r"electric_grid_lines\.csv: the file is separated by "
                       f"{words}, but the data files must be comma-separated"):
        load_electric_grid(folder)
    table.to_csv(path, index=False)  # the same data, comma-separated, loads
    np.testing.assert_array_equal(load_electric_grid(folder).line_impedance_ohm,
                                  load_electric_grid().line_impedance_ohm)


def test_the_data_format_page_is_the_schemas() -> None:
    """docs/data_format.md is what the schemas generate (regenerate it when they change)."""
    from distributed_resource_optimization.energy.data_format import data_format_markdown

    page = Path(__file__).resolve().parents[2] / "docs" / "data_format.md"
    assert page.read_text(encoding="utf-8") == data_format_markdown()
    for name, schema in SCHEMAS.items():
        assert f"## `{name}`" in page.read_text(encoding="utf-8")
        # Every numeric column of a file states its unit.
        numeric = [c for c, t in {**schema.columns, **schema.optional}.items()
                   if t in (float, int) and c not in ("row", "col", "n_phases")]
        assert all(c in schema.units for c in numeric), (name, numeric)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    folder = _copy(["buildings/zones.csv"], tmp_path)
    path = folder / "buildings/zones.csv"
    zones = pd.read_csv(path, dtype=str)
    zones.loc[4, "zone_height"] = "x"
    zones.loc[7, "zone_height"] = "y"
    zones.loc[2, "zone_area"] = "-3"
    zones.to_csv(path, index=False)
    with pytest.raises(DataFileError) as info:
        read_table(folder, "buildings/zones.csv")
    error = info.value
    assert len(error.problems) == 2
    assert (error.row, error.column) == (5, "zone_height")
    text = str(error)
    assert "row 5, column 'zone_height': 'x' is not a number (and 1 more row)" in text
    assert "row 3, column 'zone_area': -3.0 is outside (0, inf)" in text


def test_an_unknown_column_draws_a_warning_and_the_embedded_data_none(tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataColumnWarning)
        for name in SCHEMAS:
            read_table(DEFAULT_DATA_DIR, name)
    folder = _copy(["grid/thermal_grid_line_types.csv"], tmp_path)
    path = folder / "grid/thermal_grid_line_types.csv"
    types = pd.read_csv(path, dtype=str).rename(columns={"maximum_velocity": "maximum_velocty"})
    types.to_csv(path, index=False)
    with pytest.warns(DataColumnWarning, match="'maximum_velocty'"):
        read_table(folder, "grid/thermal_grid_line_types.csv")
