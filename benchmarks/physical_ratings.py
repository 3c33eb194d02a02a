"""Benchmark: how far the district's dispatches are from the physical ratings, in the data's
network and in a planning variant sized from standard catalogues, and how much room the
buildings' flexibility leaves an electric limit.

    python benchmarks/physical_ratings.py [--resolution 30min|60min]

Why only ``thermal-congestion`` is physical and the other constrained scenarios are stress tests
(issue 24, part 4). Three dispatches are followed through the nonlinear grids (AC power flow,
hydraulics) at every step: the buildings' published baselines (each building's cost-optimal
demand, what a planner meters), the centralized ``unconstrained`` optimum and the
``thermal-congestion`` optimum (the local chillers switched on behind the repaired pipe).

1. The data's network: highest cable loading (share of ``maximum_current``), largest voltage
   drop (share of a 0.95 p.u. planning band's 5 %), fastest pipe (share of ``maximum_velocity``),
   largest network head loss (share of the pump head).
2. The electric flexibility: the buildings' electric demand is scheduled except their local
   chillers, which only add load. The largest rise of any cable's loading above the baselines
   is the whole window in which a feasible electric limit could bind; a rating is physical only
   if it falls inside by itself.
3. A planning variant: every cable the smallest of a standard 12/20 kV catalogue (values of
   pandapower's standard types NA2XS2Y 1x70 .. 1x240 RM/25 12/20 kV; one three-phase circuit of
   single cores) whose rating at 22 kV covers its peak under the baselines, every pipe the
   smallest EN 10220 steel pipe (pandapipes' ``<DN>_ST<16`` inner diameters) whose velocity at
   the baselines' peak is at most the line type's 2 m/s: the usual design rule for today's
   peak. Printed: each dispatch's highest loading in that variant and its largest voltage drop.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pandas as pd

from distributed_resource_optimization.energy.catalogues import smallest_cable, smallest_pipe
from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.electric_grid.power_flow import solve_power_flow
from distributed_resource_optimization.energy.radial_grid import grid_file
from distributed_resource_optimization.energy.ratings import PLANNING_VOLTAGE_MIN_PU
from distributed_resource_optimization.energy.thermal_grid.hydraulics import solve_thermal_grid


def follow(district, electric, thermal, demand):
    """Per step: cable apparent power (kVA), voltages (p.u.), pipe flows (m3/s), heads."""
    p_th, p, q = demand
    s, v, f, h, pump = [], [], [], [], []
    for t in range(district.n_timesteps):
        ac = solve_power_flow(electric, p[t], q[t])
        s.append(np.maximum(abs(ac.branch_power_from_kva), abs(ac.branch_power_to_kva)))
        v.append(ac.voltage_magnitude_pu)
        hyd = solve_thermal_grid(thermal, p_th[t])
        f.append(hyd.branch_flow_m3_s)
        h.append(-hyd.node_head_m.min())
        pump.append(hyd.pump_head_m)
    return np.array(s), np.array(v), np.array(f), np.array(h), np.array(pump)


def planning_variant(district, s_peak, f_peak):
    """The grids with every cable and pipe sized for the baselines' peak (module doc)."""
    eg, tg = district.electric_grid, district.thermal_grid
    pick = [smallest_cable(s, eg.nominal_voltage_v) for s in s_peak]
    if any(c is None for c in pick):
        raise SystemExit("a cable's peak exceeds the catalogue's largest rating")
    lines = pd.read_csv(district.folder / grid_file("electric", "lines"))
    km = lines["length"].to_numpy(float)
    omega = 2.0 * np.pi * eg.base_frequency_hz
    electric = dataclasses.replace(
        eg, line_impedance_ohm=np.array([c.resistance_ohm_per_km + 1j * c.reactance_ohm_per_km
                                         for c in pick]) * km,
        line_shunt_susceptance_s=np.array([omega * c.capacitance_nf_per_km * 1e-9
                                           for c in pick]) * km,
        line_max_current_a=np.array([c.max_current_a for c in pick]))
    pipes = [smallest_pipe(f, v) for f, v in zip(f_peak, tg.line_max_velocity_m_s)]
    if any(p is None for p in pipes):
        raise SystemExit("a pipe's peak flow exceeds the catalogue's largest pipe")
    thermal = dataclasses.replace(tg, line_diameter_m=np.array([p.inner_diameter_m
                                                                for p in pipes]))
    return (electric, thermal, [c.cross_section_mm2 for c in pick],
            [p.nominal_width_mm for p in pipes])


def table(district, electric, thermal, dispatches) -> dict:
    """Print each dispatch's highest shares of the ratings in these grids; the flows per
    dispatch (:func:`follow`)."""
    band = 1.0 - PLANNING_VOLTAGE_MIN_PU
    print(f"{'dispatch':<20} {'cable':>14} {'voltage drop':>20} {'pipe velocity':>15} "
          f"{'head loss/pump':>15}")
    flows = {}
    for label, demand in dispatches.items():
        s, v, f, h, pump = flows[label] = follow(district, electric, thermal, demand)
        load = s / electric.line_rating_kva
        line = int(np.argmax(load.max(axis=0)))
        velocity = (f / (np.pi * thermal.line_diameter_m ** 2 / 4.0)
                    / thermal.line_max_velocity_m_s)
        print(f"{label:<20} {load.max():>7.1%} (l {electric.line_names[line]:>2}) "
              f"{(1 - v.min()) / band:>10.2%} of {band:.0%} {velocity.max():>15.1%} "
              f"{(h / pump).max():>15.2e}")
    return flows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", default="30min", choices=("30min", "60min"))
    args = parser.parse_args()
    district = load_district(resolution=args.resolution)
    eg, tg = district.electric_grid, district.thermal_grid
    names = district.der_names
    baseline = tuple(np.column_stack([district.baselines[n][i] for n in names])
                     for i in range(3))
    dispatches = {"baselines": baseline}
    for scenario in ("unconstrained", "thermal-congestion"):
        d = solve_district(district, scenario).dispatch
        dispatches[scenario] = (d["thermal_power"], d["active_power"], d["reactive_power"])

    print(f"resolution {args.resolution}; the data's network (shares of the ratings):")
    flows = table(district, eg, tg, dispatches)

    s_base = flows["baselines"][0]
    rise = (flows["thermal-congestion"][0] - s_base) / eg.line_rating_kva
    below = (flows["thermal-congestion"][0] - s_base).min() / eg.line_rating_kva.min()
    print(f"electric flexibility: cable loading above the baselines, thermal-congestion: at most "
          f"{rise.max():+.2%} of a rating (line {eg.line_names[int(np.argmax(rise.max(0)))]}), "
          f"at least {below:+.2%}: a feasible electric limit binds only inside that window")

    electric, thermal, sizes, dns = planning_variant(district, s_base.max(axis=0),
                                                     flows["baselines"][2].max(axis=0))
    print(f"planning variant: cables (mm2) {dict(zip(eg.line_names.tolist(), sizes))}")
    print(f"                  pipes (DN) {dict(zip(tg.line_names.tolist(), dns))}")
    table(district, electric, thermal, dispatches)


if __name__ == "__main__":
    main()
