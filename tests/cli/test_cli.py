"""The ``dro`` command line: files, columns, summary and one-line errors."""

from __future__ import annotations

import importlib
import json
import shlex
import time

import numpy as np
import pandas as pd
import pytest

from distributed_resource_optimization.cli import main
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.successive import solve_successively
from distributed_resource_optimization.io.results import read_results
from distributed_resource_optimization.io.tables import COLUMNS

#: The module (the package's ``main`` attribute is the function).
cli_main = importlib.import_module("distributed_resource_optimization.cli.main")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mc")
    start = time.perf_counter()
    code = main(["market-clearing", "--scenario", "thermal-congestion", "--method", "centralized",
                 "--out", str(out)])
    return code, out, time.perf_counter() - start


@pytest.mark.slow
def test_market_clearing_writes_files(run):
    code, out, elapsed = run
    assert code == 0
    for name in ("summary.json", "dispatch.csv", "prices.csv", "price_components.csv",
                 "thermal_dispatch_fl22.png", "thermal_price_fl22.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "thermal_price_fl22.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "thermal-congestion"
    assert summary["method"] == "centralized"
    # the solve's own time: positive, and part of the command's (no bound of the machine's)
    assert isinstance(summary["wall_time_s"], float) and 0 < summary["wall_time_s"] < elapsed
    assert summary["n_timesteps"] == 48
    assert [b["element"] for b in summary["binding_constraints"]] == ["4"]
    # The objective equals a library solve of the same scenario, linearised successively (the
    # default).
    reference = solve_successively(load_district(), "thermal-congestion").result
    assert summary["centralized_objective"] == pytest.approx(reference.objective, rel=1e-9)
    # The folder reads back as labelled data with the same prices.
    saved = read_results(out)
    assert saved.kind == "centralized" and saved.status == 0
    np.testing.assert_allclose(saved.prices_frame["centralized"].to_numpy(),
                               reference.prices_frame.to_numpy(), rtol=1e-6, atol=1e-9)
    assert (out / "report.html").read_text().count("data:image/png") == len(list(out.glob("*.png")))
    assert summary["verification"]["status"] == "holds"
    # The zone band, 0.008 K below 23 degC at 09:02 (17 % of its 0.05 K tolerance), is nearer
    # its tolerance than the congested pipe (at its limit to 1e-16).
    assert summary["verification"]["centralized"]["worst"] == "comfort"
    (limit,) = summary["scenario_limits"]  # the congested pipe, against its maximum velocity
    assert limit["element"] == "4" and limit["rating"]["unit"] == "m/s"
    table = pd.read_csv(out / "verification.csv")
    assert list(table.columns[:2]) == ["timestep", "dispatch"] and len(table) == 48


def test_a_dispatch_beyond_a_nonlinear_limit_exits_4(tmp_path, capsys):
    """thermal-head with the study's single linearisation: the linear head model lets the
    dispatch go 13 % beyond the head limit at node 15; the run writes its results, says so in
    one line and exits with 4."""
    code = main(["market-clearing", "--scenario", "thermal-head", "--method", "centralized",
                 "--resolution", "60min", "--linearisation", "once", "--figures", "none",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 4, err
    lines = [line for line in err.splitlines() if "verification" in line]
    assert len(lines) == 1
    assert "violated; worst: centralized dispatch, node_head 15 at 2017-01-02 14:00" in lines[0]
    head = json.loads((tmp_path / "summary.json").read_text())["verification"]["centralized"]
    assert head["status"] == "violated"
    check = head["limits"]["node_head"]
    assert check["holds"] is False and 0.12 < check["violation_rel"] < 0.14
    assert check["unit"] == "m" and check["element"] == "15"


def test_tables_are_long_format(run):
    _, out, _ = run
    for name in ("dispatch.csv", "prices.csv"):
        frame = pd.read_csv(out / name, dtype={"der": str})
        assert tuple(frame.columns) == COLUMNS
        assert len(frame) == 48 * 22 * 3
        assert set(frame["entity"]) == {"centralized"}
        assert set(frame["quantity"]) == {"thermal_power", "active_power", "reactive_power"}
        assert set(frame["der"]) == {str(k) for k in range(1, 23)}
        times = pd.to_datetime(frame["timestep"].unique())
        assert times[0] == pd.Timestamp("2017-01-02T00:00") and len(times) == 48
        assert frame["value"].notna().all()
    dispatch = pd.read_csv(out / "dispatch.csv", dtype={"der": str})
    fl22 = dispatch[(dispatch["der"] == "22") & (dispatch["quantity"] == "thermal_power")]
    assert fl22["value"].min() >= 0 and fl22["value"].max() > 1000  # kW, cooling by day
    # Reactive demand is half the active demand for every building (data q/p = 0.5).
    active = dispatch[dispatch["quantity"] == "active_power"]["value"].to_numpy()
    reactive = dispatch[dispatch["quantity"] == "reactive_power"]["value"].to_numpy()
    np.testing.assert_allclose(reactive, 0.5 * active, rtol=1e-6, atol=1e-6)
    # Components add up to the price in the files as well.
    prices = pd.read_csv(out / "prices.csv", dtype={"der": str})
    comps = pd.read_csv(out / "price_components.csv", dtype={"der": str})
    summed = comps.groupby(["timestep", "der", "quantity"], sort=False)["value"].sum()
    merged = prices.set_index(["timestep", "der", "quantity"])["value"]
    np.testing.assert_allclose(summed.loc[merged.index].to_numpy(), merged.to_numpy(), atol=1e-9)


@pytest.mark.slow
def test_hourly_resolution(tmp_path):
    assert main(["market-clearing", "--scenario", "unconstrained", "--resolution", "60min",
                 "--linearisation", "once", "--figures", "none", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_timesteps"] == 24 and summary["binding_constraints"] == []


@pytest.mark.parametrize("argv, fragment", [
    (["market-clearing", "--scenario", "nope"], "unknown scenario 'nope'; valid: unconstrained"),
    (["market-clearing", "--method", "gradient"], "invalid choice: 'gradient'"),
    (["market-clearing", "--resolution", "15min"], "invalid choice: '15min'"),
    (["market-clearing", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "required"),
    (["market-clearing", "--agents-per-process", "0"], "--agents-per-process must be at least 1"),
    (["market-clearing", "--agents-per-process", "4"], "needs --runtime tcp or mqtt"),
    (["agent", "--entity", "building_1", "--entity", "building_2", "--data", "x"],
     "2 --entity options need as many --data folders"),
    (["agent", "--entity", "building_1", "--entity", "building_1", "--data", "x", "--data", "y"],
     "--entity names an agent twice"),
    (["agent", "--entity", "aggregator", "--flex-share", "0/2", "--actors", "4"],
     "--flex-share and --entity exclude each other"),
])
def test_bad_input_one_line_error(argv, fragment, capsys, tmp_path):
    code = main([*argv, "--out", str(tmp_path)] if argv[:1] == ["market-clearing"] else argv)
    err = capsys.readouterr().err
    assert code != 0
    lines = [line for line in err.splitlines() if line.startswith("dro: error:")]
    assert len(lines) == 1 and fragment in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "summary.json").exists()


def test_missing_data_folder(capsys, tmp_path):
    code = main(["market-clearing", "--data", str(tmp_path / "missing"), "--out",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("dro: error:") and "not found" in err
    assert "Traceback" not in err


def test_help_exits_zero(capsys):
    assert main(["market-clearing", "--help"]) == 0
    assert "--scenario" in capsys.readouterr().out


def test_version(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("dro ") and len(out.split()) == 2


def _examples() -> list[list[str]]:
    """Every example command line of every command's help (continuation lines joined)."""
    texts = [cli_main.EXAMPLES] + [m.EXAMPLES for m in cli_main.COMMANDS.values()]
    lines = []
    for text in texts:
        joined = text.replace("\\\n", " ")
        lines += [shlex.split(line.strip()) for line in joined.splitlines()
                  if line.strip().startswith("dro ") and "<command>" not in line]
    return lines


def test_help_examples_parse():
    """The examples in the help are command lines the parser accepts."""
    examples = _examples()
    assert len(examples) >= 10
    for argv in examples:
        args = cli_main._parser().parse_args(argv[1:])
        assert args.command == argv[1]


def test_quiet_and_verbose(tmp_path, capsys):
    argv = ["flex-sharing", "--actors", "8", "--max-iters", "120", "--gap-tol", "1e-12",
            "--figures", "none"]  # what is printed is checked, not the figures
    main(argv + ["-q", "--out", str(tmp_path / "q")])
    assert capsys.readouterr().err == ""
    main(argv + ["--out", str(tmp_path / "n")])
    normal = capsys.readouterr().err.splitlines()
    main(argv + ["-v", "--out", str(tmp_path / "v")])
    verbose = capsys.readouterr().err.splitlines()
    assert not any("iteration 50:" in line for line in normal)
    assert any("iteration 50:" in line for line in verbose)
    assert len(verbose) > len(normal) > 0
    # Errors are printed whatever the level.
    assert main(["flex-sharing", "--actors", "0", "-q"]) == 2
    assert "dro: error:" in capsys.readouterr().err


def test_data_export_is_the_embedded_district(tmp_path, capsys):
    """dro data export writes a folder that loads to the same district, with its credit."""
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR

    out = tmp_path / "mine"
    assert main(["data", "export", "--out", str(out)]) == 0
    assert "--data" in capsys.readouterr().err
    assert (out / "LICENSE").read_text().count("TUMCREATE") == 2
    embedded = sorted(p.relative_to(DEFAULT_DATA_DIR) for p in DEFAULT_DATA_DIR.rglob("*.csv"))
    assert sorted(p.relative_to(out) for p in out.rglob("*.csv")) == embedded
    for relative in embedded:
        assert (out / relative).read_bytes() == (DEFAULT_DATA_DIR / relative).read_bytes()
    mine, theirs = load_district(out, "60min"), load_district(resolution="60min")
    np.testing.assert_array_equal(mine.price, theirs.price)
    assert mine.der_names == theirs.der_names
    # Its own earlier output is replaced; someone else's folder is refused.
    assert main(["data", "export", "--out", str(out), "-q"]) == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    assert main(["data", "export", "--out", str(other)]) == 2
    assert (other / "notes.txt").read_text() == "keep"


def test_on_a_terminal_the_iteration_line_is_redrawn_in_place(tmp_path, capsys, monkeypatch):
    from distributed_resource_optimization.cli import common

    monkeypatch.setattr(common, "on_terminal", lambda: True)
    argv = ["flex-sharing", "--actors", "8", "--max-iters", "1200", "--gap-tol", "1e-12"]
    main(argv + ["--out", str(tmp_path / "t")])
    err = capsys.readouterr().err
    lines = err.split("\n")
    # One redrawn line (carriage return, erase), cleared before the result line; no plain
    # iteration lines.
    assert "\r\x1b[Kdro: iteration 1:" in err
    assert not any(line.startswith("dro: iteration") for line in lines)
    assert err.rstrip("\n").split("\r\x1b[K")[-1].startswith("dro: done:")


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_agent_processes_report_their_start(tmp_path, capsys):
    """The silence while agent processes start is filled: a line when they start and when all
    are ready (each one with -v)."""
    argv = ["flex-sharing", "--actors", "20", "--processes", "2", "--runtime", "tcp",
            "--out", str(tmp_path / "a")]
    assert main(argv + ["-v"]) == 0
    err = capsys.readouterr().err
    assert "dro: starting 2 agent processes..." in err
    assert "dro: 2 agent processes ready (" in err
    assert sum("agent fleet_" in line and "ready at" in line for line in err.splitlines()) == 2


def test_flex_sharing_polish_writes_its_rounds_and_refuses_the_interior_point(tmp_path, capsys):
    out = tmp_path / "polish"
    # The polish is the default; --polish says so explicitly.
    assert main(["flex-sharing", "--actors", "300", "--seed", "1", "--figures", "none",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped_by"].startswith("polish at iteration")
    assert summary["polish_rounds"] == summary["iterations"] // 10 >= 1
    # Up to the centralized reference's own accuracy (Clarabel, 1e-8).
    assert abs(summary["objective_gap_rel"]) <= summary["gap_certified"] + 1e-8 <= 1e-4 + 1e-8
    history = pd.read_csv(out / "residuals.csv")
    assert history["gap_certified"].iloc[-1] == pytest.approx(summary["gap_certified"], abs=1e-12)
    plain = tmp_path / "plain"
    assert main(["flex-sharing", "--actors", "300", "--seed", "1", "--no-polish", "--figures",
                 "none", "--out", str(plain)]) == 0
    alone = json.loads((plain / "summary.json").read_text())
    assert alone["polish_rounds"] == 0 and not alone["stopped_by"].startswith("polish")
    assert alone["iterations"] > summary["iterations"] + summary["polish_rounds"]
    capsys.readouterr()
    for flag in ("--polish", "--no-polish"):
        assert main(["flex-sharing", "--actors", "30", flag, "--method", "interior-point",
                     "--out", str(tmp_path / "ip")]) == 2
        assert "--polish/--no-polish belong to --method admm" in capsys.readouterr().err
    assert not (tmp_path / "ip").exists()
