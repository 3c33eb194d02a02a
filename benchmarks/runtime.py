"""Benchmark: what running the agents for real costs, per ADMM round, in one run per runtime.

    python benchmarks/runtime.py [--broker HOST:PORT] [--market-scenario electric-congestion]
        [--flex-actors 10000] [--flex-rounds 200] [--skip-mqtt] [--agents-per-process 11]

Two cases: the market clearing with one agent per building (24 agents, 60 min steps) and flex
sharing with 10 000 actors in 50 fleets (50 agents, a fixed number of rounds). Each case runs in
four ways: ``inproc`` (every agent in this process, messages passed by reference), ``inproc+codec``
(the same, every message encoded and decoded by the carriers' wire codec, msgpack, as
on a network), ``tcp`` (one
OS process per agent, mango TCP containers on loopback) and ``mqtt`` (the same through a mosquitto
broker; started here on a free port unless ``--broker`` is given). Printed per run: median and mean
ms per ADMM round (requests out to the coordinator's z-update done, measured by the coordinator;
process start-up and the join/setup rounds excluded), messages and kB per round, the wall time of
the whole run (start-up included) and the ratio of the round time to ``inproc``. The difference
``inproc+codec - inproc`` is the codec's share of a round, ``tcp - inproc+codec`` the sockets',
containers' and processes' share. The market runs once more over each transport with the
buildings ``--agents-per-process`` to a process (``tcp/11``: 22 buildings in two processes
beside the two grid operators').
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from distributed_resource_optimization.admm.coordinator import (
    create_sharing_target_distance_admm_coordinator,
)
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.flex_sharing import run_flex_sharing
from distributed_resource_optimization.market.clearing import run_market_clearing
from distributed_resource_optimization.runtime.codec import DEFAULT_WIRE_FORMAT, WireCodec
from distributed_resource_optimization.runtime.transport import InProcessTransport

RUNS = ("inproc", "inproc+codec", "tcp", "mqtt")


@contextlib.contextmanager
def broker(address: str | None):
    """The given broker, or a private mosquitto on a free loopback port."""
    if address is not None:
        yield address
        return
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                        "set_tcp_nodelay true\npersistence false\n")
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(5)


def row(case: str, run: str, admm, wall: float, base_ms: float | None) -> float:
    per = admm.iteration_wall_s[1:] * 1000.0  # the first round also warms caches up
    msgs = float(np.mean(admm.iteration_messages[1:]))
    kb = float(np.mean(admm.iteration_bytes[1:])) / 1000.0
    med = float(np.median(per))
    ratio = "" if base_ms is None else f"{med / base_ms:.2f}"
    print(f"{case:<26} {run:<13} {admm.iterations:>6} {med:>9.2f} {np.mean(per):>9.2f} "
          f"{msgs:>7.0f} {kb:>9.1f} {wall:>8.1f} {ratio:>7}", flush=True)
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--broker", default=None, help="MQTT broker HOST:PORT (default: start one)")
    ap.add_argument("--market-scenario", default="electric-congestion")
    ap.add_argument("--flex-actors", type=int, default=10000)
    ap.add_argument("--flex-agents", type=int, default=50)
    ap.add_argument("--flex-rounds", type=int, default=200)
    ap.add_argument("--skip-mqtt", action="store_true")
    ap.add_argument("--agents-per-process", type=int, default=11)
    args = ap.parse_args()
    runs = [r for r in RUNS if not (args.skip_mqtt and r == "mqtt")]
    grouped = [f"{r}/{args.agents_per_process}" for r in runs if r in ("tcp", "mqtt")]
    header = (f"{'case':<26} {'runtime':<13} {'rounds':>6} {'ms/round':>9} {'mean ms':>9} "
              f"{'msg/rd':>7} {'kB/round':>9} {'wall s':>8} {'x inproc':>7}")
    print(header)
    print("-" * len(header))
    district = load_district(resolution="60min")
    with broker(None if args.skip_mqtt else args.broker) as mqtt:
        base = None
        for run in runs + grouped:
            runtime, _, per_process = run.split("+")[0].partition("/")
            kwargs = {"runtime": runtime, "agents_per_process": int(per_process or 1)}
            if run == "inproc+codec":
                kwargs["carrier"] = InProcessTransport(codec=WireCodec(DEFAULT_WIRE_FORMAT))
            if runtime == "mqtt":
                kwargs["broker"] = mqtt
            t0 = time.perf_counter()
            market = run_market_clearing(district, args.market_scenario, agents="per-building",
                                         **kwargs)
            med = row(f"market {args.market_scenario[:9]} 24 ag", run, market.admm,
                      time.perf_counter() - t0, base)
            base = med if base is None else base
        base = None
        for run in runs:
            coordinator = create_sharing_target_distance_admm_coordinator(
                max_iters=args.flex_rounds, abs_tol=1e-300, rel_tol=1e-300)
            kwargs = {"runtime": run.split("+")[0]}
            if run == "mqtt":
                kwargs["broker"] = mqtt
            if run == "inproc+codec":
                kwargs["carrier"] = InProcessTransport(codec=WireCodec(DEFAULT_WIRE_FORMAT))
            t0 = time.perf_counter()
            flex = run_flex_sharing(args.flex_actors, processes=args.flex_agents,
                                    coordinator=coordinator, **kwargs)
            med = row(f"flex {args.flex_actors} in {args.flex_agents} ag", run, flex.admm,
                      time.perf_counter() - t0, base)
            base = med if base is None else base


if __name__ == "__main__":
    main()
