"""What a coordinator-free run costs on each carrier: one process, agents with a codec, processes.

Run from the repository root::

    python benchmarks/coordinator_free_carriers.py [--units 8] [--mqtt]

Economic dispatch by incremental-cost consensus (exact gradient tracking, ring, tol 1e-9) among
``--units`` generating units (examples/peer_processes.dispatch_unit, random costs and
capacities, seed 3), on:

* ``simple``: the in-process SimpleCarrier (the reference's scheduling; the baseline);
* ``agents``: every participant an agent of its own on the in-process runtime carrier, messages
  by reference, termination by credit recovery;
* ``agents+msgpack``: the same, every message encoded and decoded (as on a network);
* ``mango-tcp (1 container)``: the agents on one mango container;
* ``processes tcp`` / ``processes mqtt``: one ``dro peer`` process per unit (the process start,
  about 2-4 s, is not in the run's time but printed apart); MQTT needs mosquitto (``--mqtt``).

Prints wall time (s), messages, microseconds per message, the ratio to ``simple``, and the
clearing price's error against the centralised dispatch (the balance's dual of a cvxpy QP solved
by Clarabel).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "algorithm"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "examples"))

import peer_processes  # noqa: E402
from brokers import mosquitto  # noqa: E402
from test_averaging_consensus import centralized_dispatch  # noqa: E402

from distributed_resource_optimization import (  # noqa: E402
    create_averaging_consensus_start,
    run_distributed_optimization,
)
from distributed_resource_optimization.runtime.codec import WireCodec  # noqa: E402
from distributed_resource_optimization.runtime.factories import ParticipantFactory  # noqa: E402
from distributed_resource_optimization.runtime.mango import MangoTransport  # noqa: E402
from distributed_resource_optimization.runtime.processes import run_distributed_processes  # noqa: E402
from distributed_resource_optimization.runtime.transport import InProcessTransport  # noqa: E402


def units(n: int, seed: int = 3) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [{"cost": float(rng.uniform(5, 30)), "epsilon": float(rng.uniform(0.05, 0.5)),
             "p_max": float(rng.uniform(20, 100)), "units": n} for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--mqtt", action="store_true", help="also over a private mosquitto")
    args = parser.parse_args()
    spec = units(args.units)
    demand = 0.6 * sum(u["p_max"] for u in spec)
    start = create_averaging_consensus_start(20.0, demand)
    _, lam_star = centralized_dispatch(np.array([u["cost"] for u in spec]),
                                       np.array([u["epsilon"] for u in spec]),
                                       np.zeros(len(spec)), np.array([u["p_max"] for u in spec]),
                                       demand)
    rows = []

    def record(name: str, result, extra: str = "") -> None:
        lam = float(result.solutions[0]["lam"][0])
        rows.append((name, result.wall_time_s, result.messages, lam, extra))

    def here(carrier=None) -> None:
        actors = [peer_processes.dispatch_unit(**u) for u in spec]
        return run_distributed_optimization(actors, start, topology="ring", carrier=carrier)

    record("simple", here())
    record("agents", here(InProcessTransport()))
    record("agents+msgpack", here(InProcessTransport(WireCodec("msgpack"))))
    record("mango-tcp (1 container)", here(MangoTransport.tcp()))

    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "examples"), os.environ.get("PYTHONPATH")) if p)
    factories = [ParticipantFactory("peer_processes:dispatch_unit", u) for u in spec]

    def apart(runtime: str, **kw) -> None:
        t0 = time.perf_counter()
        res = run_distributed_processes(factories, start, topology="ring", runtime=runtime,
                                        timeout=300, **kw)
        total = time.perf_counter() - t0
        record(f"processes {runtime}", res, f"(with process start: {total:.1f} s)")

    apart("tcp")
    if args.mqtt:
        if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
            print("mosquitto is not installed: no MQTT row")
        else:
            with tempfile.TemporaryDirectory() as tmp, mosquitto(Path(tmp)) as broker:
                apart("mqtt", broker=broker)

    base = rows[0][1]
    print(f"economic dispatch by consensus: {args.units} units on a ring, demand {demand:.1f} MW, "
          f"centralised price {lam_star:.9f} S$/MWh")
    print(f"{'carrier':26s} {'time s':>8s} {'messages':>9s} {'us/msg':>8s} {'x simple':>9s} "
          f"{'price error':>12s}")
    for name, seconds, messages, lam, extra in rows:
        print(f"{name:26s} {seconds:8.3f} {messages:9d} {1e6 * seconds / messages:8.1f} "
              f"{seconds / base:9.1f} {abs(lam - lam_star):12.2e} {extra}")


if __name__ == "__main__":
    main()
