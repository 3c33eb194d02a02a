"""``dro peer``: one participant of a coordinator-free algorithm in this process, over TCP or MQTT.

The participant is built by a registered participant factory (``--factory
package.module:function`` decorated with ``@participant_factory``, or an entry point of the group
``distributed_resource_optimization.participants``, by its name or target; anything else is
refused before it is called), called with the JSON object ``--kwargs``, from its organisation's
own data; every way the factory can fail is one line and exit code 2. The process announces its
address with one line on stdout (``DRO_AGENT_READY {...}``), serves ``--runs`` runs started by a
controller (:func:`~distributed_resource_optimization.runtime.processes.start_distributed_processes`)
and exits: 0 also when the spawning process closed its stdin (``--exit-with-stdin``), 130 on
Ctrl-C, 143 on SIGTERM.
"""

from __future__ import annotations

import argparse
import json

from distributed_resource_optimization.cli.common import (
    DEFAULT_IDLE_TIMEOUT_S,
    add_runtime_options,
    add_serving_options,
    add_token_options,
    broker_access_of,
    check_positive,
    lower_priority,
    serve_and_report,
    token_of,
)
from distributed_resource_optimization.runtime.factories import ParticipantFactory
from distributed_resource_optimization.runtime.processes import announce_on_stdout, serve_peer

NAME = "peer"
HELP = "run one participant of a coordinator-free algorithm (tcp or mqtt), built by a factory " \
    "from its own data"

#: Examples shown by ``dro peer --help``.
EXAMPLES = """\
  dro peer --factory mypkg.peers:storage --kwargs '{"capacity": 5}' --name s1 \\
      --runtime tcp --listen 127.0.0.1:5601
      one participant of a coordinator-free algorithm, built by your factory"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``dro peer``."""
    parser.add_argument("--factory", required=True, metavar="MODULE:FUNCTION",
                        help="the registered participant factory that returns the participant: "
                        "package.module:function (decorated with @participant_factory) or the "
                        "name of an entry point of distributed_resource_optimization.participants")
    parser.add_argument("--kwargs", default="{}", metavar="JSON",
                        help="JSON object of the factory's keyword arguments (default: "
                        "%(default)s)")
    parser.add_argument("--name", required=True, metavar="NAME",
                        help="the agent's name (a run's participants are participant-1, ...)")
    add_runtime_options(parser, with_inproc=False)
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                        help="TCP HOST:PORT to listen on (port 0: a free one; default)")
    parser.add_argument("--topic-prefix", default=None, metavar="PREFIX",
                        help="MQTT: the inbox topic is <prefix>/<name> (default prefix: dro)")
    parser.add_argument("--runs", type=int, default=1, metavar="N",
                        help="runs to serve, then exit (default: %(default)s; 0: until "
                        "--idle-timeout)")
    parser.add_argument("--idle-timeout", default=DEFAULT_IDLE_TIMEOUT_S, type=float,
                        metavar="SECONDS",
                        help="give up (--runs N) or exit (--runs 0) when no run starts within "
                        f"this many seconds (default: {DEFAULT_IDLE_TIMEOUT_S:g})")
    add_token_options(parser, "take part only in runs of a controller (and with peers) that "
                      "hold this shared secret: every message is authenticated with it")
    add_serving_options(parser, "lower this process's CPU priority by N")


def run(args: argparse.Namespace) -> int:
    """``dro peer``: build the participant, serve, exit."""
    check_positive(args.idle_timeout, "--idle-timeout")
    if args.runs < 0:
        raise ValueError(f"--runs must be 0 (until --idle-timeout) or more, got {args.runs}")
    try:
        kwargs = json.loads(args.kwargs)
    except ValueError as exc:
        raise ValueError(f"--kwargs is not JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise ValueError(f"--kwargs must be a JSON object, got {args.kwargs!r}")
    lower_priority(args.nice)
    token = token_of(args)  # a bad --token-file is refused before the factory runs
    access = broker_access_of(args)
    participant = ParticipantFactory(args.factory, kwargs).build()

    return serve_and_report(f"peer {args.name}", serve_peer(
        args.name, participant, runtime=args.runtime, listen=args.listen,
        broker=args.broker, topic_prefix=args.topic_prefix, runs=args.runs or None,
        idle_timeout=args.idle_timeout, announce=announce_on_stdout, token=token,
        broker_access=access), args.exit_with_stdin)
