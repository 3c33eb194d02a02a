"""Electric grid: loader, AC power flow against pandapower, linear model against AC power flow."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.electric_grid import (
    ElectricGridData,
    LinearElectricGridModel,
    electric_grid_block,
    linear_electric_grid_model,
    load_electric_grid,
    solve_power_flow,
)
from distributed_resource_optimization.energy.scenarios import SCENARIO_NAMES
from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR, DataFileError
from distributed_resource_optimization.energy.verification import verify_centralized

GRID_DIR = DEFAULT_DATA_DIR / "grid"


@pytest.fixture(scope="module")
def grid() -> ElectricGridData:
    return load_electric_grid()


@pytest.fixture(scope="module")
def model(grid: ElectricGridData) -> LinearElectricGridModel:
    return linear_electric_grid_model(grid)


def solve_lp(block, lb, ub, c=None):
    return linprog(block.c if c is None else c, A_ub=block.A_ub, b_ub=block.b_ub, A_eq=block.A_eq,
                   b_eq=block.b_eq, bounds=np.column_stack([lb, ub]), method="highs")


# ------------------------------------------------------------------------------------------------
# Loader


def test_loader_parses_the_district(grid: ElectricGridData) -> None:
    # The embedded files hold 35 nodes and 34 lines (a tree); 22 buildings are in service.
    assert grid.n_node == 35
    assert grid.n_line == 34
    assert grid.n_der == 22
    assert list(grid.der_names) == [str(i) for i in range(1, 23)]
    assert grid.node_names[grid.source_index] == "0"
    assert grid.nominal_voltage_v == 22000.0
    raw = pd.read_csv(GRID_DIR / "electric_grid_ders.csv").iloc[:22]
    np.testing.assert_allclose(grid.der_p_nominal_kw, -raw["active_power_nominal"].astype(float)
                               / 1000.0, rtol=1e-12)
    np.testing.assert_allclose(grid.der_q_nominal_kvar,
                               -raw["reactive_power_nominal"].astype(float) / 1000.0, rtol=1e-12)
    # Line "0": 0.03118530646 km of 0.077 + j0.108 ohm/km and 312 nF/km at 50 Hz.
    np.testing.assert_allclose(grid.line_impedance_ohm[0],
                               (0.077 + 0.108j) * 0.03118530646, rtol=1e-12)
    np.testing.assert_allclose(grid.line_shunt_susceptance_s[0],
                               2 * np.pi * 50 * 312e-9 * 0.03118530646, rtol=1e-12)
    # sqrt(3) * 22 kV * 585 A
    np.testing.assert_allclose(grid.line_rating_kva, 22291.4939, rtol=1e-8)


def _copy_grid(tmp_path: Path) -> Path:
    shutil.copytree(GRID_DIR, tmp_path / "grid")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_loader_names_file_row_and_column_for_unknown_node(tmp_path: Path) -> None:
    folder = _copy_grid(tmp_path)
    _edit(folder / "grid" / "electric_grid_lines.csv", "_cable,0,12,", "_cable,0,99,")
    with pytest.raises(ValueError, match=r"electric_grid_lines\.csv, row 1, column "
                                         r"'node_2_name': unknown node name '99'"):
        load_electric_grid(folder)


def test_loader_rejects_non_numeric_power_and_meshed_grid(tmp_path: Path) -> None:
    folder = _copy_grid(tmp_path)
    _edit(folder / "grid" / "electric_grid_ders.csv", "-13734755.97", "abc")
    with pytest.raises(DataFileError, match=r"electric_grid_ders\.csv, row 1, column "
                                            r"'active_power_nominal'"):
        load_electric_grid(folder)
    folder2 = tmp_path / "meshed"
    shutil.copytree(GRID_DIR, folder2 / "grid")
    lines = folder2 / "grid" / "electric_grid_lines.csv"
    lines.write_text(lines.read_text() + "\npaper_2021_troitzsch_admm_dlmp,34,"
                     "paper_2021_troitzsch_admm_dlmp_cable,19,22,1,1,1,0.1\n")
    with pytest.raises(DataFileError, match="not radial"):
        load_electric_grid(folder2)


# ------------------------------------------------------------------------------------------------
# AC power flow


def _pandapower_flow(pp, grid: ElectricGridData, p: np.ndarray, q: np.ndarray):
    """The same network and DER demand (kW, kvar) in pandapower, solved."""
    net = pp.create_empty_network(f_hz=grid.base_frequency_hz)
    buses = [pp.create_bus(net, vn_kv=grid.nominal_voltage_v / 1e3) for _ in range(grid.n_node)]
    pp.create_ext_grid(net, buses[grid.source_index], vm_pu=1.0, va_degree=0.0)
    for k in range(grid.n_line):
        z = grid.line_impedance_ohm[k]
        pp.create_line_from_parameters(
            net, buses[grid.line_from[k]], buses[grid.line_to[k]], length_km=1.0,
            r_ohm_per_km=z.real, x_ohm_per_km=z.imag,
            c_nf_per_km=grid.line_shunt_susceptance_s[k] / (2 * np.pi * grid.base_frequency_hz)
            * 1e9, max_i_ka=grid.line_max_current_a[k] / 1e3)
    for k in range(grid.n_der):
        pp.create_load(net, buses[grid.der_node_index[k]], p_mw=p[k] / 1e3, q_mvar=q[k] / 1e3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, tolerance_mva=1e-9, numba=False)
    return net


def test_power_flow_matches_pandapower(grid: ElectricGridData) -> None:
    pp = pytest.importorskip("pandapower")
    # 1.1x nominal, different per DER, to avoid testing only the reference point.
    scale = np.random.default_rng(7).uniform(0.6, 1.1, grid.n_der)
    p, q = grid.der_p_nominal_kw * scale, grid.der_q_nominal_kvar * scale
    net = _pandapower_flow(pp, grid, p, q)
    ours = solve_power_flow(grid, p, q)
    err_vm = np.max(np.abs(net.res_bus.vm_pu.to_numpy() - np.abs(ours.voltage_pu)))
    err_va = np.max(np.abs(net.res_bus.va_degree.to_numpy()
                           - np.degrees(np.angle(ours.voltage_pu))))
    print(f"pandapower vs ours: |V| {err_vm:.2e} p.u., angle {err_va:.2e} deg")
    assert err_vm < 1e-8
    assert err_va < 1e-6
    res_line = net.res_line
    np.testing.assert_allclose(ours.branch_power_from_kva.real, res_line.p_from_mw * 1e3, atol=1e-3)
    np.testing.assert_allclose(ours.branch_power_from_kva.imag, res_line.q_from_mvar * 1e3,
                               atol=1e-3)
    np.testing.assert_allclose(ours.branch_power_to_kva.real, res_line.p_to_mw * 1e3, atol=1e-3)
    np.testing.assert_allclose(ours.branch_power_to_kva.imag, res_line.q_to_mvar * 1e3, atol=1e-3)
    np.testing.assert_allclose(ours.branch_current_from_a, res_line.i_from_ka * 1e3, atol=1e-4)
    np.testing.assert_allclose(ours.loss_active_kw, res_line.pl_mw.sum() * 1e3, atol=1e-3)
    np.testing.assert_allclose(ours.loss_reactive_kvar, res_line.ql_mvar.sum() * 1e3, atol=1e-3)
    np.testing.assert_allclose(ours.source_power_kva.real, net.res_ext_grid.p_mw.iloc[0] * 1e3,
                               atol=1e-3)
    np.testing.assert_allclose(ours.source_power_kva.imag, net.res_ext_grid.q_mvar.iloc[0] * 1e3,
                               atol=1e-3)


def test_power_flow_balances_and_is_lossless_without_lines_loaded(grid: ElectricGridData) -> None:
    res = solve_power_flow(grid, grid.der_p_nominal_kw, grid.der_q_nominal_kvar)
    # Source supply = demand + losses (power balance of the whole network).
    np.testing.assert_allclose(res.source_power_kva.real,
                               grid.der_p_nominal_kw.sum() + res.loss_active_kw, rtol=1e-9)
    np.testing.assert_allclose(res.source_power_kva.imag,
                               grid.der_q_nominal_kvar.sum() + res.loss_reactive_kvar, rtol=1e-9)
    assert res.loss_active_kw > 0.0
    np.testing.assert_allclose(res.voltage_v, res.voltage_pu * 22000.0)
    # No demand: only line charging remains, which supplies reactive power (negative "loss").
    idle = solve_power_flow(grid, np.zeros(grid.n_der), np.zeros(grid.n_der))
    np.testing.assert_allclose(idle.loss_reactive_kvar,
                               -np.sum(grid.line_shunt_susceptance_s) * 22000.0**2 / 1e3,
                               rtol=1e-3)


def test_power_flow_rejects_bad_input(grid: ElectricGridData) -> None:
    with pytest.raises(ValueError, match="p_der_kw"):
        solve_power_flow(grid, np.zeros(3), np.zeros(grid.n_der))
    q = np.zeros(grid.n_der)
    q[0] = np.nan
    with pytest.raises(ValueError, match="q_der_kvar"):
        solve_power_flow(grid, np.zeros(grid.n_der), q)


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_the_verification_of_each_scenario_agrees_with_pandapower(scenario: str) -> None:
    """The worst voltage and branch power that the verification of each scenario's centralized
    dispatch reports, and its AC losses, are pandapower's at the same demand (60 min)."""
    pp = pytest.importorskip("pandapower")
    district = load_district(resolution="60min")
    result = solve_district(district, scenario)
    v = verify_centralized(result)
    grid, p, q = district.electric_grid, result.dispatch["active_power"], \
        result.dispatch["reactive_power"]
    nodes, lines = list(grid.node_names), list(grid.line_names)
    volt, branch = v.checks["voltage_min"], v.checks["branch_power"]
    t = district.timesteps.get_loc(volt.timestep)
    net = _pandapower_flow(pp, grid, p[t], q[t])
    assert volt.value == pytest.approx(net.res_bus.vm_pu.iloc[nodes.index(volt.element)],
                                       abs=1e-8)
    assert v.per_step["electric_losses_kw_ac"].iloc[t] == pytest.approx(
        net.res_line.pl_mw.sum() * 1e3, abs=1e-3)
    t = district.timesteps.get_loc(branch.timestep)
    net = _pandapower_flow(pp, grid, p[t], q[t])
    row = net.res_line.iloc[lines.index(branch.element)]
    s_from = np.hypot(row.p_from_mw, row.q_from_mvar) * 1e3
    s_to = np.hypot(row.p_to_mw, row.q_to_mvar) * 1e3
    assert branch.value == pytest.approx(max(s_from, s_to), abs=1e-3)


# ------------------------------------------------------------------------------------------------
# Linear model

# Stated tolerances for load changes within +-20 % of nominal (measured: voltage 1.6e-5 p.u., branch
# power 8.6e-4 relative, losses 6.9e-2 relative, all at -20 %).
TOL_VOLTAGE_PU = 3e-5
TOL_BRANCH_REL = 1.5e-3
TOL_LOSS_REL = 0.08

CASES = {
    "uniform +20%": np.full(22, 1.2),
    "uniform -20%": np.full(22, 0.8),
    "random +-20% (seed 42)": np.random.default_rng(42).uniform(0.8, 1.2, 22),
}


@pytest.mark.parametrize("case", list(CASES))
def test_linear_model_matches_ac_power_flow(grid: ElectricGridData, model: LinearElectricGridModel,
                                            case: str) -> None:
    scale = CASES[case]
    p, q = grid.der_p_nominal_kw * scale, grid.der_q_nominal_kvar * scale
    ac = solve_power_flow(grid, p, q)
    err_v = np.max(np.abs(model.predict_voltage_pu(p, q) - ac.voltage_magnitude_pu))
    s_from, s_to = model.predict_branch_power_kva(p, q)
    err_sf = np.max(np.abs(s_from - np.abs(ac.branch_power_from_kva))
                    / np.abs(ac.branch_power_from_kva))
    err_st = np.max(np.abs(s_to - np.abs(ac.branch_power_to_kva)) / np.abs(ac.branch_power_to_kva))
    loss_p, loss_q = model.predict_losses(p, q)
    err_lp = abs(loss_p - ac.loss_active_kw) / ac.loss_active_kw
    err_lq = abs(loss_q - ac.loss_reactive_kvar) / abs(ac.loss_reactive_kvar)
    print(f"{case}: voltage {err_v:.2e} p.u., branch from {err_sf:.2e} / to {err_st:.2e} rel, "
          f"losses P {err_lp:.2e} / Q {err_lq:.2e} rel")
    assert err_v < TOL_VOLTAGE_PU
    assert max(err_sf, err_st) < TOL_BRANCH_REL
    assert max(err_lp, err_lq) < TOL_LOSS_REL


def test_linear_model_is_the_tangent(grid: ElectricGridData,
                                     model: LinearElectricGridModel) -> None:
    """Sensitivities equal central finite differences of the AC power flow (1 kW / 1 kvar steps)."""
    p0, q0 = grid.der_p_nominal_kw, grid.der_q_nominal_kvar
    for k in (0, 11, 21):
        for by in ("p", "q"):
            step = np.zeros(grid.n_der)
            step[k] = 1.0
            dp, dq = (step, 0.0) if by == "p" else (0.0, step)
            plus = solve_power_flow(grid, p0 + dp, q0 + dq)
            minus = solve_power_flow(grid, p0 - dp, q0 - dq)
            fd_v = (plus.voltage_magnitude_pu - minus.voltage_magnitude_pu) / 2.0
            fd_sf = (np.abs(plus.branch_power_from_kva) - np.abs(minus.branch_power_from_kva)) / 2.0
            fd_st = (np.abs(plus.branch_power_to_kva) - np.abs(minus.branch_power_to_kva)) / 2.0
            fd_lp = (plus.loss_active_kw - minus.loss_active_kw) / 2.0
            fd_lq = (plus.loss_reactive_kvar - minus.loss_reactive_kvar) / 2.0
            m = {k2: getattr(model, f"m_{k2}_by_{by}") for k2 in
                 ("voltage", "branch_from", "branch_to", "loss_active", "loss_reactive")}
            np.testing.assert_allclose(m["voltage"][:, k], fd_v, atol=1e-12)
            np.testing.assert_allclose(m["branch_from"][:, k], fd_sf, atol=1e-6)
            np.testing.assert_allclose(m["branch_to"][:, k], fd_st, atol=1e-6)
            np.testing.assert_allclose(m["loss_active"][k], fd_lp, atol=1e-6)
            np.testing.assert_allclose(m["loss_reactive"][k], fd_lq, atol=1e-6)


def test_default_limits_follow_the_study(grid: ElectricGridData,
                                         model: LinearElectricGridModel) -> None:
    np.testing.assert_array_equal(model.voltage_min_pu, 0.5)
    np.testing.assert_array_equal(model.voltage_max_pu, 1.5)
    np.testing.assert_allclose(model.branch_power_max_kva,
                               100.0 * np.maximum(np.abs(model.reference.branch_power_from_kva),
                                                  np.abs(model.reference.branch_power_to_kva)))


# ------------------------------------------------------------------------------------------------
# LP block


def test_lp_block_supplies_demand_plus_losses(grid: ElectricGridData,
                                              model: LinearElectricGridModel) -> None:
    price = np.array([0.08, 0.12, 0.10])
    n_t, dt = price.size, 0.5
    block = electric_grid_block(model, price, dt)
    scale = np.random.default_rng(3).uniform(0.8, 1.2, (n_t, grid.n_der))
    p = (grid.der_p_nominal_kw * scale).ravel()  # time-major: t * n_der + k
    q = (grid.der_q_nominal_kvar * scale).ravel()
    lb, ub = block.lb.copy(), block.ub.copy()
    lb[block.variables["p"]] = ub[block.variables["p"]] = p
    lb[block.variables["q"]] = ub[block.variables["q"]] = q
    res = solve_lp(block, lb, ub)
    assert res.status == 0
    p_src = res.x[block.variables["p_src"]]
    q_src = res.x[block.variables["q_src"]]
    for t in range(n_t):
        pt, qt = p[t * grid.n_der:(t + 1) * grid.n_der], q[t * grid.n_der:(t + 1) * grid.n_der]
        loss_p, loss_q = model.predict_losses(pt, qt)
        np.testing.assert_allclose(p_src[t], pt.sum() + loss_p, rtol=1e-9)
        np.testing.assert_allclose(q_src[t], qt.sum() + loss_q, rtol=1e-9)
        # and close to the AC truth (linearised losses are a few % off, losses ~1 % of demand)
        ac = solve_power_flow(grid, pt, qt)
        np.testing.assert_allclose(p_src[t], ac.source_power_kva.real, rtol=1e-3)
    np.testing.assert_allclose(res.fun, np.sum(price * p_src * dt), rtol=1e-12)
    assert block.ub_rows["voltage_min"].size == n_t * grid.n_node
    assert block.ub_rows["branch_power_to_max"].size == n_t * grid.n_line


def test_lp_block_branch_limit_binds(grid: ElectricGridData,
                                     model: LinearElectricGridModel) -> None:
    """A tight branch limit makes nominal demand infeasible, and caps demand when it can move."""
    line = list(grid.line_names).index("4")
    s_max = model.branch_power_max_kva.copy()
    s_max[line] = 0.5 * model.branch_power_from_ref_kva[line]
    block = electric_grid_block(model, np.array([0.1]), 1.0, branch_power_max_kva=s_max)
    lb, ub = block.lb.copy(), block.ub.copy()
    lb[block.variables["p"]] = ub[block.variables["p"]] = grid.der_p_nominal_kw
    lb[block.variables["q"]] = ub[block.variables["q"]] = grid.der_q_nominal_kvar
    assert solve_lp(block, lb, ub).status == 2  # infeasible
    # Demand free within [0, nominal]; maximise supply (negative cost) so the limit must stop it.
    lb[block.variables["p"]] = 0.0
    lb[block.variables["q"]] = 0.0
    res = solve_lp(block, lb, ub, c=-block.c)
    assert res.status == 0
    rows = [block.ub_rows[family][line] for family in ("branch_power_from_max",
                                                        "branch_power_to_max")]
    slack = block.b_ub[rows] - block.A_ub[rows] @ res.x
    binding = rows[int(np.argmin(slack))]
    np.testing.assert_allclose(slack.min(), 0.0, atol=1e-6)
    assert abs(res.ineqlin.marginals[binding]) > 0.0
    assert res.x[block.variables["p"]].sum() < grid.der_p_nominal_kw.sum()


def test_lp_block_rejects_bad_input(model: LinearElectricGridModel) -> None:
    with pytest.raises(ValueError, match="price_s_per_kwh"):
        electric_grid_block(model, np.array([0.1, np.nan]), 0.5)
    with pytest.raises(ValueError, match="timestep_h"):
        electric_grid_block(model, np.array([0.1]), 0.0)
    with pytest.raises(ValueError, match="voltage_min_pu"):
        electric_grid_block(model, np.array([0.1]), 0.5, voltage_min_pu=np.ones(3))
