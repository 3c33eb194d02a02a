"""A synthetic district of any size: buildings drawn from archetypes on generated, planned grids.

:func:`generate_district` writes a data folder in the layout ``--data`` reads (the embedded
district's CSV format, :mod:`.tables`), so everything that runs the embedded district runs it:

- **Buildings**: ``n_buildings`` drawn with replacement (seeded) from the archetype folder's
  flexible buildings (default: the embedded district's), each a copy of its archetype's rows
  (``buildings``, ``zones``, ``surfaces_exterior``, ``scenarios``) under a new name, at its own
  node, with the archetype's nominal DER powers. Type tables, weather and price are copied whole.
- **Sites**: a jittered square lattice at the archetype district's median distance between
  neighbouring nodes (:data:`SPACING_KM`), the ``n`` sites nearest the substation, which sits at
  the archetype's source node.
- **Planning rule** (stated, not tuned): every building's peak is its cost-optimal demand
  (:func:`~.buildings.building_baseline`, the profile it publishes) at the finest resolution
  (:data:`PLANNING_RESOLUTION`), apparent power and cooling separately; a line carries the sum
  of the peaks downstream (no diversity factor). Buildings are grouped into radial feeders by
  their angle around the substation, each feeder as large as the largest cable and pipe of the
  catalogues carry (:mod:`.catalogues`); within a feeder the lines are the minimum spanning tree
  of the substation and its buildings. Every cable is the smallest NA2XS2Y type whose rating at
  the grid's voltage covers its line's peak, every pipe the smallest EN 10220 pipe that carries
  its line's peak flow at the archetype's maximum velocity (or 2 m/s). Voltage drop is not a
  sizing criterion: the verification of every run reports it.

Both grids share the nodes and lines (as in the embedded district). The study's constrained
scenarios apply their rules to elements of the same names; only ``unconstrained`` means the same
thing on a generated district.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from .buildings import building_baseline, load_buildings
from .catalogues import (
    CABLES,
    PIPE_ROUGHNESS_MM,
    PIPES,
    CableType,
    smallest_cable,
    smallest_pipe,
)
from .ders import read_ders
from .tables import (
    BUILDING_ROWS,
    DEFAULT_DATA_DIR,
    ELECTRIC_GRID_DERS_FILE,
    GRID_SCENARIOS_FILE,
    THERMAL_GRID_DERS_FILE,
    DataFileError,
    TextTables,
    write_text_table,
)
from .thermal_grid import DEFAULT_PLANT_EFFICIENCY
from .timeseries import load_price, timestep_hours

#: The grids' name in a generated district.
GRID_NAME = "synthetic_district"
#: The prefix of a generated building's model name (its DER and node are named ``1..n``).
BUILDING_NAME = "synthetic_building_"
#: Distance between neighbouring sites, km: the embedded district's median distance between a
#: node and its nearest neighbour (54 m).
SPACING_KM = 0.054
#: The resolution whose cost-optimal demand sizes the network (the finest the data holds).
PLANNING_RESOLUTION = "30min"
#: Velocity rating of a pipe when the archetype's line type states none, m/s.
DEFAULT_MAX_VELOCITY_M_S = 2.0
#: Largest number of buildings the generator writes (beyond, the per-building models alone
#: exceed a laptop's memory in a centralized solve).
MAX_BUILDINGS = 20000
#: The building files with rows per building (by ``building_name``); the type tables they refer
#: to are copied whole, the DER tables written anew.
_PER_BUILDING = tuple(f for f, column, keys in BUILDING_ROWS
                      if keys == "building" and column == "building_name")
_EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class GeneratedDistrict:
    """What :func:`generate_district` wrote: the folder, the archetype of each building (DER
    name -> archetype model name), the feeders (lists of DER names) and how many lines got
    each cable and pipe type (type name -> count)."""

    folder: Path
    archetypes: dict[str, str]
    feeders: list[list[str]]
    cables: dict[str, int]
    pipes: dict[str, int]

    @property
    def n_buildings(self) -> int:
        return len(self.archetypes)


def generate_district(out: Path | str, n_buildings: int, seed: int = 0, *,
                      archetypes: Path | str = DEFAULT_DATA_DIR) -> GeneratedDistrict:
    """Write a synthetic district of ``n_buildings`` buildings into the folder ``out`` (created;
    files of the same names are replaced) from the buildings of ``archetypes`` (a district data
    folder), reproducibly for ``seed`` (module doc). Raises ``ValueError`` naming the argument
    for a bad count or seed, :class:`~.tables.DataFileError` for a bad archetype folder."""
    check_generation(n_buildings, seed)
    src, out = Path(archetypes), Path(out)
    tables = TextTables(src)
    ders = read_ders(src)
    models = [str(m) for m in ders.model_names]
    if not models:
        raise DataFileError(src / ELECTRIC_GRID_DERS_FILE, "no flexible building in service")
    peaks_kva, peaks_th_kw = _archetype_peaks(src, [str(d) for d in ders.der_names])
    rng = np.random.default_rng(int(seed))
    pick = rng.integers(0, len(models), size=int(n_buildings))
    names = [str(k + 1) for k in range(int(n_buildings))]

    electric = tables["grid/electric_grids.csv"].iloc[[0]].copy()
    thermal = tables["grid/thermal_grids.csv"].iloc[[0]].copy()
    voltage_v, source_xy, lat0 = _source(tables, str(electric["source_node_name"].iloc[0]))
    max_velocity = _max_velocity(tables)
    density = float(thermal["water_density"].iloc[0])
    enthalpy = float(thermal["enthalpy_difference_distribution_water"].iloc[0])
    flow_per_kw = 1000.0 / (density * enthalpy)  # m3/s per kW of cooling

    xy = _sites(int(n_buildings), rng)
    s_kva = peaks_kva[pick]
    flow = peaks_th_kw[pick] * flow_per_kw
    feeders = _feeders(xy, s_kva, flow, CABLES[-1].rating_kva(voltage_v),
                       PIPES[-1].area_m2 * max_velocity)
    lines = []  # (parent node index or -1 for the substation, child index, length km)
    for feeder in feeders:
        lines.extend(_spanning_tree(xy, feeder))
    down_s, down_f = _downstream(lines, s_kva, flow)
    cables = [smallest_cable(s, voltage_v) for s in down_s]
    pipes = [smallest_pipe(f, max_velocity) for f in down_f]
    if any(c is None for c in cables) or any(p is None for p in pipes):  # feeders prevent it
        raise RuntimeError("a line's peak exceeds the catalogues")

    node = ["0"] + names  # node 0 is the substation / cooling plant
    lat = np.degrees(xy[:, 1] / _EARTH_RADIUS_KM) + source_xy[1]
    lon = np.degrees(xy[:, 0] / (_EARTH_RADIUS_KM * np.cos(np.radians(lat0)))) + source_xy[0]
    files: dict[str, pd.DataFrame] = {}
    electric["electric_grid_name"], electric["source_node_name"] = GRID_NAME, "0"
    thermal["thermal_grid_name"], thermal["source_node_name"] = GRID_NAME, "0"
    files["grid/electric_grids.csv"], files["grid/thermal_grids.csv"] = electric, thermal
    coords = pd.DataFrame({"node_name": node, "latitude": np.r_[source_xy[1], lat],
                           "longitude": np.r_[source_xy[0], lon]})
    files["grid/electric_grid_nodes.csv"] = coords.assign(
        electric_grid_name=GRID_NAME, voltage=voltage_v)[
        ["electric_grid_name", "node_name", "voltage", "latitude", "longitude"]]
    files["grid/thermal_grid_nodes.csv"] = coords.assign(thermal_grid_name=GRID_NAME)[
        ["thermal_grid_name", "node_name", "latitude", "longitude"]]
    ends = [(node[p + 1], node[c + 1], km) for p, c, km in lines]
    for kind, types in (("electric", cables), ("thermal", pipes)):
        files[f"grid/{kind}_grid_lines.csv"] = pd.DataFrame(
            [(GRID_NAME, str(i), t.name, a, b, f"{km:.6f}")
             for i, ((a, b, km), t) in enumerate(zip(ends, types))],
            columns=[f"{kind}_grid_name", "line_name", "line_type", "node_1_name",
                     "node_2_name", "length"])
    files["grid/electric_grid_line_types.csv"], files[
        "grid/electric_grid_line_types_matrices.csv"] = _cable_types(sorted(
            set(cables), key=CABLES.index))
    files["grid/thermal_grid_line_types.csv"] = pd.DataFrame(
        [(p.name, p.inner_diameter_m, PIPE_ROUGHNESS_MM, max_velocity)
         for p in sorted(set(pipes), key=PIPES.index)],
        columns=["line_type", "diameter", "absolute_roughness", "maximum_velocity"])
    files.update(_ders(tables, names, [models[i] for i in pick]))
    files.update(_buildings(tables, names, [models[i] for i in pick]))
    files[GRID_SCENARIOS_FILE] = tables[GRID_SCENARIOS_FILE].assign(
        electric_grid_name=GRID_NAME, thermal_grid_name=GRID_NAME).iloc[[0]]
    for path in sorted(src.rglob("*.csv")):  # the rest: type tables, time series, DER models
        relative = path.relative_to(src).as_posix()
        if relative not in files:
            files[relative] = tables[relative]
    for relative, frame in files.items():
        write_text_table(frame, out, relative)
    return GeneratedDistrict(
        folder=out, archetypes={n: models[i] for n, i in zip(names, pick)},
        feeders=[[names[i] for i in f] for f in feeders],
        cables=dict(Counter(c.name for c in cables)), pipes=dict(Counter(p.name for p in pipes)))


def check_generation(n_buildings: int, seed: int) -> None:
    """``ValueError`` naming the argument unless ``n_buildings`` is an integer in
    1..:data:`MAX_BUILDINGS` and ``seed`` a non-negative integer."""
    if isinstance(n_buildings, bool) or not isinstance(n_buildings, (int, np.integer)) \
            or not 1 <= n_buildings <= MAX_BUILDINGS:
        raise ValueError(f"n_buildings (--buildings) must be an integer in 1..{MAX_BUILDINGS}, "
                         f"got {n_buildings!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed (--seed) must be a non-negative integer, got {seed!r}")


def _archetype_peaks(src: Path, ders: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per archetype (DER order) the peak apparent power (kVA) and cooling (kW) of its
    cost-optimal demand at :data:`PLANNING_RESOLUTION`."""
    buildings = load_buildings(src, PLANNING_RESOLUTION)
    price = load_price(src, PLANNING_RESOLUTION).to_numpy(dtype=float)
    dt = timestep_hours(PLANNING_RESOLUTION)
    by_name = {m.name: m for m in buildings}
    s, th = [], []
    for d in ders:
        p_th, p, q = building_baseline(by_name[d], price, dt, DEFAULT_PLANT_EFFICIENCY)
        s.append(float(np.max(np.hypot(p, q))))
        th.append(float(np.max(p_th)))
    return np.array(s), np.array(th)


def _source(tables: TextTables, source: str) -> tuple[float, np.ndarray, float]:
    """The grid's nominal voltage (V), the substation's (longitude, latitude) (degrees; 0, 0 if
    the archetype states no coordinates) and the reference latitude."""
    nodes = tables["grid/electric_grid_nodes.csv"]
    row = nodes[nodes["node_name"] == source]
    if row.empty:
        raise DataFileError(tables.src / "grid/electric_grid_nodes.csv",
                            f"the source node {source!r} is not listed")
    voltage = float(row["voltage"].iloc[0])
    try:
        lon, lat = float(row["longitude"].iloc[0]), float(row["latitude"].iloc[0])
    except (KeyError, ValueError):
        lon = lat = 0.0
    return voltage, np.array([lon, lat]), lat


def _max_velocity(tables: TextTables) -> float:
    types = tables["grid/thermal_grid_line_types.csv"]
    if "maximum_velocity" in types.columns:
        values = pd.to_numeric(types["maximum_velocity"], errors="coerce").dropna()
        if not values.empty and float(values.min()) > 0:
            return float(values.min())
    return DEFAULT_MAX_VELOCITY_M_S


def _sites(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 2)`` positions (km, east and north of the substation): the ``n`` lattice sites
    nearest the substation, other than its own, each moved by up to 30 % of the spacing."""
    side = int(np.ceil(np.sqrt(n + 1))) + 2
    grid = np.arange(-side, side + 1) * SPACING_KM
    gx, gy = np.meshgrid(grid, grid)
    sites = np.column_stack([gx.ravel(), gy.ravel()])
    dist = np.hypot(sites[:, 0], sites[:, 1])
    order = np.lexsort((np.arctan2(sites[:, 1], sites[:, 0]), dist))
    sites = sites[order[1:n + 1]]  # order[0] is the substation's own site
    return sites + rng.uniform(-0.3, 0.3, size=sites.shape) * SPACING_KM


def _feeders(xy: np.ndarray, s_kva: np.ndarray, flow: np.ndarray, s_max: float,
             f_max: float) -> list[np.ndarray]:
    """Buildings grouped by angle around the substation into as few feeders as the largest
    cable and pipe carry (summed peaks), the load shared evenly among them."""
    order = np.argsort(np.arctan2(xy[:, 1], xy[:, 0]), kind="stable")
    load = np.maximum(s_kva[order] / s_max, flow[order] / f_max)
    if np.any(load > 1.0):
        raise ValueError("a building's peak exceeds the largest cable or pipe of the catalogues")
    k = max(1, int(np.ceil(load.sum())))
    while True:  # more feeders until every one fits (even shares rarely need more than one more)
        edges = np.searchsorted(np.cumsum(load), load.sum() * np.arange(1, k) / k)
        groups = [g for g in np.split(order, edges) if g.size]
        if all(s_kva[g].sum() <= s_max and flow[g].sum() <= f_max for g in groups):
            return groups
        k += 1


def _spanning_tree(xy: np.ndarray, feeder: np.ndarray) -> list[tuple[int, int, float]]:
    """The minimum spanning tree of the substation and the feeder's buildings, as lines
    ``(parent, child, km)`` directed away from the substation (parent -1)."""
    pts = np.vstack([np.zeros((1, 2)), xy[feeder]])
    dist = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
    tree = minimum_spanning_tree(dist)
    tree = tree + tree.T
    order, parent = breadth_first_order(tree, 0, directed=False)
    ids = np.r_[-1, feeder]
    return [(int(ids[parent[k]]), int(ids[k]), float(dist[parent[k], k])) for k in order[1:]]


def _downstream(lines: list[tuple[int, int, float]], s_kva: np.ndarray, flow: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per line the summed peaks of the buildings it feeds. Within a feeder the lines are in
    breadth-first order, so in reverse every node's descendants are summed before it."""
    s, f = s_kva.astype(float).copy(), flow.astype(float).copy()
    for parent, child, _ in reversed(lines):
        if parent >= 0:
            s[parent] += s[child]
            f[parent] += f[child]
    children = np.array([c for _, c, _ in lines], dtype=int)
    return s[children], f[children]


def _cable_types(cables: list[CableType]) -> tuple[pd.DataFrame, pd.DataFrame]:
    types = pd.DataFrame([(c.name, 3, c.max_current_a) for c in cables],
                         columns=["line_type", "n_phases", "maximum_current"])
    rows = []
    for c in cables:
        for r in range(1, 4):
            for k in range(1, r + 1):
                on = r == k
                rows.append((c.name, r, k, c.resistance_ohm_per_km if on else 0.0,
                             c.reactance_ohm_per_km if on else 0.0,
                             c.capacitance_nf_per_km if on else 0.0))
    return types, pd.DataFrame(rows, columns=["line_type", "row", "col", "resistance",
                                              "reactance", "capacitance"])


def _ders(tables: TextTables, names: list[str], models: list[str]) -> dict[str, pd.DataFrame]:
    """Both DER tables: each generated building a copy of its archetype's row at its node."""
    out = {}
    for relative, grid_column in ((ELECTRIC_GRID_DERS_FILE, "electric_grid_name"),
                                  (THERMAL_GRID_DERS_FILE, "thermal_grid_name")):
        table = tables[relative]
        first = table.drop_duplicates("der_model_name").set_index("der_model_name",
                                                                  drop=False)
        rows = first.loc[models].reset_index(drop=True)
        rows[grid_column] = GRID_NAME
        rows["der_name"] = names
        rows["node_name"] = names
        rows["der_model_name"] = [BUILDING_NAME + n for n in names]
        out[relative] = rows[table.columns]
    return out


def _buildings(tables: TextTables, names: list[str], models: list[str]) -> dict[str, pd.DataFrame]:
    """The per-building files: each generated building the rows of its archetype, renamed."""
    out = {}
    for relative in _PER_BUILDING:
        table = tables[relative]
        parts = []
        for name, model in zip(names, models):
            rows = table[table["building_name"] == model].copy()
            rows["building_name"] = BUILDING_NAME + name
            if "scenario_name" in rows.columns:
                rows["scenario_name"] = BUILDING_NAME + name
            parts.append(rows)
        out[relative] = pd.concat(parts, ignore_index=True)[table.columns]
    return out
