"""``dro market-clearing``: the district's combined operation, centrally and by ADMM market
clearing (in this process or with one agent process per entity), written as tables, summary and
figures (:mod:`..io.writers`)."""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distributed_resource_optimization.admm.state import ADMMSettings
from distributed_resource_optimization.cli.common import (
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    EXIT_PHYSICS,
    IterationLine,
    add_comfort_option,
    add_fault_options,
    add_figures_option,
    add_out_option,
    add_resolution_option,
    add_runtime_options,
    add_token_options,
    add_warm_start_option,
    broker_access_of,
    check_at_least_one,
    engine_settings,
    faults_of,
    progress,
    scenario_name,
    token_of,
)
from distributed_resource_optimization.energy.scenarios import DEFAULT_SCENARIO, SCENARIO_NAMES
from distributed_resource_optimization.market.names import (
    AGENT_MODES,
    CLEARINGS,
    DEFAULT_CLEARING,
    DEFAULT_GAP_TOL,
    DEFAULT_PRICE_TOL,
    DEFAULT_STOP,
    STOP_RULES,
)

if TYPE_CHECKING:
    from distributed_resource_optimization.energy.centralized import CentralizedResult
    from distributed_resource_optimization.energy.district import DistrictData
    from distributed_resource_optimization.energy.successive import SuccessiveResult
    from distributed_resource_optimization.energy.verification import Verification
    from distributed_resource_optimization.market.clearing import MarketResult

NAME = "market-clearing"
HELP = "combined thermal/electric district operation and nodal prices"

#: Examples shown by ``dro market-clearing --help``.
EXAMPLES = """\
  dro market-clearing --out results
      the default scenario (thermal-congestion) at 30 min, by ADMM and centrally
  dro market-clearing --scenario unconstrained --resolution 60min --method centralized --out c
      the centralized optimum only, hourly
  dro market-clearing --runtime tcp --agents per-building --token-file secret.txt --out r
      one agent process per building and grid operator, every message authenticated
  dro market-clearing --linearisation once --comfort step-start --out study
      the study's model: one linearisation, comfort at step starts"""

#: Methods of the ADMM market clearing (``admm``: ADMM only, plus the centralized reference for the
#: comparison fields; ``both``: also writes the centralized rows and figures' reference lines).
ADMM_METHODS: tuple[str, ...] = ("admm", "both")
METHODS: tuple[str, ...] = ("centralized",) + ADMM_METHODS
DEFAULT_METHOD = "both"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``dro market-clearing``."""
    # market.clearing loads pandas and scipy: imported only when this command's options are
    # built (its defaults are formatted into the help), not for `dro agent` or `dro --help`
    from distributed_resource_optimization.energy.successive import (
        DEFAULT_LINEARISATION,
        LINEARISATIONS,
    )
    from distributed_resource_optimization.market.clearing import (
        DEFAULT_EPS,
        DEFAULT_MAX_ITERS,
        DEFAULT_RHO,
    )

    parser.add_argument("--scenario", default=DEFAULT_SCENARIO, choices=SCENARIO_NAMES,
                        type=scenario_name, metavar="NAME",
                        help=f"one of {', '.join(SCENARIO_NAMES)} (default: %(default)s)")
    parser.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS,
                        help="solution method (default: %(default)s)")
    add_out_option(parser)
    add_resolution_option(parser)
    add_comfort_option(parser)
    parser.add_argument("--data", default=None, type=Path, metavar="DIR",
                        help="data folder with the district files (default: embedded test case)")
    parser.add_argument("--linearisation", default=DEFAULT_LINEARISATION,
                        choices=LINEARISATIONS,
                        help="the grids' linear models: the study's one linearisation at the "
                        "reference demand (once), or re-linearised at each step's dispatch "
                        "until the limits hold in the nonlinear grids (iterate; in the market "
                        "each grid operator re-linearises its own model between clearings) "
                        "(default: %(default)s)")
    parser.add_argument("--clearing", default=DEFAULT_CLEARING, choices=CLEARINGS,
                        help="how the market clears: admm (the study's Algorithm 1; any "
                        "runtime) or interior-point (second-order coordination: each entity "
                        "sends its local bid curve, tens of rounds on every scenario; any "
                        "runtime, its own stop) (default: %(default)s)")
    parser.add_argument("--rho", default=None, type=float, metavar="RHO",
                        help="ADMM: initial penalty in S$ per (per-unit)^2 "
                        f"(default: {DEFAULT_RHO:g})")
    parser.add_argument("--eps", default=None, type=float, metavar="EPS",
                        help="ADMM: threshold on the primal residuals r(a,b) (kW) and the dual "
                        f"residuals (S$/kWh) (default: {DEFAULT_EPS:g})")
    parser.add_argument("--max-iters", default=None, type=int, metavar="N",
                        help=f"ADMM: iteration limit (default: {DEFAULT_MAX_ITERS}); "
                        "--clearing interior-point: limit on the rounds of messages")
    parser.add_argument("--stop", default=DEFAULT_STOP, choices=STOP_RULES,
                        help="ADMM: certified: once the study's residual rule (--eps) holds, "
                        "the prices support every entity's own dispatch to --price-tol and the "
                        "objective is certified within --gap-tol of the optimum; study: the "
                        "study's residual rule alone; engine: the engine's residual rule "
                        "(default: %(default)s)")
    parser.add_argument("--price-tol", default=None, type=float, metavar="TOL",
                        help="ADMM, --stop certified: every entity's dispatch is its best "
                        "response to prices within TOL S$/kWh of the reported ones "
                        f"(summary.json price_support) (default: {DEFAULT_PRICE_TOL:g})")
    parser.add_argument("--gap-tol", default=None, type=float, metavar="TOL",
                        help="ADMM: stop only once the certified relative gap to the optimum "
                        "is at most TOL (the grid operators bound their demands by the "
                        "connections' ratings; summary.json gap_certified) (default: "
                        f"{DEFAULT_GAP_TOL:g} with --stop certified, else no gap rule)")
    parser.add_argument("--agents", default=None, choices=AGENT_MODES,
                        help=f"ADMM: one aggregator or one agent per building (default: "
                        f"{AGENT_MODES[0]}, or what --agents-file lists)")
    add_runtime_options(parser)
    parser.add_argument("--agents-file", default=None, metavar="FILE",
                        help="TOML file mapping entity names to the HOST:PORT of running "
                        "`dro agent`s (instead of spawning them)")
    parser.add_argument("--agents-per-process", default=1, type=int, metavar="K",
                        help="tcp/mqtt, spawned agents: the buildings (or the aggregator) share "
                        "processes K at a time, each grid operator keeps its own (default: 1, "
                        "one process per entity)")
    add_token_options(parser, "the shared secret of the run: every message to and from the "
                      "agents is authenticated with it (spawned agents get it in their "
                      "environment)")
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                        help="the coordinator's own TCP address, reachable from the agents "
                        "(default: 127.0.0.1 with a free port)")
    add_fault_options(parser)
    add_warm_start_option(parser)
    add_figures_option(parser)


def run(args: argparse.Namespace) -> int:
    """``dro market-clearing``: checks every option before the slow loading, then runs."""
    # pandas is heavy: the table reader and the output writers are imported when the command runs
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.io.output import OutputFolder
    from distributed_resource_optimization.io.warm_start import read_warm_start

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
    bounds = ADMMSettings()
    engine_settings(args)
    for flag, value in (("--rho", args.rho), ("--eps", args.eps)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{flag} must be positive and finite, got {value}")
    if args.rho is not None and not bounds.rho_min <= args.rho <= bounds.rho_max:
        raise ValueError(f"--rho must lie in [{bounds.rho_min:g}, {bounds.rho_max:g}] (the range "
                         f"the penalty adaptation works in), got {args.rho:g}")
    check_at_least_one(args.max_iters, "--max-iters")
    check_at_least_one(args.agents_per_process, "--agents-per-process")
    if args.agents_per_process > 1 and (args.runtime == "inproc" or args.agents_file):
        raise ValueError("--agents-per-process is for spawned agents: it needs --runtime tcp "
                         "or mqtt and no --agents-file")
    if args.gap_tol is not None and not (math.isfinite(args.gap_tol) and 0 < args.gap_tol < 1):
        raise ValueError(f"--gap-tol must lie in (0, 1), got {args.gap_tol}")
    if args.price_tol is not None:
        if not (math.isfinite(args.price_tol) and args.price_tol > 0):
            raise ValueError(f"--price-tol must be positive and finite, got {args.price_tol}")
        if args.stop != "certified":
            raise ValueError(f"--price-tol belongs to --stop certified, not --stop {args.stop}")
    faults_of(args)
    token_of(args)  # a bad --token-file is refused before any work
    broker_access_of(args)
    if args.clearing == "interior-point":
        admm_only = {"--rho": args.rho, "--eps": args.eps, "--price-tol": args.price_tol,
                     "--gap-tol": args.gap_tol, "--stop": args.stop != DEFAULT_STOP,
                     "--warm-start": args.warm_start}
        given = [flag for flag, value in admm_only.items() if value]
        if given:
            raise ValueError(f"{', '.join(given)} belong to --clearing admm; --clearing "
                             "interior-point has its own stop and starts from its own "
                             "interior point")


def solve_centrally(district: DistrictData, scenario: str, linearisation: str
                    ) -> tuple[CentralizedResult, Verification, SuccessiveResult | None, float]:
    """The centralized solve of ``scenario`` with ``--linearisation`` (``once``: one LP;
    ``iterate``: re-linearised until the physics hold) and the verification of its dispatch
    (progress on stderr): ``(result, verification, successive, solve_s)``, ``successive`` the
    rounds' :class:`~..energy.successive.SuccessiveResult` (``None`` for ``once``), ``solve_s``
    the solve's wall time (s; with ``once`` without the verification)."""
    # pandas and scipy are heavy: the district's LP is imported when a command solves it
    from distributed_resource_optimization.energy.centralized import (
        build_centralized,
        solve_centralized,
    )
    from distributed_resource_optimization.energy.successive import solve_successively
    from distributed_resource_optimization.energy.verification import verify_centralized

    iterate = linearisation == "iterate"
    progress(f"solving centralized ({scenario})"
             + (", re-linearising at each dispatch..." if iterate else "..."))
    start = time.perf_counter()
    if iterate:
        successive = solve_successively(district, scenario)
        # Successive linearisation verified its last round already.
        return (successive.result, successive.verification, successive,
                time.perf_counter() - start)
    result = solve_centralized(build_centralized(district, scenario))
    solve_s = time.perf_counter() - start
    return result, verify_centralized(result), None, solve_s


def run_centralized(args: argparse.Namespace, output: Any) -> int:
    """``--method centralized``: eq. (1) as one LP, written into ``output``."""
    # pandas and scipy are heavy: the district is imported when the command runs
    from distributed_resource_optimization.energy.district import load_district
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.io.writers import write_centralized_run

    start = time.perf_counter()
    progress(f"loading district ({args.resolution})...")
    district = load_district(args.data or DEFAULT_DATA_DIR, args.resolution,
                             comfort=args.comfort)
    linearisation: dict = {"linearisation": args.linearisation}
    result, verification, successive, _ = solve_centrally(district, args.scenario,
                                                          args.linearisation)
    if successive is not None:
        for r in successive.rounds:
            progress(f"round {r.round}: {r.describe()}")
        linearisation.update(linearisation_converged=successive.converged,
                             linearisation_rounds=[r.as_dict() for r in successive.rounds])
    wall = time.perf_counter() - start
    verifications = {"centralized": verification}
    progress(f"writing {args.out}...")
    with output as tmp:
        write_centralized_run(tmp, result, wall, args.scenario, verifications, linearisation,
                              figures=args.figures == "all")
    binding = ", ".join(f"{b['constraint']} {b['element']} ({b['timesteps']} steps)"
                        for b in result.binding_constraints()) or "none"
    progress(f"done: objective {result.objective:.2f} S$, binding: {binding}, "
             f"{time.perf_counter() - start:.1f} s")
    return report_verification(verifications, EXIT_OK)


def report_verification(verifications: dict, code: int) -> int:
    """One line on stderr (the worst check of the verified dispatches); ``code``, or
    :data:`EXIT_PHYSICS` if it was :data:`EXIT_OK` and a dispatch violates a grid limit in the
    nonlinear models beyond the tolerance."""
    # pandas is heavy: the verification is imported when the command runs
    from distributed_resource_optimization.energy.verification import (
        HOLDS,
        describe_verifications,
        verification_status,
    )

    progress(f"verification against the nonlinear grids: {describe_verifications(verifications)}")
    violated = verification_status(verifications) != HOLDS
    return EXIT_PHYSICS if violated and code == EXIT_OK else code


@dataclass(frozen=True)
class MarketClearingRun:
    """What ``--method admm|both`` computed: the ``district``, its centralized solution
    (``central``, ``wall_central_s`` s), the ADMM market clearing (``market``, ``wall_admm_s``
    s) and their ``comparison`` (:func:`~..market.clearing.compare_with_centralized`)."""

    district: DistrictData
    central: CentralizedResult
    market: MarketResult
    comparison: dict[str, float]
    wall_central_s: float
    wall_admm_s: float
    #: Both dispatches held against the nonlinear grids (``centralized``, ``market``).
    verifications: dict = field(default_factory=dict)
    #: ``summary.json``'s linearisation entries (``linearisation``, and with ``iterate`` the
    #: market's ``linearisation_rounds`` / ``linearisation_converged`` and the centralized
    #: solve's ``centralized_linearisation_rounds``).
    linearisation: dict = field(default_factory=dict)
    #: Every market clearing of a successive linearisation (the last is ``market``).
    clearings: list = field(default_factory=list)


def run_admm(args: argparse.Namespace, output: Any, warm_start: Any = None) -> int:
    """``--method admm|both``: ADMM market clearing next to the centralized reference, written
    into ``output``; exit code 1 when it stopped at ``--max-iters``, else 4 when a dispatch
    violates a grid limit in the nonlinear models."""
    # pandas is heavy: the writers are imported when the command runs
    from distributed_resource_optimization.io.writers import write_market_clearing

    done = clear_market(args, warm_start)
    market, comparison = done.market, done.comparison
    progress(f"writing {args.out}...")
    with output as out:
        write_market_clearing(out, done.district, market, done.central, comparison,
                              method=args.method, scenario=args.scenario,
                              wall_central_s=done.wall_central_s, wall_admm_s=done.wall_admm_s,
                              verifications=done.verifications,
                              linearisation=done.linearisation,
                              clearings=done.clearings or None,
                              figures=args.figures == "all")
    method, counted = (("ADMM", "iterations") if market.clearing == "admm"
                       else ("interior point", "rounds"))
    progress(f"done: {method} {market.iterations} {counted} "
             f"({'converged' if market.converged else 'not converged'}), objective gap "
             f"{comparison['objective_gap_rel']:.2e}, max price deviation "
             f"{comparison['max_price_deviation']:.2e} S$/kWh, {done.wall_admm_s:.1f} s"
             + ("" if market.runtime == "inproc" else
                f", {market.messages} messages, {market.bytes_sent / 1e6:.1f} MB"))
    if not market.converged and market.clearing == "admm":
        # Where a price must climb over a range in which no demand responds (the electric
        # scenarios at 30 min), ADMM's rounds run into the thousands; the interior point
        # converges there in about 90 (docs/interior_point.md).
        progress(f"not converged: stopped by {market.admm.stopped_by}; --max-iters allows "
                 "more iterations, --clearing interior-point clears by the interior-point "
                 "method (tens of rounds on every scenario)")
    return report_verification(done.verifications,
                               EXIT_OK if market.converged else EXIT_NOT_CONVERGED)


def clearing_settings(args: argparse.Namespace, agents: str) -> dict[str, Any]:
    """The keyword arguments of a clearing by either method from the options: where the
    agents run and how they are reached."""
    return dict(agents=agents, max_iters=args.max_iters, clearing=args.clearing,
                faults=faults_of(args), runtime=args.runtime, agents_file=args.agents_file,
                broker=args.broker, listen=args.listen, broker_access=broker_access_of(args),
                token=token_of(args), agents_per_process=args.agents_per_process)


def admm_settings(args: argparse.Namespace, agents: str, progress: Any, warm_start: Any
                  ) -> dict[str, Any]:
    """The keyword arguments of an ADMM clearing from the options."""
    settings = dict(clearing_settings(args, agents), rho=args.rho, eps=args.eps,
                    progress=progress, warm_start=warm_start, stop=args.stop,
                    price_tol=args.price_tol, **engine_settings(args))
    if args.gap_tol is not None:
        settings["gap_tol"] = args.gap_tol
    return settings


def clear_market(args: argparse.Namespace, warm_start: Any = None) -> MarketClearingRun:
    """Load the district, solve it centrally and clear the market by ADMM as the options say
    (progress on stderr); writes nothing."""
    # pandas, scipy and mango-agents are heavy: the market is imported when the command runs
    from distributed_resource_optimization.energy.district import load_district
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.market.clearing import (
        clear_market_successively,
        compare_with_centralized,
        market_residuals,
        run_market_clearing,
        shift_to_timesteps,
        verify_market,
    )
    from distributed_resource_optimization.market.processes import (
        agents_of,
        read_agents_file,
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
    agents = agents or AGENT_MODES[0]
    data = args.data or DEFAULT_DATA_DIR
    progress(f"loading district ({args.resolution})...")
    district = load_district(data, args.resolution, comfort=args.comfort)
    if warm_start is not None:
        warm_start = shift_to_timesteps(warm_start, district.timesteps, agents)
    iterate = args.linearisation == "iterate"
    linearisation: dict = {"linearisation": args.linearisation}
    central, central_verification, successive, wall_central = solve_centrally(
        district, args.scenario, args.linearisation)
    if iterate:
        linearisation["centralized_linearisation_rounds"] = [r.as_dict()
                                                             for r in successive.rounds]
    where = "" if args.runtime == "inproc" else (
        f", agents at {args.agents_file}" if args.agents_file else
        f", one {args.runtime} agent process per entity" if args.agents_per_process == 1 else
        f", {args.runtime} agent processes of up to {args.agents_per_process} consumers")
    method = "ADMM" if args.clearing == "admm" else "interior-point"
    counted = "" if args.clearing == "admm" else "; iterations are Newton iterations, " \
        "three rounds each"
    progress(f"{method} market clearing ({agents}{where}{counted})...")

    line = IterationLine(20 if args.clearing == "admm" else 1)

    def report(state) -> None:
        def text() -> str:
            primal, dual = market_residuals(state.stopping.history)
            r = ", ".join(f"{k} {v[-1]:.3g}" for k, v in primal.items())
            d = max(v[-1] for v in dual.values())
            return (f"primal residuals {r} (kW), largest dual residual {d:.3g} (S$/kWh), "
                    f"rho {state.rho:.3g}")

        line(state.iteration, text)

    def report_newton(state) -> None:
        m = state.measures
        line(state.iteration, lambda: (
            f"objective {m['objective']:.8g} S$, consensus {m['consensus']:.2e} and "
            f"stationarity {m['dual']:.2e} (relative), complementarity {m['mu']:.2e} S$ per "
            "inequality"))

    if args.clearing == "interior-point":
        settings = dict(clearing_settings(args, agents), progress=report_newton)
    else:
        settings = admm_settings(args, agents, report, warm_start)
    start = time.perf_counter()
    if iterate:
        cleared = clear_market_successively(district, args.scenario, **settings)
        market, market_verification = cleared.market, cleared.verification
        for r in cleared.rounds:
            progress(f"market clearing {r.round}: {r.describe()}")
        linearisation.update(linearisation_converged=cleared.converged,
                             linearisation_rounds=[r.as_dict() for r in cleared.rounds])
    else:
        market = run_market_clearing(district, args.scenario, **settings)
        market_verification = verify_market(market, district)
    wall_admm = time.perf_counter() - start
    line.close()
    # Where the DLMP is not unique any price in its range clears the optimum: measured too.
    comparison = compare_with_centralized(market, central, price_ranges=True)
    verifications = {"centralized": central_verification, "market": market_verification}
    return MarketClearingRun(district, central, market, comparison, wall_central, wall_admm,
                             verifications, linearisation,
                             cleared.clearings if iterate else [market])
