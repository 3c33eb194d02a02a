"""The synthetic district generator: planned, radial, reproducible, and it clears.

The planning rule is checked independently of the generator's own arithmetic: the written
network is read back as a graph (networkx), every building's peak is recomputed from the loaded
district's published baselines, and each line's cable and pipe are held against the catalogue.
"""

from __future__ import annotations

import filecmp

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from distributed_resource_optimization.cli.main import main
from distributed_resource_optimization.energy.catalogues import CABLES, PIPES
from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.synthetic import (
    BUILDING_NAME,
    PLANNING_RESOLUTION,
    generate_district,
)
from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
from distributed_resource_optimization.energy.verification import verify_centralized
from distributed_resource_optimization.market.clearing import (
    compare_with_centralized,
    run_market_clearing,
    verify_market,
)

N = 50

#: Every test here but the argument checks generates or clears a district: seconds of CPU.
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    return generate_district(folder, N, seed=1)


@pytest.fixture(scope="module")
def city(generated):
    return load_district(generated.folder, resolution="60min")


def _tree(folder, kind: str) -> tuple[nx.DiGraph, pd.DataFrame]:
    lines = pd.read_csv(folder / f"grid/{kind}_grid_lines.csv", dtype={"node_1_name": str,
                                                                       "node_2_name": str})
    graph = nx.DiGraph()
    graph.add_edges_from(zip(lines["node_1_name"], lines["node_2_name"]))
    return graph, lines


@slow
def test_both_grids_are_one_radial_tree_from_the_substation(generated):
    for kind in ("electric", "thermal"):
        graph, _ = _tree(generated.folder, kind)
        assert nx.is_arborescence(graph), kind  # a tree, every line directed away from node 0
        assert set(graph) == {"0"} | {str(k) for k in range(1, N + 1)}
        assert [n for n, d in graph.in_degree() if d == 0] == ["0"]
    # the feeders partition the buildings; each is one subtree below the substation
    assert sorted(int(b) for f in generated.feeders for b in f) == list(range(1, N + 1))


@slow
def test_every_line_is_the_smallest_catalogue_type_covering_its_downstream_peak(generated):
    # Independent of the generator: peaks from the loaded district's own baselines.
    planning = load_district(generated.folder, resolution=PLANNING_RESOLUTION)
    peak_kva = {d: float(np.max(np.hypot(b.p_kw, b.q_kvar))) for d, b in planning.baselines.items()}
    peak_kw_th = {d: float(np.max(b.p_th_kw)) for d, b in planning.baselines.items()}
    grids = pd.read_csv(generated.folder / "grid/thermal_grids.csv").iloc[0]
    flow_per_kw = 1000.0 / (grids["water_density"] * grids["enthalpy_difference_distribution_water"])
    voltage = float(pd.read_csv(generated.folder / "grid/electric_grid_nodes.csv")["voltage"].iloc[0])
    cables = {c.name: c for c in CABLES}
    pipes = pd.read_csv(generated.folder / "grid/thermal_grid_line_types.csv").set_index("line_type")
    graph, lines = _tree(generated.folder, "electric")
    _, pipe_lines = _tree(generated.folder, "thermal")
    for (_, line), pipe_type in zip(lines.iterrows(), pipe_lines["line_type"]):
        below = nx.descendants(graph, line["node_2_name"]) | {line["node_2_name"]}
        s = sum(peak_kva[b] for b in below)
        rating = cables[line["line_type"]].rating_kva(voltage)
        assert s <= rating
        smaller = CABLES.index(cables[line["line_type"]]) - 1
        assert smaller < 0 or CABLES[smaller].rating_kva(voltage) < s
        flow = sum(peak_kw_th[b] for b in below) * flow_per_kw
        diameter, v_max = pipes.loc[pipe_type, ["diameter", "maximum_velocity"]]
        assert flow / (np.pi * diameter ** 2 / 4) <= v_max + 1e-12
        k = [p.name for p in PIPES].index(pipe_type)
        assert k == 0 or flow / PIPES[k - 1].area_m2 > v_max
    # neighbours on a lattice 54 m apart; the longest line no longer than the district's radius
    assert 0.03 < lines["length"].median() < 0.08
    assert lines["length"].min() > 0 and lines["length"].max() < 0.054 * np.sqrt(N)


@slow
def test_buildings_are_copies_of_their_archetypes(generated):
    zones = pd.read_csv(generated.folder / "buildings/zones.csv", dtype=str,
                        keep_default_na=False)
    source = pd.read_csv(DEFAULT_DATA_DIR / "buildings/zones.csv", dtype=str,
                         keep_default_na=False)
    for der, archetype in generated.archetypes.items():
        mine = zones[zones["building_name"] == BUILDING_NAME + der].drop(columns="building_name")
        theirs = source[source["building_name"] == archetype].drop(columns="building_name")
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), theirs.reset_index(drop=True))
    assert len(set(generated.archetypes.values())) > 10  # 50 draws from 22 archetypes


@slow
def test_the_same_seed_writes_the_same_files_another_seed_another_district(generated, tmp_path):
    again = generate_district(tmp_path / "again", N, seed=1)
    other = generate_district(tmp_path / "other", N, seed=2)
    for path in sorted(generated.folder.rglob("*.csv")):
        relative = path.relative_to(generated.folder)
        assert filecmp.cmp(path, again.folder / relative, shallow=False), relative
    assert other.archetypes != generated.archetypes


@slow
def test_the_generated_district_clears_at_the_centralized_optimum(city):
    central = solve_district(city, "unconstrained")
    assert verify_centralized(central).status == "holds"
    market = run_market_clearing(city, "unconstrained", agents="entities", stop="engine",
                                 gap_tol=1e-5)
    gaps = compare_with_centralized(market, central)
    assert market.converged
    assert gaps["objective_gap_rel"] <= 1e-5
    assert verify_market(market, city).status == "holds"


@slow
def test_per_building_agents_clear_the_generated_district(city):
    central = solve_district(city, "unconstrained")
    market = run_market_clearing(city, "unconstrained", agents="per-building")
    assert market.converged and len(market.entity_objectives) == N + 2
    assert compare_with_centralized(market, central)["objective_gap_rel"] <= 1e-4


@pytest.mark.parametrize("n, seed, fragment", [(0, 0, "n_buildings (--buildings)"),
                                               (True, 0, "n_buildings"),
                                               (5, -1, "seed (--seed)")])
def test_bad_counts_and_seeds_are_refused_before_any_file_is_written(tmp_path, n, seed,
                                                                      fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        generate_district(tmp_path / "x", n, seed)
    assert not (tmp_path / "x").exists()


@slow
def test_dro_data_generate_writes_a_folder_the_market_runs(tmp_path, capsys):
    assert main(["data", "generate", "--buildings", "8", "--seed", "4", "--out",
                 str(tmp_path / "city")]) == 0
    assert "8 buildings" in capsys.readouterr().err
    assert main(["data", "generate", "--buildings", "0", "--out", str(tmp_path / "no")]) == 2
    assert not (tmp_path / "no").exists()
    assert main(["market-clearing", "--data", str(tmp_path / "city"), "--scenario",
                 "unconstrained", "--resolution", "60min", "--linearisation", "once", "-q",
                 "--figures", "none",
                 "--out", str(tmp_path / "out")]) == 0
    summary = pd.read_json(tmp_path / "out" / "summary.json", typ="series")
    assert summary["n_der"] == 8 and summary["converged"]
