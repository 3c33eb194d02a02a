"""What the electric and the thermal grid have in common: a radial network read from MESMO-format
files ``grid/<kind>_grids.csv``, ``<kind>_grid_nodes.csv`` and ``<kind>_grid_lines.csv`` (``kind``
is ``"electric"`` or ``"thermal"``), with buildings (DERs) connected at its nodes.

:class:`RadialGridData` holds the arrays both grids share; the readers below are the steps both
loaders take (:mod:`.electric_grid.data`, :mod:`.thermal_grid.data`), each loader adding its own
checks and columns in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .tables import DataFileError, check_unique, file_rows, lookup, read_table, select_grid


@dataclass
class RadialGridData:
    """The network of a radial grid: node names (the source at ``source_index``), lines as index
    pairs into ``node_names`` (``line_from`` = the file's node_1, ``line_to`` = node_2) and the
    buildings (DERs) with the node each connects at."""

    name: str
    node_names: np.ndarray
    source_index: int
    line_names: np.ndarray
    line_from: np.ndarray
    line_to: np.ndarray
    der_names: np.ndarray
    der_node_index: np.ndarray

    @property
    def n_node(self) -> int:
        return len(self.node_names)

    @property
    def n_line(self) -> int:
        return len(self.line_names)

    @property
    def n_der(self) -> int:
        return len(self.der_names)


def grid_file(kind: str, table: str) -> str:
    """Relative path of a grid table, e.g. ``grid_file("thermal", "nodes")`` is
    ``"grid/thermal_grid_nodes.csv"`` (``table`` ``"grids"`` gives ``grid/<kind>_grids.csv``)."""
    return f"grid/{kind}_grids.csv" if table == "grids" else f"grid/{kind}_grid_{table}.csv"


def read_grid_row(folder: Path, kind: str, grid_name: str | None) -> tuple[Path, pd.Series]:
    """The path of ``grid/<kind>_grids.csv`` and the row of grid ``grid_name`` (default: the
    only one)."""
    path = folder / grid_file(kind, "grids")
    return path, select_grid(path, read_table(folder, grid_file(kind, "grids")),
                             f"{kind}_grid_name", grid_name)


def read_grid_nodes(folder: Path, kind: str, name: str
                    ) -> tuple[Path, pd.DataFrame, np.ndarray, dict[str, int]]:
    """The nodes of grid ``name``: the file's path, its rows, the node names and name -> index;
    :class:`DataFileError` if the grid has no node or a name twice."""
    path = folder / grid_file(kind, "nodes")
    nodes = read_table(folder, grid_file(kind, "nodes"))
    nodes = nodes[nodes[f"{kind}_grid_name"] == name]
    if nodes.empty:
        raise DataFileError(path, f"no nodes for {kind} grid '{name}'")
    check_unique(path, nodes, "node_name")
    node_names = nodes["node_name"].to_numpy(dtype=str)
    return path, nodes, node_names, {n: i for i, n in enumerate(node_names)}


def source_index(grids_path: Path, grid_row: pd.Series, node_index: dict[str, int]) -> int:
    """Index of the grid's source node (``source_node_name`` of its row)."""
    source = grid_row["source_node_name"]
    if source not in node_index:
        raise DataFileError(grids_path, f"unknown source node '{source}'",
                            row=int(grid_row.name) + 1, column="source_node_name")
    return node_index[source]


def read_grid_lines(folder: Path, kind: str, name: str) -> tuple[Path, pd.DataFrame]:
    """The lines of grid ``name``: the file's path and its rows (line names unique)."""
    path = folder / grid_file(kind, "lines")
    lines = read_table(folder, grid_file(kind, "lines"))
    lines = lines[lines[f"{kind}_grid_name"] == name]
    check_unique(path, lines, "line_name")
    return path, lines


def line_ends(path: Path, lines: pd.DataFrame, node_index: dict[str, int]
              ) -> tuple[np.ndarray, np.ndarray]:
    """Node indices of each line's ``node_1`` and ``node_2`` (:class:`DataFileError` naming the
    row for an unknown node)."""
    rows = file_rows(lines)
    return (lookup(path, "node_1_name", lines["node_1_name"], rows, node_index),
            lookup(path, "node_2_name", lines["node_2_name"], rows, node_index))
