"""``dro market-clearing --method admm|both``: files, summary keys, convergence, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from distributed_resource_optimization import cli
from distributed_resource_optimization.io.results import read_results
from distributed_resource_optimization.io.tables import COLUMNS, RESIDUAL_COLUMNS

_BOTH: list = []


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One run for the module's tests, kept for the session: the tests sorted by duration
    (tests/conftest.py) may run apart, and a module fixture would run it again."""
    if not _BOTH:
        out = tmp_path_factory.mktemp("both")
        code = cli.main(["market-clearing", "--scenario", "thermal-congestion", "--resolution",
                         "60min", "--out", str(out)])
        _BOTH.append((code, out))
    return _BOTH[0]


def test_both_is_default_and_converges(both):
    code, out = both
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "both"
    for key in ("admm_objective", "objective_gap_rel", "iterations", "converged",
                "primal_residual_final", "max_price_deviation", "max_dispatch_deviation"):
        assert key in summary, key
    assert summary["converged"] is True and summary["status"] == "converged"
    # The default stop is certified: prices support the dispatch, the gap is certified.
    assert summary["price_support"] <= 1e-4 and summary["gap_certified"] <= 1e-4
    assert summary["objective_gap_rel"] <= summary["gap_certified"] + 1e-9
    # Default eps 0.1 (kW / kvar, summed over steps and DERs) on every quantity.
    assert set(summary["primal_residual_final"]) == {"thermal", "active", "reactive"}
    assert max(summary["primal_residual_final"].values()) < 0.1
    assert set(summary["dual_residual_final"]) == {"thermal", "active", "reactive"}
    assert max(summary["dual_residual_final"].values()) < 0.1
    assert summary["objective_gap_rel"] < 1e-3
    assert summary["max_price_deviation"] < 1e-3  # S$/kWh; DLMPs here are 0.007-0.09
    assert summary["admm_objective"] == pytest.approx(summary["centralized_objective"], rel=1e-3)
    assert set(summary["wall_time_s"]) == {"centralized", "admm"}
    # Both dispatches held against the nonlinear grids: flows are exact on the tree, so the
    # congested pipe's limit holds in both (the market's within the 0.1 % tolerance).
    verification = summary["verification"]
    assert verification["status"] == "holds"
    for name in ("centralized", "market"):
        pipe = verification[name]["limits"]["pipe_flow"]
        assert pipe["element"] == "4" and pipe["holds"] is True
        assert pipe["violation_rel"] <= 1e-3
        assert set(verification[name]["limits"]) == {"voltage_min", "voltage_max",
                                                     "branch_power", "pipe_flow", "node_head",
                                                     "comfort"}
        comfort = verification[name]["limits"]["comfort"]
        assert comfort["holds"] is True and comfort["violation"] <= 0.05
    table = pd.read_csv(out / "verification.csv")
    assert set(table["dispatch"]) == {"centralized", "market"}
    assert len(table) == 2 * summary["n_timesteps"]


def test_both_writes_files(both, capsys):
    code, out = both
    summary = json.loads((out / "summary.json").read_text())
    residuals = pd.read_csv(out / "residuals.csv")
    assert tuple(residuals.columns) == RESIDUAL_COLUMNS
    # The default re-linearises (the numbers: tests/market/test_successive_market.py): the
    # rounds of both methods in summary.json, every clearing's residuals numbered by round.
    rounds = summary["linearisation_rounds"]
    assert summary["linearisation"] == "iterate" and len(rounds) >= 2
    assert summary["linearisation_converged"] is True
    assert rounds[-1]["iterations"] == summary["iterations"]
    assert summary["centralized_linearisation_rounds"][-1]["status"] == "holds"
    assert sorted(set(residuals["round"])) == list(range(1, len(rounds) + 1))
    for r in rounds:
        assert len(residuals[residuals["round"] == r["round"]]) == 3 * r["iterations"]
    assert set(residuals["quantity"]) == {"thermal", "active", "reactive"}
    prices = pd.read_csv(out / "prices.csv", dtype={"der": str})
    assert tuple(prices.columns) == COLUMNS
    assert set(prices["entity"]) == {"centralized", "thermal_grid_operator",
                                     "electric_grid_operator", "aggregator"}
    figures = ("thermal_dispatch_fl22.png", "thermal_price_fl22.png", "primal_residuals.png",
               "price_map_thermal_power.png", "price_map_active_power.png",
               "limit_pipe_flow_4.png", "grid_map.png")
    for name in figures:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # One self-contained page with every figure of the run embedded.
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == len(list(out.glob("*.png"))) == len(figures)
    assert "thermal-congestion" in report and "holds" in report


def test_both_reads_back_as_labelled_data(both):
    """read_results gives the same numbers as the long tables the command wrote."""
    _, out = both
    saved = read_results(out)
    summary = json.loads((out / "summary.json").read_text())
    assert saved.kind == "market-clearing" and saved.status.value == summary["status"]
    prices = pd.read_csv(out / "prices.csv", dtype={"der": str})
    row = prices[(prices["entity"] == "aggregator") & (prices["der"] == "22")
                 & (prices["quantity"] == "thermal_power")]
    frame = saved.prices_frame["aggregator"]["thermal_power"]["22"]
    assert list(frame.index) == list(pd.to_datetime(row["timestep"]))
    assert frame.to_numpy().tolist() == row["value"].tolist()
    # The figures draw again from the saved tables, the market against the centralized rows.
    ax = saved.plot.prices("22").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "centralized optimum", "thermal grid operator (ADMM)", "aggregator (ADMM)"]
    assert ax.get_lines()[2].get_ydata()[:-1].tolist() == row["value"].tolist()
    heat = saved.plot.price_heatmap("active_power").axes[0]
    assert "aggregator" in heat.get_title() or "grid operator" in heat.get_title()
    ds = saved.to_xarray()
    assert ds["price_thermal_power"].attrs["units"] == "S$/kWh"
    assert ds.attrs["admm_objective"] == summary["admm_objective"]
    assert set(ds["entity"].values) == set(prices["entity"])


@pytest.mark.slow
def test_without_figures_the_same_results_and_no_figure(both, tmp_path):
    _, with_figures = both
    out = tmp_path / "plain"
    assert cli.main(["market-clearing", "--scenario", "thermal-congestion", "--resolution",
                     "60min", "--figures", "none", "--out", str(out)]) == 0
    assert not list(out.glob("*.png")) and "data:image" not in (out / "report.html").read_text()
    tables = sorted(f.name for f in with_figures.glob("*.csv"))
    assert sorted(f.name for f in out.glob("*.csv")) == tables and len(tables) >= 5
    for name in tables:  # the same run: the same numbers, to the last digit
        pd.testing.assert_frame_equal(pd.read_csv(out / name), pd.read_csv(with_figures / name))
    a, b = (json.loads((d / "summary.json").read_text()) for d in (out, with_figures))
    for summary in (a, b):  # what the machine's timing decides (resends add messages)
        for key in ("wall_time_s", "solver_time_s", "resent_requests", "messages", "bytes_sent"):
            summary.pop(key, None)
    assert a == b


def test_admm_only_and_iteration_limit(tmp_path, capsys):
    code = cli.main(["market-clearing", "--scenario", "thermal-congestion", "--resolution",
                     "60min", "--method", "admm", "--max-iters", "4", "--rho", "10",
                     "--eps", "0.1", "--agents", "per-building", "--figures", "none",
                     "--out", str(tmp_path)])
    assert code == 1  # finished at the iteration limit
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["method"] == "admm"
    assert summary["iterations"] == 4 and summary["converged"] is False
    assert summary["status"] == "max_iterations"
    dispatch = pd.read_csv(tmp_path / "dispatch.csv", dtype={"der": str})
    assert "centralized" not in set(dispatch["entity"])
    assert len(pd.read_csv(tmp_path / "residuals.csv")) == 3 * 4
    captured = capsys.readouterr()
    assert "iteration" not in captured.out  # progress goes to stderr only
    assert "ADMM market clearing (per-building)" in captured.err
    # The run says why it ended and what would get it further.
    assert "not converged: stopped by max_iters (4)" in captured.err
    assert "--clearing interior-point" in captured.err


@pytest.mark.parametrize("argv, fragment", [
    (["--rho", "-1"], "--rho must be positive"),
    (["--eps", "0"], "--eps must be positive"),
    (["--max-iters", "0"], "--max-iters must be at least 1"),
    (["--agents", "everyone"], "invalid choice: 'everyone'"),
    (["--stop", "never"], "invalid choice: 'never'"),
    (["--price-tol", "0"], "--price-tol must be positive and finite"),
    (["--price-tol", "nan"], "--price-tol must be positive and finite"),
    (["--stop", "study", "--price-tol", "1e-3"], "--price-tol belongs to --stop certified"),
])
def test_bad_admm_options_one_line_error(argv, fragment, tmp_path, capsys):
    assert cli.main(["market-clearing", "--method", "admm", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not (tmp_path / "summary.json").exists()
