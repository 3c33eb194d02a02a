"""Command-line entry point ``dro``.

``dro market-clearing --scenario NAME --method admm|both|centralized --out DIR
[--resolution 30min|60min] [--data DIR] [--rho R] [--eps E] [--max-iters N]
[--agents entities|per-building] [--runtime inproc|tcp|mqtt] [--broker HOST:PORT]
[--agents-file FILE] [--listen HOST:PORT]``

``centralized`` solves the district's combined optimal operation (eq. (1) of the study) and writes
``summary.json``, ``dispatch.csv``, ``prices.csv``, ``price_components.csv`` and the figures
``thermal_dispatch_fl22.png`` / ``thermal_price_fl22.png`` into DIR. ``admm`` clears the market by
ADMM (Algorithm 1) and compares it with the centralized solution; ``both`` (default) also writes the
centralized rows. The ADMM methods add ``residuals.csv``, ``primal_residuals.png`` and the
comparison keys of ``summary.json``. ``--runtime tcp|mqtt`` runs every entity as a ``dro agent``
process of its own, started from its own folder of the data split; ``--agents-file`` coordinates
agents that are already running (on other hosts).

``dro flex-sharing --actors N [--seed S] [--sectors M] [--runtime inproc|tcp|mqtt]
[--processes K] --out DIR``: a random flex sharing instance by ADMM and centrally.

``dro agent --entity NAME --scenario S --listen HOST:PORT [--data DIR] [--resolution R]
[--once] [--idle-timeout S]``: one market agent serving coordinators.

``dro peer --factory MODULE:FUNCTION [--kwargs JSON] --name NAME --runtime tcp|mqtt
[--listen HOST:PORT] [--broker HOST:PORT]``: one participant of a coordinator-free algorithm,
built from its own data, serving a run started by
:func:`~distributed_resource_optimization.runtime.peers.start_distributed_processes`.

``dro data split --out DIR [--data SRC] [--agents entities|per-building]``: one data folder per
entity.

Progress goes to stderr; errors are one line ``dro: error: ...`` with exit code 2 (a
flex-sharing run that ends at ``--max-iters`` exits 1). Results are written into a temporary
folder and moved into place only when complete. ``--out`` must be absent, empty or an earlier
output of the same command (its ``.dro-manifest.json`` lists what it wrote: only those files are
replaced); ``--overwrite`` (market-clearing, flex-sharing, data split) also writes into other
folders, replacing only files of the new outputs' names. The input data, the home folder, the
working directory and a filesystem root are refused always.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from distributed_resource_optimization.commands.common import PROG

DEFAULT_OUT = "dro-output"


class _UsageError(Exception):
    """Bad command line; reported as one line instead of argparse's usage block."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _add_runtime(parser: argparse.ArgumentParser, with_inproc: bool = True) -> None:
    from distributed_resource_optimization.runtime.processes import (
        DEFAULT_BROKER,
        PROCESS_RUNTIMES,
        RUNTIMES,
    )

    choices = RUNTIMES if with_inproc else PROCESS_RUNTIMES
    parser.add_argument("--runtime", default=choices[0], choices=choices,
                        help=f"where the agents run (default: {choices[0]}); tcp/mqtt: one "
                        "process per agent on mango-agents")
    parser.add_argument("--broker", default=DEFAULT_BROKER,
                        help=f"MQTT broker HOST:PORT for --runtime mqtt (default: "
                        f"{DEFAULT_BROKER})")
    parser.add_argument("--broker-username", default=None, metavar="NAME",
                        help="MQTT: log in to the broker as NAME (password: "
                        "--broker-password-file, or the DRO_BROKER_PASSWORD environment variable)")
    parser.add_argument("--broker-password-file", default=None, type=Path, metavar="FILE",
                        help="MQTT: the broker password, on the first line of FILE")
    parser.add_argument("--broker-tls-ca", default=None, metavar="FILE",
                        help="MQTT: connect to the broker by TLS, trusting the CA certificate "
                        "in FILE (PEM)")
    parser.add_argument("--broker-tls-cert", default=None, metavar="FILE",
                        help="MQTT with TLS: this client's certificate (PEM), for brokers that "
                        "require one (with --broker-tls-key)")
    parser.add_argument("--broker-tls-key", default=None, metavar="FILE",
                        help="MQTT with TLS: the key of --broker-tls-cert (PEM)")


def _add_warm_start_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warm-start", default=None, metavar="FILE",
                        help="start from an earlier run's admm_state.csv (its outputs, prices "
                        "and penalty; entries it does not have start at 0)")


def _add_token_options(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--token", default=None,
                       help=f"{what} (default: the DRO_TOKEN environment variable, if set; "
                       "a command line is visible to other users: prefer --token-file or "
                       "DRO_TOKEN)")
    group.add_argument("--token-file", default=None, type=Path, metavar="FILE",
                       help="read the shared secret from the first line of FILE")


def _add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="also write into a non-empty --out folder that dro did not write, or "
                        "that another dro command wrote; only files of the new outputs' names "
                        "(and those an earlier dro run listed) are replaced, others are kept")


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--round-timeout", default=None, type=float,
                        help="seconds to wait for all agents' replies of a round before the run "
                        "fails (exit code 3); requests without a reply are sent again before "
                        "(default: 30)")
    parser.add_argument("--stale-rounds", default=None, type=int, metavar="K",
                        help="partial participation: an agent that misses a round (no reply "
                        "after a resend) is carried with its last outputs for up to K rounds in "
                        "a row; no such round counts as converged (default: 0, every round waits "
                        "for every agent)")
    parser.add_argument("--drop-messages", default=0.0, type=float, metavar="FRACTION",
                        help="testing aid: lose this fraction of the coordinator's messages (in "
                        "process: of all messages); the result must not change")
    parser.add_argument("--fault-seed", default=None, type=int,
                        help="testing aid: seed of --drop-messages")


def _parser() -> argparse.ArgumentParser:
    from distributed_resource_optimization.commands.market_clearing import (
        DEFAULT_METHOD,
        METHODS,
    )
    from distributed_resource_optimization.energy.scenarios import DEFAULT_SCENARIO, SCENARIOS
    from distributed_resource_optimization.energy.steps import STEP_MINUTES
    from distributed_resource_optimization.market.names import AGENT_MODES

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
    _add_overwrite_option(mc)
    mc.add_argument("--resolution", default="30min", choices=list(STEP_MINUTES),
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
    mc.add_argument("--agents", default=None, choices=AGENT_MODES,
                    help="ADMM: one aggregator or one agent per building (default: entities, "
                    "or what --agents-file lists)")
    _add_runtime(mc)
    mc.add_argument("--agents-file", default=None,
                    help="TOML file mapping entity names to the HOST:PORT of running `dro agent`s "
                    "(instead of spawning them)")
    _add_token_options(mc, "the shared secret of the run: every message to and from the agents "
                       "is authenticated with it (spawned agents get it in their environment)")
    mc.add_argument("--listen", default="127.0.0.1:0",
                    help="the coordinator's own TCP address, reachable from the agents "
                    "(default: 127.0.0.1 with a free port)")
    _add_fault_options(mc)
    _add_warm_start_option(mc)

    fs = sub.add_parser("flex-sharing", help="random flex-actor fleets by sharing ADMM")
    fs.add_argument("--actors", type=int, required=True, help="number of flex actors N")
    fs.add_argument("--seed", type=int, default=0, help="seed of the instance (default: 0)")
    fs.add_argument("--sectors", type=int, default=3, help="outputs per actor M (default: 3)")
    fs.add_argument("--processes", type=int, default=1,
                    help="fleets the actors are split into, one agent process each with "
                    "--runtime tcp/mqtt (default: 1)")
    fs.add_argument("--out", default=DEFAULT_OUT, type=Path,
                    help=f"output folder (default: ./{DEFAULT_OUT})")
    _add_overwrite_option(fs)
    fs.add_argument("--max-iters", default=None, type=int,
                    help="ADMM iteration limit (default: 10000)")
    fs.add_argument("--gap-tol", default=None, type=float,
                    help="stop once the certified relative gap (Lagrangian lower bound against "
                    "the objective) is at most this (default: 1e-4)")
    _add_fault_options(fs)
    _add_warm_start_option(fs)
    _add_runtime(fs)
    _add_token_options(fs, "with --runtime tcp/mqtt: the shared secret of the run, every message "
                       "to and from the fleet agents authenticated with it (they get it in "
                       "their environment)")

    ag = sub.add_parser("agent", help="run one agent that serves coordinators (tcp or mqtt)")
    ag.add_argument("--entity", default=None,
                    help="market entity: thermal_grid_operator, electric_grid_operator, "
                    "aggregator or building_<der>")
    ag.add_argument("--scenario", default=DEFAULT_SCENARIO,
                    help=f"grid-limit scenario (grid operators; default: {DEFAULT_SCENARIO})")
    ag.add_argument("--data", default=None, type=Path,
                    help="the entity's own data folder (`dro data split`; default: embedded)")
    ag.add_argument("--resolution", default="30min", choices=list(STEP_MINUTES),
                    help="timestep length (default: 30min)")
    ag.add_argument("--solver-eps", default=1e-8, type=float, help=argparse.SUPPRESS)
    ag.add_argument("--flex-share", default=None,
                    help="INDEX/SHARES: a fleet share of a flex-sharing instance instead")
    ag.add_argument("--actors", type=int, default=None, help="flex sharing: instance size N")
    ag.add_argument("--seed", type=int, default=0, help="flex sharing: instance seed")
    ag.add_argument("--sectors", type=int, default=3, help="flex sharing: sectors M")
    _add_runtime(ag, with_inproc=False)
    ag.add_argument("--listen", default="127.0.0.1:0",
                    help="TCP HOST:PORT to listen on (port 0: a free one; default)")
    ag.add_argument("--topic-prefix", default=None,
                    help="MQTT: the inbox topic is <prefix>/<agent name> (default prefix: dro)")
    _add_token_options(ag, "serve only coordinators that hold this shared secret: every message "
                       "is authenticated with it, anything else is dropped unanswered")
    ag.add_argument("--once", action="store_true", help="exit after one run")
    ag.add_argument("--idle-timeout", default=600.0, type=float,
                    help="exit when no coordinator message came for this many seconds "
                    "(default: 600)")
    ag.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    ag.add_argument("--nice", type=int, default=0,
                    help="lower this process's CPU priority by N (spawned agents: 10, so the "
                    "coordinator on the same machine is never kept waiting)")

    pe = sub.add_parser("peer", help="run one participant of a coordinator-free algorithm "
                        "(tcp or mqtt), built by a factory from its own data")
    pe.add_argument("--factory", required=True,
                    help="the registered participant factory that returns the participant: "
                    "package.module:function (decorated with @participant_factory) or the name "
                    "of an entry point of distributed_resource_optimization.participants")
    pe.add_argument("--kwargs", default="{}",
                    help="JSON object of the factory's keyword arguments (default: {})")
    pe.add_argument("--name", required=True,
                    help="the agent's name (a run's participants are participant-1, ...)")
    _add_runtime(pe, with_inproc=False)
    pe.add_argument("--listen", default="127.0.0.1:0",
                    help="TCP HOST:PORT to listen on (port 0: a free one; default)")
    pe.add_argument("--topic-prefix", default=None,
                    help="MQTT: the inbox topic is <prefix>/<name> (default prefix: dro)")
    pe.add_argument("--runs", type=int, default=1,
                    help="runs to serve, then exit (default: 1; 0: until --idle-timeout)")
    pe.add_argument("--idle-timeout", default=600.0, type=float,
                    help="give up (--runs N) or exit (--runs 0) when no run starts within this "
                    "many seconds (default: 600)")
    _add_token_options(pe, "take part only in runs of a controller (and with peers) that hold "
                       "this shared secret: every message is authenticated with it")
    pe.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    pe.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by N")

    da = sub.add_parser("data", help="data folders")
    da_sub = da.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    sp = da_sub.add_parser("split", help="one data folder per market entity, DIR/<entity>/")
    sp.add_argument("--out", required=True, type=Path, help="folder to write the entity folders to")
    _add_overwrite_option(sp)
    sp.add_argument("--data", default=None, type=Path,
                    help="the district's data folder (default: embedded test case)")
    sp.add_argument("--agents", default="entities", choices=AGENT_MODES,
                    help="entities (default) or per-building")
    return parser


def _data_split(args: argparse.Namespace) -> int:
    from distributed_resource_optimization.commands.common import progress
    from distributed_resource_optimization.energy.io import DEFAULT_DATA_DIR
    from distributed_resource_optimization.io_folders import OutputFolder
    from distributed_resource_optimization.market.split import split_data

    data = args.data or DEFAULT_DATA_DIR
    output = OutputFolder(args.out, f"{args.command} {args.data_command}", inputs={"--data": data},
                          overwrite=args.overwrite)
    output.check()
    with output as tmp:  # all entity folders appear together, or none
        folders = split_data(tmp, data, agents=args.agents)
    progress(f"wrote {len(folders)} entity folders into {args.out}: {', '.join(folders)}")
    return 0


#: Exit codes of every command.
EXIT_OK = 0  # converged (or nothing to converge)
EXIT_NOT_CONVERGED = 1  # finished at the iteration limit
EXIT_BAD_INPUT = 2  # bad command line, data or settings, or a failed solve
EXIT_PARTICIPANT = 3  # an agent failed, broke the protocol or did not answer in time
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT)
EXIT_TERMINATED = 143  # SIGTERM


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())  # one line, whatever the exception text holds


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (:data:`EXIT_OK` ... :data:`EXIT_TERMINATED`)."""
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    from distributed_resource_optimization.runtime.carrier import (
        CoordinationError,
        CoordinationTimeoutError,
    )

    terminated = _SigtermAsInterrupt()
    try:
        with terminated:
            return _dispatch(args)
    except KeyboardInterrupt:
        # The run's own clean-up (spawned agents, the temporary output folder) has happened.
        # An agent or a peer writes no result: it only stops serving.
        what = "stopped serving" if args.command in ("agent", "peer") else "no result was written"
        if terminated.fired:
            print(f"{PROG}: terminated (SIGTERM); {what}", file=sys.stderr)
            return EXIT_TERMINATED
        print(f"{PROG}: interrupted (Ctrl-C); {what}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (CoordinationError, CoordinationTimeoutError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_PARTICIPANT
    # A DataFileError is a ValueError: no import of energy.tables (pandas, scipy.sparse: ~0.5 s)
    # for it, which every `dro agent` and `dro peer` process would pay at start.
    except (ValueError, OSError, RuntimeError, TimeoutError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "market-clearing":
        from distributed_resource_optimization.commands import market_clearing

        return market_clearing.run(args)
    if args.command == "flex-sharing":
        from distributed_resource_optimization.commands import flex_sharing

        return flex_sharing.run(args)
    if args.command == "agent":
        from distributed_resource_optimization.commands import agent

        return agent.run(args)
    if args.command == "peer":
        from distributed_resource_optimization.commands import peer

        return peer.run(args)
    return _data_split(args)


class _SigtermAsInterrupt:
    """While active, SIGTERM is handled like Ctrl-C (the run unwinds and cleans up), and
    ``fired`` tells the two apart. Only in the main thread, where signals can be handled."""

    def __init__(self) -> None:
        self.fired = False
        self._previous = None

    def __enter__(self) -> _SigtermAsInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                self.fired = True
                # SIGINT reaches asyncio's own handler, which cancels the running main task, or
                # else it raises KeyboardInterrupt here.
                signal.raise_signal(signal.SIGINT)

            self._previous = signal.signal(signal.SIGTERM, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


if __name__ == "__main__":
    sys.exit(main())
