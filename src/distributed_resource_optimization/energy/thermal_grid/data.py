"""Thermal grid operator, step 1: the grid files -> :class:`ThermalGridData` (arrays).

Reads the MESMO-format files ``grid/thermal_grids.csv``, ``thermal_grid_nodes.csv``,
``thermal_grid_line_types.csv``, ``thermal_grid_lines.csv`` and ``thermal_grid_ders.csv``, nothing
else: the thermal grid operator needs no other organisation's files. The tree's orientation
relative to the source (which line feeds which nodes) is derived here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ders import read_ders
from ..radial_grid import (
    RadialGridData,
    grid_file,
    line_ends,
    read_grid_lines,
    read_grid_nodes,
    read_grid_row,
    source_index,
)
from ..tables import (
    DEFAULT_DATA_DIR,
    DataFileError,
    check_positive,
    check_radial,
    check_unique,
    file_rows,
    lookup,
    read_table,
)

_KIND = "thermal"
_LINE_TYPES_FILE = grid_file(_KIND, "line_types")


@dataclass
class ThermalGridData(RadialGridData):
    """Arrays describing the district cooling network (SI units unless the name says otherwise;
    the network's arrays: :class:`~..radial_grid.RadialGridData`).

    ``line_subtree[l, n]`` is 1 when node ``n`` lies downstream of line ``l`` (the source side is
    upstream); ``line_downstream_sign[l]`` is +1 when the file's node_1 -> node_2 direction points
    away from the source, -1 otherwise.
    """

    line_length_m: np.ndarray
    line_diameter_m: np.ndarray
    line_roughness_m: np.ndarray
    line_max_velocity_m_s: np.ndarray
    line_downstream_sign: np.ndarray
    line_subtree: np.ndarray
    der_p_th_nominal_kw: np.ndarray
    enthalpy_difference_j_kg: float
    water_density_kg_m3: float
    kinematic_viscosity_m2_s: float
    pump_efficiency: float
    ets_head_loss_m: float

    @property
    def flow_per_kw(self) -> float:
        """Chilled-water volume flow per kW of cooling demand (m3/s per kW)."""
        return 1000.0 / (self.water_density_kg_m3 * self.enthalpy_difference_j_kg)


def load_thermal_grid(folder: Path | str = DEFAULT_DATA_DIR,
                      grid_name: str | None = None) -> ThermalGridData:
    """Read the MESMO-format thermal grid files under ``folder/grid``.

    Only in-service DERs of type ``flexible_building`` are kept. Raises
    :class:`~distributed_resource_optimization.energy.tables.DataFileError` (a ``ValueError``)
    naming the file, row and column for malformed data, unknown node or line-type names or
    non-radial layouts.
    """
    folder = Path(folder)
    grids_path, row = read_grid_row(folder, _KIND, grid_name)
    name = row["thermal_grid_name"]
    for column in ("distribution_pump_efficiency", "enthalpy_difference_distribution_water",
                   "water_density", "water_kinematic_viscosity"):
        if row[column] <= 0.0:
            raise DataFileError(grids_path, "value must be positive",
                                row=int(row.name) + 1, column=column)
    if row["energy_transfer_station_head_loss"] < 0.0:
        raise DataFileError(grids_path, "value must not be negative",
                            row=int(row.name) + 1, column="energy_transfer_station_head_loss")

    _, _, node_names, node_index = read_grid_nodes(folder, _KIND, name)
    source = source_index(grids_path, row, node_index)

    types_path = folder / _LINE_TYPES_FILE
    types = read_table(folder, _LINE_TYPES_FILE)
    check_unique(types_path, types, "line_type")
    for column in ("diameter", "absolute_roughness"):
        check_positive(types_path, types, column)
    types = types.set_index("line_type")

    lines_path, lines = read_grid_lines(folder, _KIND, name)
    unknown = ~lines["line_type"].isin(types.index)
    if unknown.any():
        raise DataFileError(lines_path, "unknown line type",
                            row=int(lines.index[np.argmax(unknown.to_numpy())]) + 1,
                            column="line_type")
    check_positive(lines_path, lines, "length")
    line_from, line_to = line_ends(lines_path, lines, node_index)
    sign, subtree = _radial_structure(lines_path, len(node_names), source, line_from, line_to,
                                      file_rows(lines))
    line_type = types.loc[lines["line_type"]]
    max_velocity = (line_type["maximum_velocity"].to_numpy(dtype=float)
                    if "maximum_velocity" in line_type else np.full(len(lines), np.nan))

    # Only the buildings are exchanged with the market (the cooling plant DER is the source).
    ders = read_ders(folder, ("thermal",), thermal_grid_name=name)
    return ThermalGridData(
        name=name,
        node_names=node_names,
        source_index=source,
        line_names=lines["line_name"].to_numpy(dtype=str),
        line_from=line_from,
        line_to=line_to,
        line_length_m=lines["length"].to_numpy(dtype=float) * 1000.0,
        line_diameter_m=line_type["diameter"].to_numpy(dtype=float),
        line_roughness_m=line_type["absolute_roughness"].to_numpy(dtype=float) / 1000.0,
        line_max_velocity_m_s=max_velocity,
        line_downstream_sign=sign,
        line_subtree=subtree,
        der_names=ders.der_names,
        der_node_index=lookup(ders.thermal_path, "node_name", ders.thermal_node_names,
                              ders.thermal_rows, node_index),
        der_p_th_nominal_kw=ders.thermal_power_nominal_kw,
        enthalpy_difference_j_kg=float(row["enthalpy_difference_distribution_water"]),
        water_density_kg_m3=float(row["water_density"]),
        kinematic_viscosity_m2_s=float(row["water_kinematic_viscosity"]),
        pump_efficiency=float(row["distribution_pump_efficiency"]),
        ets_head_loss_m=float(row["energy_transfer_station_head_loss"]),
    )


def _radial_structure(path: Path, n_node: int, source: int, line_from: np.ndarray,
                      line_to: np.ndarray, rows: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Orientation of each line relative to the source and the line-by-node subtree matrix."""
    check_radial(path, n_node, line_from, line_to, rows)
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n_node)]
    for line, (a, b) in enumerate(zip(line_from, line_to, strict=True)):
        adjacency[a].append((line, b))
        adjacency[b].append((line, a))
    parent_line = np.full(n_node, -1)
    order = [source]
    seen = np.zeros(n_node, dtype=bool)
    seen[source] = True
    for node in order:  # breadth-first; ``order`` grows while iterating
        for line, other in adjacency[node]:
            if not seen[other]:
                seen[other] = True
                parent_line[other] = line
                order.append(other)
    sign = np.where(line_to[parent_line[parent_line >= 0]] == np.flatnonzero(parent_line >= 0),
                    1, -1)
    line_sign = np.empty(len(line_from), dtype=int)
    line_sign[parent_line[parent_line >= 0]] = sign
    subtree = np.zeros((len(line_from), n_node))
    # Walk each node up to the source, marking every line on its path.
    for node in range(n_node):
        current = node
        while current != source:
            line = parent_line[current]
            subtree[line, node] = 1.0
            current = line_from[line] if line_to[line] == current else line_to[line]
    return line_sign, subtree
