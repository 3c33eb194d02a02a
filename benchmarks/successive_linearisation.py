"""Benchmark: successive linearisation of the district, centralized and by market clearing, in
one run per scenario.

    python benchmarks/successive_linearisation.py [--resolution 30min|60min] [SCENARIO ...]

Per scenario (default: all five): the centralized solve re-linearised until the nonlinear limits
hold (rounds, objective of the single linearisation and of the last round, its worst violation
before and after, electric losses linear / AC over the day before and after, seconds) and the
market clearing re-linearised by its grid operators between clearings (clearings, ADMM iterations
per clearing, seconds), with the market's objective gap and largest price deviation against the
successively linearised centralized solve.
"""

from __future__ import annotations

import argparse
import time

from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.scenarios import SCENARIO_NAMES
from distributed_resource_optimization.energy.successive import solve_successively
from distributed_resource_optimization.market.clearing import (
    clear_market_successively,
    compare_with_centralized,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", default="30min", choices=("30min", "60min"))
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIO_NAMES))
    args = parser.parse_args()
    district = load_district(resolution=args.resolution)
    print(f"resolution {args.resolution}")
    print(f"{'scenario':<20} {'LPs':>3} {'obj once':>10} {'obj iter':>10} {'worst once':>18} "
          f"{'worst iter':>18} {'loss lin/AC once':>17} {'loss lin/AC iter':>17} {'s':>5} | "
          f"{'clearings':>9} {'iterations':>16} {'s':>5} {'gap':>8} {'price dev':>9}")
    for scenario in args.scenarios:
        start = time.perf_counter()
        central = solve_successively(district, scenario)
        central_s = time.perf_counter() - start
        start = time.perf_counter()
        market = clear_market_successively(district, scenario)
        market_s = time.perf_counter() - start
        first, last = central.rounds[0], central.rounds[-1]
        cmp = compare_with_centralized(market.market, central.result)
        its = "/".join(str(r.iterations) for r in market.rounds)
        print(f"{scenario:<20} {len(central.rounds):>3} {first.objective:>10.2f} "
              f"{last.objective:>10.2f} {first.worst_kind:>9} {first.worst_violation_rel:8.1e} "
              f"{last.worst_kind:>9} {last.worst_violation_rel:8.1e} "
              f"{first.losses_linear_kwh:8.2f}/{first.losses_ac_kwh:<8.2f} "
              f"{last.losses_linear_kwh:8.2f}/{last.losses_ac_kwh:<8.2f} {central_s:5.1f} | "
              f"{len(market.rounds):>9} {its:>16} {market_s:5.1f} "
              f"{cmp['objective_gap_rel']:8.1e} {cmp['max_price_deviation']:9.1e}")


if __name__ == "__main__":
    main()
