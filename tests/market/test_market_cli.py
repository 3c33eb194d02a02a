"""``dro market-clearing --method admm|both`` (enabled via ``cli.ADMM_METHODS_ENABLED``)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from distributed_resource_optimization import cli
from distributed_resource_optimization.results import COLUMNS, RESIDUAL_COLUMNS


@pytest.fixture()
def admm_cli(monkeypatch):
    monkeypatch.setattr(cli, "ADMM_METHODS_ENABLED", True)


def test_both_writes_admm_files(admm_cli, tmp_path, capsys):
    code = cli.main(["market-clearing", "--scenario", "thermal-congestion", "--resolution",
                     "60min", "--max-iters", "4", "--rho", "10", "--eps", "0.1",
                     "--out", str(tmp_path)])
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["method"] == "both"  # the default once enabled
    for key in ("admm_objective", "objective_gap_rel", "iterations", "converged",
                "primal_residual_final", "max_price_deviation", "max_dispatch_deviation"):
        assert key in summary, key
    assert summary["iterations"] == 4 and summary["converged"] is False
    assert set(summary["primal_residual_final"]) == {"thermal", "active", "reactive"}
    assert set(summary["wall_time_s"]) == {"centralized", "admm"}
    residuals = pd.read_csv(tmp_path / "residuals.csv")
    assert tuple(residuals.columns) == RESIDUAL_COLUMNS and len(residuals) == 3 * 4
    prices = pd.read_csv(tmp_path / "prices.csv", dtype={"der": str})
    assert tuple(prices.columns) == COLUMNS
    assert set(prices["entity"]) == {"centralized", "thermal_grid_operator",
                                     "electric_grid_operator", "aggregator"}
    for name in ("thermal_dispatch_fl22.png", "thermal_price_fl22.png", "primal_residuals.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "iteration" not in capsys.readouterr().out  # progress goes to stderr only


def test_bad_admm_options_one_line_error(admm_cli, tmp_path, capsys):
    assert cli.main(["market-clearing", "--method", "admm", "--rho", "-1",
                     "--out", str(tmp_path)]) == 2
    assert "--rho must be positive" in capsys.readouterr().err
