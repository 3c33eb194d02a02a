"""``dro flex-sharing``: a random flex sharing instance by ADMM (fleets in agent processes) and
centrally; writes ``summary.json``, ``actors.csv``, ``residuals.csv``, ``admm_state.csv`` (what
``--warm-start`` reads) and ``residuals.png`` (:func:`..io.writers.write_flex_sharing`)."""

from __future__ import annotations

import argparse

from distributed_resource_optimization.admm.state import ADMMSettings
from distributed_resource_optimization.cli.common import (
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    IterationLine,
    add_fault_options,
    add_figures_option,
    add_out_option,
    add_runtime_options,
    add_token_options,
    add_warm_start_option,
    broker_access_of,
    check_at_least_one,
    engine_settings,
    faults_of,
    progress,
    token_of,
)
from distributed_resource_optimization.flex_sharing import DEFAULT_GAP_TOL

NAME = "flex-sharing"
HELP = "random flex-actor fleets by sharing ADMM or the interior-point method"

#: How the fleets coordinate: sharing ADMM or the distributed interior-point method.
METHODS = ("admm", "interior-point")

#: Examples shown by ``dro flex-sharing --help``.
EXAMPLES = """\
  dro flex-sharing --actors 1000 --out flex
      1000 random flex actors by sharing ADMM, against the centralized optimum
  dro flex-sharing --actors 10000 --processes 2 --runtime tcp --out flex
      the actors split into two agent processes over TCP
  dro flex-sharing --actors 1000 --warm-start flex/admm_state.csv --out flex2
      start from an earlier run's state
  dro flex-sharing --actors 1000 --method interior-point --out flex-ip
      the same instance by the distributed interior-point method (tens of rounds)
  dro flex-sharing --actors 1000 --no-polish --out flex-admm
      ADMM alone, without the polish (the undecided actors' segments cleared by the
      coordinator every 10 iterations)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``dro flex-sharing``."""
    parser.add_argument("--actors", type=int, required=True, metavar="N",
                        help="number of flex actors")
    parser.add_argument("--seed", type=int, default=0, metavar="SEED",
                        help="seed of the instance (default: %(default)s)")
    parser.add_argument("--sectors", type=int, default=3, metavar="N",
                        help="outputs per actor (default: %(default)s)")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="fleets the actors are split into, one agent process each with "
                        "--runtime tcp/mqtt (default: %(default)s)")
    add_out_option(parser)
    parser.add_argument("--method", default=METHODS[0], choices=METHODS,
                        help="sharing ADMM, or the distributed interior-point method (each "
                        "fleet sends its summed outputs and their sensitivity to the price, "
                        "an m x m matrix; its own stop) (default: %(default)s)")
    parser.add_argument("--max-iters", default=None, type=int, metavar="N",
                        help=f"ADMM iteration limit (default: {ADMMSettings.max_iters}); "
                        "--method interior-point: limit on the rounds of messages")
    parser.add_argument("--gap-tol", default=None, type=float, metavar="TOL",
                        help="ADMM: stop once the certified relative gap (Lagrangian lower "
                        "bound against the objective) is at most this (default: "
                        f"{DEFAULT_GAP_TOL:g})")
    parser.add_argument("--polish", action=argparse.BooleanOptionalAction, default=None,
                        help="ADMM: every 10 iterations the actors undecided at the current "
                        "prices offer their segments (full output and cost: revealed to the "
                        "coordinator, as their outputs at those prices already tell), which "
                        "clears them and stops once that point is certified within --gap-tol "
                        "(docs/admm.md 8c); on by default, --no-polish: ADMM alone")
    add_fault_options(parser)
    add_warm_start_option(parser)
    add_figures_option(parser)
    add_runtime_options(parser)
    add_token_options(parser, "with --runtime tcp/mqtt: the shared secret of the run, every "
                      "message to and from the fleet agents authenticated with it (they get it "
                      "in their environment)")


def run(args: argparse.Namespace) -> int:
    """``dro flex-sharing``: checks every option, runs, writes; exit code 1 when the run stopped
    at ``--max-iters``."""
    # pandas and matplotlib are heavy: the output writers are imported when the command runs
    from distributed_resource_optimization.flex_sharing import (
        flex_sharing_coordinator,
        run_flex_sharing,
        share_bounds,
    )
    from distributed_resource_optimization.interior_point.consensus import ROUNDS_PER_ITERATION
    from distributed_resource_optimization.interior_point.sharing import (
        create_sharing_target_distance_interior_point_coordinator,
    )
    from distributed_resource_optimization.io.output import OutputFolder
    from distributed_resource_optimization.io.warm_start import read_warm_start
    from distributed_resource_optimization.io.writers import write_flex_sharing

    check_at_least_one(args.actors, "--actors")
    check_at_least_one(args.sectors, "--sectors")
    check_at_least_one(args.processes, "--processes")
    check_at_least_one(args.max_iters, "--max-iters")
    engine = engine_settings(args)
    if args.gap_tol is not None and not (args.gap_tol >= 0 and args.gap_tol < float("inf")):
        raise ValueError(f"--gap-tol must be a finite number >= 0, got {args.gap_tol}")
    faults = faults_of(args)
    access = broker_access_of(args)
    token = token_of(args)
    if args.method == "interior-point":
        admm_only = {"--gap-tol": args.gap_tol is not None, "--warm-start": args.warm_start,
                     "--polish/--no-polish": args.polish is not None,
                     "--stale-rounds": args.stale_rounds is not None}
        given = [flag for flag, value in admm_only.items() if value]
        if given:
            raise ValueError(f"{', '.join(given)} belong to --method admm; --method "
                             "interior-point has its own stop and starts from its own "
                             "interior point")
    warm_start = None if args.warm_start is None else read_warm_start(args.warm_start)
    share_bounds(args.actors, args.processes, 0)
    # The warm start may lie in the folder the results replace: it was read whole above.
    output = OutputFolder(args.out, args.command, overwrite=args.overwrite)
    output.check()
    if args.method == "interior-point":
        # --max-iters counts rounds of messages, three per Newton iteration.
        newton = {"max_iters": max(1, args.max_iters // ROUNDS_PER_ITERATION)} \
            if args.max_iters else {}
        coordinator = create_sharing_target_distance_interior_point_coordinator(**newton,
                                                                                **engine)
        gap_tol = None
    else:
        settings = {"max_iters": args.max_iters} if args.max_iters else {}
        settings.update(engine)
        if args.polish is not None:
            settings["polish"] = args.polish
        gap_tol = DEFAULT_GAP_TOL if args.gap_tol is None else args.gap_tol
        coordinator = flex_sharing_coordinator(gap_tol, **settings)

    line = IterationLine(500)

    def report(state) -> None:
        line(state.iteration, lambda: f"primal {state.history.primal[-1]:.3g}, dual "
             f"{state.history.dual[-1]:.3g}, rho {state.rho:.3g}")

    where = "in this process" if args.runtime == "inproc" else \
        f"in {args.processes} agent processes ({args.runtime})"
    progress(f"flex sharing: {args.actors} actors, {args.sectors} sectors, seed {args.seed}, "
             f"{args.processes} fleets {where}...")
    result = run_flex_sharing(args.actors, seed=args.seed, sectors=args.sectors,
                              runtime=args.runtime, processes=args.processes,
                              broker=args.broker, broker_access=access, coordinator=coordinator,
                              progress=report if args.method == "admm" else None,
                              faults=faults, warm_start=warm_start, token=token)
    line.close()
    with output as tmp:
        write_flex_sharing(tmp, result, f"Flex sharing, {args.actors} actors ({args.runtime})",
                           gap_tol=gap_tol, figures=args.figures == "all")
    admm = result.admm
    counted = "iterations" if args.method == "admm" else "rounds (interior point)"
    progress(f"done: {admm.iterations} {counted} ({admm.status.value}), objective "
             f"{admm.objective:.6g} S$ vs centralized {result.centralized_objective:.6g} "
             f"(gap {result.objective_gap_rel:.2e}, certified {_show(admm.gap_certified)}), "
             f"{result.wall_time_s:.2f} s, "
             f"{result.messages} messages -> {args.out}")
    return EXIT_OK if admm.converged else EXIT_NOT_CONVERGED


def _show(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2e}"
