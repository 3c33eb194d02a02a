"""``dro agent``: one participant agent in this process, serving coordinators over TCP or MQTT.

The agent builds its model from its own data only, announces its address with one line on
stdout (``DRO_AGENT_READY {...}``), serves runs until ``--once`` run is done or no coordinator
message came for ``--idle-timeout`` seconds, and exits.
"""

from __future__ import annotations

import argparse
import asyncio

from distributed_resource_optimization.admm.validation import tolerance
from distributed_resource_optimization.commands.common import (
    broker_access_of,
    check_positive,
    progress,
    serve_until_stdin_closes,
    token_of,
)


def build_participant(args: argparse.Namespace):
    """The agent's name, participant (a local block) and context (what it was started for,
    reported at join) from the command line."""
    if args.flex_share is not None:
        from distributed_resource_optimization.flex_sharing import (
            fleet_context,
            fleet_name,
            fleet_share,
            random_flex_sharing_instance,
        )

        index, _, shares = args.flex_share.partition("/")
        if not (index.isdigit() and shares.isdigit()):
            raise ValueError(f"--flex-share must be INDEX/SHARES, e.g. 0/4, got {args.flex_share!r}")
        if args.actors is None:
            raise ValueError("--flex-share needs --actors")
        instance = random_flex_sharing_instance(args.actors, args.sectors, args.seed)
        return (fleet_name(int(index)), fleet_share(instance, int(shares), int(index)),
                fleet_context(args.actors, args.sectors, args.seed, int(index), int(shares)))
    if args.entity is None:
        raise ValueError("dro agent needs --entity NAME (market) or --flex-share I/K")
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.local.base import SingleModelBlock
    from distributed_resource_optimization.market.entities import load_entity
    from distributed_resource_optimization.market.processes import entity_context
    from distributed_resource_optimization.market.split import data_fingerprints

    data = args.data or DEFAULT_DATA_DIR
    entity = load_entity(args.entity, data, args.scenario, args.resolution, eps=args.solver_eps)
    context = entity_context(args.scenario, args.resolution, entity.timesteps,
                             data_fingerprints(data, [args.entity])[args.entity])
    return args.entity, SingleModelBlock(entity), context


def run(args: argparse.Namespace) -> int:
    from distributed_resource_optimization.runtime.processes import announce_on_stdout, serve_agent

    check_positive(args.idle_timeout, "--idle-timeout")
    tolerance(args.solver_eps, "--solver-eps")
    if args.nice:
        import os

        os.nice(args.nice)
    token = token_of(args)  # a bad --token-file is refused before the model is built
    access = broker_access_of(args)
    name, participant, context = build_participant(args)

    import resource
    import time

    cpu0, t0 = time.process_time(), time.perf_counter()
    runs = asyncio.run(serve_until_stdin_closes(serve_agent(
        name, participant, runtime=args.runtime, listen=args.listen, broker=args.broker,
        topic_prefix=args.topic_prefix, runs=1 if args.once else None,
        idle_timeout=args.idle_timeout, announce=announce_on_stdout,
        token=token, context=context, broker_access=access), args.exit_with_stdin))
    usage = (f"{time.process_time() - cpu0:.2f} s CPU in {time.perf_counter() - t0:.1f} s, "
             f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if runs is None:
        progress(f"agent {name}: stopped (the spawning process closed its stdin); {usage}")
        return 0
    progress(f"agent {name}: served {runs} run(s), {usage}, exiting")
    return 0
