"""Warm starts across runs: an earlier run's outputs, prices and penalty as the starting point.

References: centralized solves (Clarabel) of the changed problem; a run warm-started from its
own converged state must stop at once at the same point; the state file round-trips exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from test_consensus import _random_qp

import distributed_resource_optimization as dro
from distributed_resource_optimization import cli
from distributed_resource_optimization.admm.warm_start import WarmStart
from distributed_resource_optimization.flex_sharing import (
    centralized_flex_sharing,
    random_flex_sharing_instance,
)
from distributed_resource_optimization.io.warm_start import (
    STATE_COLUMNS,
    read_warm_start,
    state_frame,
)


def _fleet_run(inst, warm=None, gap_tol=1e-4):
    fleet = dro.FlexFleet(inst.capacities_kw, inst.etas, inst.costs)
    coord = dro.create_sharing_target_distance_admm_coordinator(gap_tol=gap_tol)
    start = dro.create_admm_start(dro.create_admm_sharing_data(inst.target_kw, inst.priorities),
                                  warm_start=warm)
    return dro.run_coordinated_optimization([fleet], coord, start)


@pytest.mark.parametrize("seed", [0, 4])
def test_sharing_warm_start_reaches_the_changed_optimum(seed) -> None:
    # Not necessarily sooner on this family (docs/admm.md 6b: 8 seeds at N = 1000, median 910
    # cold against 825 warm, and worse on some); what must hold is the certified optimum.
    inst = random_flex_sharing_instance(300, 3, seed=seed)
    today = dataclasses.replace(inst, target_kw=inst.target_kw * 1.05)  # the target moved
    warm = _fleet_run(today, warm=_fleet_run(inst))
    optimum, _ = centralized_flex_sharing(today)
    assert warm.converged and warm.gap_certified <= 1e-4
    assert (warm.objective - optimum) / max(1.0, abs(optimum)) <= warm.gap_certified + 1e-7
    assert warm.lower_bound <= optimum + 1e-7 * abs(optimum)


def test_warm_start_from_its_own_result_stops_at_once() -> None:
    rng = np.random.default_rng(7)
    owners = {"tso": ("a", "b"), "dso": ("b", "c"), "agg": ("c", "d", "a")}
    models = [_random_qp(rng, len(v), name, variables=v)[0] for name, v in owners.items()]
    coord = dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor())
    first = dro.run_coordinated_optimization(models, coord, dro.create_admm_start())
    again = dro.run_coordinated_optimization(
        list(reversed(models)), coord, dro.create_admm_start(warm_start=first))
    assert first.converged and again.converged
    assert again.iterations <= 2 < first.iterations
    assert again.objective == pytest.approx(first.objective, rel=1e-6)
    for name in first.x:  # matched by actor and variable name, not by position
        np.testing.assert_allclose(again.x[name], first.x[name], atol=1e-5)


def test_state_file_round_trips_exactly(tmp_path) -> None:
    inst = random_flex_sharing_instance(20, 2, seed=1)
    res = _fleet_run(inst)
    frame = state_frame(res)
    assert tuple(frame.columns) == STATE_COLUMNS and len(frame) == 40
    path = tmp_path / "admm_state.csv"
    frame.to_csv(path, index=False)
    back, direct = read_warm_start(path), WarmStart.from_result(res)
    assert back.actors == direct.actors and back.entries == direct.entries
    np.testing.assert_array_equal(back.outputs, direct.outputs)
    np.testing.assert_array_equal(back.prices, direct.prices)
    assert back.rho == direct.rho == res.rho_history[-1]


@pytest.mark.parametrize("edit, fragment", [
    # Rows count data rows from 1, as everywhere in the project's data files (read_table).
    (lambda f: f.drop(columns="price"), "column 'price': required column is missing"),
    (lambda f: f.assign(output=f["output"].astype(object).where(f.index != 1, "lots")),
     "row 2, column 'output': 'lots' is not a number"),
    (lambda f: f.assign(rho=f["rho"].where(f.index != 0, 2.0)),
     "column 'rho': one positive penalty"),
    (lambda f: f.assign(actor=f["actor"].where(f.index != 2, "")),
     "row 3, column 'actor': empty value"),
    (lambda f: pd.concat([f, f.iloc[:1]]), "entry '0' appears twice"),
])
def test_bad_state_files_name_row_and_column(tmp_path, edit, fragment) -> None:
    res = _fleet_run(random_flex_sharing_instance(5, 2, seed=0))
    path = tmp_path / "state.csv"
    edit(state_frame(res)).to_csv(path, index=False)
    with pytest.raises(ValueError, match="state.csv") as err:
        read_warm_start(path)
    assert fragment in str(err.value)


def test_warm_start_of_another_setup_is_refused() -> None:
    res = _fleet_run(random_flex_sharing_instance(5, 2, seed=0))
    other = WarmStart.from_result(res).relabel(lambda e: f"x{e}")
    fleet = dro.FlexFleet(np.ones(5), np.ones((5, 2)), np.zeros((5, 2)))
    start = dro.create_admm_start(dro.create_admm_sharing_data([1.0, 1.0]), warm_start=other)
    with pytest.raises(ValueError, match="none of this run's 10 entries"):
        dro.run_coordinated_optimization([fleet], dro.create_sharing_target_distance_admm_coordinator(),
                                         start)
    with pytest.raises(TypeError, match="warm_start must be an ADMMResult or a WarmStart"):
        dro.create_admm_start(warm_start={"x": 1})


@pytest.mark.slow
def test_flex_cli_writes_state_and_warm_starts_from_it(tmp_path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert cli.main(["flex-sharing", "--actors", "200", "--figures", "none", "--out",
                     str(first)]) == 0
    state = pd.read_csv(first / "admm_state.csv")
    assert tuple(state.columns) == STATE_COLUMNS and len(state) == 600
    assert cli.main(["flex-sharing", "--actors", "200", "--figures", "none", "--out",
                     str(second), "--warm-start", str(first / "admm_state.csv")]) == 0
    a = pd.read_json(first / "summary.json", typ="series")
    b = pd.read_json(second / "summary.json", typ="series")
    assert b["gap_certified"] <= 1e-4 and b["iterations"] < a["iterations"]  # same instance


def test_cli_refuses_a_missing_state_file_before_any_work(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = cli.main(["flex-sharing", "--actors", "10", "--out", str(out), "--warm-start",
                     str(tmp_path / "nope.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "--warm-start" in err and "no such file" in err
    assert not out.exists()


def _next_day(src, dst) -> None:
    """The district of ``src`` on a day with other wholesale prices (+-10 %, fixed pattern) and
    0.5 K warmer: tomorrow's clearing, for yesterday's prices."""
    import shutil

    shutil.copytree(src, dst)
    path = dst / "timeseries" / "price_singapore_wholesale.csv"
    prices = pd.read_csv(path)
    prices["price_value"] *= 1.0 + 0.1 * np.sin(np.arange(len(prices)))
    prices.to_csv(path, index=False)
    path = dst / "timeseries" / "weather_singapore_iwec.csv"
    weather = pd.read_csv(path)
    weather["ambient_air_temperature"] += 0.5
    weather.to_csv(path, index=False)


@pytest.mark.slow
def test_market_warm_start_from_yesterday_in_the_other_agent_mode(tmp_path) -> None:
    from distributed_resource_optimization.energy.centralized import solve_district
    from distributed_resource_optimization.energy.district import load_district
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.market.clearing import (
        compare_with_centralized,
        run_market_clearing,
        shift_to_timesteps,
    )

    _next_day(DEFAULT_DATA_DIR, tmp_path / "tomorrow")
    today = load_district(DEFAULT_DATA_DIR, "60min")
    tomorrow = load_district(tmp_path / "tomorrow", "60min")
    scenario = "thermal-congestion"
    yesterday = WarmStart.from_result(run_market_clearing(today, scenario).admm)
    # Yesterday's file names yesterday's time steps (here: one day earlier).
    yesterday = yesterday.relabel(lambda e: e.replace("2017-01-02", "2017-01-01"))
    warm_start = shift_to_timesteps(yesterday, tomorrow.timesteps, "per-building")
    assert set(warm_start.actors) == {"thermal_grid_operator", "electric_grid_operator",
                                      *(f"building_{d}" for d in tomorrow.der_names)}
    cold = run_market_clearing(tomorrow, scenario, agents="per-building")
    warm = run_market_clearing(tomorrow, scenario, agents="per-building", warm_start=warm_start)
    central = solve_district(tomorrow, scenario)
    for market in (cold, warm):  # the tolerances of tests/market/test_market_clearing.py
        cmp = compare_with_centralized(market, central)
        assert market.converged and cmp["objective_gap_rel"] < 1e-3
        assert cmp["max_price_deviation"] < 2e-3
    # Sooner or not depends on the day (benchmarks/warm_start.py; docs/admm.md 6b).
    assert abs(warm.objective - cold.objective) <= 1e-3 * abs(cold.objective)


def test_market_warm_start_of_another_resolution_is_refused() -> None:
    from distributed_resource_optimization.market.clearing import shift_to_timesteps

    steps = pd.date_range("2017-01-02", periods=24, freq="60min")
    warm = WarmStart(("thermal_grid_operator",) * 48,
                     tuple(f"p_th@{t:%Y-%m-%dT%H:%M}@1" for t in
                           pd.date_range("2017-01-02", periods=48, freq="30min")),
                     np.zeros(48), np.zeros(48), 20.0)
    with pytest.raises(ValueError, match="its 48 time steps .* do not map onto this run's 24"):
        shift_to_timesteps(warm, steps)


@pytest.mark.slow
def test_market_cli_warm_start(tmp_path, capsys) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    # One clearing each (warm starts across successive clearings: test_successive_market.py).
    argv = ["market-clearing", "--resolution", "60min", "--method", "admm",
            "--linearisation", "once", "--figures", "none"]
    assert cli.main([*argv, "--out", str(first)]) == 0
    state = pd.read_csv(first / "admm_state.csv")
    assert tuple(state.columns) == STATE_COLUMNS
    assert set(state["actor"]) == {"thermal_grid_operator", "electric_grid_operator",
                                   "aggregator"}
    assert cli.main([*argv, "--out", str(second), "--warm-start",
                     str(first / "admm_state.csv")]) == 0
    a = pd.read_json(first / "summary.json", typ="series")
    b = pd.read_json(second / "summary.json", typ="series")
    assert b["iterations"] <= 3 < a["iterations"]
    assert cli.main(["market-clearing", "--method", "centralized", "--out", str(tmp_path / "c"),
                     "--warm-start", str(first / "admm_state.csv")]) == 2
    assert "--warm-start need --method admm or both" in capsys.readouterr().err
