"""``dro market-clearing``: the district's combined operation, centrally and by ADMM market
clearing (in this process or with one agent process per entity), written as tables, summary and
figures."""

from __future__ import annotations

import argparse
import time

from distributed_resource_optimization.commands.common import (
    broker_access_of,
    check_at_least_one,
    engine_settings,
    faults_of,
    progress,
    token_of,
)

#: Methods of the ADMM market clearing (``admm``: ADMM only, plus the centralized reference for the
#: comparison fields; ``both``: also writes the centralized rows and figures' reference lines).
ADMM_METHODS: tuple[str, ...] = ("admm", "both")
METHODS: tuple[str, ...] = ("centralized",) + ADMM_METHODS
DEFAULT_METHOD = "both"


def run(args: argparse.Namespace) -> int:
    """``dro market-clearing``: checks every option before the slow loading, then runs."""
    from distributed_resource_optimization.energy.scenarios import check_scenario
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.io_folders import OutputFolder
    from distributed_resource_optimization.results import read_warm_start

    check_scenario(args.scenario)  # before the slow loading
    check_admm_options(args)  # whatever the method: a wrong option is wrong before any work
    warm_start = None if args.warm_start is None else read_warm_start(args.warm_start)
    # The inputs it reads may not be (inside) the folder the results replace; the warm start
    # may: it is read whole above, before any work (a day-by-day chain into one folder).
    output = OutputFolder(args.out, args.command, overwrite=args.overwrite,
                          inputs={"--data": args.data or DEFAULT_DATA_DIR,
                                  "--agents-file": args.agents_file})
    output.check()
    if args.method in ADMM_METHODS:
        return run_admm(args, output, warm_start)
    if args.runtime != "inproc" or args.agents_file is not None or warm_start is not None:
        raise ValueError("--runtime, --agents-file and --warm-start need --method admm or both")
    return run_centralized(args, output)


def check_admm_options(args: argparse.Namespace) -> None:
    """``ValueError`` naming the option for every out-of-range ADMM setting."""
    import math

    from distributed_resource_optimization.admm.forms import ADMMSettings

    bounds = ADMMSettings()
    engine_settings(args)
    for flag, value in (("--rho", args.rho), ("--eps", args.eps)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{flag} must be positive and finite, got {value}")
    if args.rho is not None and not bounds.rho_min <= args.rho <= bounds.rho_max:
        raise ValueError(f"--rho must lie in [{bounds.rho_min:g}, {bounds.rho_max:g}] (the range "
                         f"the penalty adaptation works in), got {args.rho:g}")
    check_at_least_one(args.max_iters, "--max-iters")
    faults_of(args)
    token_of(args)  # a bad --token-file is refused before any work
    broker_access_of(args)


def run_centralized(args: argparse.Namespace, output) -> int:
    from distributed_resource_optimization.energy.centralized import build_centralized, solve_centralized
    from distributed_resource_optimization.energy.district import load_district
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.plots import plot_thermal_fl22
    from distributed_resource_optimization.results import centralized_frames, write_centralized

    start = time.perf_counter()
    progress(f"loading district ({args.resolution})...")
    district = load_district(args.data or DEFAULT_DATA_DIR, args.resolution)
    progress(f"solving centralized ({args.scenario})...")
    problem = build_centralized(district, args.scenario)
    result = solve_centralized(problem)
    wall = time.perf_counter() - start
    progress(f"writing {args.out}...")
    with output as tmp:
        write_centralized(result, tmp, wall)
        dispatch, prices, _ = centralized_frames(result)
        plot_thermal_fl22(dispatch, prices, tmp, scenario=args.scenario)
    binding = ", ".join(f"{b['constraint']} {b['element']} ({b['timesteps']} steps)"
                        for b in result.binding_constraints()) or "none"
    progress(f"done: objective {result.objective:.2f} S$, binding: {binding}, "
             f"{time.perf_counter() - start:.1f} s")
    return 0


def run_admm(args: argparse.Namespace, output, warm_start=None) -> int:
    """``--method admm|both``: ADMM market clearing next to the centralized reference."""
    import pandas as pd

    from distributed_resource_optimization.energy.centralized import build_centralized, solve_centralized
    from distributed_resource_optimization.energy.district import load_district
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.market.clearing import (
        compare_with_centralized,
        market_residuals,
        run_market_clearing,
        shift_to_timesteps,
    )
    from distributed_resource_optimization.market.processes import (
        agents_of,
        read_agents_file,
    )
    from distributed_resource_optimization.plots import plot_residuals, plot_thermal_fl22
    from distributed_resource_optimization.results import (
        DISPATCH_FILE,
        PRICES_FILE,
        RESIDUALS_FILE,
        STATE_FILE,
        SUMMARY_FILE,
        centralized_frames,
        centralized_summary,
        market_frames,
        market_summary,
        residual_frame,
        state_frame,
        write_centralized,
        write_json,
    )

    agents = args.agents
    if args.agents_file is not None:
        if args.runtime == "inproc":
            raise ValueError("--agents-file needs --runtime tcp or mqtt")
        implied = agents_of(list(read_agents_file(args.agents_file, args.runtime)))
        if agents is not None and agents != implied:
            raise ValueError(f"--agents-file {args.agents_file} lists {implied} agents, but "
                             f"--agents is {agents}")
        agents = implied
    agents = agents or "entities"
    data = args.data or DEFAULT_DATA_DIR
    progress(f"loading district ({args.resolution})...")
    district = load_district(data, args.resolution)
    if warm_start is not None:
        warm_start = shift_to_timesteps(warm_start, district.timesteps, agents)
    progress(f"solving centralized ({args.scenario})...")
    start = time.perf_counter()
    central = solve_centralized(build_centralized(district, args.scenario))
    wall_central = time.perf_counter() - start
    where = "" if args.runtime == "inproc" else (
        f", agents at {args.agents_file}" if args.agents_file else
        f", one {args.runtime} agent process per entity")
    progress(f"ADMM market clearing ({agents}{where})...")

    def report(state) -> None:
        if state.iteration % 20 == 0:
            primal, dual = market_residuals(state.stopping.history)
            r = ", ".join(f"{k} {v[-1]:.3g}" for k, v in primal.items())
            d = max(v[-1] for v in dual.values())
            progress(f"iteration {state.iteration}: primal residuals {r} (kW), largest dual "
                     f"residual {d:.3g} (S$/kWh), rho {state.rho:.3g}")

    engine = engine_settings(args)
    start = time.perf_counter()
    market = run_market_clearing(district, args.scenario, agents=agents, rho=args.rho,
                                 eps=args.eps, max_iters=args.max_iters, progress=report,
                                 runtime=args.runtime, agents_file=args.agents_file,
                                 broker=args.broker, listen=args.listen, faults=faults_of(args),
                                 broker_access=broker_access_of(args),
                                 token=token_of(args), warm_start=warm_start, **engine)
    wall_admm = time.perf_counter() - start
    comparison = compare_with_centralized(market, central)
    progress(f"writing {args.out}...")
    with output as out:
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
        state_frame(market.admm).to_csv(out / STATE_FILE, index=False)
        summary = centralized_summary(central, wall_central)
        summary["method"] = args.method
        summary.update(market_summary(market, central, comparison))
        summary["wall_time_s"] = {"centralized": wall_central, "admm": wall_admm}
        write_json(out / SUMMARY_FILE, summary)
        keep = ["centralized", "thermal_grid_operator", "aggregator"]
        plot_thermal_fl22(pd.concat([c_dispatch, m_dispatch])[lambda f: f["entity"].isin(keep)],
                          pd.concat([c_prices, m_prices])[lambda f: f["entity"].isin(keep)],
                          out, scenario=args.scenario)
        plot_residuals(residuals, out / "primal_residuals.png",
                       title=f"Primal residuals ({args.scenario})", eps=market.eps)
    progress(f"done: ADMM {market.iterations} iterations "
             f"({'converged' if market.converged else 'not converged'}), objective gap "
             f"{comparison['objective_gap_rel']:.2e}, max price deviation "
             f"{comparison['max_price_deviation']:.2e} S$/kWh, {wall_admm:.1f} s"
             + ("" if market.runtime == "inproc" else
                f", {market.messages} messages, {market.bytes_sent / 1e6:.1f} MB"))
    return 0 if market.converged else 1  # 1: stopped at --max-iters
