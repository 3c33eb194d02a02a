"""Accuracy of averaging consensus and diffusion against the centralised dispatch (cvxpy+Clarabel).

Run from the repository root::

    python benchmarks/consensus_diffusion_accuracy.py          # about 30 s
    python benchmarks/consensus_diffusion_accuracy.py --slow   # + the gradient rule at rho=5e-4

Prints, per configuration, the worst price error (relative), the worst dispatch error (fraction
of the unit's rating), the worst storage energy-bound violation (MWh) and the rounds. The
instances and reference solves are those of ``tests/algorithm/test_averaging_consensus.py`` and
``tests/algorithm/test_diffusion.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "algorithm"))

import test_averaging_consensus as tc  # noqa: E402
import test_diffusion as td  # noqa: E402

from distributed_resource_optimization.algorithm.consensus import (  # noqa: E402
    create_averaging_consensus_start,
)
from distributed_resource_optimization.algorithm.diffusion import (  # noqa: E402
    create_diffusion_start,
)
from distributed_resource_optimization.runtime.run import run_distributed_optimization


def row(name: str, price: list, dispatch: list, rounds: list, seconds: float,
        energy: list | None = None) -> None:
    e = f"{max(energy):9.1e}" if energy else "        -"
    print(f"{name:52s} {max(price):9.1e} {max(dispatch):9.1e} {e} "
          f"{int(np.median(rounds)):>6d} {max(rounds):>6d} {seconds:6.1f}")


def consensus(name: str, n: int, seeds: range, topology=None, **kw) -> None:
    price, dispatch, rounds = [], [], []
    t0 = time.perf_counter()
    for seed in seeds:
        cost, eps, p_min, p_max, demand = tc.random_units(seed, n)
        P_star, lam_star = tc.centralized_dispatch(cost, eps, p_min, p_max, demand)
        actors = tc.dispatch_participants(cost, eps, p_min, p_max, **kw)
        run_distributed_optimization(actors, create_averaging_consensus_start(20.0, demand),
                                     topology=topology)
        lam = np.array([a._lam[0] for a in actors])
        P = np.array([a.actor.P[0] for a in actors])
        price.append(np.max(np.abs(lam - lam_star)) / abs(lam_star))
        dispatch.append(np.max(np.abs(P - P_star) / p_max))
        rounds.append(max(a._k for a in actors))
    row(name, price, dispatch, rounds, time.perf_counter() - t0)


def diffusion(name: str, seeds: range, exact: bool, topology=None) -> None:
    price, dispatch, energy, rounds = [], [], [], []
    t0 = time.perf_counter()
    for seed in seeds:
        gens, storages, demand = td.random_system(seed)
        P_star, lam_star = td.centralized(gens, storages, demand)
        actors = td.system_participants(gens, storages, exact=exact)
        n = len(actors)
        graph = {"path": nx.path_graph(n), "star": nx.star_graph(n - 1)}.get(topology, topology)
        run_distributed_optimization(actors, create_diffusion_start(20.0, demand, td.HORIZON),
                                     topology=graph)
        lam = np.array([a._lam for a in actors])
        P = np.array([a.actor.P for a in actors])
        rating = td.ratings(gens, storages)
        price.append(np.max(np.abs(lam - lam_star) / np.abs(lam_star)))
        dispatch.append(np.max(np.abs(P - P_star) / rating[:, None]))
        worst = 0.0
        for a in actors[len(gens):]:
            s = a.actor
            path = np.append(s.E, s.e_end)
            worst = max(worst, float(np.max(s.soc_min * s.e_max - path)),
                        float(np.max(path - s.soc_max * s.e_max)))
        energy.append(max(worst, 0.0))
        rounds.append(max(a._k for a in actors))
    row(name, price, dispatch, rounds, time.perf_counter() - t0, energy)


def main() -> None:
    print(f"{'configuration':52s} {'price':>9s} {'dispatch':>9s} {'E viol.':>9s} "
          f"{'rounds':>6s} {'max':>6s} {'time s':>6s}")
    print("-- averaging consensus, 5 generators, 10 random instances (tc.random_units)")
    seeds = range(10)
    consensus("gradient rule (reference), defaults, 50 rounds", 5, seeds, max_iter=50)
    consensus("gradient rule, run to its fixed point", 5, seeds, max_iter=5000, tol=1e-10)
    consensus("gradient rule, rho=0.005, alpha=1", 5, range(3), rho=0.005, alpha=1.0,
              max_iter=20000, tol=1e-10)
    if "--slow" in sys.argv:
        consensus("gradient rule, rho=5e-4, alpha=1", 5, range(3), rho=5e-4, alpha=1.0,
                  max_iter=40000, tol=1e-10)
    for label, topo in [("complete", None), ("ring", "ring"), ("path", nx.path_graph(6)),
                        ("small world", nx.connected_watts_strogatz_graph(6, 3, 0.5, seed=2))]:
        consensus(f"tracking, rho=0.05 alpha=0.5, {label} (6 units)", 6, seeds, topology=topo,
                  **tc.EXACT)
    print("-- diffusion, 24 steps, 4 generators + 2 storages, 5 instances (td.random_system),"
          " step = min epsilon")
    seeds = range(5)
    diffusion("diffusion (ATC, reference), complete", seeds, exact=False)
    diffusion("diffusion (ATC, reference), ring", seeds, exact=False, topology="ring")
    for label in ["complete", "ring", "path", "star"]:
        diffusion(f"exact diffusion, {label}", seeds, exact=True,
                  topology=None if label == "complete" else label)


if __name__ == "__main__":
    main()
