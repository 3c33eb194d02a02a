"""The market cleared by the distributed interior-point method (``clearing="interior-point"``):
its settings, and through the command with agent processes over TCP against the centralized
solution of eq. (1) (HiGHS, its DLMPs from the LP's duals). The other scenarios, in process:
``test_interior_point_scenarios.py``.

Tolerances: objective within 1e-7 (relative), prices within 1e-5 S$/kWh of the centralized DLMPs
at every DER, step and quantity (measured at 60 min: 5e-12 at unconstrained through the
command).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from distributed_resource_optimization import cli
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.market.clearing import run_market_clearing


@pytest.fixture(scope="module")
def district():
    return load_district(resolution="60min")


@pytest.mark.parametrize("settings, message", [
    ({"stop": "study"}, "stop belong to clearing 'admm'"),
    ({"rho": 5.0, "eps": 0.01}, "rho, eps belong to clearing 'admm'"),
    ({"clearing": "aladin"}, "clearing must be one of admm, interior-point"),
])
def test_admm_settings_are_refused_before_any_work(district, settings, message):
    settings = {"clearing": "interior-point", **settings}
    with pytest.raises(ValueError, match=message):
        run_market_clearing(district, "unconstrained", **settings)


def test_the_command_refuses_admm_flags(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["market-clearing", "--clearing", "interior-point", "--rho", "5",
                     "--out", str(out)])
    assert code == 2
    assert "--rho belong to --clearing admm" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_the_command_clears_by_interior_point_with_agent_processes_over_tcp(tmp_path, capsys):
    """One agent process per entity, a shared token: every message of the method (the
    sensitivity blocks too) encoded, sealed and checked."""
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    out = tmp_path / "run"
    code = cli.main(["market-clearing", "--clearing", "interior-point", "--scenario",
                     "unconstrained", "--resolution", "60min", "--linearisation", "once",
                     "--runtime", "tcp", "--token-file", str(token_file),
                     "--figures", "none", "--out", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    # A progress line per Newton iteration (in a log: every line, it is one per three rounds).
    assert "iteration 0: objective" in err and "complementarity" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["clearing"] == "interior-point" and summary["runtime"] == "tcp"
    assert summary["agent_processes"] == 3
    # Two messages per agent and round, and the join, setup and finish rounds.
    assert summary["messages"] >= 2 * 3 * summary["iterations"]
    assert summary["iterations"] == 3 * summary["newton_iterations"] + 1
    assert summary["objective_gap_rel"] <= 1e-7
    assert summary["max_price_deviation"] <= 1e-5
    assert np.isfinite(summary["gap_certified"])
