"""Where the buildings connect to the grids: the DER tables, parsed once for every loader.

``grid/electric_grid_ders.csv`` and ``grid/thermal_grid_ders.csv`` list each DER with its node and
nominal power. The electric grid operator reads only the first, the thermal grid operator only the
second, a building both (it needs its nodes and its power factor); a building's own folder may hold
just its own row of each. :func:`read_ders` reads whichever of the two files the caller names into
one :class:`DerTable`.

Only in-service DERs of type ``flexible_building`` (the buildings of the study) are kept. Other
types (cooling plant, PV) carry parameter names instead of numbers and are out of service in the
study. Nominal powers are *demand*, positive = consumption, in kW / kvar: the files list loads as
negative W / var, and this module flips and scales them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .tables import (
    DEFAULT_DATA_DIR,
    ELECTRIC_GRID_DERS_FILE,
    THERMAL_GRID_DERS_FILE,
    DataFileError,
    check_unique,
    column_as_float,
    file_rows,
    read_table,
)

#: DER type of the flexible buildings, the only DERs exchanged in the market.
BUILDING_DER_TYPE = "flexible_building"
#: Grid names accepted by :func:`read_ders`.
GRIDS: tuple[str, ...] = ("electric", "thermal")


@dataclass(frozen=True)
class DerTable:
    """In-service flexible-building DERs and their grid connections, one entry per DER.

    Order: the electric file's rows if it was read, else the thermal file's. ``*_rows`` are the
    1-based data rows in the respective file (for error messages). The electric fields are
    ``None`` when ``grid/electric_grid_ders.csv`` was not read, the thermal ones when
    ``grid/thermal_grid_ders.csv`` was not. ``reactive_to_active`` is the ratio of the nominal
    reactive to active power (the power factor the building keeps; NaN where the nominal active
    power is 0).
    """

    der_names: np.ndarray
    model_names: np.ndarray
    electric_path: Path | None = None
    electric_rows: np.ndarray | None = None
    electric_node_names: np.ndarray | None = None
    active_power_nominal_kw: np.ndarray | None = None
    reactive_power_nominal_kvar: np.ndarray | None = None
    reactive_to_active: np.ndarray | None = None
    thermal_path: Path | None = None
    thermal_rows: np.ndarray | None = None
    thermal_node_names: np.ndarray | None = None
    thermal_power_nominal_kw: np.ndarray | None = None

    @property
    def n_der(self) -> int:
        return len(self.der_names)

    def take(self, order: Sequence[int] | np.ndarray) -> DerTable:
        """The table with its DERs in ``order`` (positions into the current order)."""
        order = np.asarray(order, dtype=int)
        return replace(self, **{name: value[order] for name, value in vars(self).items()
                                if isinstance(value, np.ndarray)})


def read_ders(folder: Path | str = DEFAULT_DATA_DIR, grids: Sequence[str] = GRIDS, *,
              electric_grid_name: str | None = None,
              thermal_grid_name: str | None = None) -> DerTable:
    """Read the DER tables of ``grids`` (``"electric"``, ``"thermal"`` or both) under ``folder``.

    ``electric_grid_name`` / ``thermal_grid_name`` keep only the rows of that grid (``None``: all
    rows). DER names must be unique among the kept rows of a file. With both files, every DER of
    the electric file must be listed in the thermal file with the same ``der_model_name``; DERs
    only in the thermal file are left out. Raises :class:`~.tables.DataFileError` naming file, row
    and column.
    """
    grids = tuple(grids)
    unknown = [g for g in grids if g not in GRIDS]
    if unknown or not grids:
        raise ValueError(f"grids must name one or both of {GRIDS}, got {grids!r}")
    folder = Path(folder)
    fields: dict = {}
    electric = thermal = None
    if "electric" in grids:
        electric, powers = _read_file(folder, ELECTRIC_GRID_DERS_FILE, "electric_grid_name",
                                      electric_grid_name,
                                      ("active_power_nominal", "reactive_power_nominal"))
        p_w, q_var = powers
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(p_w != 0.0, q_var / np.where(p_w != 0.0, p_w, 1.0), np.nan)
        fields.update(
            electric_path=folder / ELECTRIC_GRID_DERS_FILE,
            electric_rows=file_rows(electric),
            electric_node_names=electric["node_name"].to_numpy(dtype=str),
            active_power_nominal_kw=-p_w / 1000.0,
            reactive_power_nominal_kvar=-q_var / 1000.0,
            reactive_to_active=ratio,
        )
    if "thermal" in grids:
        thermal, (p_th_w,) = _read_file(folder, THERMAL_GRID_DERS_FILE, "thermal_grid_name",
                                        thermal_grid_name, ("thermal_power_nominal",))
        order = np.arange(len(thermal))
        if electric is not None:
            order = _match(folder, electric, thermal, thermal_grid_name)
        fields.update(
            thermal_path=folder / THERMAL_GRID_DERS_FILE,
            thermal_rows=file_rows(thermal)[order],
            thermal_node_names=thermal["node_name"].to_numpy(dtype=str)[order],
            thermal_power_nominal_kw=-p_th_w[order] / 1000.0,
        )
    primary = electric if electric is not None else thermal
    return DerTable(der_names=primary["der_name"].to_numpy(dtype=str),
                    model_names=primary["der_model_name"].to_numpy(dtype=str), **fields)


def _read_file(folder: Path, relative: str, grid_column: str, grid_name: str | None,
               power_columns: tuple[str, ...]) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """In-service building rows of one DER file and their nominal powers (W / var, as listed)."""
    path = folder / relative
    table = read_table(folder, relative)
    keep = table["der_type"] == BUILDING_DER_TYPE
    if grid_name is not None:
        keep &= table[grid_column] == grid_name
    # Numbers are converted only now: other DER types carry parameter names in these columns.
    ders = table[keep]
    in_service = column_as_float(path, ders, "in_service")
    ders = ders[in_service != 0.0]
    check_unique(path, ders, "der_name")
    return ders, [column_as_float(path, ders, column) for column in power_columns]


def _match(folder: Path, electric: pd.DataFrame, thermal: pd.DataFrame,
           thermal_grid_name: str | None) -> np.ndarray:
    """Position in ``thermal`` of each DER of ``electric``, checking that the model names agree."""
    electric_path = folder / ELECTRIC_GRID_DERS_FILE
    thermal_path = folder / THERMAL_GRID_DERS_FILE
    position = {name: i for i, name in enumerate(thermal["der_name"].tolist())}
    model_names = thermal["der_model_name"].tolist()
    thermal_rows = file_rows(thermal)
    order = np.empty(len(electric), dtype=int)
    for k, (row, name, model) in enumerate(zip(file_rows(electric), electric["der_name"],
                                               electric["der_model_name"], strict=True)):
        if name not in position:
            listed = read_table(folder, THERMAL_GRID_DERS_FILE)
            if thermal_grid_name is not None:
                listed = listed[listed["thermal_grid_name"] == thermal_grid_name]
            hits = file_rows(listed[listed["der_name"] == name])
            if hits.size:  # listed, but not as an in-service building
                raise DataFileError(thermal_path, f"building DER {name!r} of "
                                    f"{electric_path.name} is not an in-service "
                                    f"{BUILDING_DER_TYPE} here", row=int(hits[0]),
                                    column="der_name")
            raise DataFileError(thermal_path, f"building DER {name!r} of {electric_path.name} "
                                "is missing", column="der_name")
        j = position[name]
        if model_names[j] != model:
            raise DataFileError(thermal_path, f"der_model_name differs from {electric_path.name}"
                                f" row {row}", row=int(thermal_rows[j]), column="der_model_name")
        order[k] = j
    return order
