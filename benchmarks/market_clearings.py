"""Benchmark: the market cleared by ADMM and by the distributed interior-point method
(issue 26, part 1), side by side.

    python benchmarks/market_clearings.py [--resolutions 60min 30min]
        [--agents entities per-building] [--scenarios ...] [--clearings admm interior-point]
        [--latency-ms 20]

For every scenario, resolution and agent mode, one run per clearing (``--clearing`` of ``dro
market-clearing``, default settings: ADMM with its certified stop; the study's single
linearisation) against one centralized solve: rounds of messages (ADMM: iterations; interior
point: three per Newton iteration), Newton iterations, wall time in this process, the true gap
and the certified gap to the optimum, the largest price deviation from the centralized DLMPs
(S$/kWh), and the time the rounds alone would take at ``--latency-ms`` one-way latency (a round
trip per round).
"""

from __future__ import annotations

import argparse
import time

from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.scenarios import SCENARIO_NAMES
from distributed_resource_optimization.market.clearing import (
    compare_with_centralized,
    run_market_clearing,
)
from distributed_resource_optimization.market.names import CLEARINGS

#: The study's scenarios: every scenario but the stress tests.
SCENARIOS = tuple(name for name in SCENARIO_NAMES if not name.startswith("stress-"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", nargs="+", default=["60min", "30min"],
                    choices=("30min", "60min"))
    ap.add_argument("--agents", nargs="+", default=["entities"],
                    choices=("entities", "per-building"))
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    ap.add_argument("--clearings", nargs="+", default=list(CLEARINGS), choices=CLEARINGS)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    args = ap.parse_args()
    print(f"{'res':>5} {'agents':<12} {'scenario':<20} {'clearing':<14} {'rounds':>6} "
          f"{'newton':>6} {'s':>6} {'latency s':>9} {'gap':>8} {'certified':>9} "
          f"{'price dev':>9}")
    for resolution in args.resolutions:
        district = load_district(resolution=resolution)
        for scenario in args.scenarios:
            central = solve_district(district, scenario)
            for agents in args.agents:
                for clearing in args.clearings:
                    start = time.perf_counter()
                    market = run_market_clearing(district, scenario, agents=agents,
                                                 clearing=clearing)
                    wall = time.perf_counter() - start
                    cmp = compare_with_centralized(market, central)
                    certified = market.admm.gap_certified
                    newton = market.newton_iterations
                    latency = market.iterations * 2 * args.latency_ms / 1000
                    status = "" if market.converged else " (not converged)"
                    print(f"{resolution:>5} {agents:<12} {scenario:<20} {clearing:<14} "
                          f"{market.iterations:>6} {'-' if newton is None else newton:>6} "
                          f"{wall:>6.1f} {latency:>9.2f} {cmp['objective_gap_rel']:>8.1e} "
                          f"{'-' if certified is None else f'{certified:.1e}':>9} "
                          f"{cmp['max_price_deviation']:>9.1e}{status}", flush=True)


if __name__ == "__main__":
    main()
