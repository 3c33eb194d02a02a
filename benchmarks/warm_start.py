"""Warm starts across runs: yesterday's state for today's clearing, measured against a cold start.

    python benchmarks/warm_start.py [--days K] [--resolution 30min|60min] [--flex-seeds K]
                                    [--max-pause K] [--skip-market]

"Today" is the embedded district with its wholesale prices scaled by ``1 + 0.1 e`` (``e``
standard normal, one draw per step and day seed) and 0.5 K warmer air; yesterday is the district
as embedded. Per scenario and day: iterations cold and warm, their ratio and the objective of
both. The flex family (``benchmarks/flex_sharing.py``, N = 1000) gets the same treatment with
its target 5 % higher and its costs perturbed by 5 %. ``--max-pause`` sets the coordinators'
``anderson_max_pause`` (docs/admm.md 5a). One run, 2 cores; prints the medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import distributed_resource_optimization as dro
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
from distributed_resource_optimization.flex_sharing import random_flex_sharing_instance
from distributed_resource_optimization.market.clearing import run_market_clearing

SCENARIOS = ("thermal-congestion", "thermal-head", "electric-congestion", "voltage")


def other_day(folder: Path, seed: int) -> Path:
    """A copy of the embedded district on another day (see the module doc)."""
    rng = np.random.default_rng(seed)
    dst = folder / f"day{seed}"
    shutil.copytree(DEFAULT_DATA_DIR, dst)
    path = dst / "timeseries" / "price_singapore_wholesale.csv"
    prices = pd.read_csv(path)
    prices["price_value"] *= 1.0 + 0.1 * rng.standard_normal(len(prices))
    prices.to_csv(path, index=False)
    path = dst / "timeseries" / "weather_singapore_iwec.csv"
    weather = pd.read_csv(path)
    weather["ambient_air_temperature"] += 0.5
    weather.to_csv(path, index=False)
    return dst


def market(days: int, resolution: str, engine: dict) -> list[float]:
    base = load_district(resolution=resolution)
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        tomorrows = [load_district(other_day(Path(tmp), s), resolution)
                     for s in range(1, days + 1)]
        for scenario in SCENARIOS:
            yesterday = run_market_clearing(base, scenario, **engine).admm
            for seed, tomorrow in enumerate(tomorrows, 1):
                cold = run_market_clearing(tomorrow, scenario, **engine)
                warm = run_market_clearing(tomorrow, scenario, warm_start=yesterday, **engine)
                ratio = cold.iterations / warm.iterations
                ratios.append(ratio)
                print(f"market {resolution} {scenario:20s} day {seed}: cold {cold.iterations:5d} "
                      f"warm {warm.iterations:5d} ({ratio:4.2f}x fewer), objective "
                      f"{cold.objective:.2f} / {warm.objective:.2f} S$", flush=True)
    return ratios


def _flex_run(inst, warm=None, engine=None):
    fleet = dro.FlexFleet(inst.capacities_kw, inst.etas, inst.costs)
    coord = dro.create_sharing_target_distance_admm_coordinator(gap_tol=1e-4, **(engine or {}))
    start = dro.create_admm_start(dro.create_admm_sharing_data(inst.target_kw, inst.priorities),
                                  warm_start=warm)
    return dro.run_coordinated_optimization([fleet], coord, start)


def flex(seeds: int, engine: dict, n: int = 1000) -> tuple[list[float], list[int], list[int]]:
    ratios, colds, warms = [], [], []
    for seed in range(seeds):
        inst = random_flex_sharing_instance(n, 3, seed)
        rng = np.random.default_rng(100 + seed)
        today = dataclasses.replace(
            inst, target_kw=inst.target_kw * 1.05,
            costs=inst.costs * (1.0 + 0.05 * rng.standard_normal(inst.costs.shape)))
        cold = _flex_run(today, engine=engine)
        warm = _flex_run(today, _flex_run(inst, engine=engine), engine)
        ratio = cold.iterations / warm.iterations
        ratios.append(ratio)
        colds.append(cold.iterations)
        warms.append(warm.iterations)
        print(f"flex N={n} seed {seed}: cold {cold.iterations:5d} ({cold.status.value}), warm "
              f"{warm.iterations:5d} ({warm.status.value}), {ratio:4.2f}x fewer", flush=True)
    return ratios, colds, warms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--resolution", default="30min", choices=("30min", "60min"))
    parser.add_argument("--flex-seeds", type=int, default=8)
    parser.add_argument("--max-pause", type=int, default=None)
    parser.add_argument("--skip-market", action="store_true")
    args = parser.parse_args()
    engine = {} if args.max_pause is None else {"anderson_max_pause": args.max_pause}
    if not args.skip_market:
        m = market(args.days, args.resolution, engine)
        print(f"market: median cold/warm iterations {np.median(m):.2f}x (min {min(m):.2f}x, "
              f"max {max(m):.2f}x)")
    f, colds, warms = flex(args.flex_seeds, engine)
    print(f"flex: iterations cold median {np.median(colds):.0f} (worst {max(colds)}), warm "
          f"median {np.median(warms):.0f} (worst {max(warms)}); cold/warm median "
          f"{np.median(f):.2f}x (min {min(f):.2f}x, max {max(f):.2f}x)")


if __name__ == "__main__":
    main()
