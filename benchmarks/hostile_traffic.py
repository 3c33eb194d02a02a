"""What a process without the token can do to a token-protected market run: nothing but slow it.

Run from the repository root::

    python benchmarks/hostile_traffic.py [--resolution 60min] [--rounds 3] [--rate 0]

Starts the three market agents (``dro agent`` per entity from ``dro data split``, 127.0.0.1,
``--token``) once, and clears the thermal-congestion market against them by agents file,
alternately quiet and under attack, ``--rounds`` times each. The attacker is one process of its
own without the token that, as fast as it can (or ``--rate`` frames per second), cycles over the
agents: a forged join / solve / finish request as plain protocol frames (as a token-less
coordinator named ``coordinator`` would send them), random garbage, a 2 GB length prefix, and a
connection left idle. Prints per run the ADMM wall time (s), iterations, objective, rejected
messages counted by the agents, and the attacker's frames; then the median slowdown (attacked
over quiet). The results must be identical (same iterations and objective to the last bit).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from distributed_resource_optimization.cli import main as dro  # noqa: E402
from distributed_resource_optimization.runtime.processes import READY_PREFIX  # noqa: E402

ENTITIES = ("thermal_grid_operator", "electric_grid_operator", "aggregator")
TOKEN = "benchmark secret"


def _plain_frames() -> list[bytes]:
    """What a coordinator without the token sends: protocol messages in the plain codec."""
    import numpy as np
    from mango.messages.message import MangoMessage

    from distributed_resource_optimization.runtime.codec import mango_codec
    from distributed_resource_optimization.runtime.messages import (
        FinishRequest,
        JoinRequest,
        SolveRequest,
    )

    codec = mango_codec("msgpack")
    frames = []
    for receiver in ENTITIES:
        meta = {"sender_id": "coordinator", "sender_addr": ["127.0.0.1", 9], "receiver_id": receiver}
        for message in (JoinRequest("forged"), SolveRequest("forged", 1, np.ones(4), np.zeros(4), 1.0),
                        FinishRequest("forged", np.zeros(4), "converged")):
            frames.append(codec.encode(MangoMessage(message, meta)))
    return frames


def attacker(addresses: list[tuple[str, int]], rate: float, stop, sent) -> None:
    frames = _plain_frames() + [os.urandom(300), b'{"not": "ours"}']
    idle: list[socket.socket] = []
    k = 0
    pause = 1.0 / rate if rate > 0 else 0.0
    while not stop.is_set():
        address = addresses[k % len(addresses)]
        try:
            s = socket.create_connection(address, timeout=2)
            if k % 7 == 6:
                idle.append(s)  # left open, idle
                if len(idle) > 500:
                    idle.pop(0).close()
            else:
                if k % 7 == 5:
                    s.sendall(struct.pack("!L", 2 * 10**9) + b"x" * 1024)
                else:
                    frame = frames[k % len(frames)]
                    s.sendall(struct.pack("!L", len(frame)) + frame)
                s.close()
            sent.value += 1
        except OSError:
            pass
        k += 1
        if pause:
            time.sleep(pause)
    for s in idle:
        s.close()


def clear(agents_file: Path, out: Path, resolution: str) -> dict:
    code = dro(["market-clearing", "--resolution", resolution, "--method", "admm", "--runtime",
                "tcp", "--agents-file", str(agents_file), "--token", TOKEN, "--out", str(out)])
    if code != 0:
        raise SystemExit(f"market clearing failed with exit code {code}")
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", default="60min")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=0.0, help="attack frames per second (0: max)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dro-hostile-"))
    assert dro(["data", "split", "--out", str(work / "split")]) == 0
    env = dict(os.environ, DRO_TOKEN=TOKEN)
    procs, addresses = [], {}
    try:
        for entity in ENTITIES:
            p = subprocess.Popen(
                [sys.executable, "-m", "distributed_resource_optimization", "agent", "--entity",
                 entity, "--data", str(work / "split" / entity), "--resolution", args.resolution,
                 "--listen", "127.0.0.1:0", "--idle-timeout", "600"],
                stdout=subprocess.PIPE, stderr=open(work / f"{entity}.log", "wb"), text=True,
                env=env)
            procs.append(p)
            line = p.stdout.readline()
            assert line.startswith(READY_PREFIX), (work / f"{entity}.log").read_text()
            addresses[entity] = json.loads(line[len(READY_PREFIX):])["address"]
        agents_file = work / "agents.toml"
        agents_file.write_text("".join(f'{e} = "{a}"\n' for e, a in addresses.items()))
        targets = [(a.split(":")[0], int(a.split(":")[1])) for a in addresses.values()]
        rows = []
        print(f"{'run':>10} {'admm s':>8} {'iters':>6} {'objective':>22} {'rejected':>9} "
              f"{'attack frames':>14}")
        for r in range(args.rounds):
            for attacked in (False, True):
                stop, sent = multiprocessing.Event(), multiprocessing.Value("q", 0)
                attack = None
                if attacked:
                    attack = multiprocessing.Process(target=attacker,
                                                     args=(targets, args.rate, stop, sent))
                    attack.start()
                    time.sleep(0.5)
                try:
                    s = clear(agents_file, work / f"out-{r}-{int(attacked)}", args.resolution)
                finally:
                    stop.set()
                    if attack is not None:
                        attack.join(10)
                wall = s["wall_time_s"]["admm"]
                rows.append((attacked, wall, s["iterations"], s["admm_objective"]))
                print(f"{'attacked' if attacked else 'quiet':>10} {wall:8.2f} {s['iterations']:6d} "
                      f"{s['admm_objective']:22.15g} {s['rejected_messages']:9d} "
                      f"{sent.value:14d}")
        quiet = [w for a, w, _, _ in rows if not a]
        loud = [w for a, w, _, _ in rows if a]
        same = len({(i, o) for _, _, i, o in rows}) == 1
        print(f"median slowdown under attack: {statistics.median(loud) / statistics.median(quiet):.2f}x "
              f"({statistics.median(quiet):.2f} s quiet, {statistics.median(loud):.2f} s attacked); "
              f"results identical: {same}")
    finally:
        for p in procs:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
