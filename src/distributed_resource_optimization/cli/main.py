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
:func:`~distributed_resource_optimization.runtime.processes.start_distributed_processes`.

``dro data split --out DIR [--data SRC] [--agents entities|per-building]``: one data folder per
entity.

Progress goes to stderr; errors are one line ``dro: error: ...`` with exit code 2 (a run that
ends at ``--max-iters`` exits 1; a market-clearing run whose dispatch violates a grid limit in
the nonlinear models exits 4). Results are written into a temporary
folder and moved into place only when complete. ``--out`` must be absent, empty or an earlier
output of the same command (its ``.dro-manifest.json`` lists what it wrote: only those files are
replaced); ``--overwrite`` (market-clearing, flex-sharing, data split) also writes into other
folders, replacing only files of the new outputs' names. The input data, the home folder, the
working directory and a filesystem root are refused always.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType

# Each command's module by its own path: the package's __init__ imports this module.
import distributed_resource_optimization.cli.agent as agent
import distributed_resource_optimization.cli.data as data
import distributed_resource_optimization.cli.flex_sharing as flex_sharing
import distributed_resource_optimization.cli.market_clearing as market_clearing
import distributed_resource_optimization.cli.peer as peer
from distributed_resource_optimization.cli.common import (
    DEFAULT_OUT,
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    EXIT_PARTICIPANT,
    EXIT_TERMINATED,
    PROG,
    add_verbosity_options,
    set_verbosity,
    show_library_progress,
)
from distributed_resource_optimization.io.output import package_version
from distributed_resource_optimization.runtime.transport import (
    CoordinationError,
    CoordinationTimeoutError,
)

__all__ = ["DEFAULT_OUT", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_NOT_CONVERGED", "EXIT_OK",
           "EXIT_PARTICIPANT", "EXIT_TERMINATED", "COMMANDS", "main"]

#: The commands, by name: each module owns its options (``add_arguments``) and runs them (``run``).
COMMANDS: dict[str, ModuleType] = {m.NAME: m for m in (market_clearing, flex_sharing, agent, peer,
                                                       data)}


class _UsageError(Exception):
    """Bad command line; reported as one line instead of argparse's usage block."""


class _Parser(argparse.ArgumentParser):
    """Errors as :class:`_UsageError`. A command's options (``add_options``) are added when the
    command is parsed or its help is shown, so a run imports only what its own options name
    (``dro agent`` never loads the market clearing's defaults)."""

    def __init__(self, *args, add_options: Callable[[argparse.ArgumentParser], None] | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._add_options = add_options

    def _complete(self) -> None:
        if self._add_options is not None:
            add, self._add_options = self._add_options, None
            add(self)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._complete()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._complete()
        return super().format_usage()

    def format_help(self) -> str:
        self._complete()
        return super().format_help()

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Distributed optimization of flexible energy "
                     "resources: the district market clearing, flex sharing, and the agents and "
                     "peers that run them in processes of their own.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, command in COMMANDS.items():
        child = sub.add_parser(name, help=command.HELP, description=command.HELP,
                               epilog=f"examples:\n{command.EXAMPLES}",
                               formatter_class=argparse.RawDescriptionHelpFormatter,
                               add_options=command.add_arguments)
        if name != data.NAME:  # dro data's own commands take them (dro data split -q)
            add_verbosity_options(child)
    return parser


#: The top-level help's examples: one line per command.
EXAMPLES = """examples:
  dro market-clearing --out results
      the embedded district's market, by ADMM and centrally
  dro flex-sharing --actors 100 --out flex
      a random flex sharing instance
  dro data split --out parts
      one data folder per market entity
  dro <command> --help
      a command's options and examples"""


class _OwnWarningsInOneLine:
    """The package's warnings as one line, like the errors (not the source line that raised
    them); other packages' warnings go where they went before."""

    def __init__(self, previous: Callable[..., None]) -> None:
        self.previous = previous

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        if category.__module__.startswith(PACKAGE):
            print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)
        else:
            self.previous(message, category, filename, lineno, file, line)


#: Warnings of this package's modules are shown in one line.
PACKAGE = "distributed_resource_optimization"


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
    set_verbosity(args.verbosity)
    show_library_progress()
    terminated = _SigtermAsInterrupt()
    try:
        with terminated, warnings.catch_warnings():  # the way warnings show, for this run only
            warnings.showwarning = _OwnWarningsInOneLine(warnings.showwarning)
            return COMMANDS[args.command].run(args)
    except KeyboardInterrupt:
        # The run's own clean-up (spawned agents, the temporary output folder) has happened.
        # An agent or a peer writes no result: it only stops serving.
        what = "stopped serving" if args.command in (agent.NAME, peer.NAME) else \
            "no result was written"
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


class _SigtermAsInterrupt:
    """While active, SIGTERM is handled like Ctrl-C (the run unwinds and cleans up), and
    ``fired`` tells the two apart. Only in the main thread, where signals can be handled."""

    def __init__(self) -> None:
        self.fired = False
        self._previous = None

    def __enter__(self) -> _SigtermAsInterrupt:
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                self.fired = True
                # SIGINT reaches asyncio's own handler, which cancels the running main task, or
                # else it raises KeyboardInterrupt here.
                signal.raise_signal(signal.SIGINT)

            self._previous = signal.signal(signal.SIGTERM, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


if __name__ == "__main__":
    sys.exit(main())
