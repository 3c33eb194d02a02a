"""What the ``dro`` commands share: exit codes, progress lines, the option groups several commands
take (output folder, runtime and broker, token, faults, warm start) and the checks of their values
made before any work."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from distributed_resource_optimization.energy import COMFORT_MODES, DEFAULT_COMFORT, STEP_MINUTES
from distributed_resource_optimization.energy.scenarios import check_scenario
from distributed_resource_optimization.runtime.processes import (
    DEFAULT_BROKER,
    PROCESS_RUNTIMES,
    RUNTIMES,
    TOKEN_ENV,
    exit_when_stdin_closes,
)
from distributed_resource_optimization.runtime.transport import Faults

PROG = "dro"
#: ``--out`` of the commands that write results, relative to the working directory.
DEFAULT_OUT = "dro-output"
#: ``--resolution`` of the commands that load the district.
DEFAULT_RESOLUTION = "30min"
#: ``--idle-timeout`` of ``dro agent`` and ``dro peer`` (s).
DEFAULT_IDLE_TIMEOUT_S = 600.0

#: Exit codes of every command.
EXIT_OK = 0  # converged (or nothing to converge)
EXIT_NOT_CONVERGED = 1  # finished at the iteration limit
EXIT_BAD_INPUT = 2  # bad command line, data or settings, or a failed solve
EXIT_PARTICIPANT = 3  # an agent failed, broke the protocol or did not answer in time
EXIT_PHYSICS = 4  # converged, but the dispatch violates a grid limit in the nonlinear models
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT)
EXIT_TERMINATED = 143  # SIGTERM


#: How much a command prints on stderr (``-q``, default, ``-v``): errors only; progress lines;
#: also the iterations ten times as often. Errors are printed at every level.
QUIET, NORMAL, VERBOSE = 0, 1, 2
_verbosity = NORMAL


def set_verbosity(level: int) -> None:
    """Set how much :func:`progress` prints (:data:`QUIET`, :data:`NORMAL`, :data:`VERBOSE`)."""
    global _verbosity  # one process, one command line: the level is the process's
    _verbosity = level


_status_shown = False  # an iteration line is on the terminal, to be cleared before a new line


def progress(message: str, level: int = NORMAL) -> None:
    """One progress line on stderr, unless the verbosity is below ``level``."""
    if _verbosity >= level:
        _clear_status()
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _clear_status() -> None:
    global _status_shown  # one terminal per process
    if _status_shown:
        sys.stderr.write("\r\033[K")
        _status_shown = False


def on_terminal() -> bool:
    """Whether stderr is a terminal (the iteration line is redrawn in place there)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


class IterationLine:
    """How a long run shows its iterations: on a terminal one line redrawn in place (at most
    four times a second), elsewhere (a log file, a pipe) and with ``-v`` a plain line every
    ``every`` iterations (:func:`report_every`). ``text`` is only built when shown."""

    def __init__(self, every: int) -> None:
        self.every = every
        self._last = -math.inf

    def __call__(self, iteration: int, text: Callable[[], str]) -> None:
        global _status_shown  # one terminal per process
        if _verbosity == NORMAL and on_terminal():
            now = time.monotonic()
            if now - self._last < 0.25:
                return
            self._last = now
            width = shutil.get_terminal_size().columns
            line = f"{PROG}: iteration {iteration}: {text()}"[:max(width - 1, 20)]
            sys.stderr.write(f"\r\033[K{line}")
            sys.stderr.flush()
            _status_shown = True
        elif iteration % report_every(self.every) == 0:
            progress(f"iteration {iteration}: {text()}")

    def close(self) -> None:
        """Clear the redrawn line (the run's result lines follow)."""
        _clear_status()


#: The library's loggers whose records are progress the command line shows.
PROGRESS_LOGGERS: tuple[str, ...] = ("distributed_resource_optimization.runtime.processes",)


class _ProgressHandler(logging.Handler):
    """Log records as progress lines: INFO at the default level, DEBUG with ``-v``."""

    def emit(self, record: logging.LogRecord) -> None:
        progress(record.getMessage(), VERBOSE if record.levelno < logging.INFO else NORMAL)


_HANDLER = _ProgressHandler()


def show_library_progress() -> None:
    """Route :data:`PROGRESS_LOGGERS` to :func:`progress` (once per process)."""
    for name in PROGRESS_LOGGERS:
        logger = logging.getLogger(name)
        if _HANDLER not in logger.handlers:
            logger.addHandler(_HANDLER)
        logger.setLevel(logging.DEBUG)


def report_every(iterations: int) -> int:
    """Every how many iterations a command prints an iteration line: ``iterations``, or ten
    times as often with ``-v``."""
    return max(1, iterations // 10) if _verbosity >= VERBOSE else iterations


def add_verbosity_options(parser: argparse.ArgumentParser) -> None:
    """``-q`` / ``-v`` of every command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=QUIET,
                       default=NORMAL, help="print errors only, no progress lines")
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const",
                       const=VERBOSE, help="print the iterations ten times as often")


# --------------------------------------------------------------------------------------------
# Option groups


def add_out_option(parser: argparse.ArgumentParser) -> None:
    """``--out DIR`` and ``--overwrite``: where the results go (see :mod:`..io.output`)."""
    parser.add_argument("--out", default=DEFAULT_OUT, type=Path, metavar="DIR",
                        help=f"output folder (default: ./{DEFAULT_OUT})")
    add_overwrite_option(parser)


def add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="also write into a non-empty --out folder that dro did not write, or "
                        "that another dro command wrote; only files of the new outputs' names "
                        "(and those an earlier dro run listed) are replaced, others are kept")


def add_resolution_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resolution", default=DEFAULT_RESOLUTION, choices=list(STEP_MINUTES),
                        help="timestep length (default: %(default)s)")


def add_comfort_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--comfort", default=DEFAULT_COMFORT, choices=list(COMFORT_MODES),
                        help="where the buildings' comfort band holds: at every point of a "
                        "step (whole-step, default) or at step starts only with the weather held "
                        "(step-start, the study's model, for comparison)")


def add_runtime_options(parser: argparse.ArgumentParser, with_inproc: bool = True) -> None:
    """``--runtime`` (``inproc`` only where this process may run every agent itself), the MQTT
    broker and its login and TLS."""
    choices = RUNTIMES if with_inproc else PROCESS_RUNTIMES
    parser.add_argument("--runtime", default=choices[0], choices=choices,
                        help="where the agents run (default: %(default)s); tcp/mqtt: one "
                        "process per agent on mango-agents")
    parser.add_argument("--broker", default=DEFAULT_BROKER, metavar="HOST:PORT",
                        help="MQTT broker HOST:PORT for --runtime mqtt (default: %(default)s)")
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


def add_token_options(parser: argparse.ArgumentParser, what: str) -> None:
    """``--token`` or ``--token-file``: the run's shared secret; ``what`` says what it guards."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--token", default=None, metavar="SECRET",
                       help=f"{what} (default: the {TOKEN_ENV} environment variable, if set; "
                       "a command line is visible to other users: prefer --token-file or "
                       f"{TOKEN_ENV})")
    group.add_argument("--token-file", default=None, type=Path, metavar="FILE",
                       help="read the shared secret from the first line of FILE")


def add_fault_options(parser: argparse.ArgumentParser) -> None:
    """The coordinator's patience (``--round-timeout``, ``--stale-rounds``) and the testing aids
    that lose messages."""
    parser.add_argument("--round-timeout", default=None, type=float, metavar="SECONDS",
                        help="seconds to wait for all agents' replies of a round before the run "
                        "fails (exit code 3); requests without a reply are sent again before "
                        "(default: 30)")
    parser.add_argument("--stale-rounds", default=None, type=int, metavar="ROUNDS",
                        help="partial participation: an agent that misses a round (no reply "
                        "after a resend) is carried with its last outputs for up to ROUNDS "
                        "rounds in "
                        "a row; no such round counts as converged (default: 0, every round waits "
                        "for every agent)")
    parser.add_argument("--drop-messages", default=0.0, type=float, metavar="FRACTION",
                        help="testing aid: lose this fraction of the coordinator's messages (in "
                        "process: of all messages); the result must not change")
    parser.add_argument("--fault-seed", default=None, type=int, metavar="SEED",
                        help="testing aid: seed of --drop-messages")


#: ``--figures``: every figure of the command (default), or none.
FIGURE_CHOICES: tuple[str, ...] = ("all", "none")


def add_figures_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--figures", default=FIGURE_CHOICES[0], choices=FIGURE_CHOICES,
                        help="none: write the tables, summary.json and report.html without "
                        "figures (seconds faster, e.g. for sweeps) (default: %(default)s)")


def add_warm_start_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warm-start", default=None, metavar="FILE",
                        help="start from an earlier run's admm_state.csv (its outputs, prices "
                        "and penalty; entries it does not have start at 0)")


def add_serving_options(parser: argparse.ArgumentParser, nice_help: str) -> None:
    """What ``dro agent`` and ``dro peer`` share as serving processes: the hidden
    ``--exit-with-stdin`` of spawned processes and ``--nice``."""
    parser.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--nice", type=int, default=0, metavar="N", help=nice_help)


# --------------------------------------------------------------------------------------------
# Checks and values of the options, before any work


def scenario_name(name: str) -> str:
    """The ``type`` of the ``--scenario`` options (with ``choices=SCENARIO_NAMES``): an unknown
    name is refused by the scenario table's own check, as one line, before any work."""
    try:
        return check_scenario(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_positive(value: float | None, flag: str) -> None:
    """``ValueError`` naming ``flag`` unless ``value`` is None or a finite positive number."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{flag} must be a finite positive number, got {value}")


def check_at_least_one(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{flag} must be at least 1, got {value}")


def engine_settings(args: argparse.Namespace) -> dict[str, float | int]:
    """The coordinator settings of ``--round-timeout`` and ``--stale-rounds`` that were given
    (the defaults live with the coordinator); ``ValueError`` naming the option when out of range."""
    check_positive(args.round_timeout, "--round-timeout")
    if args.stale_rounds is not None and args.stale_rounds < 0:
        raise ValueError(f"--stale-rounds must be 0 or more, got {args.stale_rounds}")
    settings: dict[str, float | int] = {}
    if args.round_timeout is not None:
        settings["reply_timeout"] = args.round_timeout
    if args.stale_rounds is not None:
        settings["stale_rounds"] = args.stale_rounds
    return settings


def faults_of(args: argparse.Namespace) -> Faults | None:
    """The :class:`~..runtime.transport.Faults` of ``--drop-messages`` / ``--fault-seed``, or
    ``None``; ``ValueError`` naming the option for a fraction outside [0, 1)."""
    drop = args.drop_messages
    if not (math.isfinite(drop) and 0.0 <= drop < 1.0):
        raise ValueError(f"--drop-messages must be a fraction in [0, 1), got {drop}")
    if drop == 0.0:
        return None
    return Faults(drop=drop, seed=args.fault_seed)


def token_of(args: argparse.Namespace) -> str | None:
    """The shared token: ``--token``, the first line of ``--token-file``, or the ``DRO_TOKEN``
    environment variable, or ``None``; ``ValueError`` naming ``--token-file`` if it cannot be
    read or is empty."""
    path = getattr(args, "token_file", None)
    if path is not None:
        return secret_from_file(path, "--token-file")
    return args.token or os.environ.get(TOKEN_ENV) or None


def secret_from_file(path: str | Path, flag: str) -> str:
    """The first line of ``path`` without surrounding whitespace (a secret kept off the command
    line); ``ValueError`` naming ``flag`` if the file cannot be read or the line is empty."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{flag} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ValueError(f"{flag} {path}: the first line is empty")
    return secret


def broker_access_of(args: argparse.Namespace) -> object | None:
    """The :class:`~..runtime.mqtt_transport.BrokerAccess` of ``--broker-username``,
    ``--broker-password-file`` (or ``DRO_BROKER_PASSWORD``) and ``--broker-tls-*``, or ``None``;
    ``ValueError`` naming the option for a missing password or file, before any work."""
    # mango-agents is heavy: the MQTT transport is imported when a command reads its options
    from distributed_resource_optimization.runtime.mqtt_transport import (
        BrokerAccess,
        BrokerLogin,
        BrokerTLS,
        login_from_environment,
    )

    login = None
    if args.broker_password_file is not None:
        if args.broker_username is None:
            raise ValueError("--broker-password-file needs --broker-username")
        login = BrokerLogin(args.broker_username,
                            secret_from_file(args.broker_password_file, "--broker-password-file"))
    elif args.broker_username is not None:
        login = login_from_environment(args.broker_username)
    tls = None
    if args.broker_tls_ca is not None:
        tls = BrokerTLS(args.broker_tls_ca, args.broker_tls_cert, args.broker_tls_key)
    elif args.broker_tls_cert is not None or args.broker_tls_key is not None:
        raise ValueError("--broker-tls-cert and --broker-tls-key need --broker-tls-ca")
    if login is None and tls is None:
        return None
    if args.runtime != "mqtt":
        raise ValueError("--broker-username and --broker-tls-* are for --runtime mqtt")
    return BrokerAccess(login, tls)


# --------------------------------------------------------------------------------------------
# Serving processes (``dro agent``, ``dro peer``)


def lower_priority(nice: int) -> None:
    """``--nice N``: lower this process's CPU priority by ``N`` (0: unchanged)."""
    if nice:
        os.nice(nice)


def serve_and_report(what: str, serving: Coroutine[Any, Any, int], exit_with_stdin: bool,
                     usage: Callable[[], str] | None = None) -> int:
    """The end of ``dro agent`` and ``dro peer``: run ``serving`` (see
    :func:`serve_until_stdin_closes`), then say on stderr how it ended (``what``: e.g. ``"agent
    aggregator"``; ``usage``: what the process spent, appended); exit code 0."""
    runs = asyncio.run(serve_until_stdin_closes(serving, exit_with_stdin))
    spent = "" if usage is None else usage()
    if runs is None:
        progress(f"{what}: stopped (the spawning process closed its stdin)"
                 + (f"; {spent}" if spent else ""))
    else:
        progress(f"{what}: served {runs} run(s)" + (f", {spent}" if spent else "") + ", exiting")
    return 0


async def serve_until_stdin_closes(serving: Coroutine[Any, Any, int],
                                   exit_with_stdin: bool) -> int | None:
    """Await ``serving`` (``dro agent`` / ``dro peer``: the number of runs served); ``None`` when
    ``exit_with_stdin`` is set and stdin closed first: the spawning process went away, a normal
    end. Ctrl-C and SIGTERM cancel it as they cancel every run: the cancellation goes on, so
    ``asyncio.run`` raises ``KeyboardInterrupt`` and the CLI exits 130 / 143."""
    task = asyncio.ensure_future(serving)
    stdin_closed = threading.Event()
    if exit_with_stdin:
        loop = asyncio.get_running_loop()

        def stop() -> None:  # in the thread that watches stdin
            stdin_closed.set()
            loop.call_soon_threadsafe(task.cancel)

        exit_when_stdin_closes(stop)
    try:
        return await task
    except asyncio.CancelledError:
        if stdin_closed.is_set():
            return None
        raise
