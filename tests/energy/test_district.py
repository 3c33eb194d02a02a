"""Centralized combined operation of the district, eq. (1), and the five scenarios.

References used: the nonlinear grid models (AC power flow, hydraulic model) for the linearisation
and for finite-difference marginal losses / pump power; the buildings' own discrete dynamics
(``simulate``) for the LP's states; the LP's own cost vector rebuilt from the price series; and the
economics of the local chiller (thermal price <= active price / COP).
"""

from __future__ import annotations

import numpy as np
import pytest

from distributed_resource_optimization.energy.buildings import building_baseline, simulate
from distributed_resource_optimization.energy.centralized import (
    PRICE_COMPONENTS,
    QUANTITIES,
    build_centralized,
    solve_district,
)
from distributed_resource_optimization.energy.district import (
    building_reference_demand,
    load_district,
    reference_point,
)
from distributed_resource_optimization.energy.electric_grid import solve_power_flow
from distributed_resource_optimization.energy.grid_operators import (
    electric_grid_operator_block,
    thermal_grid_operator_block,
)
from distributed_resource_optimization.energy.scenarios import (
    DEFAULT_SCENARIO,
    SCENARIOS,
    electric_scenario_limits,
    scenario_limits,
    thermal_scenario_limits,
)
from distributed_resource_optimization.energy.thermal_grid import solve_thermal_grid

CONSTRAINED = [s for s in SCENARIOS if s != "unconstrained"]
FL22 = 21  # DER index of flexible load "22"


@pytest.fixture(scope="module")
def district():
    return load_district()


@pytest.fixture(scope="module")
def results(district):
    return {name: solve_district(district, name) for name in SCENARIOS}


def _hours(district) -> np.ndarray:
    t = district.timesteps
    return t.hour + t.minute / 60.0


def test_reference_point_is_the_buildings_peak(district):
    assert district.reference == "peak"
    assert district.reference_timestep.strftime("%H:%M") == "14:00"
    # The reference demand is a tenth of the nominal power (docs/energy_buildings.md).
    ratio = district.thermal_grid.der_p_th_nominal_kw.sum() / district.p_th_ref_kw.sum()
    assert 9.0 < ratio < 12.0
    np.testing.assert_allclose(district.q_ref_kvar, 0.5 * district.p_ref_kw, rtol=1e-9)


def test_all_scenarios_solve(results):
    base = results["unconstrained"].objective
    assert DEFAULT_SCENARIO == "thermal-congestion"
    for name, res in results.items():
        assert res.status == 0, name
        assert np.isfinite(res.objective) and res.objective > 0
        # Tightening a limit can never make the optimum cheaper.
        assert res.objective >= base - 1e-6, name


def test_objective_equals_energy_bill(district, results):
    """Objective (1a) rebuilt from the price series: sum_t c_t dt (p_src + p_th_src / eta)."""
    dt, c = district.timestep_h, district.price
    for name, res in results.items():
        bill = np.sum(c * dt * (res.extra["electric_source_kw"]
                                + res.extra["thermal_source_kw"] / district.eta_ch))
        assert res.objective == pytest.approx(bill, rel=1e-9), name


def test_coupling_copies_agree(results):
    for name, res in results.items():
        for group, grid in (("p_th", "thermal_grid"), ("p", "electric_grid"),
                            ("q", "electric_grid")):
            np.testing.assert_allclose(res.group(grid, group), res.group("aggregator", group),
                                       atol=1e-6, err_msg=f"{name}/{group}")


def test_energy_balance(district, results):
    """(1j), (1n), (1o): source = demand + pump power (x eta) resp. losses of the linear model."""
    tm, em, eta = district.thermal_model, district.electric_model, district.eta_ch
    for name, res in results.items():
        pth, p, q = (res.dispatch[k] for k in QUANTITIES)
        for t in range(district.n_timesteps):
            pump = tm.predict_pump_power_kw(pth[t])
            assert res.extra["thermal_source_kw"][t] == pytest.approx(
                pth[t].sum() + eta * pump, abs=1e-6 * max(1.0, pth[t].sum())), name
            loss_p, loss_q = em.predict_losses(p[t], q[t])
            assert res.extra["electric_source_kw"][t] == pytest.approx(p[t].sum() + loss_p,
                                                                       abs=1e-6), name
            assert res.extra["electric_source_kvar"][t] == pytest.approx(q[t].sum() + loss_q,
                                                                         abs=1e-6), name
        # Physical sanity: the demand is consumption (the buildings cool, never heat the grid).
        assert pth.min() > -1e-6 and p.min() > 0.0


def test_comfort_band_and_dynamics(district, results):
    """(1b)-(1f): zone temperature in the band, and the LP states equal a re-simulation of the
    optimal controls with the discrete model."""
    for name, res in results.items():
        for k, model in enumerate(district.buildings):
            n_y = len(model.output_names)
            y = res.group("aggregator", f"{model.name}/y").reshape(-1, n_y)
            x = res.group("aggregator", f"{model.name}/x").reshape(-1, model.x0.size)
            c = res.group("aggregator", f"{model.name}/c").reshape(-1, len(model.control_names))
            i = model.output_index("zone_air_temperature")
            assert np.all(y[:, i] >= model.y_min[:, i] - 1e-6), (name, model.name)
            assert np.all(y[:, i] <= model.y_max[:, i] + 1e-6), (name, model.name)
            states, outputs = simulate(model, c)
            np.testing.assert_allclose(x, states, atol=1e-5)
            np.testing.assert_allclose(res.dispatch["thermal_power"][:, k],
                                       outputs[:, model.output_index("thermal_power_demand")],
                                       atol=1e-5)
    # The occupied band is 23-25 degC (constraint_schedules.csv), so the limits are the real ones.
    occupied = (_hours(district) >= 9) & (_hours(district) < 19)
    i = district.buildings[0].output_index("zone_air_temperature")
    assert np.all(district.buildings[0].y_min[occupied, i] == 23.0)
    assert np.all(district.buildings[0].y_max[occupied, i] == 25.0)


def _grid_values(district, res):
    tm, em = district.thermal_model, district.electric_model
    pth, p, q = (res.dispatch[k] for k in QUANTITIES)
    flow = np.array([tm.predict_branch_flow_m3_s(v) for v in pth])
    head = np.array([tm.predict_node_head_m(v) for v in pth])
    volt = np.array([em.predict_voltage_pu(a, b) for a, b in zip(p, q)])
    s_from, s_to = zip(*(em.predict_branch_power_kva(a, b) for a, b in zip(p, q)))
    return flow, head, volt, np.array(s_from), np.array(s_to)


def test_grid_limits_respected(district, results):
    for name, res in results.items():
        em = district.electric_model
        lim = res.problem.limits.resolved(district.thermal_model, em)
        f_max, h_min = lim["thermal_branch_flow_max_m3_s"], lim["thermal_node_head_min_m"]
        v_min, s_max = lim["electric_voltage_min_pu"], lim["electric_branch_power_max_kva"]
        flow, head, volt, s_from, s_to = _grid_values(district, res)
        assert np.all(flow <= f_max + 1e-6 * np.abs(f_max)), name
        assert np.all(head >= h_min - 1e-6 * np.abs(h_min) - 1e-12), name
        assert np.all(volt >= v_min - 1e-9) and np.all(volt <= em.voltage_max_pu + 1e-9), name
        assert np.all(s_from <= s_max * (1 + 1e-6)) and np.all(s_to <= s_max * (1 + 1e-6)), name


@pytest.mark.parametrize("name", CONSTRAINED)
def test_constrained_scenario_binds(district, results, name):
    """Nonzero dual on the tightened limit, the limit met with equality where its dual is nonzero,
    and a price change at every DER downstream of the element (against the scenario the limit is
    added to: stress-thermal-congestion for the electric ones)."""
    lim = scenario_limits(district, name)
    res, base = results[name], results[lim.base or "unconstrained"]
    allowed = {(f, lim.element) for f in lim.families}
    if lim.base:
        inherited = scenario_limits(district, lim.base)
        allowed |= {(f, inherited.element) for f in inherited.families}
    grid = district.thermal_grid if lim.families[0].startswith("thermal") else \
        district.electric_grid
    names = grid.line_names if "branch" in lim.families[0] else grid.node_names
    e = int(np.flatnonzero(names == lim.element)[0])
    duals = np.stack([res.duals[f][:, e] for f in lim.families])
    assert np.abs(duals).max() > 1e-3, name
    # No other limit binds: the scenario isolates its constraints.
    assert {(b["constraint"], b["element"]) for b in res.binding_constraints(1e-7)} <= allowed
    flow, head, volt, s_from, s_to = _grid_values(district, res)
    if name in ("thermal-congestion", "stress-thermal-congestion"):
        value, limit = flow[:, e], lim.thermal_branch_flow_max_m3_s[e]
    elif name == "thermal-head":
        value, limit = head[:, e], lim.thermal_node_head_min_m[e]
    elif name == "electric-congestion":
        value, limit = np.maximum(s_from[:, e], s_to[:, e]), lim.electric_branch_power_max_kva[e]
    else:
        value, limit = volt[:, e], lim.electric_voltage_min_pu[e]
    active = np.abs(duals).max(axis=0) > 1e-6
    np.testing.assert_allclose(value[active], limit, rtol=1e-7, atol=1e-12)
    # Price effect downstream: thermal prices for thermal limits, active prices for electric ones.
    quantity = "thermal_power" if lim.families[0].startswith("thermal") else "active_power"
    change = np.abs(res.prices[quantity] - base.prices[quantity]).max(axis=0)
    assert lim.downstream.size == 10 and FL22 in lim.downstream
    assert np.all(change[lim.downstream] > 1e-3), (name, change)
    assert res.objective > base.objective + 1.0


def test_thermal_congestion_midday_surge_at_fl22(district, results):
    res, base = results["thermal-congestion"], results["unconstrained"]
    hours = _hours(district)
    window = (hours >= 10) & (hours < 17)
    lam, lam0 = res.prices["thermal_power"][:, FL22], base.prices["thermal_power"][:, FL22]
    assert np.all(lam[window] >= lam0[window] - 1e-9)
    assert (lam - lam0)[window].max() > 0.005  # S$/kWh, about +70 % of c_t / eta
    assert (lam - lam0)[window].mean() > 0.003
    assert 10 <= hours[np.argmax(lam - lam0)] < 17
    # Upstream of branch 4 (not fed through it) nothing changes.
    upstream = np.setdiff1d(np.arange(district.n_der), scenario_limits(district,
                                                                       "thermal-congestion")
                            .downstream)
    np.testing.assert_allclose(res.prices["thermal_power"][:, upstream],
                               base.prices["thermal_power"][:, upstream], atol=1e-9)
    # Energy and pump terms do not depend on the dispatch, so the surge is the congestion term.
    np.testing.assert_allclose(lam - lam0,
                               res.price_components["thermal_power"]["congestion"][:, FL22],
                               atol=1e-9)


def test_local_chiller_caps_the_thermal_price(district, results):
    """Dual feasibility of the local chiller: where a building draws district cooling, its thermal
    price cannot exceed the price of the chiller's electricity per kW of cooling (else it would
    switch); where it uses its chiller and still draws district cooling, equality holds."""
    for name, res in results.items():
        for k, model in enumerate(district.buildings):
            cop = model.parameters["plant_cooling_efficiency"]
            n_y = len(model.output_names)
            y = res.group("aggregator", f"{model.name}/y").reshape(-1, n_y)
            chiller = y[:, model.output_index("local_chiller_thermal_power")]
            lam_th = res.prices["thermal_power"][:, k]
            # One kW of local cooling costs 1/COP kW and 0.5/COP kvar (q = 0.5 p).
            cap = (res.prices["active_power"][:, k]
                   + 0.5 * res.prices["reactive_power"][:, k]) / cop
            drawing = res.dispatch["thermal_power"][:, k] > 1e-6
            assert np.all(lam_th[drawing] <= cap[drawing] * (1 + 1e-7) + 1e-12), (name, k)
            # Using the chiller while still drawing district cooling: indifferent, so equal. (A
            # building that serves all its coil load locally may see a higher thermal price.)
            used = (chiller > 1e-3) & drawing
            np.testing.assert_allclose(lam_th[used], cap[used], rtol=1e-6)
    # The congested case actually uses local chillers downstream of branch 4, and the equality
    # above is exercised (10 steps on the embedded day).
    res = results["thermal-congestion"]
    downstream = scenario_limits(district, "thermal-congestion").downstream
    n_equal = 0
    for k, model in enumerate(district.buildings):
        y = res.group("aggregator", f"{model.name}/y").reshape(-1, len(model.output_names))
        chiller = y[:, model.output_index("local_chiller_thermal_power")] > 1e-3
        assert k in downstream or not chiller.any()
        n_equal += int((chiller & (res.dispatch["thermal_power"][:, k] > 1e-6)).sum())
    assert n_equal >= 5


def test_unconstrained_prices_match_hand_derivation(district, results):
    """Unconstrained DLMPs: thermal c_t (1/eta + dP_pump/dp_th_k), active c_t (1 + dP_loss/dp_k),
    reactive c_t dP_loss/dq_k, with the marginals from central finite differences of the
    nonlinear models at the reference point (thermal 1 kW, electric 1 kW / 1 kvar steps)."""
    res = results["unconstrained"]
    c = district.price[:, None]
    tg, eg = district.thermal_grid, district.electric_grid
    step = 1.0
    pump, loss_p, loss_q = (np.zeros(district.n_der) for _ in range(3))
    for k in range(district.n_der):
        e = np.zeros(district.n_der)
        e[k] = step
        pth0, p0, q0 = district.p_th_ref_kw, district.p_ref_kw, district.q_ref_kvar
        pump[k] = (solve_thermal_grid(tg, pth0 + e).pump_power_kw
                   - solve_thermal_grid(tg, pth0 - e).pump_power_kw) / (2 * step)
        loss_p[k] = (solve_power_flow(eg, p0 + e, q0).loss_active_kw
                     - solve_power_flow(eg, p0 - e, q0).loss_active_kw) / (2 * step)
        loss_q[k] = (solve_power_flow(eg, p0, q0 + e).loss_active_kw
                     - solve_power_flow(eg, p0, q0 - e).loss_active_kw) / (2 * step)
    np.testing.assert_allclose(res.prices["thermal_power"], c * (1 / district.eta_ch + pump),
                               rtol=1e-6)
    np.testing.assert_allclose(res.prices["active_power"], c * (1 + loss_p), rtol=1e-6)
    # The reactive marginal is ~3e-4 kW/kvar, so the power flow's 1e-8 p.u. stopping rule limits
    # the finite difference to about 3e-4 relative.
    np.testing.assert_allclose(res.prices["reactive_power"], c * loss_q, rtol=2e-3)
    # Magnitudes: pump adds about 2 % to c/eta, losses well below 0.1 % of c.
    assert 0.005 < (pump * district.eta_ch).mean() < 0.05
    assert 0.0 < loss_p.mean() < 1e-3


def test_price_components_sum_to_price(district, results):
    for res in results.values():
        for quantity in QUANTITIES:
            parts = res.price_components[quantity]
            assert set(parts) == set(PRICE_COMPONENTS)
            np.testing.assert_allclose(sum(parts.values()), res.prices[quantity], atol=1e-9)
        np.testing.assert_allclose(res.price_components["thermal_power"]["energy"],
                                   np.repeat(district.price[:, None] / district.eta_ch,
                                             district.n_der, axis=1), rtol=1e-9)
        np.testing.assert_allclose(res.price_components["active_power"]["energy"],
                                   np.repeat(district.price[:, None], district.n_der, axis=1),
                                   rtol=1e-9)
    assert np.abs(results["voltage"].price_components["active_power"]["voltage"]).max() > 0.01
    assert np.abs(results["unconstrained"].price_components["active_power"]["voltage"]).max() == 0


def test_linear_models_accurate_at_operating_point(district, results):
    """Linear grid models against the nonlinear ones along the unconstrained dispatch, and the
    reason for not linearising at nominal power (losses predicted at -3.3 MW)."""
    res = results["unconstrained"]
    tm, em = district.thermal_model, district.electric_model
    pth, p, q = (res.dispatch[k] for k in QUANTITIES)
    peak_pump = solve_thermal_grid(district.thermal_grid, district.p_th_ref_kw).pump_power_kw
    near_peak = pth.sum(axis=1) >= 0.8 * pth.sum(axis=1).max()
    for t in range(district.n_timesteps):
        pf = solve_power_flow(district.electric_grid, p[t], q[t])
        np.testing.assert_allclose(em.predict_voltage_pu(p[t], q[t]), np.abs(pf.voltage_pu),
                                   atol=1e-6)
        s_from, _ = em.predict_branch_power_kva(p[t], q[t])
        assert np.abs(s_from - np.abs(pf.branch_power_from_kva)).max() < 1e-3 * np.abs(
            pf.branch_power_from_kva).max()
        assert abs(em.predict_losses(p[t], q[t])[0] - pf.loss_active_kw) < 1.5  # of 4.5 kW
        th = solve_thermal_grid(district.thermal_grid, pth[t])
        assert abs(tm.predict_pump_power_kw(pth[t]) - th.pump_power_kw) < 0.005 * peak_pump
        np.testing.assert_allclose(tm.predict_branch_flow_m3_s(pth[t]), th.branch_flow_m3_s,
                                   atol=1e-12)
        if near_peak[t]:
            h_err = np.abs(tm.predict_node_head_m(pth[t]) - th.node_head_m).max()
            assert h_err < 0.05 * np.abs(tm.node_head_ref_m).max()
    nominal = load_district(reference="nominal")
    loss_nominal = nominal.electric_model.predict_losses(p[28], q[28])[0]
    assert loss_nominal < -3000.0  # kW: the nominal tangent is useless at the real load


def test_unknown_scenario(district):
    with pytest.raises(ValueError, match="unknown scenario 'nope'; valid: unconstrained, "
                                         "thermal-congestion"):
        solve_district(district, "nope")
    with pytest.raises(ValueError, match="reference"):
        load_district(reference="mean")


def test_each_grid_computes_its_limits_from_its_own_model(district):
    """The per-grid limits need only that grid's linear model; combined they are the district's,
    and the grid operators' blocks of the centralized problem are built from them."""
    for name in SCENARIOS:
        lim = scenario_limits(district, name)
        thermal = thermal_scenario_limits(district.thermal_model, name)
        electric = electric_scenario_limits(district.electric_model, name)
        for mine, theirs in ((thermal.branch_flow_max_m3_s, lim.thermal_branch_flow_max_m3_s),
                             (thermal.node_head_min_m, lim.thermal_node_head_min_m),
                             (electric.branch_power_max_kva, lim.electric_branch_power_max_kva),
                             (electric.voltage_min_pu, lim.electric_voltage_min_pu)):
            assert (mine is None) == (theirs is None)
            if mine is not None:
                np.testing.assert_array_equal(mine, theirs)
        problem = build_centralized(district, name)
        block = thermal_grid_operator_block(district.thermal_model, district.price,
                                            district.timestep_h, district.eta_ch, name)
        np.testing.assert_array_equal(block.b_ub, problem.blocks["thermal_grid"].b_ub)
        block = electric_grid_operator_block(district.electric_model, district.price,
                                             district.timestep_h, name)
        np.testing.assert_array_equal(block.b_ub, problem.blocks["electric_grid"].b_ub)
    # The electric scenarios keep stress-thermal-congestion's thermal limit (their base).
    np.testing.assert_array_equal(
        thermal_scenario_limits(district.thermal_model, "voltage").branch_flow_max_m3_s,
        thermal_scenario_limits(district.thermal_model,
                                "stress-thermal-congestion").branch_flow_max_m3_s)
    assert electric_scenario_limits(district.electric_model, "thermal-head").voltage_min_pu is None
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        thermal_scenario_limits(district.thermal_model, "nope")


def test_reference_point_comes_from_published_baselines(district):
    """load_district linearises at the point the grids compute from the buildings' own baselines
    (each solved alone); the joint reference LP separates into exactly these problems."""
    baselines = {m.name: building_baseline(m, district.price, district.timestep_h, district.eta_ch)
                 for m in reversed(district.buildings)}  # a mapping: order does not matter
    point = reference_point(baselines, district.der_names)
    assert district.timesteps[point.timestep_index] == district.reference_timestep
    np.testing.assert_array_equal(point.p_th_kw, district.p_th_ref_kw)
    np.testing.assert_array_equal(point.p_kw, district.p_ref_kw)
    np.testing.assert_array_equal(point.q_kvar, district.q_ref_kvar)
    p_th, p, q = building_reference_demand(district.buildings, district.price, district.timestep_h,
                                           district.eta_ch)
    assert p_th.shape == (district.n_timesteps, district.n_der)
    for k, name in enumerate(district.der_names):
        for stacked, own in zip((p_th, p, q), baselines[name], strict=True):
            assert own.shape == (district.n_timesteps,)
            np.testing.assert_array_equal(stacked[:, k], own)
    with pytest.raises(ValueError, match="no baseline for DER"):
        reference_point({k: v for k, v in baselines.items() if k != "7"}, district.der_names)
    short = dict(baselines, **{"7": tuple(b[:-1] for b in baselines["7"])})
    with pytest.raises(ValueError, match="DER '7'"):
        reference_point(short, district.der_names)
    with pytest.raises(ValueError, match="price_s_per_kwh has 47 steps"):
        building_baseline(district.buildings[0], district.price[:-1], district.timestep_h, 10.0)
