"""The benchmark suite: every case of issue 15's table in one run.

    python -m benchmarks [--quick] [--json PATH] [--only SUBSTRING]

Each case runs in a process of its own (so ``peak_mb``, the process's peak resident memory, is
the case's alone) and prints: iterations, ADMM s, centralized s, ratio, certified gap, true gap,
peak MB (the process, centralized solve included) and, where it can be told apart, the peak
before the centralized solve (ADMM MB). ``--quick`` (a few minutes) runs the smaller sizes;
the full suite adds N = 10^6 and every market scenario at 30 and 60 min in both agent modes.
``--json`` writes all records.
Figures are wall times of one run on this machine; compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cases(quick: bool) -> list[tuple[str, ...]]:
    """``(kind, args...)`` of every case of the suite."""
    out: list[tuple[str, ...]] = []
    for n in (1000, 100_000) + (() if quick else (1_000_000,)):
        out.append(("flex-reachable", str(n), "0"))
    for seed in range(10):
        out.append(("flex-family", "1000", str(seed)))
    for n in (10_000,) + (() if quick else (1_000_000,)):
        out.append(("flex-family", str(n), "0"))
    for n in (10, 100) + (() if quick else (1000,)):
        out.append(("flex-naive-baseline", str(n), "0"))
    from distributed_resource_optimization.energy.scenarios import SCENARIOS

    if quick:
        out += [("market", "30min", "thermal-congestion", "entities"),
                ("market", "30min", "thermal-head", "entities"),
                ("market", "60min", "electric-congestion", "entities"),
                ("market", "60min", "voltage", "entities")]
    else:
        out += [("market", res, s, a) for res in ("30min", "60min") for s in SCENARIOS
                for a in ("entities", "per-building")]
    return out


def run_case(case: tuple[str, ...], timeout_s: float = 3600.0) -> dict:
    """One case in a child process (its record; an ``error`` entry if it failed)."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run([sys.executable, str(HERE / "cases.py"), *case],
                              stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout_s,
                              env=dict(os.environ, PYTHONUNBUFFERED="1"))
        if proc.returncode != 0:
            err.seek(0)
            return {"case": " ".join(case), "error": err.read().strip().splitlines()[-1:]}
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    return record


def _fmt(v: object, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the smaller sizes only (minutes)")
    ap.add_argument("--json", type=Path, default=None, help="write the records to this file")
    ap.add_argument("--only", default=None, help="run only cases whose name contains this")
    args = ap.parse_args()
    header = (f"{'case':44s} {'n':>8s} {'seed':>4s} {'iters':>6s} {'admm s':>8s} "
              f"{'central s':>9s} {'ratio':>7s} {'cert gap':>9s} {'true gap':>9s} {'peak MB':>8s} "
              f"{'ADMM MB':>8s}")
    print(header)
    print("-" * len(header), flush=True)
    records = []
    for case in cases(args.quick):
        if args.only and args.only not in " ".join(case):
            continue
        rec = run_case(case)
        records.append(rec)
        if "error" in rec:
            print(f"{rec['case']:44s} failed: {rec['error']}", flush=True)
            continue
        extra = ""
        if "speedup_per_iteration" in rec:
            extra = f"  naive {rec['naive_s_per_iteration']:.3g} s/it, " \
                    f"{rec['speedup_per_iteration']:.0f}x per iteration"
        print(f"{rec['case']:44s} {rec['n']:>8d} {rec['seed']:>4d} {rec['iterations']:>6d} "
              f"{rec['admm_s']:>8.3f} {rec['centralized_s']:>9.4f} {rec['ratio']:>7.1f} "
              f"{_fmt(rec['gap_certified'], '9.2e')} {rec['gap']:>9.2e} "
              f"{_fmt(rec['peak_mb'], '8.0f')} {_fmt(rec.get('admm_peak_mb'), '8.0f')}{extra}",
              flush=True)
    if args.json is not None:
        tmp = args.json.with_name(f".{args.json.name}.tmp")
        tmp.write_text(json.dumps(records, indent=2))
        tmp.replace(args.json)


if __name__ == "__main__":
    main()
