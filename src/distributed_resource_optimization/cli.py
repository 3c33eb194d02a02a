"""Command-line entry point ``dro``.

``dro market-clearing --scenario NAME --method centralized --out DIR [--resolution 30min|60min]
[--data DIR]`` solves the district's combined optimal operation (eq. (1) of the study) and writes
``summary.json``, ``dispatch.csv``, ``prices.csv``, ``price_components.csv`` and the figures
``thermal_dispatch_fl22.png`` / ``thermal_price_fl22.png`` into DIR. Progress goes to stderr;
errors are one line ``dro: error: ...`` with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PROG = "dro"
METHODS: tuple[str, ...] = ("centralized",)
RESOLUTIONS: tuple[str, ...] = ("30min", "60min")
DEFAULT_OUT = "dro-output"


class _UsageError(Exception):
    """Bad command line; reported as one line instead of argparse's usage block."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    from distributed_resource_optimization.energy.scenarios import DEFAULT_SCENARIO, SCENARIOS

    parser = _Parser(prog=PROG, description="Distributed resource optimization tools.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    mc = sub.add_parser("market-clearing",
                        help="combined thermal/electric district operation and nodal prices")
    mc.add_argument("--scenario", default=DEFAULT_SCENARIO,
                    help=f"one of {', '.join(SCENARIOS)} (default: {DEFAULT_SCENARIO})")
    mc.add_argument("--method", default="centralized", choices=METHODS,
                    help="solution method (default: centralized)")
    mc.add_argument("--out", default=DEFAULT_OUT, type=Path,
                    help=f"output folder (default: ./{DEFAULT_OUT})")
    mc.add_argument("--resolution", default="30min", choices=RESOLUTIONS,
                    help="timestep length (default: 30min)")
    mc.add_argument("--data", default=None, type=Path,
                    help="data folder with the district files (default: embedded test case)")
    return parser


def _progress(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _market_clearing(args: argparse.Namespace) -> int:
    from distributed_resource_optimization.energy.district import (
        build_centralized,
        load_district,
        solve_centralized,
    )
    from distributed_resource_optimization.energy.io import DEFAULT_DATA_DIR
    from distributed_resource_optimization.energy.scenarios import SCENARIOS
    from distributed_resource_optimization.plots import plot_thermal_fl22
    from distributed_resource_optimization.results import centralized_frames, write_centralized

    if args.scenario not in SCENARIOS:  # before the slow loading
        raise ValueError(f"unknown scenario {args.scenario!r}; valid: {', '.join(SCENARIOS)}")
    start = time.perf_counter()
    _progress(f"loading district ({args.resolution})...")
    district = load_district(args.data or DEFAULT_DATA_DIR, args.resolution)
    _progress(f"solving centralized ({args.scenario})...")
    problem = build_centralized(district, args.scenario)
    result = solve_centralized(problem)
    wall = time.perf_counter() - start
    _progress(f"writing {args.out}...")
    write_centralized(result, args.out, wall)
    dispatch, prices, _ = centralized_frames(result)
    plot_thermal_fl22(dispatch, prices, args.out, scenario=args.scenario)
    binding = ", ".join(f"{b['constraint']} {b['element']} ({b['timesteps']} steps)"
                        for b in result.binding_constraints()) or "none"
    _progress(f"done: objective {result.objective:.2f} S$, binding: {binding}, "
              f"{time.perf_counter() - start:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input or failed run)."""
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    from distributed_resource_optimization.energy.io import DataFileError

    try:
        if args.command == "market-clearing":
            return _market_clearing(args)
    except (DataFileError, ValueError, OSError, RuntimeError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the exception text holds
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    return 2  # unreachable: argparse requires a known command


if __name__ == "__main__":
    sys.exit(main())
