"""``dro peer``: one participant of a coordinator-free algorithm in this process, over TCP or MQTT.

The participant is built by a registered participant factory (``--factory
package.module:function`` decorated with ``@participant_factory``, or an entry point of the group
``distributed_resource_optimization.participants``, by its name or target; anything else is
refused before it is called), called with the JSON object ``--kwargs``, from its organisation's
own data; every way the factory can fail is one line and exit code 2. The process announces its
address with one line on stdout (``DRO_AGENT_READY {...}``), serves ``--runs`` runs started by a
controller (:func:`~distributed_resource_optimization.runtime.peers.start_distributed_processes`)
and exits: 0 also when the spawning process closed its stdin (``--exit-with-stdin``), 130 on
Ctrl-C, 143 on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from distributed_resource_optimization.commands.common import (
    broker_access_of,
    check_positive,
    progress,
    serve_until_stdin_closes,
    token_of,
)


def run(args: argparse.Namespace) -> int:
    from distributed_resource_optimization.runtime.factories import ParticipantFactory
    from distributed_resource_optimization.runtime.processes import announce_on_stdout, serve_peer

    check_positive(args.idle_timeout, "--idle-timeout")
    if args.runs < 0:
        raise ValueError(f"--runs must be 0 (until --idle-timeout) or more, got {args.runs}")
    try:
        kwargs = json.loads(args.kwargs)
    except ValueError as exc:
        raise ValueError(f"--kwargs is not JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise ValueError(f"--kwargs must be a JSON object, got {args.kwargs!r}")
    if args.nice:
        import os

        os.nice(args.nice)
    token = token_of(args)  # a bad --token-file is refused before the factory runs
    access = broker_access_of(args)
    participant = ParticipantFactory(args.factory, kwargs).build()

    runs = asyncio.run(serve_until_stdin_closes(serve_peer(
        args.name, participant, runtime=args.runtime, listen=args.listen,
        broker=args.broker, topic_prefix=args.topic_prefix, runs=args.runs or None,
        idle_timeout=args.idle_timeout, announce=announce_on_stdout, token=token,
        broker_access=access),
        args.exit_with_stdin))
    if runs is None:
        progress(f"peer {args.name}: stopped (the spawning process closed its stdin)")
    else:
        progress(f"peer {args.name}: served {runs} run(s), exiting")
    return 0
