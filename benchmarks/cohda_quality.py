"""COHDA's quality: plain COHDA and multi-start COHDA against exhaustive search and a MILP.

    python benchmarks/cohda_quality.py [--runs R] [--seeds 0,1,2,3,4] [--skip-large]
                                       [--skip-small] [--perturb P]
                                       [--topologies ring,small-world]

Small: the 50 seeded instances of ``tests/algorithm/test_cohda.py`` (``small_instance``) on a complete
graph against the enumeration of every combination: how often the optimum is found, the mean and
worst relative excess ``(d - d*) / d*`` and normalised excess ``(d - d*) / (d_worst - d*)``, the
mean messages. Large: ``large_instance(seed)`` (100 participants x 10 schedules x 96 steps) on a
ring and a small-world graph against ``scipy.optimize.milp`` (HiGHS, 10 s): the distance, the
excess over the incumbent and over the LP relaxation's bound (a lower bound of the optimum),
messages and wall time. Multi-start COHDA (``run_cohda_multistart``, seed = the instance's
seed) with ``--runs`` runs (default 4; ``--perturb P``: restarts that perturb the best candidate).
The large part takes several minutes (each COHDA run on the ring: 5-15 s here).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "algorithm"))

from test_cohda import (  # noqa: E402  (the instances and references of the tests)
    exhaustive,
    large_instance,
    lp_relaxation_bound,
    milp_optimum,
    small_instance,
    small_world,
    weighted_l1,
)

from distributed_resource_optimization.algorithm.heuristic.cohda import (
    create_cohda_participant,
    create_cohda_start_message,
    create_multistart_cohda_participant,
)
from distributed_resource_optimization.carrier import run_distributed_optimization  # noqa: E402
from distributed_resource_optimization.runtime.run import run_cohda_multistart


def plain(sets: list[np.ndarray], target: np.ndarray, w: np.ndarray, topology: object
          ) -> tuple[float, int, float]:
    actors = [create_cohda_participant(i + 1, s) for i, s in enumerate(sets)]
    t0 = time.perf_counter()
    res = run_distributed_optimization(actors, create_cohda_start_message(target, w),
                                       topology=topology)
    return (weighted_l1(actors[0].memory.solution_candidate.schedules, target, w), res.messages,
            time.perf_counter() - t0)


def multistart(sets: list[np.ndarray], target: np.ndarray, w: np.ndarray, topology: object,
               runs: int, seed: int, perturb: float | None = None
               ) -> tuple[float, int, float, list[float]]:
    actors = [create_multistart_cohda_participant(i + 1, s, seed=seed)
              for i, s in enumerate(sets)]
    t0 = time.perf_counter()
    res = run_cohda_multistart(actors, create_cohda_start_message(target, w), runs=runs,
                               perturb=perturb, topology=topology)
    d = weighted_l1(actors[0].memory.solution_candidate.schedules, target, w)
    return d, res.messages, time.perf_counter() - t0, [-p for p in res.run_perf]


def small_table(runs: int) -> None:
    rows = {"plain COHDA": [], f"multi-start COHDA ({runs} runs)": []}
    for seed in range(50):
        sets, target, w = small_instance(seed)
        d_opt, d_worst = exhaustive(sets, target, w)
        for name, (d, msgs) in zip(rows, (plain(sets, target, w, None)[:2],
                                          multistart(sets, target, w, None, runs, seed)[:2])):
            rows[name].append((d, d_opt, d_worst, msgs))
    print("small instances (50, complete graph) vs exhaustive search")
    print(f"{'':32} {'optimal':>8} {'rel. mean':>10} {'rel. worst':>10} {'norm. mean':>10} "
          f"{'norm. worst':>11} {'msgs mean':>10}")
    for name, r in rows.items():
        d, d_opt, d_worst, msgs = (np.array(c, dtype=float) for c in zip(*r))
        optimal = int(np.sum(d <= d_opt + 1e-9 * np.maximum(1.0, d_opt)))
        rel = (d - d_opt) / np.maximum(d_opt, 1e-12)
        norm = np.where(d_worst > d_opt, (d - d_opt) / np.where(d_worst > d_opt,
                                                                d_worst - d_opt, 1), 0.0)
        print(f"{name:32} {optimal:>5}/50 {rel.mean():>10.4f} {rel.max():>10.4f} "
              f"{norm.mean():>10.4f} {norm.max():>11.4f} {msgs.mean():>10.1f}", flush=True)


def large_table(seeds: list[int], runs: int, topologies: list[str],
                perturb: float | None = None) -> None:
    print("\nlarge instance (100 x 10 x 96) vs MILP (HiGHS, 10 s): distance, excess vs incumbent"
          " / vs the LP relaxation's bound, messages, wall time")
    for seed in seeds:
        S, target, w = large_instance(seed)
        t0 = time.perf_counter()
        d_milp, _, _ = milp_optimum(S, target, w, time_limit=10)
        bound = lp_relaxation_bound(S, target, w)
        print(f"seed {seed}: MILP {d_milp:.2f} (LP bound {bound:.2f}, "
              f"{time.perf_counter() - t0:.1f} s)", flush=True)
        for topo in topologies:
            graph = "ring" if topo == "ring" else small_world(len(S))
            d, msgs, t = plain(list(S), target, w, graph)
            print(f"  {topo:11} plain        {d:9.2f} {(d - d_milp) / d_milp:7.2%} "
                  f"{(d - bound) / bound:7.2%} {msgs:>9} msgs {t:6.1f} s", flush=True)
            d, msgs, t, per_run = multistart(list(S), target, w, graph, runs, seed, perturb)
            label = "multi-start" if perturb is None else f"perturb {perturb:g}"
            print(f"  {topo:11} {label:12} {d:9.2f} {(d - d_milp) / d_milp:7.2%} "
                  f"{(d - bound) / bound:7.2%} {msgs:>9} msgs {t:6.1f} s   runs: "
                  + ", ".join(f"{x:.2f}" for x in per_run), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--topologies", default="ring,small-world")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-small", action="store_true")
    parser.add_argument("--perturb", type=float, default=None,
                        help="large part: restarts perturb this share of the best candidate")
    args = parser.parse_args()
    if not args.skip_small:
        small_table(args.runs)
    if not args.skip_large:
        large_table([int(s) for s in args.seeds.split(",")], args.runs,
                    args.topologies.split(","), args.perturb)


if __name__ == "__main__":
    main()
