"""Benchmark: the market on generated districts from 22 to 1000 buildings (issue 26, part 5).

    python benchmarks/city_scale.py [--sizes 22,100,200,500,1000] [--per-building-max 200]
                                    [--resolution 60min] [--seed 0] [--scenario unconstrained]
                                    [--runtime tcp --agents-per-process 250 [--broker H:P]]

Per size N: a district of N buildings written by ``dro data generate``'s generator
(:func:`~distributed_resource_optimization.energy.synthetic.generate_district`) into a temporary
folder, its feeders, loading time (building models and baselines), one centralized solve, and
the ADMM market with the default settings, three entities, and one agent per building up to
``--per-building-max``: rounds, wall time, ms per round (median, the round alone) and per
building, the ratio of the whole ADMM run to the centralized solve, and the objective and price
gaps to the centralized optimum. One run on this machine, in process (no network): compare
ratios and rounds, not seconds. With ``--runtime tcp`` (or ``mqtt``) the per-building agents run
in spawned processes instead, ``--agents-per-process`` buildings to a process beside the two
grid operators' (the wall time then includes starting them and their setup).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.synthetic import generate_district
from distributed_resource_optimization.market.clearing import (
    compare_with_centralized,
    run_market_clearing,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="22,100,200,500,1000")
    parser.add_argument("--per-building-max", type=int, default=200)
    parser.add_argument("--resolution", default="60min")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default="unconstrained")
    parser.add_argument("--runtime", default="inproc", choices=("inproc", "tcp", "mqtt"),
                        help="where the per-building agents run")
    parser.add_argument("--agents-per-process", type=int, default=1)
    parser.add_argument("--broker", default=None, help="MQTT broker HOST:PORT")
    args = parser.parse_args()
    spawned = {} if args.runtime == "inproc" else {
        "runtime": args.runtime, "agents_per_process": args.agents_per_process,
        **({"broker": args.broker} if args.broker else {})}
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'N':>5} {'feeders':>7} {'load s':>7} {'central s':>9} {'agents':>12} "
          f"{'rounds':>6} {'ADMM s':>7} {'ms/round':>8} {'us/round/bldg':>13} {'ratio':>6} "
          f"{'obj gap':>8} {'price dev':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            made = generate_district(Path(tmp) / f"n{n}", n, args.seed)
            start = time.perf_counter()
            district = load_district(made.folder, resolution=args.resolution)
            load_s = time.perf_counter() - start
            start = time.perf_counter()
            central = solve_district(district, args.scenario)
            central_s = time.perf_counter() - start
            modes = ["entities"] + (["per-building"] if n <= args.per_building_max else [])
            for agents in modes:
                start = time.perf_counter()
                market = run_market_clearing(district, args.scenario, agents=agents,
                                             **(spawned if agents == "per-building" else {}))
                admm_s = time.perf_counter() - start
                if market.agent_processes:
                    agents = f"{market.agent_processes} proc."
                gaps = compare_with_centralized(market, central)
                # The round itself (requests out to the z-update done), as the coordinator
                # measures it: without the agents' start and setup, which dominate when they
                # are spawned; the first round also warms caches up.
                rounds = market.admm.iteration_wall_s[1:]
                per_round = float(np.median(rounds)) if len(rounds) else admm_s
                print(f"{n:>5} {len(made.feeders):>7} {load_s:>7.1f} {central_s:>9.2f} "
                      f"{agents:>12} {market.iterations:>6} {admm_s:>7.2f} "
                      f"{1000 * per_round:>8.1f} {1e6 * per_round / n:>13.0f} "
                      f"{admm_s / central_s:>6.2f} {gaps['objective_gap_rel']:>8.1e} "
                      f"{gaps['max_price_deviation']:>9.1e}", flush=True)


if __name__ == "__main__":
    main()
