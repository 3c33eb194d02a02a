"""Electric grid operator, step 1: the grid files -> :class:`ElectricGridData` (arrays).

Reads the MESMO-format files ``grid/electric_grids.csv``, ``electric_grid_nodes.csv``,
``electric_grid_lines.csv``, ``electric_grid_line_types.csv``,
``electric_grid_line_types_matrices.csv`` and ``electric_grid_ders.csv``, nothing else: the
electric grid operator needs no other organisation's files. Line types are reduced to their
positive-sequence values here (the single-phase equivalent of the balanced three-phase grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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

_KIND = "electric"
_LINE_TYPES_FILE = grid_file(_KIND, "line_types")
_LINE_TYPE_MATRICES_FILE = grid_file(_KIND, "line_types_matrices")


@dataclass
class ElectricGridData(RadialGridData):
    """Arrays describing the single-phase equivalent of the balanced three-phase grid (the
    network's arrays: :class:`~..radial_grid.RadialGridData`).

    Index arrays refer to positions in ``node_names``. Impedances are per phase (ohm), shunt
    susceptances are the total line charging per phase (S, split half/half in the pi-model), powers
    are three-phase demand (kW / kvar, positive = consumption).
    """

    nominal_voltage_v: float  # line-to-line
    base_frequency_hz: float
    line_impedance_ohm: np.ndarray  # complex series impedance per phase
    line_shunt_susceptance_s: np.ndarray  # total per phase
    line_max_current_a: np.ndarray
    der_p_nominal_kw: np.ndarray
    der_q_nominal_kvar: np.ndarray
    #: Where each node lies (degree; NaN where the nodes file gives none): the grid map.
    node_latitude: np.ndarray | None = None
    node_longitude: np.ndarray | None = None

    @property
    def line_rating_kva(self) -> np.ndarray:
        """Three-phase apparent-power rating from ``maximum_current`` at nominal voltage (kVA)."""
        return np.sqrt(3.0) * self.nominal_voltage_v * self.line_max_current_a / 1000.0


def load_electric_grid(folder: Path | str = DEFAULT_DATA_DIR,
                       grid_name: str | None = None) -> ElectricGridData:
    """Read the MESMO-format electric grid files under ``folder/grid``.

    Only in-service DERs of type ``flexible_building`` are kept (the buildings of the study).
    Raises :class:`~distributed_resource_optimization.energy.tables.DataFileError` (a
    ``ValueError``) naming the file, row and column for malformed data, unknown node or line-type
    names, non-radial layouts or unbalanced line types.
    """
    folder = Path(folder)
    grids_path, grid_row = read_grid_row(folder, _KIND, grid_name)
    name = grid_row["electric_grid_name"]

    nodes_path, nodes, node_names, node_index = read_grid_nodes(folder, _KIND, name)
    voltages = nodes["voltage"].to_numpy(dtype=float)
    if np.any(voltages <= 0.0):
        row = int(nodes.index[np.argmax(voltages <= 0.0)]) + 1
        raise DataFileError(nodes_path, "nominal voltage must be positive", row=row,
                            column="voltage")
    if not np.allclose(voltages, voltages[0], rtol=1e-9):
        # Different voltage levels would need transformer models, which the data format here lacks.
        raise DataFileError(nodes_path, "all nodes must have the same nominal voltage",
                            column="voltage")
    source = source_index(grids_path, grid_row, node_index)

    lines_path, lines = read_grid_lines(folder, _KIND, name)
    line_from, line_to = line_ends(lines_path, lines, node_index)
    check_positive(lines_path, lines, "length")
    check_radial(lines_path, len(node_names), line_from, line_to, file_rows(lines))

    z1_per_km, b1_per_km, i_max = _line_type_parameters(folder, grid_row["base_frequency"])
    unknown = ~lines["line_type"].isin(list(z1_per_km))
    if unknown.any():
        row = int(lines.index[np.argmax(unknown.to_numpy())]) + 1
        raise DataFileError(lines_path, "unknown line type", row=row, column="line_type")
    length_km = lines["length"].to_numpy(dtype=float)
    types = lines["line_type"].tolist()

    ders = read_ders(folder, ("electric",), electric_grid_name=name)
    return ElectricGridData(
        name=name,
        node_names=node_names,
        source_index=source,
        nominal_voltage_v=float(voltages[0]),
        base_frequency_hz=float(grid_row["base_frequency"]),
        line_names=lines["line_name"].to_numpy(dtype=str),
        line_from=line_from,
        line_to=line_to,
        line_impedance_ohm=np.array([z1_per_km[t] for t in types]) * length_km,
        line_shunt_susceptance_s=np.array([b1_per_km[t] for t in types]) * length_km,
        line_max_current_a=np.array([i_max[t] for t in types], dtype=float),
        der_names=ders.der_names,
        der_node_index=lookup(ders.electric_path, "node_name", ders.electric_node_names,
                              ders.electric_rows, node_index),
        der_p_nominal_kw=ders.active_power_nominal_kw,
        der_q_nominal_kvar=ders.reactive_power_nominal_kvar,
        node_latitude=_coordinate(nodes, "latitude"),
        node_longitude=_coordinate(nodes, "longitude"),
    )


def _coordinate(nodes: pd.DataFrame, column: str) -> np.ndarray:
    """The nodes' ``column`` (degree), NaN where the file has none."""
    if column not in nodes.columns:
        return np.full(len(nodes), np.nan)
    return nodes[column].to_numpy(dtype=float)


def _line_type_parameters(folder: Path, frequency_hz: float
                          ) -> tuple[dict[str, complex], dict[str, float], dict[str, float]]:
    """Positive-sequence series impedance (ohm/km), shunt susceptance (S/km) and ampacity (A)."""
    types_path = folder / _LINE_TYPES_FILE
    types = read_table(folder, _LINE_TYPES_FILE)
    check_unique(types_path, types, "line_type")
    check_positive(types_path, types, "maximum_current")
    matrices_path = folder / _LINE_TYPE_MATRICES_FILE
    mat = read_table(folder, _LINE_TYPE_MATRICES_FILE)
    z1: dict[str, complex] = {}
    b1: dict[str, float] = {}
    i_max: dict[str, float] = {}
    for idx, row in types.iterrows():
        if row["n_phases"] != 3:
            raise DataFileError(types_path, "only three-phase line types are supported "
                                "by the single-phase equivalent", row=int(idx) + 1,
                                column="n_phases")
        entries = mat[mat["line_type"] == row["line_type"]]
        z = np.full((3, 3), np.nan, dtype=complex)
        c = np.full((3, 3), np.nan)
        for j, e in entries.iterrows():
            r, k = e["row"] - 1, e["col"] - 1
            if not (0 <= r < 3 and 0 <= k < 3):
                raise DataFileError(matrices_path, "row/col must be 1..3",
                                    row=int(j) + 1, column="row")
            z[r, k] = z[k, r] = e["resistance"] + 1j * e["reactance"]
            c[r, k] = c[k, r] = e["capacitance"]
        if np.isnan(c).any():
            raise DataFileError(matrices_path,
                                f"incomplete 3x3 matrix for line type '{row['line_type']}'",
                                column="line_type")
        off = ~np.eye(3, dtype=bool)
        balanced = (np.allclose(np.diag(z), z[0, 0], rtol=1e-9, atol=0.0)
                    and np.allclose(z[off], z[1, 0], rtol=1e-9, atol=1e-12)
                    and np.allclose(np.diag(c), c[0, 0], rtol=1e-9, atol=0.0)
                    and np.allclose(c[off], c[1, 0], rtol=1e-9, atol=1e-12))
        if not balanced:
            # The single-phase equivalent is exact only for symmetric (transposed) lines.
            raise DataFileError(matrices_path,
                                f"line type '{row['line_type']}' is not balanced (equal "
                                "diagonal and equal off-diagonal entries required)",
                                column="line_type")
        # Positive sequence of a balanced matrix: self minus mutual term. The capacitance matrix is
        # used as a nodal (shunt admittance) matrix, so the same transform applies to it.
        z1[row["line_type"]] = complex(z[0, 0] - z[1, 0])
        b1[row["line_type"]] = float(2.0 * np.pi * frequency_hz * (c[0, 0] - c[1, 0]) * 1e-9)
        i_max[row["line_type"]] = float(row["maximum_current"])
    return z1, b1, i_max
