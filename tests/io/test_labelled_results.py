"""Results as labelled data: every result's frames and dataset carry the same numbers as its
arrays, with units; reprs are short; what a command or :func:`save_results` writes reads back
(:func:`read_results`) to the same numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from distributed_resource_optimization import cli
from distributed_resource_optimization.admm.results import ADMMStatus
from distributed_resource_optimization.energy.centralized import SolverStatus, solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.flex_sharing import (
    flex_sharing_coordinator,
    run_flex_sharing,
)
from distributed_resource_optimization.io.results import read_results, save_results
from distributed_resource_optimization.market.clearing import run_market_clearing

UNITS = {"thermal_power": "kW", "active_power": "kW", "reactive_power": "kvar"}
PRICE_UNITS = {"thermal_power": "S$/kWh", "active_power": "S$/kWh",
               "reactive_power": "S$/kvarh"}
SCENARIO = "thermal-congestion"


@pytest.fixture(scope="module")
def runs():
    """The 60-min district's centralized solve and its market clearing per building."""
    district = load_district(resolution="60min")
    central = solve_district(district, SCENARIO)
    market = run_market_clearing(district, SCENARIO, agents="per-building", max_iters=500)
    return district, central, market


def _short(text: str) -> None:
    assert len(text.splitlines()) <= 20 and len(text) < 1200, text


@pytest.mark.slow
def test_centralized_frames_and_dataset(runs):
    district, central, _ = runs
    assert central.status is SolverStatus.OPTIMAL and central.status == 0
    steps = pd.DatetimeIndex(district.timesteps)
    for frame, arrays, units in ((central.dispatch_frame, central.dispatch, UNITS),
                                 (central.prices_frame, central.prices, PRICE_UNITS)):
        assert frame.attrs["units"] == units
        assert (frame.index == steps).all() and frame.index.name == "timestep"
        for quantity, array in arrays.items():
            assert list(frame[quantity].columns) == district.der_names
            np.testing.assert_array_equal(frame[quantity].to_numpy(), array + 0.0)
    ds = central.to_xarray()
    assert ds.attrs["status"] == "optimal" and ds.attrs["objective_sgd"] == central.objective
    for quantity in UNITS:
        np.testing.assert_array_equal(ds[quantity].values, central.dispatch[quantity] + 0.0)
        np.testing.assert_array_equal(ds[f"price_{quantity}"].values, central.prices[quantity])
        assert ds[quantity].attrs["units"] == UNITS[quantity]
        assert ds[f"price_{quantity}"].attrs["units"] == PRICE_UNITS[quantity]
        # The components sum to the nodal price (the decomposition's own identity).
        parts = ds[f"price_components_{quantity}"]
        assert list(parts["component"].values) == ["energy", "loss", "congestion", "voltage"]
        np.testing.assert_allclose(parts.sum("component").values, central.prices[quantity],
                                   atol=1e-12)
    _short(repr(central))
    assert "thermal-congestion" in repr(central) and "OPTIMAL" in repr(central)


@pytest.mark.slow
def test_market_frames_and_dataset(runs):
    district, _, market = runs
    assert market.status is ADMMStatus.CONVERGED
    frame = market.dispatch_frame
    assert frame.columns.names == ["entity", "quantity", "der"]
    for entity, quantities in market.dispatch.items():
        for quantity, array in quantities.items():
            np.testing.assert_array_equal(frame[entity][quantity].to_numpy(), array + 0.0)
    np.testing.assert_array_equal(market.prices_frame["building_22"]["thermal_power"]["22"],
                                  market.prices["building_22"]["thermal_power"][:, 0])
    ds = market.to_xarray()
    k = district.der_index("22")
    np.testing.assert_array_equal(ds["thermal_power"].sel(entity="aggregator").values,
                                  market.dispatch["aggregator"]["thermal_power"] + 0.0)
    np.testing.assert_array_equal(ds["thermal_power"].sel(entity="building_22", der="22"),
                                  market.dispatch["building_22"]["thermal_power"][:, 0] + 0.0)
    # A building holds its own DER only, the thermal grid operator no electric quantity.
    assert np.isnan(ds["thermal_power"].sel(entity="building_22").values[:, k - 1]).all()
    assert np.isnan(ds["active_power"].sel(entity="thermal_grid_operator").values).all()
    assert ds["price_active_power"].attrs["units"] == "S$/kWh"
    history = market.residuals_frame
    assert len(history) == market.iterations
    np.testing.assert_array_equal(history["primal_thermal"], market.residuals["thermal"])
    np.testing.assert_array_equal(ds["residual_dual_active"], market.dual_residuals["active"])
    assert history.attrs["units"]["primal_reactive"] == "kvar"
    assert ds.attrs["status"] == "converged" and ds.attrs["iterations"] == market.iterations
    # The study's rule: every quantity's residual below eps (0.1 kW) ended it.
    assert market.admm.stopped_by.startswith("GroupResidualRule(eps=0.1")
    assert "stopped by GroupResidualRule" in repr(market)
    _short(repr(market))
    _short(repr(market.admm))


@pytest.mark.slow
def test_saved_market_reads_back(runs, tmp_path):
    _, central, market = runs
    with pytest.raises(ValueError, match="centralized"):
        save_results(market, tmp_path / "no-central")
    out = save_results(market, tmp_path / "market", centralized=central)
    saved = read_results(out)
    assert saved.kind == "market-clearing" and saved.status is ADMMStatus.CONVERGED
    assert saved.summary["iterations"] == market.iterations
    # The same comparison keys as dro market-clearing writes.
    assert saved.summary["max_price_deviation_from_range"] <= saved.summary[
        "max_price_deviation"] + 1e-15
    for entity in ("centralized", "aggregator", "building_22", "thermal_grid_operator"):
        live = central.dispatch_frame if entity == "centralized" else \
            market.dispatch_frame[entity]
        pd.testing.assert_frame_equal(saved.dispatch_frame[entity], live, check_freq=False,
                                      rtol=1e-12)
    pd.testing.assert_frame_equal(saved.prices_frame["centralized"], central.prices_frame,
                                  check_freq=False, rtol=1e-12)
    ds = saved.to_xarray()
    np.testing.assert_allclose(ds["price_thermal_power"].sel(entity="aggregator").values,
                               market.prices["aggregator"]["thermal_power"], rtol=1e-12)
    assert ds.attrs["scenario"] == SCENARIO
    residuals = saved.residuals_frame.loc[(1, "thermal")]
    np.testing.assert_allclose(residuals["primal"], market.residuals["thermal"], rtol=1e-12)
    _short(repr(saved))
    # The folder is this function's own output now: saving again replaces it; a folder of
    # someone else's files is refused before any work.
    save_results(market, out, centralized=central, figures=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="--overwrite"):
        save_results(central, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_flex_sharing_dataset_and_round_trip(tmp_path):
    result = run_flex_sharing(12, seed=3)
    ds = result.to_xarray()
    np.testing.assert_array_equal(ds["output"].values, result.outputs())
    np.testing.assert_array_equal(ds["utilisation"].values, result.utilisation())
    np.testing.assert_array_equal(ds["primal"].values, result.admm.primal_residuals)
    assert ds["output"].attrs["units"] == "kW" and ds.attrs["status"] == result.status.value
    flat = result.admm.to_xarray()
    np.testing.assert_array_equal(flat["x"].values, np.ravel(result.outputs()))
    assert list(flat["actor"].values[:3]) == ["actor_0"] * 3
    history = result.admm.history_frame
    np.testing.assert_array_equal(history["rho"], result.admm.rho_history)
    _short(repr(result))
    saved = read_results(save_results(result, tmp_path / "flex"))
    assert saved.kind == "flex-sharing" and saved.status is result.status
    np.testing.assert_allclose(saved.to_xarray()["output"].values, result.outputs(),
                               rtol=1e-12)


def test_flex_sharing_command_output_reads_back(tmp_path):
    out = tmp_path / "cmd"
    assert cli.main(["flex-sharing", "--actors", "8", "--out", str(out)]) == 0
    saved = read_results(out)
    summary = json.loads((out / "summary.json").read_text())
    assert saved.status.value == summary["status"] and saved.summary == summary
    assert saved.to_xarray()["output"].shape == (8, summary["sectors"])
    assert saved.residuals_frame.index.name == "iteration"
    gap_axis = saved.plot.convergence(gap_tol=1e-4).axes[0]
    history = pd.read_csv(out / "residuals.csv")
    np.testing.assert_allclose(gap_axis.get_lines()[0].get_ydata(),
                               history["gap_certified"].dropna().to_numpy(), rtol=1e-12)


def test_read_results_names_a_folder_without_results(tmp_path):
    with pytest.raises(ValueError, match="summary.json"):
        read_results(tmp_path)


@pytest.mark.slow
def test_figures_from_the_api_show_the_numbers(runs):
    """Every figure of the plot accessors draws the result's own numbers."""
    district, central, market = runs
    fig = market.plot.dispatch("22", reference=central)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["centralized optimum", "thermal grid operator (ADMM)", "aggregator (ADMM)"]
    lines = ax.get_lines()
    k = district.der_index("22")
    np.testing.assert_allclose(lines[2].get_ydata()[:-1],
                               market.dispatch["aggregator"]["thermal_power"][:, k])
    # Lines differ in dash as well as colour.
    assert len({str(line.get_linestyle()) for line in lines}) == 3
    spread = np.abs(market.dispatch["aggregator"]["thermal_power"][:, k]
                    - central.dispatch["thermal_power"][:, k]).max()
    if spread > 1.0:  # the dispatch is not unique: the figure says so, with the objective gap
        assert "not unique" in ax.get_title(loc="left")
    heat = central.plot.price_heatmap("thermal_power").axes[0]
    mesh = heat.collections[0]
    drawn = np.asarray(mesh.get_array()).reshape(district.n_der, district.n_timesteps)
    order = sorted(range(district.n_der), key=lambda i: int(district.der_names[i]))
    np.testing.assert_allclose(drawn, central.prices["thermal_power"][:, order].T)
    grid = central.plot.grid_map("14:00").axes[0]
    eg = district.electric_grid
    colours = np.asarray(grid.collections[0].get_array())
    step = list(pd.DatetimeIndex(district.timesteps).strftime("%H:%M")).index("14:00")
    node_price = {int(n): central.prices["thermal_power"][step, k]
                  for k, n in enumerate(eg.der_node_index)}
    np.testing.assert_allclose(colours, [node_price[n] for n in sorted(node_price)])
    legend = [t.get_text() for t in grid.get_legend().get_texts()]
    assert "pipe 4: limited in thermal-congestion" in legend
    with pytest.raises(ValueError, match="district"):
        market.plot.grid_map()
    market.plot.grid_map(district=district)
    conv = market.plot.convergence()
    top = conv.axes[0]
    np.testing.assert_allclose(top.get_lines()[0].get_ydata(),
                               np.maximum(market.residuals["thermal"], 1e-16))
    assert any("0.1" in t.get_text() for t in top.get_legend().get_texts())


def test_flex_convergence_figure_shows_the_rule_it_stopped_on():
    result = run_flex_sharing(40, seed=2)
    assert result.admm.gap_certified is not None and result.admm.gap_certified <= 1e-4
    fig = result.plot.convergence(gap_tol=1e-4)
    gap_ax, residual_ax = fig.axes[:2]
    gap = result.admm.history_frame["gap"].dropna()
    np.testing.assert_allclose(gap_ax.get_lines()[0].get_ydata(), gap.to_numpy())
    legend = [t.get_text() for t in gap_ax.get_legend().get_texts()]
    assert any("stopped here" in text for text in legend)
    last = result.admm.history_frame.iloc[-1]
    if not (last["primal"] <= last["eps_primal"] and last["dual"] <= last["eps_dual"]):
        assert any("not the stopping rule" in t.get_text()
                   for t in residual_ax.get_legend().get_texts())


@pytest.mark.slow
def test_limit_figures_from_the_api(runs):
    """plot.limits draws the scenario's limited element in the nonlinear model against its
    limit: the pipe's flow at each step, the limit, and the steps at it marked."""
    from distributed_resource_optimization.energy.verification import verify_centralized

    district, central, _ = runs
    verification = verify_centralized(central)
    figures = central.plot.limits(verification)
    assert list(figures) == ["limit_pipe_flow_4"]
    ax = figures["limit_pipe_flow_4"].axes[0]
    flow = verification.grid_values["pipe_flow"]["4"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata()[:-1], flow.to_numpy())
    limit = float(verification.grid_limits["pipe_flow"]["4"])
    assert limit == pytest.approx(0.7697, abs=1e-4)
    at_limit = int((flow >= limit * (1 - 1e-3)).sum())
    assert at_limit > 0
    assert any(f"at the limit ({at_limit} steps)" in t.get_text()
               for t in ax.get_legend().get_texts())


def test_every_run_says_which_rule_stopped_it(tmp_path):
    """The rule that ended the run, in the result and in summary.json."""
    flex = run_flex_sharing(10, seed=4)  # the default polishes (docs/admm.md 8c)
    assert flex.admm.stopped_by.startswith("polish at iteration 21 (certified gap")
    assert flex.admm.gap_certified <= 1e-4
    plain = run_flex_sharing(10, seed=4, coordinator=flex_sharing_coordinator(polish=False))
    assert plain.admm.stopped_by.startswith("CertifiedGapRule(gap_tol=0.0001")
    assert plain.admm.gap_certified <= 1e-4
    capped = run_flex_sharing(10, seed=4, coordinator=flex_sharing_coordinator(max_iters=3))
    assert capped.admm.stopped_by == "max_iters (3)"
    out = tmp_path / "f"
    assert cli.main(["flex-sharing", "--actors", "6", "--out", str(out), "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped_by"].startswith("CertifiedGapRule")
