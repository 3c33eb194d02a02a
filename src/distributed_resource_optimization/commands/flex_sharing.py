"""``dro flex-sharing``: a random flex sharing instance by ADMM (fleets in agent processes) and
centrally; writes ``summary.json``, ``actors.csv``, ``residuals.csv``, ``admm_state.csv`` (what
``--warm-start`` reads) and ``residuals.png``."""

from __future__ import annotations

import argparse

from distributed_resource_optimization.commands.common import (
    broker_access_of,
    check_at_least_one,
    engine_settings,
    faults_of,
    progress,
    token_of,
)

SUMMARY_FILE = "summary.json"
RESIDUAL_FIGURE = "residuals.png"


def run(args: argparse.Namespace) -> int:
    from distributed_resource_optimization.flex_sharing import (
        DEFAULT_GAP_TOL,
        flex_sharing_coordinator,
        run_flex_sharing,
        share_bounds,
    )
    from distributed_resource_optimization.io_folders import OutputFolder
    from distributed_resource_optimization.plots import plot_admm_residuals
    from distributed_resource_optimization.results import (
        ACTORS_FILE,
        RESIDUALS_FILE,
        STATE_FILE,
        engine_history_frame,
        flex_actor_frame,
        flex_summary,
        read_warm_start,
        state_frame,
        write_json,
    )

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
    warm_start = None if args.warm_start is None else read_warm_start(args.warm_start)
    share_bounds(args.actors, args.processes, 0)
    # The warm start may lie in the folder the results replace: it was read whole above.
    output = OutputFolder(args.out, args.command, overwrite=args.overwrite)
    output.check()
    settings = {"max_iters": args.max_iters} if args.max_iters else {}
    settings.update(engine)
    gap_tol = DEFAULT_GAP_TOL if args.gap_tol is None else args.gap_tol
    coordinator = flex_sharing_coordinator(gap_tol, **settings)

    def report(state) -> None:
        if state.iteration % 500 == 0:
            progress(f"iteration {state.iteration}: primal {state.history.primal[-1]:.3g}, dual "
                     f"{state.history.dual[-1]:.3g}, rho {state.rho:.3g}")

    where = "in this process" if args.runtime == "inproc" else \
        f"in {args.processes} agent processes ({args.runtime})"
    progress(f"flex sharing: {args.actors} actors, {args.sectors} sectors, seed {args.seed}, "
             f"{args.processes} fleets {where}...")
    result = run_flex_sharing(args.actors, seed=args.seed, sectors=args.sectors,
                              runtime=args.runtime, processes=args.processes,
                              broker=args.broker, broker_access=access, coordinator=coordinator,
                              progress=report, faults=faults, warm_start=warm_start,
                              token=token)
    with output as tmp:
        write_json(tmp / SUMMARY_FILE, flex_summary(result))
        flex_actor_frame(result).to_csv(tmp / ACTORS_FILE, index=False)
        engine_history_frame(result.admm).to_csv(tmp / RESIDUALS_FILE, index=False)
        state_frame(result.admm).to_csv(tmp / STATE_FILE, index=False)
        plot_admm_residuals(result.admm, tmp / RESIDUAL_FIGURE,
                            title=f"Flex sharing, {args.actors} actors ({args.runtime})")
    admm = result.admm
    progress(f"done: {admm.iterations} iterations ({admm.status.value}), objective "
             f"{admm.objective:.6g} S$ vs centralized {result.centralized_objective:.6g} "
             f"(gap {result.objective_gap_rel:.2e}, certified {_show(admm.gap_certified)}), "
             f"{result.wall_time_s:.2f} s, "
             f"{result.messages} messages -> {args.out}")
    return 0 if admm.converged else 1


def _show(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2e}"
