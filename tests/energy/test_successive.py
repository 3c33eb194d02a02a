"""Successive linearisation of the district's grids (energy/successive.py).

References: the nonlinear models at the converged dispatch (the project's AC power flow and
hydraulics, themselves checked against pandapower and pandapipes) and an independent
Colebrook-White head calculation (tests/energy/test_verification.py); the single linearisation's
own solve for round 1."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hydraulics_reference import independent_head

from distributed_resource_optimization.cli import main
from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.electric_grid import solve_power_flow
from distributed_resource_optimization.energy.successive import (
    check_linearisation,
    solve_successively,
)
from distributed_resource_optimization.energy.verification import HOLDS


@pytest.fixture(scope="module")
def thermal_head(district):
    return solve_successively(district, "thermal-head")


def test_thermal_head_holds_in_the_hydraulics_after_a_few_rounds(district, thermal_head):
    """Round 1 is the study's dispatch, 13 % beyond the head limit; re-linearised at each step's
    dispatch the limit holds, in 3-5 LPs, and binds exactly where it binds."""
    rounds = thermal_head.rounds
    assert thermal_head.converged and 3 <= len(rounds) <= 5
    assert rounds[0].objective == solve_district(district, "thermal-head").objective
    assert rounds[0].status == "violated" and rounds[0].worst_violation_rel > 0.12
    assert thermal_head.verification.status == HOLDS
    assert abs(rounds[-1].objective - rounds[-2].objective) <= 1e-6 * rounds[-1].objective
    # The head limit costs more than the single tangent claimed.
    assert rounds[-1].objective > rounds[0].objective + 50.0
    head = thermal_head.verification.checks["node_head"]
    assert head.element == "15" and abs(head.violation_rel) < 1e-3
    # An independent Colebrook-White calculation at the binding step: at the limit (the
    # hydraulics' Swamee-Jain is within 1 % of Colebrook).
    t = district.timesteps.get_loc(head.timestep)
    node = list(district.thermal_grid.node_names).index("15")
    p_th = thermal_head.result.dispatch["thermal_power"][t]
    assert independent_head(district.thermal_grid, p_th, node) == pytest.approx(head.limit,
                                                                                rel=1e-2)


def test_losses_follow_each_steps_linearisation(district, thermal_head):
    """Linearised at the round before's dispatch, each step's linear losses are the AC losses
    to 1 % (the binding steps' demand still moves a little in the last round): never negative,
    and over the day within 0.1 % of AC (the issue asks 5 %; the single tangent: 38 % low and
    negative at night)."""
    table = thermal_head.verification.per_step
    np.testing.assert_allclose(table["electric_losses_kw_linear"],
                               table["electric_losses_kw_ac"], rtol=1e-2)
    assert (table["electric_losses_kw_linear"] > 0).all()
    d = thermal_head.result.dispatch
    t = 3  # a night step, where the single tangent's losses were negative
    ac = solve_power_flow(district.electric_grid, d["active_power"][t], d["reactive_power"][t])
    assert table["electric_losses_kw_ac"].iloc[t] == pytest.approx(ac.loss_active_kw, rel=1e-12)
    first, last = thermal_head.rounds[0], thermal_head.rounds[-1]
    assert first.losses_linear_kwh < 0.7 * first.losses_ac_kwh
    assert last.losses_linear_kwh == pytest.approx(last.losses_ac_kwh, rel=1e-3)


def test_bad_settings_are_refused(district):
    with pytest.raises(ValueError, match="unknown linearisation 'twice'"):
        check_linearisation("twice")
    with pytest.raises(ValueError, match="max_rounds"):
        solve_successively(district, "unconstrained", max_rounds=0)


def test_the_command_line_iterates_the_centralized_solve(tmp_path, capsys):
    out = tmp_path / "it"
    code = main(["market-clearing", "--method", "centralized", "--scenario", "thermal-head",
                 "--resolution", "60min", "--linearisation", "iterate", "--figures", "none",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err  # the head limit holds now: not 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["linearisation"] == "iterate" and summary["linearisation_converged"] is True
    rounds = summary["linearisation_rounds"]
    assert rounds[0]["status"] == "violated" and rounds[-1]["status"] == "holds"
    assert summary["centralized_objective"] == pytest.approx(rounds[-1]["objective"])
    assert summary["verification"]["status"] == "holds"
    code = main(["market-clearing", "--method", "centralized", "--linearisation", "twice",
                 "--out", str(tmp_path / "bad")])
    assert code == 2 and "invalid choice: 'twice'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
