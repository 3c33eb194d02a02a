"""Benchmark: the market clearing's stopping rules side by side (issue 26, part 4).

    python benchmarks/market_stops.py [--resolutions 60min 30min] [--agents entities|per-building]
        [--scenarios ...] [--stops study certified]

For every scenario and resolution, one run per stopping rule (``--stop`` of ``dro
market-clearing``; the study's single linearisation) against one centralized solve: rounds,
wall time, the true and the certified gap to the optimum, the largest price deviation from the
centralized DLMPs (S$/kWh) and how closely the prices support every entity's dispatch
(``price_support``, S$/kWh; only the certified stop records it).
"""

from __future__ import annotations

import argparse
import time

from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.scenarios import SCENARIO_NAMES
from distributed_resource_optimization.io.summary import market_summary
from distributed_resource_optimization.market.clearing import (
    compare_with_centralized,
    run_market_clearing,
)
from distributed_resource_optimization.market.names import STOP_RULES

#: The study's scenarios: every scenario but the stress tests.
SCENARIOS = tuple(name for name in SCENARIO_NAMES if not name.startswith("stress-"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", nargs="+", default=["60min", "30min"],
                    choices=("30min", "60min"))
    ap.add_argument("--agents", default="entities", choices=("entities", "per-building"))
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    ap.add_argument("--stops", nargs="+", default=["study", "certified"], choices=STOP_RULES)
    args = ap.parse_args()
    print(f"{'res':>5} {'scenario':<20} {'stop':<9} {'rounds':>6} {'s':>6} {'gap':>8} "
          f"{'certified':>9} {'price dev':>9} {'support':>8}")
    for resolution in args.resolutions:
        district = load_district(resolution=resolution)
        for scenario in args.scenarios:
            central = solve_district(district, scenario)
            for stop in args.stops:
                start = time.perf_counter()
                market = run_market_clearing(district, scenario, stop=stop, agents=args.agents)
                wall = time.perf_counter() - start
                comparison = compare_with_centralized(market, central)
                support = market_summary(market, None)["price_support"]
                certified = market.admm.gap_certified
                print(f"{resolution:>5} {scenario:<20} {stop:<9} {market.iterations:>6} "
                      f"{wall:>6.1f} {comparison['objective_gap_rel']:>8.1e} "
                      f"{'-' if certified is None else f'{certified:.1e}':>9} "
                      f"{comparison['max_price_deviation']:>9.1e} "
                      f"{'-' if support is None else f'{support:.1e}':>8}", flush=True)


if __name__ == "__main__":
    main()
