"""``dro peer``: one participant of a coordinator-free algorithm in this process, over TCP or MQTT.

The participant is built by a factory (``--factory package.module:function``, called with the
JSON object ``--kwargs``) from its organisation's own data; the process announces its address
with one line on stdout (``DRO_AGENT_READY {...}``), serves ``--runs`` runs started by a
controller (:func:`~distributed_resource_optimization.runtime.peers.start_distributed_processes`)
and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from distributed_resource_optimization.commands.common import check_positive, progress


def run(args: argparse.Namespace) -> int:
    from distributed_resource_optimization.runtime.peers import ParticipantFactory, serve_peer
    from distributed_resource_optimization.runtime.processes import (
        announce_on_stdout,
        exit_when_stdin_closes,
    )

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
    participant = ParticipantFactory(args.factory, kwargs).build()

    async def main() -> int:
        task = asyncio.ensure_future(serve_peer(
            args.name, participant, runtime=args.runtime, listen=args.listen,
            broker=args.broker, topic_prefix=args.topic_prefix, runs=args.runs or None,
            idle_timeout=args.idle_timeout, announce=announce_on_stdout))
        if args.exit_with_stdin:
            loop = asyncio.get_running_loop()
            exit_when_stdin_closes(lambda: loop.call_soon_threadsafe(task.cancel))
        try:
            return await task
        except asyncio.CancelledError:
            return -1

    runs = asyncio.run(main())
    if runs < 0:
        progress(f"peer {args.name}: stopped (the spawning process closed its stdin)")
    else:
        progress(f"peer {args.name}: served {runs} run(s), exiting")
    return 0
