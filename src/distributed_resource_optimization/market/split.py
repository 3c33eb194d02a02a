"""Each organisation's own data: split a district data folder into one folder per market entity.

``DIR/<entity>/`` gets exactly the files that entity reads (:func:`~.entities.load_entity`), in
the layout ``--data`` reads:

- ``thermal_grid_operator``: the thermal grid tables, its DER connections, its horizon
  (``grid/scenarios.csv``) and the public wholesale price;
- ``electric_grid_operator``: the electric grid tables likewise;
- ``building_<der>``: only that building's rows of the building tables, the type rows they refer
  to, its own rows of both DER tables (where it connects), the weather of its weather type and the
  public price (for the baseline it publishes);
- ``aggregator``: the same for all its buildings.

Which rows belong to a building is kept as data (:data:`BUILDING_ROWS`): a table's rows are
selected by a key column, with the keys either the building names or the values a table selected
before refers to.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from distributed_resource_optimization.energy.ders import read_ders
from distributed_resource_optimization.energy.tables import (
    DEFAULT_DATA_DIR,
    ELECTRIC_GRID_DERS_FILE,
    GRID_SCENARIOS_FILE,
    PRICE_FILE,
    THERMAL_GRID_DERS_FILE,
    WEATHER_FILE,
    DataFileError,
)
from distributed_resource_optimization.market.names import (
    AGGREGATOR,
    BUILDING_PREFIX,
    ELECTRIC_GRID_OPERATOR,
    THERMAL_GRID_OPERATOR,
    entity_names,
    is_consumer,
)

#: Files a grid operator owns whole (besides the public price).
GRID_FILES: dict[str, tuple[str, ...]] = {
    THERMAL_GRID_OPERATOR: ("grid/thermal_grids.csv", "grid/thermal_grid_nodes.csv",
                            "grid/thermal_grid_lines.csv", "grid/thermal_grid_line_types.csv",
                            THERMAL_GRID_DERS_FILE, GRID_SCENARIOS_FILE),
    ELECTRIC_GRID_OPERATOR: ("grid/electric_grids.csv", "grid/electric_grid_nodes.csv",
                             "grid/electric_grid_lines.csv", "grid/electric_grid_line_types.csv",
                             "grid/electric_grid_line_types_matrices.csv",
                             ELECTRIC_GRID_DERS_FILE, GRID_SCENARIOS_FILE),
}

#: Public data every entity gets whole.
PUBLIC_FILES: tuple[str, ...] = (PRICE_FILE,)

#: A building's rows, in selection order: ``(file, key column, keys)`` where ``keys`` is
#: ``"building"`` (the building names) or ``(file, column)`` of a table selected before.
BUILDING_ROWS: tuple[tuple[str, str, str | tuple[str, str]], ...] = (
    ("buildings/buildings.csv", "building_name", "building"),
    ("buildings/zones.csv", "building_name", "building"),
    ("buildings/surfaces_exterior.csv", "building_name", "building"),
    ("buildings/scenarios.csv", "building_name", "building"),
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


def _read(src: Path, relative: str) -> pd.DataFrame:
    path = src / relative
    if not path.is_file():
        raise DataFileError(path, "file not found")
    try:  # as text: the split copies values, it does not interpret them
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFileError(path, f"cannot parse CSV ({exc})") from exc


def _write(frame: pd.DataFrame, dest: Path, relative: str) -> None:
    path = dest / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def building_models(src: Path | str) -> dict[str, str]:
    """DER name -> building (model) name of the in-service flexible buildings, in DER order."""
    table = read_ders(src)
    return {str(d): str(m) for d, m in zip(table.der_names, table.model_names)}


class _Tables:
    """The tables of one data folder, each read once (as text: the split copies values, it
    does not interpret them)."""

    def __init__(self, src: Path | str) -> None:
        self.src = Path(src)
        self._read: dict[str, pd.DataFrame] = {}

    def __getitem__(self, relative: str) -> pd.DataFrame:
        if relative not in self._read:
            self._read[relative] = _read(self.src, relative)
        return self._read[relative]


def building_rows(tables: _Tables, building_names: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The rows of ``building_names`` (and what they refer to) of every building file."""
    selected: dict[str, pd.DataFrame] = {}
    for relative, column, keys in BUILDING_ROWS:
        table = tables[relative]
        if column not in table.columns:
            raise DataFileError(tables.src / relative, "required column is missing",
                                column=column)
        if keys == "building":
            wanted = set(building_names)
        else:
            ref_file, ref_column = keys
            wanted = set(selected[ref_file][ref_column]) - {""}
        selected[relative] = table[table[column].isin(wanted)]
    return selected


def entity_tables(tables: _Tables, name: str, ders: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Relative path -> the rows entity ``name`` reads (``ders``: :func:`building_models`)."""
    out = {relative: tables[relative] for relative in GRID_FILES.get(name, ()) + PUBLIC_FILES}
    if name == AGGREGATOR:
        out.update(building_rows(tables, list(ders.values())))
    elif name.startswith(BUILDING_PREFIX):
        out.update(building_rows(tables, [ders[name.removeprefix(BUILDING_PREFIX)]]))
    return out


def split_data(out: Path | str, src: Path | str = DEFAULT_DATA_DIR, *,
               agents: str = "entities") -> dict[str, Path]:
    """Write one folder per entity of ``agents`` mode into ``out`` (see module doc).

    Returns entity name -> folder. Existing entity folders are replaced. Raises
    :class:`~distributed_resource_optimization.energy.tables.DataFileError` for missing or
    unreadable files of ``src``.
    """
    src, out = Path(src), Path(out)
    ders = building_models(src)
    tables = _Tables(src)
    folders: dict[str, Path] = {}
    for name in entity_names(list(ders), agents):
        dest = out / name
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for relative, frame in entity_tables(tables, name, ders).items():
            _write(frame, dest, relative)
        folders[name] = dest
    return folders


def data_fingerprints(src: Path | str, names: Sequence[str]) -> dict[str, str]:
    """Per entity of ``names`` a fingerprint of the data it reads from ``src`` (16 hex digits of
    SHA-256 over its selected rows): the same for the district folder and for that entity's own
    folder of the split, different as soon as one value differs. An agent reports its own at
    join; the coordinator compares it with its own split of its data."""
    # A grid operator's own folder has only its own DER table: the buildings are read only when
    # a consumer is asked for.
    ders = building_models(src) if any(is_consumer(n) for n in names) else {}
    tables = _Tables(src)
    prints = {}
    for name in names:
        digest = hashlib.sha256()
        for relative, frame in sorted(entity_tables(tables, name, ders).items()):
            digest.update(relative.encode() + b"\0" + frame.to_csv(index=False).encode() + b"\0")
        prints[name] = digest.hexdigest()[:16]
    return prints
