"""The cooling grid's hydraulics and the verification of every scenario's dispatch against
pandapipes (an independent pipe-flow solver: Colebrook-White friction, its own water
properties), run in CI's separate venv with pandapower and pandapipes (.ci/run).

Tolerances: mass flows in the pipes to 1e-9 relative (mass balance on a tree); heads to 2 % (our
Swamee-Jain friction factor is within about 1 % of Colebrook's; pandapipes' water at 10 degC is
0.14 % denser and its viscosity 3 % lower than the data's)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.scenarios import SCENARIO_NAMES
from distributed_resource_optimization.energy.thermal_grid import solve_thermal_grid
from distributed_resource_optimization.energy.thermal_grid.hydraulics import GRAVITY_M_S2
from distributed_resource_optimization.energy.verification import verify_centralized

pps = pytest.importorskip("pandapipes")

WATER_K = 283.15  # 10 degC chilled-water supply


def _pandapipes_heads(grid, p_th_kw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Node heads (m, relative to the source) and pipe mass flows (kg/s, away from the source)
    of the same network and cooling demand (kW) in pandapipes."""
    net = pps.create_empty_network(fluid="water")
    junctions = [pps.create_junction(net, pn_bar=5.0, tfluid_k=WATER_K)
                 for _ in range(grid.n_node)]
    pps.create_ext_grid(net, junctions[grid.source_index], p_bar=5.0, t_k=WATER_K)
    for k in range(grid.n_line):
        ends = (grid.line_from[k], grid.line_to[k])
        a, b = ends if grid.line_downstream_sign[k] > 0 else ends[::-1]  # away from the source
        pps.create_pipe_from_parameters(
            net, junctions[a], junctions[b], length_km=grid.line_length_m[k] / 1e3,
            inner_diameter_mm=grid.line_diameter_m[k] * 1e3, k_mm=grid.line_roughness_m[k] * 1e3)
    flow = p_th_kw * grid.flow_per_kw * grid.water_density_kg_m3
    for k in range(grid.n_der):
        pps.create_sink(net, junctions[grid.der_node_index[k]], mdot_kg_per_s=flow[k])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pps.pipeflow(net, friction_model="colebrook", mode="hydraulics")
    p_bar = net.res_junction.p_bar.to_numpy()
    density = float(np.atleast_1d(net.fluid.get_density(WATER_K))[0])
    heads = (p_bar - p_bar[grid.source_index]) * 1e5 / (density * GRAVITY_M_S2)
    return heads, net.res_pipe.mdot_from_kg_per_s.to_numpy()


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_the_verification_of_each_scenario_agrees_with_pandapipes(district, scenario):
    """At the step of each scenario's worst head: pandapipes' heads and pipe mass flows are the
    hydraulics', and so the head check the verification reports."""
    grid = district.thermal_grid
    result = solve_district(district, scenario)
    head = verify_centralized(result).checks["node_head"]
    t = district.timesteps.get_loc(head.timestep)
    p_th = result.dispatch["thermal_power"][t]
    ours = solve_thermal_grid(grid, p_th)
    heads, mass_flow = _pandapipes_heads(grid, p_th)
    np.testing.assert_allclose(mass_flow, ours.branch_flow_m3_s * grid.water_density_kg_m3,
                               rtol=1e-9, atol=1e-12)
    scale = np.max(np.abs(ours.node_head_m))
    assert scale > 0
    np.testing.assert_allclose(heads, ours.node_head_m, atol=0.02 * scale)
    node = list(grid.node_names).index(head.element)
    assert head.value == pytest.approx(heads[node], rel=0.02)


def test_pandapipes_confirms_the_thermal_head_violation(district):
    """The linear head model's dispatch of thermal-head goes beyond its limit by more than
    10 % in pandapipes too (13 % in the project's hydraulics)."""
    result = solve_district(district, "thermal-head")
    head = verify_centralized(result).checks["node_head"]
    t = district.timesteps.get_loc(head.timestep)
    heads, _ = _pandapipes_heads(district.thermal_grid, result.dispatch["thermal_power"][t])
    value = heads[list(district.thermal_grid.node_names).index(head.element)]
    assert (head.limit - value) / -head.limit > 0.10
