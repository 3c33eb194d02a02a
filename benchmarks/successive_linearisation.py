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

from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.scenarios import SCENARIO_NAMES
from distributed_resource_optimization.energy.successive import solve_successively
from distributed_resource_optimization.energy.verification import verify_centralized
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
    print(f"resolution {args.resolution}; worst grid limit (relative to the limit) and largest "
          "comfort excursion (K) in the nonlinear models, once -> iterate; congestion cost: "
          "objective (iterate) minus unconstrained's")
    print(f"{'scenario':<20} {'LPs':>3} {'obj once':>10} {'obj iter':>10} {'grid once':>18} "
          f"{'grid iter':>18} {'K once':>7} {'K iter':>7} {'loss lin/AC once':>17} "
          f"{'loss lin/AC iter':>17} {'cong. S$':>8} {'s':>5} | {'clearings':>9} "
          f"{'iterations':>16} {'s':>5} {'gap':>8} {'price dev':>9} | binds (steps)")
    unconstrained = None
    for scenario in args.scenarios:
        start = time.perf_counter()
        central = solve_successively(district, scenario)
        central_s = time.perf_counter() - start
        start = time.perf_counter()
        market = clear_market_successively(district, scenario)
        market_s = time.perf_counter() - start
        once = verify_centralized(solve_district(district, scenario))
        first, last = central.rounds[0], central.rounds[-1]
        if scenario == "unconstrained":
            unconstrained = last.objective
        cost = "-" if unconstrained is None else f"{last.objective - unconstrained:8.2f}"
        cmp = compare_with_centralized(market.market, central.result)
        its = "/".join(str(r.iterations) for r in market.rounds)
        binds = ", ".join(f"{b['constraint'].split('/')[1]} {b['element']} ({b['timesteps']})"
                          for b in central.result.binding_constraints())
        print(f"{scenario:<20} {len(central.rounds):>3} {first.objective:>10.2f} "
              f"{last.objective:>10.2f} {_grid_worst(once):>18} "
              f"{_grid_worst(central.verification):>18} "
              f"{once.checks['comfort'].violation:7.4f} "
              f"{central.verification.checks['comfort'].violation:7.4f} "
              f"{first.losses_linear_kwh:8.2f}/{first.losses_ac_kwh:<8.2f} "
              f"{last.losses_linear_kwh:8.2f}/{last.losses_ac_kwh:<8.2f} {cost:>8} "
              f"{central_s:5.1f} | {len(market.rounds):>9} {its:>16} {market_s:5.1f} "
              f"{cmp['objective_gap_rel']:8.1e} {cmp['max_price_deviation']:9.1e} | "
              f"{binds or 'nothing'}")


def _grid_worst(verification) -> str:
    """The grid limit nearest to (or furthest beyond) its limit: kind and relative violation."""
    grid = [c for kind, c in verification.checks.items() if kind != "comfort"]
    worst = max(grid, key=lambda c: (c.violation > 0, c.violation_rel))
    return f"{worst.kind} {worst.violation_rel:8.1e}" if worst.violation > 0 else "holds"


if __name__ == "__main__":
    main()
