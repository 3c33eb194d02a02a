"""Benchmark: sharing ADMM with random flex actors vs one centralized Clarabel solve.

    python benchmarks/flex_sharing.py [--sizes 10 100 1000 10000] [--seed 0] [--seeds 1]
                                      [--methods admm admm-plain interior-point]

Prints per N: ADMM iterations, ADMM wall time (full runtime: coordinator + participant agents on
the in-process asyncio carrier), ms per 100 iterations, the wall time of one centralized Clarabel
solve of the same LP (sparse matrices built directly, build time excluded), their ratio, and the
relative objective gap. For small N it also times a naive baseline that rebuilds and solves a cvxpy
problem per actor per iteration (what the reference implementation of the tutorial does) and prints
the per-iteration speed-up. Both methods run through the tutorial's API with default settings
(one ``create_admm_flex_actor_one_to_many`` per actor): ADMM with
``create_sharing_target_distance_admm_coordinator()``, the interior-point method with
``create_sharing_target_distance_interior_point_coordinator()`` (its iterations are rounds of
messages, three per Newton iteration). The defaults polish (docs/admm.md 8c; polish rounds in
the ``polish`` column); ``admm-plain`` is ADMM alone (``polish=False``, the default before
session 21), ``admm-polish`` the same as ``admm`` with the polish asked for explicitly. With
``--seeds K`` each N runs K instances and the last lines give each method's median ratio to the
centralized solve and its largest certified gap.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import distributed_resource_optimization as dro
from distributed_resource_optimization.flex_sharing import (
    centralized_flex_sharing,
    random_flex_sharing_instance,
)

#: The coordinators compared, both with their default settings.
COORDINATORS = {
    "admm": dro.create_sharing_target_distance_admm_coordinator,
    # ADMM alone, without the polish of sharing (docs/admm.md 8c): the only setting changed.
    "admm-plain": lambda: dro.create_sharing_target_distance_admm_coordinator(polish=False),
    # The default, asked for explicitly (the name of session 20's measurements).
    "admm-polish": lambda: dro.create_sharing_target_distance_admm_coordinator(polish=True),
    "interior-point": dro.create_sharing_target_distance_interior_point_coordinator,
}


def naive_rebuild_per_iteration(caps, etas, P, target, prio, iters: int = 5) -> float:
    """Seconds per ADMM iteration when every actor's cvxpy QP is rebuilt and solved each time."""
    import cvxpy as cp

    n, m = etas.shape
    D = caps[:, None] * etas
    X = np.zeros((n, m))
    zbar, u, rho = np.zeros(m), np.zeros(m), 1.0
    t0 = time.perf_counter()
    for _ in range(iters):
        xbar = X.mean(axis=0)
        for i in range(n):
            s = cp.Variable()
            x = s * D[i]
            v = X[i] - xbar + zbar - u
            prob = cp.Problem(cp.Minimize(P[i] @ x + rho / 2 * cp.sum_squares(x - v)),
                              [s >= 0, s <= 1])
            prob.solve(solver="CLARABEL")
            X[i] = s.value * D[i]
        xbar = X.mean(axis=0)
        w = n * (xbar + u)
        diff = w - target
        agg = target + np.sign(diff) * np.maximum(np.abs(diff) - prio * n / rho, 0.0)
        zbar = agg / n
        u = u + xbar - zbar
    return (time.perf_counter() - t0) / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-max", type=int, default=100,
                        help="largest N for the naive per-iteration rebuild baseline")
    parser.add_argument("--seeds", type=int, default=1,
                        help="instances per N (seeds --seed + N, + N + 1, ...)")
    parser.add_argument("--methods", nargs="+", choices=sorted(COORDINATORS),
                        default=["admm"])
    args = parser.parse_args()
    header = (f"{'N':>6} {'seed':>6} {'method':>15} {'iters':>6} {'polish':>6} {'status':>14} "
              f"{'run s':>8} "
              f"{'ms/100it':>9} {'Clarabel s':>10} {'ratio':>7} {'gap':>9} {'certified':>9} "
              f"{'naive s/it':>10} {'speed-up/it':>11}")
    print(header)
    print("-" * len(header))
    ratios: dict[tuple[int, str], list[float]] = {}
    certified: dict[tuple[int, str], list[float]] = {}
    for n in args.sizes:
        for k in range(args.seeds):
            seed = args.seed + n + k
            inst = random_flex_sharing_instance(n, 3, seed)
            caps, etas, P = inst.capacities_kw, inst.etas, inst.costs
            target, prio = inst.target_kw, inst.priorities
            ref, central_s = centralized_flex_sharing(inst)
            for method in args.methods:
                actors = [dro.create_admm_flex_actor_one_to_many(c, e, p)
                          for c, e, p in zip(caps, etas, P)]
                start = dro.create_admm_start(dro.create_admm_sharing_data(target, prio))
                t0 = time.perf_counter()
                res = dro.run_coordinated_optimization(actors, COORDINATORS[method](), start)
                run_s = time.perf_counter() - t0
                gap = abs(res.objective - ref) / max(1.0, abs(ref))
                per100 = 1000 * run_s / res.iterations * 100
                naive = speed = ""
                if n <= args.naive_max and method == "admm":
                    naive_it = naive_rebuild_per_iteration(caps, etas, P, target, prio)
                    naive = f"{naive_it:.3f}"
                    speed = f"{naive_it / (run_s / res.iterations):.0f}x"
                ratios.setdefault((n, method), []).append(run_s / central_s)
                cert = np.nan if res.gap_certified is None else res.gap_certified
                certified.setdefault((n, method), []).append(cert)
                print(f"{n:>6} {seed:>6} {method:>15} {res.iterations:>6} "
                      f"{getattr(res, 'polish_rounds', 0):>6} "
                      f"{res.status.value:>14} {run_s:>8.3f} {per100:>9.1f} {central_s:>10.4f} "
                      f"{run_s / central_s:>7.1f} {gap:>9.2e} {cert:>9.2e} {naive:>10} "
                      f"{speed:>11}", flush=True)
    if args.seeds > 1:
        for (n, method), values in ratios.items():
            print(f"N = {n}, {method}: median ratio {np.median(values):.1f}x over "
                  f"{len(values)} seeds, largest certified gap "
                  f"{np.nanmax(certified[(n, method)]):.1e}")


if __name__ == "__main__":
    main()
