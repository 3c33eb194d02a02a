"""Benchmark: what starting agent processes costs, forked from a fork server or each its own
interpreter, in one run per way.

    python benchmarks/agent_start.py [--flex-agents 50] [--buildings]

Starts ``--flex-agents`` flex-sharing agents (``dro agent --flex-share k/N``) and, with
``--buildings``, the market's 24 per-building agents, with ``AgentProcesses`` in both ways
(``forkserver``, ``exec``), waits until every agent announced itself, then ends them. Printed per
way: wall seconds until all were ready, the CPU seconds the agents (and the fork server) spent
from start to end, and the ratio to ``exec``. Figures are one run on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time

from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.market.names import entity_names
from distributed_resource_optimization.runtime.processes import AgentProcesses


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _start(commands: dict[str, list[str]], start: str) -> tuple[float, float]:
    cpu0, t0 = _children_cpu_s(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dro-bench-start-") as logs:
        async with AgentProcesses(commands, logs, start=start):
            ready_s = time.perf_counter() - t0
    return ready_s, _children_cpu_s() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flex-agents", type=int, default=50)
    parser.add_argument("--buildings", action="store_true",
                        help="also the market's 24 per-building agents (60 min steps)")
    args = parser.parse_args()
    cases = {f"{args.flex_agents} flex agents": {
        f"fleet_{k}": ["--flex-share", f"{k}/{args.flex_agents}", "--actors",
                       str(2 * args.flex_agents), "--runtime", "tcp", "--exit-with-stdin"]
        for k in range(args.flex_agents)}}
    if args.buildings:
        district = load_district(resolution="60min")
        names = [n for n in entity_names(district.der_names, "per-building")
                 if n.startswith("building_")]
        cases[f"{len(names)} building agents"] = {
            name: ["--entity", name, "--resolution", "60min", "--runtime", "tcp",
                   "--exit-with-stdin"] for name in names}
    print(f"{'case':<22} {'start':<11} {'ready s':>8} {'CPU s':>8} {'CPU / exec':>10}")
    for case, commands in cases.items():
        got = {start: asyncio.run(_start(commands, start)) for start in ("exec", "forkserver")}
        for start, (ready_s, cpu_s) in got.items():
            print(f"{case:<22} {start:<11} {ready_s:8.2f} {cpu_s:8.2f} "
                  f"{cpu_s / got['exec'][1]:10.2f}")


if __name__ == "__main__":
    main()
