"""Benchmark: ADMM market clearing (seed Algorithm 1) vs the centralized HiGHS solve, per scenario.

    python benchmarks/market_clearing.py [--scenarios thermal-congestion ...]
        [--resolution 60min] [--agents entities|per-building] [--rho 10] [--max-iters 5000]
        [--eps 0.1 0.001]

One ADMM run per scenario with the smallest ``eps`` as stopping threshold; for every ``eps`` it
prints the first iteration at which all three primal residuals ``r(a, b)`` (thermal, active,
reactive; kW / kvar summed over steps and DERs) were below ``eps`` and the wall time up to that
iteration (ADMM wall time including the runtime's messaging and the local solves' setup), the
centralized solver time, their ratio, the objective gap and the largest price deviation from the
centralized DLMPs at the end of the run, and the ADMM time per iteration after the first
(``ms_per_it``, without the entities' setup).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.scenarios import SCENARIOS
from distributed_resource_optimization.market.clearing import (
    compare_with_centralized,
    run_market_clearing,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    ap.add_argument("--resolution", default="60min", choices=("30min", "60min"))
    ap.add_argument("--agents", default="entities", choices=("entities", "per-building"))
    ap.add_argument("--rho", type=float, default=None)
    ap.add_argument("--max-iters", type=int, default=5000)
    ap.add_argument("--eps", type=float, nargs="+", default=[0.1, 1e-3])
    args = ap.parse_args()
    district = load_district(resolution=args.resolution)
    eps_list = sorted(args.eps, reverse=True)
    print(f"resolution {args.resolution}, agents {args.agents}, max_iters {args.max_iters}")
    print(f"{'scenario':22s} {'eps':>7s} {'iters':>6s} {'admm_s':>8s} {'central_s':>9s} "
          f"{'ratio':>7s} {'gap_rel':>9s} {'max_dprice':>10s} {'ms_per_it':>9s}")
    for scenario in args.scenarios:
        central = solve_district(district, scenario)
        stamps: list[float] = []
        start = time.perf_counter()
        market = run_market_clearing(district, scenario, agents=args.agents, rho=args.rho,
                                     eps=eps_list[-1], max_iters=args.max_iters,
                                     progress=lambda s, log=stamps: log.append(time.perf_counter()))
        cmp = compare_with_centralized(market, central)
        worst = np.max(np.vstack([*market.residuals.values(), *market.dual_residuals.values()]),
                       axis=0)
        for eps in eps_list:
            hit = np.flatnonzero(worst < eps)
            if hit.size:
                it = int(hit[0]) + 1
                wall = stamps[it - 1] - start
                iters, admm_s, ratio = f"{it}", f"{wall:.2f}", f"{wall / central.wall_time_s:.1f}"
                # After the first iteration: without the entities' setup.
                per_it = (f"{1000 * (stamps[it - 1] - stamps[0]) / (it - 1):.2f}" if it > 1
                          else "-")
            else:
                iters, admm_s, ratio, per_it = f">{market.iterations}", "-", "-", "-"
            print(f"{scenario:22s} {eps:7.0e} {iters:>6s} {admm_s:>8s} "
                  f"{central.wall_time_s:9.3f} {ratio:>7s} {cmp['objective_gap_rel']:9.2e} "
                  f"{cmp['max_price_deviation']:10.2e} {per_it:>9s}", flush=True)


if __name__ == "__main__":
    main()
