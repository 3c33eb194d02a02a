"""Thermal grid: loader, hydraulics against hand calculations, linear model vs nonlinear model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq, linprog

from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR, DataFileError
from distributed_resource_optimization.energy.thermal_grid import (
    GRAVITY_M_S2,
    LinearThermalGridModel,
    ThermalGridData,
    friction_factor,
    linear_thermal_grid_model,
    load_thermal_grid,
    solve_thermal_grid,
    thermal_grid_block,
)

GRID_DIR = DEFAULT_DATA_DIR / "grid"


@pytest.fixture(scope="module")
def grid() -> ThermalGridData:
    return load_thermal_grid()


@pytest.fixture(scope="module")
def model(grid: ThermalGridData) -> LinearThermalGridModel:
    return linear_thermal_grid_model(grid)


def solve_lp(block, lb, ub, c=None):
    return linprog(block.c if c is None else c, A_ub=block.A_ub, b_ub=block.b_ub, A_eq=block.A_eq,
                   b_eq=block.b_eq, bounds=np.column_stack([lb, ub]), method="highs")


# ------------------------------------------------------------------------------------------------
# Loader


def test_loader_parses_the_district(grid: ThermalGridData) -> None:
    assert (grid.n_node, grid.n_line, grid.n_der) == (35, 34, 22)
    assert list(grid.der_names) == [str(i) for i in range(1, 23)]
    assert grid.node_names[grid.source_index] == "0"
    raw = pd.read_csv(GRID_DIR / "thermal_grid_ders.csv").iloc[:22]
    np.testing.assert_allclose(grid.der_p_th_nominal_kw,
                               -raw["thermal_power_nominal"].astype(float) / 1000.0, rtol=1e-12)
    np.testing.assert_allclose(grid.line_length_m[0], 31.185306, rtol=1e-12)
    np.testing.assert_array_equal(grid.line_diameter_m, 3.0)
    np.testing.assert_array_equal(grid.line_roughness_m, 0.004)
    np.testing.assert_allclose(grid.flow_per_kw, 1000.0 / (998.31 * 37355.0), rtol=1e-12)
    assert (grid.pump_efficiency, grid.ets_head_loss_m) == (0.75, 6.0)
    # Every line in the file points away from the source node.
    np.testing.assert_array_equal(grid.line_downstream_sign, 1)


def test_loader_errors_name_the_file(tmp_path: Path) -> None:
    shutil.copytree(GRID_DIR, tmp_path / "grid")
    ders = tmp_path / "grid" / "thermal_grid_ders.csv"
    ders.write_text(ders.read_text().replace(",22,22,flexible_building",
                                             ",22,77,flexible_building"))
    with pytest.raises(DataFileError, match=r"thermal_grid_ders\.csv, row 22, column 'node_name'"):
        load_thermal_grid(tmp_path)
    shutil.copy(GRID_DIR / "thermal_grid_ders.csv", ders)
    grids = tmp_path / "grid" / "thermal_grids.csv"
    grids.write_text(grids.read_text().replace(",37355,", ",nan,"))
    with pytest.raises(ValueError, match=r"thermal_grids\.csv, row 1, column "
                                         r"'enthalpy_difference_distribution_water'"):
        load_thermal_grid(tmp_path)


# ------------------------------------------------------------------------------------------------
# Hydraulics


def test_mass_balance(grid: ThermalGridData) -> None:
    res = solve_thermal_grid(grid, grid.der_p_th_nominal_kw)
    np.testing.assert_allclose(res.der_flow_m3_s, grid.der_p_th_nominal_kw * 1000.0
                               / (998.31 * 37355.0), rtol=1e-12)
    np.testing.assert_allclose(res.source_flow_m3_s, res.der_flow_m3_s.sum(), rtol=1e-12)
    # Kirchhoff at every node: inflow - outflow = DER draw (the source supplies the total).
    node_balance = np.zeros(grid.n_node)
    np.add.at(node_balance, grid.line_to, res.branch_flow_m3_s)
    np.add.at(node_balance, grid.line_from, -res.branch_flow_m3_s)
    draw = np.zeros(grid.n_node)
    np.add.at(draw, grid.der_node_index, res.der_flow_m3_s)
    draw[grid.source_index] -= res.source_flow_m3_s
    np.testing.assert_allclose(node_balance, draw, atol=1e-12)


def _colebrook(re: float, rel_rough: float) -> float:
    """Colebrook-White friction factor solved exactly (independent of the Swamee-Jain fit)."""
    def residual(f: float) -> float:
        return 1.0 / np.sqrt(f) + 2.0 * np.log10(rel_rough / 3.7 + 2.51 / (re * np.sqrt(f)))
    return brentq(residual, 1e-4, 1.0, xtol=1e-14)


def test_head_loss_against_hand_calculation(grid: ThermalGridData) -> None:
    res = solve_thermal_grid(grid, grid.der_p_th_nominal_kw)
    for line in (1, 16, 33):
        q = res.branch_flow_m3_s[line]
        d, length = grid.line_diameter_m[line], grid.line_length_m[line]
        v = q / (np.pi * d**2 / 4)
        re = v * d / 1.3504e-6
        f = _colebrook(re, 0.004 / d)
        h = f * length / d * v**2 / (2 * GRAVITY_M_S2)
        # Swamee-Jain is within ~1 % of Colebrook in this range.
        np.testing.assert_allclose(res.branch_friction_factor[line], f, rtol=1.5e-2)
        np.testing.assert_allclose(res.branch_head_loss_m[line], h, rtol=1.5e-2)
    # Node head: minus the head losses along the path 0 -> 30 -> 15 (lines "1", "4").
    node_15 = list(grid.node_names).index("15")
    np.testing.assert_allclose(res.node_head_m[node_15],
                               -(res.branch_head_loss_m[1] + res.branch_head_loss_m[4]), rtol=1e-12)
    assert res.node_head_m[grid.source_index] == 0.0
    assert np.all(res.node_head_m <= 0.0)
    # Pump: supply + return path to the critical node plus the ETS, rho g H Q / eta.
    head = 2.0 * -res.node_head_m.min() + 6.0
    np.testing.assert_allclose(res.pump_head_m, head, rtol=1e-12)
    np.testing.assert_allclose(res.pump_power_kw, 998.31 * GRAVITY_M_S2 * head
                               * res.source_flow_m3_s / 0.75 / 1000.0, rtol=1e-12)


def test_friction_factor_regimes_and_derivative() -> None:
    re = np.array([500.0, 1999.0, 3000.0, 5e4, 5e6])
    f, df = friction_factor(re, 1e-3)
    np.testing.assert_allclose(f[:2], 64.0 / re[:2])
    np.testing.assert_allclose(f[3:], [_colebrook(r, 1e-3) for r in re[3:]], rtol=2e-2)
    h = 1e-4 * re
    fd = (friction_factor(re + h, 1e-3)[0] - friction_factor(re - h, 1e-3)[0]) / (2 * h)
    np.testing.assert_allclose(df, fd, rtol=1e-6)


def test_zero_demand_has_zero_flow_and_head(grid: ThermalGridData) -> None:
    res = solve_thermal_grid(grid, np.zeros(grid.n_der))
    np.testing.assert_array_equal(res.branch_flow_m3_s, 0.0)
    np.testing.assert_array_equal(res.node_head_m, 0.0)
    assert res.pump_power_kw == 0.0


def test_pump_power_positive_and_growing_with_demand(grid: ThermalGridData) -> None:
    scales = np.linspace(0.1, 1.5, 15)
    power = np.array([solve_thermal_grid(grid, s * grid.der_p_th_nominal_kw).pump_power_kw
                      for s in scales])
    assert np.all(power > 0.0)
    assert np.all(np.diff(power) > 0.0)
    # Head grows faster than linearly, so the power-per-demand ratio grows too.
    assert np.all(np.diff(power / scales) > 0.0)


def test_bad_input(grid: ThermalGridData, model: LinearThermalGridModel) -> None:
    with pytest.raises(ValueError, match="p_th_kw"):
        solve_thermal_grid(grid, np.ones(5))
    p = grid.der_p_th_nominal_kw.copy()
    p[3] = np.nan
    with pytest.raises(ValueError, match="p_th_kw"):
        solve_thermal_grid(grid, p)
    with pytest.raises(ValueError, match="eta_ch"):
        thermal_grid_block(model, np.array([0.1]), 0.5, eta_ch=0.0)
    with pytest.raises(ValueError, match="branch_flow_max"):
        thermal_grid_block(model, np.array([0.1]), 0.5, branch_flow_max=np.ones(2))


# ------------------------------------------------------------------------------------------------
# Linear model

# Stated tolerances for load changes within +-20 % of nominal (measured: head 6.2e-2 of the largest
# head, pump power 1.6e-2 relative, both at -20 %; flows are exact).
TOL_HEAD_REL = 0.07
TOL_PUMP_REL = 0.02
TOL_FLOW_REL = 1e-12

CASES = {
    "uniform +20%": np.full(22, 1.2),
    "uniform -20%": np.full(22, 0.8),
    "random +-20% (seed 42)": np.random.default_rng(42).uniform(0.8, 1.2, 22),
}


@pytest.mark.parametrize("case", list(CASES))
def test_linear_model_matches_nonlinear(grid: ThermalGridData, model: LinearThermalGridModel,
                                        case: str) -> None:
    p = grid.der_p_th_nominal_kw * CASES[case]
    res = solve_thermal_grid(grid, p)
    err_flow = np.max(np.abs(model.predict_branch_flow_m3_s(p) - res.branch_flow_m3_s)
                      / np.abs(res.branch_flow_m3_s))
    err_head = (np.max(np.abs(model.predict_node_head_m(p) - res.node_head_m))
                / np.max(np.abs(res.node_head_m)))
    err_pump = abs(model.predict_pump_power_kw(p) - res.pump_power_kw) / res.pump_power_kw
    print(f"{case}: flow {err_flow:.1e} rel, head {err_head:.2e} of max |head|, "
          f"pump power {err_pump:.2e} rel")
    assert err_flow < TOL_FLOW_REL
    assert err_head < TOL_HEAD_REL
    assert err_pump < TOL_PUMP_REL


def test_linear_model_is_the_tangent(grid: ThermalGridData, model: LinearThermalGridModel) -> None:
    p0 = grid.der_p_th_nominal_kw
    for k in (0, 9, 21):
        step = np.zeros(grid.n_der)
        step[k] = 1.0  # kW
        plus, minus = solve_thermal_grid(grid, p0 + step), solve_thermal_grid(grid, p0 - step)
        np.testing.assert_allclose(model.m_node_head_by_p_th[:, k],
                                   (plus.node_head_m - minus.node_head_m) / 2.0, atol=1e-12)
        np.testing.assert_allclose(model.m_pump_power_by_p_th[k],
                                   (plus.pump_power_kw - minus.pump_power_kw) / 2.0, rtol=1e-7)
        np.testing.assert_allclose(model.m_branch_flow_by_p_th[:, k],
                                   (plus.branch_flow_m3_s - minus.branch_flow_m3_s) / 2.0,
                                   atol=1e-15)


def test_default_limits_follow_the_study(model: LinearThermalGridModel) -> None:
    np.testing.assert_allclose(model.branch_flow_max_m3_s, 100.0 * model.branch_flow_ref_m3_s)
    np.testing.assert_allclose(model.node_head_min_m, 100.0 * model.node_head_ref_m)
    assert np.all(model.node_head_min_m <= model.node_head_ref_m)


# ------------------------------------------------------------------------------------------------
# LP block


def test_lp_block_plant_balance(grid: ThermalGridData, model: LinearThermalGridModel) -> None:
    price = np.array([0.1, 0.2])
    dt, eta = 0.5, 10.0
    block = thermal_grid_block(model, price, dt, eta_ch=eta)
    scale = np.random.default_rng(5).uniform(0.8, 1.2, (price.size, grid.n_der))
    p = (grid.der_p_th_nominal_kw * scale).ravel()
    lb, ub = block.lb.copy(), block.ub.copy()
    lb[block.variables["p_th"]] = ub[block.variables["p_th"]] = p
    res = solve_lp(block, lb, ub)
    assert res.status == 0
    src = res.x[block.variables["p_th_src"]]
    for t in range(price.size):
        pt = p[t * grid.n_der:(t + 1) * grid.n_der]
        np.testing.assert_allclose(src[t], pt.sum() + eta * model.predict_pump_power_kw(pt),
                                   rtol=1e-10)
    np.testing.assert_allclose(res.fun, np.sum(price * src / eta * dt), rtol=1e-12)
    assert block.ub_rows["node_head_min"].size == price.size * grid.n_node
    assert block.ub_rows["branch_flow_max"].size == price.size * grid.n_line


def test_branch_flow_limit_of_scenario_2_is_effective(grid: ThermalGridData,
                                                      model: LinearThermalGridModel) -> None:
    """Branch "4" limited to 0.2x its reference flow (the seed's congestion scenario)."""
    line = list(grid.line_names).index("4")
    f_max = model.branch_flow_max_m3_s.copy()
    f_max[line] = 0.2 * model.branch_flow_ref_m3_s[line]
    block = thermal_grid_block(model, np.array([0.1, 0.3]), 0.5, branch_flow_max=f_max)
    lb, ub = block.lb.copy(), block.ub.copy()
    lb[block.variables["p_th"]] = ub[block.variables["p_th"]] = np.tile(grid.der_p_th_nominal_kw, 2)
    assert solve_lp(block, lb, ub).status == 2  # nominal demand is infeasible
    # Demand within [0, nominal], maximised: DERs behind line 4 are capped, the others are not.
    lb[block.variables["p_th"]] = 0.0
    res = solve_lp(block, lb, ub, c=-block.c)
    assert res.status == 0
    rows = block.ub_rows["branch_flow_max"][[line, grid.n_line + line]]
    np.testing.assert_allclose(block.A_ub[rows] @ res.x, f_max[line], rtol=1e-9)
    assert np.all(np.abs(res.ineqlin.marginals[rows]) > 0.0)
    behind = model.m_branch_flow_by_p_th[line] > 0.0
    p = res.x[block.variables["p_th"]].reshape(2, grid.n_der)
    np.testing.assert_allclose(p[:, ~behind], np.tile(grid.der_p_th_nominal_kw[~behind], (2, 1)))
    np.testing.assert_allclose(p[:, behind].sum(axis=1),
                               0.2 * grid.der_p_th_nominal_kw[behind].sum(), rtol=1e-9)
