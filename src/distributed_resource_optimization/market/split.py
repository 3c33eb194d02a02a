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

Which rows belong to a building is kept as data (:data:`~..energy.tables.BUILDING_ROWS`): a
table's rows are selected by a key column, with the keys either the building names or the values
a table selected before refers to.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from distributed_resource_optimization.energy.ders import read_ders
from distributed_resource_optimization.energy.tables import (
    BUILDING_ROWS,
    DEFAULT_DATA_DIR,
    ELECTRIC_GRID_DERS_FILE,
    GRID_SCENARIOS_FILE,
    PRICE_FILE,
    THERMAL_GRID_DERS_FILE,
    DataFileError,
    TextTables,
    write_text_table,
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


def building_models(src: Path | str) -> dict[str, str]:
    """DER name -> building (model) name of the in-service flexible buildings, in DER order."""
    table = read_ders(src)
    return {str(d): str(m) for d, m in zip(table.der_names, table.model_names)}


def building_rows(tables: TextTables, building_names: Sequence[str]) -> dict[str, pd.DataFrame]:
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


def entity_tables(tables: TextTables, name: str, ders: dict[str, str]) -> dict[str, pd.DataFrame]:
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
    tables = TextTables(src)
    folders: dict[str, Path] = {}
    for name in entity_names(list(ders), agents):
        dest = out / name
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for relative, frame in entity_tables(tables, name, ders).items():
            write_text_table(frame, dest, relative)
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
    tables = TextTables(src)
    prints = {}
    for name in names:
        digest = hashlib.sha256()
        for relative, frame in sorted(entity_tables(tables, name, ders).items()):
            digest.update(relative.encode() + b"\0" + frame.to_csv(index=False).encode() + b"\0")
        prints[name] = digest.hexdigest()[:16]
    return prints
