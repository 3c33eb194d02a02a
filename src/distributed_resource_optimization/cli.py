"""Command-line entry point ``dro``.

``dro market-clearing --scenario NAME --method admm|both|centralized --out DIR
[--resolution 30min|60min] [--data DIR] [--rho R] [--eps E] [--max-iters N]
[--agents entities|per-building]``

``centralized`` solves the district's combined optimal operation (eq. (1) of the study) and writes
``summary.json``, ``dispatch.csv``, ``prices.csv``, ``price_components.csv`` and the figures
``thermal_dispatch_fl22.png`` / ``thermal_price_fl22.png`` into DIR. ``admm`` clears the market by
ADMM (Algorithm 1) and compares it with the centralized solution; ``both`` (default) also writes the
centralized rows. The ADMM methods add ``residuals.csv``, ``primal_residuals.png`` and the
comparison keys of ``summary.json``. Progress goes to stderr; errors are one line
``dro: error: ...`` with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PROG = "dro"
#: Methods of the ADMM market clearing (``admm``: ADMM only, plus the centralized reference for the
#: comparison fields; ``both``: also writes the centralized rows and figures' reference lines).
ADMM_METHODS: tuple[str, ...] = ("admm", "both")
METHODS: tuple[str, ...] = ("centralized",) + ADMM_METHODS
DEFAULT_METHOD = "both"
AGENT_MODES: tuple[str, ...] = ("entities", "per-building")
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
    mc.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS,
                    help=f"solution method (default: {DEFAULT_METHOD})")
    mc.add_argument("--out", default=DEFAULT_OUT, type=Path,
                    help=f"output folder (default: ./{DEFAULT_OUT})")
    mc.add_argument("--resolution", default="30min", choices=RESOLUTIONS,
                    help="timestep length (default: 30min)")
    mc.add_argument("--data", default=None, type=Path,
                    help="data folder with the district files (default: embedded test case)")
    mc.add_argument("--rho", default=None, type=float,
                    help="ADMM: initial penalty in S$ per (per-unit)^2 (default: 20)")
    mc.add_argument("--eps", default=None, type=float,
                    help="ADMM: threshold on the primal residuals r(a,b) (kW) and the dual "
                    "residuals (S$/kWh) (default: 0.1)")
    mc.add_argument("--max-iters", default=None, type=int,
                    help="ADMM: iteration limit (default: 5000)")
    mc.add_argument("--agents", default="entities", choices=AGENT_MODES,
                    help="ADMM: one aggregator or one agent per building (default: entities)")
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
    if args.method in ADMM_METHODS:
        return _market_clearing_admm(args)
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


def _market_clearing_admm(args: argparse.Namespace) -> int:
    """``--method admm|both``: ADMM market clearing next to the centralized reference."""
    import json

    import pandas as pd

    from distributed_resource_optimization.energy.district import (
        build_centralized,
        load_district,
        solve_centralized,
    )
    from distributed_resource_optimization.energy.io import DEFAULT_DATA_DIR
    from distributed_resource_optimization.market.clearing import (
        compare_with_centralized,
        run_market_clearing,
    )
    from distributed_resource_optimization.plots import plot_residuals, plot_thermal_fl22
    from distributed_resource_optimization.results import (
        DISPATCH_FILE,
        PRICES_FILE,
        RESIDUALS_FILE,
        SUMMARY_FILE,
        centralized_frames,
        centralized_summary,
        market_frames,
        market_summary,
        residual_frame,
        write_centralized,
    )

    if args.rho is not None and not args.rho > 0:
        raise ValueError(f"--rho must be positive, got {args.rho}")
    if args.eps is not None and not args.eps > 0:
        raise ValueError(f"--eps must be positive, got {args.eps}")
    if args.max_iters is not None and args.max_iters < 1:
        raise ValueError(f"--max-iters must be at least 1, got {args.max_iters}")
    _progress(f"loading district ({args.resolution})...")
    district = load_district(args.data or DEFAULT_DATA_DIR, args.resolution)
    _progress(f"solving centralized ({args.scenario})...")
    start = time.perf_counter()
    central = solve_centralized(build_centralized(district, args.scenario))
    wall_central = time.perf_counter() - start
    _progress(f"ADMM market clearing ({args.agents})...")

    def report(state) -> None:
        if state.iteration % 20 == 0:
            r = ", ".join(f"{k} {v[-1]:.3g}" for k, v in state.seed_residuals.items())
            d = max(v[-1] for v in state.seed_dual_residuals.values())
            _progress(f"iteration {state.iteration}: primal residuals {r} (kW), largest dual "
                      f"residual {d:.3g} (S$/kWh), rho {state.rho:.3g}")

    start = time.perf_counter()
    market = run_market_clearing(district, args.scenario, agents=args.agents, rho=args.rho,
                                 eps=args.eps, max_iters=args.max_iters, progress=report)
    wall_admm = time.perf_counter() - start
    comparison = compare_with_centralized(market, central)
    out = args.out
    _progress(f"writing {out}...")
    write_centralized(central, out, wall_central)
    c_dispatch, c_prices, _ = centralized_frames(central)
    m_dispatch, m_prices = market_frames(market, district.timesteps, district.der_names)
    if args.method == "both":
        dispatch = pd.concat([c_dispatch, m_dispatch], ignore_index=True)
        prices = pd.concat([c_prices, m_prices], ignore_index=True)
    else:
        dispatch, prices = m_dispatch, m_prices
    dispatch.to_csv(out / DISPATCH_FILE, index=False)
    prices.to_csv(out / PRICES_FILE, index=False)
    residuals = residual_frame(market)
    residuals.to_csv(out / RESIDUALS_FILE, index=False)
    summary = centralized_summary(central, wall_central)
    summary["method"] = args.method
    summary.update(market_summary(market, central, comparison))
    summary["wall_time_s"] = {"centralized": wall_central, "admm": wall_admm}
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    keep = ["centralized", "thermal_grid_operator", "aggregator"]
    plot_thermal_fl22(pd.concat([c_dispatch, m_dispatch])[lambda f: f["entity"].isin(keep)],
                      pd.concat([c_prices, m_prices])[lambda f: f["entity"].isin(keep)], out,
                      scenario=args.scenario)
    plot_residuals(residuals, out / "primal_residuals.png",
                   title=f"Primal residuals ({args.scenario})", eps=market.eps)
    _progress(f"done: ADMM {market.iterations} iterations "
              f"({'converged' if market.converged else 'not converged'}), objective gap "
              f"{comparison['objective_gap_rel']:.2e}, max price deviation "
              f"{comparison['max_price_deviation']:.2e} S$/kWh, {wall_admm:.1f} s")
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
