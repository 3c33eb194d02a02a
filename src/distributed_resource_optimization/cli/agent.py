"""``dro agent``: participant agents in this process, serving coordinators over TCP or MQTT.

One agent per process, or several (``--entity A --data DA --entity B --data DB``: e.g. many
buildings of a simulated city on one core; they share the process's transport). Each agent
builds its model from its own data only, announces its address with one line on
stdout (``DRO_AGENT_READY {...}``), serves runs until ``--once`` run is done or no coordinator
message came for ``--idle-timeout`` seconds, and exits.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from typing import Any

from distributed_resource_optimization.checks import tolerance
from distributed_resource_optimization.cli.common import (
    DEFAULT_IDLE_TIMEOUT_S,
    add_comfort_option,
    add_resolution_option,
    add_runtime_options,
    add_serving_options,
    add_token_options,
    broker_access_of,
    check_positive,
    lower_priority,
    scenario_name,
    serve_and_report,
    token_of,
)
from distributed_resource_optimization.energy.scenarios import DEFAULT_SCENARIO, SCENARIO_NAMES
from distributed_resource_optimization.flex_sharing import (
    fleet_context,
    fleet_name,
    fleet_share,
    random_flex_sharing_instance,
)
from distributed_resource_optimization.runtime.processes import announce_on_stdout, serve_agents
from distributed_resource_optimization.runtime.transport import name_list

NAME = "agent"
HELP = "run one agent that serves coordinators (tcp or mqtt)"

#: Examples shown by ``dro agent --help``.
EXAMPLES = """\
  dro agent --entity aggregator --data parts/aggregator --listen 0.0.0.0:5555 --token-file s
      the aggregator's agent from its own data folder (dro data split), serving coordinators
  dro agent --entity thermal_grid_operator --runtime mqtt --broker broker:1883 --token-file s
      the thermal grid operator over an MQTT broker
  dro agent --entity building_1 --data parts/building_1 --entity building_2 --data parts/building_2
      two building agents in one process (one address, one line on stdout naming both)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``dro agent``."""
    parser.add_argument("--entity", default=None, action="append", metavar="NAME",
                        help="market entity: thermal_grid_operator, electric_grid_operator, "
                        "aggregator or building_<der>; repeat for several agents in this "
                        "process (each with its own --data)")
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO, choices=SCENARIO_NAMES,
                        type=scenario_name, metavar="NAME",
                        help=f"grid-limit scenario, one of {', '.join(SCENARIO_NAMES)} (grid "
                        "operators; default: %(default)s)")
    parser.add_argument("--data", default=None, type=Path, action="append", metavar="DIR",
                        help="the entity's own data folder (`dro data split`; default: embedded); "
                        "with several --entity one --data each, in the same order")
    add_resolution_option(parser)
    add_comfort_option(parser)
    parser.add_argument("--solver-eps", default=1e-8, type=float, help=argparse.SUPPRESS)
    parser.add_argument("--flex-share", default=None, metavar="INDEX/SHARES",
                        help="a fleet share of a flex-sharing instance instead")
    parser.add_argument("--actors", type=int, default=None, metavar="N",
                        help="flex sharing: instance size N")
    parser.add_argument("--seed", type=int, default=0, metavar="SEED",
                        help="flex sharing: instance seed")
    parser.add_argument("--sectors", type=int, default=3, metavar="N",
                        help="flex sharing: outputs per actor")
    add_runtime_options(parser, with_inproc=False)
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                        help="TCP HOST:PORT to listen on (port 0: a free one; default)")
    parser.add_argument("--topic-prefix", default=None, metavar="PREFIX",
                        help="MQTT: the inbox topic is <prefix>/<agent name> (default prefix: dro)")
    add_token_options(parser, "serve only coordinators that hold this shared secret: every "
                      "message is authenticated with it, anything else is dropped unanswered")
    parser.add_argument("--once", action="store_true", help="exit after one run")
    parser.add_argument("--idle-timeout", default=DEFAULT_IDLE_TIMEOUT_S, type=float,
                        metavar="SECONDS",
                        help="exit when no coordinator message came for this many seconds "
                        f"(default: {DEFAULT_IDLE_TIMEOUT_S:g})")
    add_serving_options(parser, "lower this process's CPU priority by N (spawned agents: 10, "
                        "so the coordinator on the same machine is never kept waiting)")


def build_participants(args: argparse.Namespace) -> dict[str, tuple[Any, dict[str, str]]]:
    """Each agent's name -> its participant (a local block) and context (what it was started
    for, reported at join), from the command line; ``ValueError`` naming the option for a bad
    combination, before any model is built."""
    if args.flex_share is not None:
        index, _, shares = args.flex_share.partition("/")
        if not (index.isdigit() and shares.isdigit()):
            raise ValueError(f"--flex-share must be INDEX/SHARES, e.g. 0/4, got {args.flex_share!r}")
        if args.actors is None:
            raise ValueError("--flex-share needs --actors")
        if args.entity:
            raise ValueError("--flex-share and --entity exclude each other")
        instance = random_flex_sharing_instance(args.actors, args.sectors, args.seed)
        return {fleet_name(int(index)): (
            fleet_share(instance, int(shares), int(index)),
            fleet_context(args.actors, args.sectors, args.seed, int(index), int(shares)))}
    if not args.entity:
        raise ValueError("dro agent needs --entity NAME (market) or --flex-share I/K")
    names = list(args.entity)
    if len(set(names)) != len(names):
        raise ValueError(f"--entity names an agent twice: {names}")
    folders = list(args.data or [])
    if len(names) > 1 and len(folders) != len(names):
        raise ValueError(f"{len(names)} --entity options need as many --data folders (each "
                         f"agent from its own data), got {len(folders)}")
    if len(names) == 1 and len(folders) > 1:
        raise ValueError(f"one --entity takes one --data folder, got {len(folders)}")
    # pandas and scipy are heavy: only a market agent loads the district's tables and models
    from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
    from distributed_resource_optimization.local.blocks import SingleModelGroup
    from distributed_resource_optimization.market.entities import load_entity
    from distributed_resource_optimization.market.processes import entity_context
    from distributed_resource_optimization.market.split import data_fingerprints

    built = {}
    for name, data in zip(names, folders or [DEFAULT_DATA_DIR]):
        entity = load_entity(name, data, args.scenario, args.resolution, args.comfort,
                             solver_tol=args.solver_eps)
        context = entity_context(args.scenario, args.resolution, entity.timesteps,
                                 data_fingerprints(data, [name])[name], args.comfort)
        group = SingleModelGroup(entity)
        # What it publishes at join (a building's reference demand: a solve of its own, 0.2 s)
        # is computed now, before the agent announces itself: a process of hundreds of
        # buildings would otherwise answer the join only after minutes.
        group.publish()
        built[name] = (group, context)
    return built


def run(args: argparse.Namespace) -> int:
    """``dro agent``: serve until done; exit code 0 also when the spawning process went away."""
    check_positive(args.idle_timeout, "--idle-timeout")
    tolerance(args.solver_eps, "--solver-eps")
    lower_priority(args.nice)
    token = token_of(args)  # a bad --token-file is refused before the model is built
    access = broker_access_of(args)
    participants = build_participants(args)
    what = name_list(list(participants), most=3)

    cpu0, t0 = time.process_time(), time.perf_counter()

    def usage() -> str:
        return (f"{time.process_time() - cpu0:.2f} s CPU in {time.perf_counter() - t0:.1f} s, "
                f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    return serve_and_report(f"agent {what}", serve_agents(
        participants, runtime=args.runtime, listen=args.listen, broker=args.broker,
        topic_prefix=args.topic_prefix, runs=1 if args.once else None,
        idle_timeout=args.idle_timeout, announce=announce_on_stdout,
        token=token, broker_access=access), args.exit_with_stdin, usage)
