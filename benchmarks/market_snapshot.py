"""Snapshot of every market clearing run, to compare two versions of the code bit for bit.

    python benchmarks/market_snapshot.py save FILE.npz
    python benchmarks/market_snapshot.py compare OLD.npz NEW.npz

``save`` runs the ADMM market clearing of every scenario at 60 min (both agent modes) and at
30 min (entities) and stores iterations, objective and all cleared prices; ``compare`` prints,
per run, both iteration counts and the largest differences of objective and prices. Run ``save``
once per version (e.g. ``PYTHONPATH=<other worktree>/src``) and compare the files.
"""

from __future__ import annotations

import sys

import numpy as np

from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.scenarios import SCENARIOS
from distributed_resource_optimization.market.clearing import run_market_clearing

RUNS = [("60min", s, a) for s in SCENARIOS for a in ("entities", "per-building")] + \
    [("30min", s, "entities") for s in SCENARIOS]


def save(path: str) -> None:
    arrays: dict[str, np.ndarray] = {}
    districts = {}
    for res, scenario, agents in RUNS:
        district = districts.setdefault(res, load_district(resolution=res))
        m = run_market_clearing(district, scenario, agents=agents)
        key = f"{res}|{scenario}|{agents}"
        arrays[f"{key}|iterations"] = np.array(m.iterations)
        arrays[f"{key}|objective"] = np.array(m.objective)
        for entity, quantities in m.prices.items():
            for q, values in quantities.items():
                arrays[f"{key}|price|{entity}|{q}"] = values
        print(key, m.iterations, m.objective, flush=True)
    np.savez(path, **arrays)


def compare(old_path: str, new_path: str) -> None:
    old, new = np.load(old_path), np.load(new_path)
    for res, scenario, agents in RUNS:
        key = f"{res}|{scenario}|{agents}"
        prices = [k for k in old.files if k.startswith(f"{key}|price|")]
        dp = max(float(np.nanmax(np.abs(old[k] - new[k]))) for k in prices)
        print(f"{key:<40} iterations {int(old[f'{key}|iterations'])} -> "
              f"{int(new[f'{key}|iterations'])}, objective diff "
              f"{float(new[f'{key}|objective'] - old[f'{key}|objective']):.3e} S$, "
              f"max price diff {dp:.3e} S$/kWh")


if __name__ == "__main__":
    if sys.argv[1:2] == ["save"] and len(sys.argv) == 3:
        save(sys.argv[2])
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
