"""Real distribution: every agent in an OS process of its own, on mango-agents over TCP and MQTT.

Reference for every run: the same run in one process (``inproc``), which must give the same
iterations and, within 1e-9 relative, the same objective and prices (the wire codec carries
float64 bit-exactly, so in practice they agree exactly). Ports are chosen by the system; the MQTT
broker is a private mosquitto on a free port (``brokers.py``). Every spawned process is ended by
the run, also on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from brokers import mosquitto

from distributed_resource_optimization import cli
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.flex_sharing import run_flex_sharing
from distributed_resource_optimization.io.output import MANIFEST_FILE
from distributed_resource_optimization.market.clearing import run_market_clearing
from distributed_resource_optimization.runtime.processes import READY_PREFIX

SCENARIO = "thermal-congestion"  # 155 iterations to converge at 60 min
#: The API runs are compared with the one-process run iterate by iterate; the first 60
#: iterations show any difference as well as all 155 (convergence is test_market_clearing's).
ITERATIONS = 60
#: The command-line runs compared with them: one clearing (the study's single linearisation;
#: successive linearisation in agent processes is tests/market/test_successive_market.py's) of
#: as many iterations.
# (the figures are tests/cli and tests/market/test_market_cli.py's business: none here)
ONE_CLEARING = ["--linearisation", "once", "--max-iters", str(ITERATIONS), "--figures", "none"]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with mosquitto(tmp_path_factory.mktemp("broker")) as address:
        yield address


@pytest.fixture(scope="module")
def district():
    return load_district(resolution="60min")


@pytest.fixture(scope="module")
def inproc(district):
    return {agents: run_market_clearing(district, SCENARIO, agents=agents, max_iters=ITERATIONS)
            for agents in ("entities", "per-building")}


def assert_message_count(messages: int, agents: int, iterations: int, resent: int) -> None:
    """Join, setup and finish rounds plus one round per iteration: a request and a reply per
    agent each. A request sent again (a round slower than usual) adds itself and at most one
    repeated reply: none if the agent had not answered yet (it answers the newest request
    only)."""
    base = 2 * agents * (iterations + 3)
    assert base + resent <= messages <= base + 2 * resent, (messages, base, resent)


def _assert_same_market(got, ref) -> None:
    assert got.iterations == ref.iterations and got.converged == ref.converged
    assert got.objective == pytest.approx(ref.objective, rel=1e-9)
    assert got.entity_objectives == pytest.approx(ref.entity_objectives, rel=1e-9)
    for entity, quantities in ref.prices.items():
        for q, arr in quantities.items():
            np.testing.assert_allclose(got.prices[entity][q], arr, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(got.dispatch[entity][q], ref.dispatch[entity][q],
                                       rtol=1e-9, atol=1e-9)


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
@pytest.mark.parametrize("runtime, agents, per_process, processes", [
    ("tcp", "per-building", 1, 24), ("mqtt", "per-building", 8, 5)])
def test_market_in_agent_processes_equals_inproc(runtime, agents, per_process, processes,
                                                 district, inproc, request):
    """The market in agent processes clears exactly as in one process: at scale (24 agent
    processes, one per building) over TCP, and over an MQTT broker with the 22 building agents
    in three processes of up to eight (``agents_per_process``: they share a transport) beside
    the two grid operators' (the transport is the same code at any scale; the scale run costs
    18 s per transport)."""
    kwargs = {"broker": request.getfixturevalue("broker")} if runtime == "mqtt" else {}
    got = run_market_clearing(district, SCENARIO, agents=agents, runtime=runtime,
                              max_iters=ITERATIONS, agents_per_process=per_process, **kwargs)
    ref = inproc[agents]
    n_agents = 3 if agents == "entities" else 2 + district.n_der
    assert got.runtime == runtime and got.agent_processes == processes
    assert processes == 2 + -(-(n_agents - 2) // per_process)
    _assert_same_market(got, ref)
    assert_message_count(got.messages, n_agents, got.iterations, got.admm.resent_requests)
    assert got.bytes_sent > 0


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_flex_sharing_in_50_agent_processes_equals_inproc():
    ref = run_flex_sharing(100, seed=3, processes=50)
    got = run_flex_sharing(100, seed=3, processes=50, runtime="tcp")
    assert got.agent_processes == 50 and ref.agent_processes == 0
    assert got.admm.iterations == ref.admm.iterations and got.admm.converged
    assert got.admm.objective == pytest.approx(ref.admm.objective, rel=1e-9)
    for name, x in ref.admm.x.items():
        np.testing.assert_allclose(got.admm.x[name], x, rtol=1e-9, atol=1e-12)
    assert got.objective_gap_rel < 1e-5  # against the centralized LP (Clarabel)


def _start_agent(entity: str, folder: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "distributed_resource_optimization", "agent", "--entity", entity,
         "--data", str(folder), "--scenario", SCENARIO, "--resolution", "60min",
         "--listen", "127.0.0.1:0", "--once", "--idle-timeout", "120"],
        stdout=subprocess.PIPE, stderr=open(log, "wb"), text=True)


def _ready_address(proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(READY_PREFIX):
            return json.loads(line[len(READY_PREFIX):])["address"]
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"agent not ready: {log.read_text()}")


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_agents_started_from_their_own_split_folders_coordinated_by_agents_file(
        tmp_path, inproc, capsys):
    """``dro data split`` folders, one ``dro agent`` per entity, ``--agents-file``."""
    split = tmp_path / "split"
    assert cli.main(["data", "split", "--out", str(split)]) == 0
    entities = ["thermal_grid_operator", "electric_grid_operator", "aggregator"]
    assert sorted(p.name for p in split.iterdir()) == sorted([MANIFEST_FILE, *entities])
    procs = {}
    try:
        for entity in entities:
            procs[entity] = _start_agent(entity, split / entity, tmp_path / f"{entity}.log")
        addresses = {e: _ready_address(p, tmp_path / f"{e}.log") for e, p in procs.items()}
        agents_file = tmp_path / "agents.toml"
        agents_file.write_text("".join(f'{e} = "{a}"\n' for e, a in addresses.items()))
        out = tmp_path / "out"
        code = cli.main(["market-clearing", "--scenario", SCENARIO, "--resolution", "60min",
                         "--method", "admm", "--runtime", "tcp", "--agents-file",
                         str(agents_file), "--out", str(out), *ONE_CLEARING])
        assert code == 1, capsys.readouterr().err  # 1: stopped at the iteration limit
        for p in procs.values():  # --once: each agent ends after the run
            assert p.wait(30) == 0
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    summary = json.loads((out / "summary.json").read_text())
    ref = inproc["entities"]
    assert summary["iterations"] == ref.iterations
    assert summary["admm_objective"] == pytest.approx(ref.objective, rel=1e-9)
    assert summary["runtime"] == "tcp" and summary["agent_processes"] == 0
    assert_message_count(summary["messages"], 3, ref.iterations, summary["resent_requests"])
    assert summary["bytes_sent"] > 0
    assert summary["entity_objectives"] == pytest.approx(ref.entity_objectives, rel=1e-9)


def test_agents_file_must_list_a_market(tmp_path, capsys):
    f = tmp_path / "agents.toml"
    f.write_text('thermal_grid_operator = "127.0.0.1:1"\n')
    code = cli.main(["market-clearing", "--runtime", "tcp", "--agents-file", str(f), "--out",
                     str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "are not a market" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_cli_market_clearing_mqtt_summary(tmp_path, broker, inproc, capsys):
    out = tmp_path / "out"
    code = cli.main(["market-clearing", "--scenario", SCENARIO, "--resolution", "60min",
                     "--method", "admm", "--runtime", "mqtt", "--broker", broker,
                     "--out", str(out), *ONE_CLEARING])
    assert code == 1, capsys.readouterr().err  # 1: stopped at the iteration limit
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runtime"] == "mqtt" and summary["agent_processes"] == 3
    assert summary["iterations"] == inproc["entities"].iterations
    assert summary["admm_objective"] == pytest.approx(inproc["entities"].objective, rel=1e-9)


ENTITIES = ("thermal_grid_operator", "electric_grid_operator", "aggregator")


def start_entity_agents(split: Path, logs: Path, procs: dict, extra=lambda entity: (),
                        resolution: str = "60min", env=None) -> Path:
    """Start one `dro agent` per market entity from its folder of ``split`` (into ``procs``, for
    the caller to stop; ``extra(entity)``: more options), wait for each, and write the agents
    file that lists them; returns its path."""
    for entity in ENTITIES:
        procs[entity] = subprocess.Popen(
            [sys.executable, "-m", "distributed_resource_optimization", "agent", "--entity",
             entity, "--data", str(split / entity), "--resolution", resolution, "--listen",
             "127.0.0.1:0", "--idle-timeout", "60", *extra(entity)],
            stdout=subprocess.PIPE, stderr=open(logs / f"{entity}.log", "wb"), text=True,
            env=env)
    addresses = {e: _ready_address(p, logs / f"{e}.log") for e, p in procs.items()}
    agents_file = logs / "agents.toml"
    agents_file.write_text("".join(f'{e} = "{a}"\n' for e, a in addresses.items()))
    return agents_file


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_agents_with_another_resolution_are_refused_clearly(tmp_path, capsys):
    """Agents bring their own data: one started at 30 min cannot join a 60 min market."""
    split = tmp_path / "split"
    assert cli.main(["data", "split", "--out", str(split)]) == 0
    procs: dict = {}
    try:
        agents_file = start_entity_agents(split, tmp_path, procs, resolution="30min")
        code = cli.main(["market-clearing", "--resolution", "60min", "--method", "admm",
                         "--runtime", "tcp", "--agents-file", str(agents_file), "--out",
                         str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 2 and "agent 'thermal_grid_operator' was started for resolution " \
            "'30min', this run needs '60min'" in err, err
        assert not (tmp_path / "out").exists()
        # The agents keep serving: a coordinator at their resolution clears the market.
        code = cli.main(["market-clearing", "--resolution", "30min", "--method", "admm",
                         "--runtime", "tcp", "--agents-file", str(agents_file), "--out",
                         str(tmp_path / "out30"), "--max-iters", "3", "--figures", "none"])
        assert code == 1, capsys.readouterr().err  # 1: stopped at the iteration limit
        summary = json.loads((tmp_path / "out30" / "summary.json").read_text())
        assert summary["iterations"] == 3 and summary["n_timesteps"] == 48
    finally:
        for p in procs.values():
            p.kill()
            p.wait()


def _agents_with(marker: str) -> list[int]:
    """PIDs of live processes whose command line contains ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (entry / "stat").read_text().split()[2]
            except OSError:
                continue
            if marker in cmdline and "agent" in cmdline and state != "Z":
                pids.append(int(entry.name))
    return pids


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_spawned_agents_end_when_the_run_fails(monkeypatch):
    from distributed_resource_optimization import create_sharing_target_distance_admm_coordinator
    from distributed_resource_optimization.runtime.transport import CoordinationTimeoutError

    # Each agent its own interpreter, so that its command line names it (forked agents are
    # followed by pid in test_spawned_agents_end_on_ctrl_c).
    monkeypatch.setenv("DRO_AGENT_START", "exec")
    # A reply timeout no round can meet: the run fails after the agents were spawned.
    coordinator = create_sharing_target_distance_admm_coordinator(reply_timeout=1e-4)
    with pytest.raises(CoordinationTimeoutError):
        run_flex_sharing(40, seed=987654, processes=3, runtime="tcp", coordinator=coordinator)
    assert _agents_with("--seed 987654") == []


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_spawned_agents_end_on_ctrl_c(tmp_path):
    import signal

    from test_interrupts import _alive, _children

    proc = subprocess.Popen(
        # --gap-tol 0 and no polish: a run that goes on until Ctrl-C.
        [sys.executable, "-m", "distributed_resource_optimization", "flex-sharing", "--actors",
         "300", "--seed", "424242", "--processes", "3", "--runtime", "tcp", "--no-polish",
         "--gap-tol", "0", "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    agents: set[int] = set()
    try:
        lines = []
        while "iteration 500" not in (lines[-1] if lines else ""):  # the agents are iterating
            lines.append(proc.stderr.readline())
            assert lines[-1] or proc.poll() is None, "".join(lines)
        agents = _children(proc.pid)  # the agents (and the fork server they came from)
        assert len(agents) >= 3, agents
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        deadline = time.monotonic() + 15
        while _alive(agents) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _alive(agents) == set()
        assert not (tmp_path / "out").exists()  # no result that looks complete
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _alive(agents):
            os.kill(pid, 9)


@pytest.mark.network
def test_one_tcp_container_hosts_several_agents_and_timeouts_fire_during_a_solve():
    """Three participants on one mango TCP container, the coordinator on another (one process):
    the run equals the in-process one, and a blocking solve does not hold up the timeout."""
    import asyncio
    import threading

    import distributed_resource_optimization as dro
    from distributed_resource_optimization.local.grouping import make_blocks
    from distributed_resource_optimization.runtime.engine import CoordinatorAgent, ParticipantAgent
    from distributed_resource_optimization.runtime.mango import MangoTransport
    from distributed_resource_optimization.runtime.transport import CoordinationTimeoutError

    def actors():
        return [dro.create_admm_flex_actor_one_to_many(10.0, [0.1, 0.5, -1.0], name="a"),
                dro.create_admm_flex_actor_one_to_many(15.0, [0.1, 0.5, -1.0], name="b"),
                dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0], name="c")]

    start = dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1]))

    async def run(models, reply_timeout):
        coordinator = dro.create_sharing_target_distance_admm_coordinator(
            reply_timeout=reply_timeout)
        hub, host = MangoTransport.tcp(), MangoTransport.tcp()
        async with hub, host:
            agents = [ParticipantAgent(f"p{i}", b, host, idle_timeout=30)
                      for i, b in enumerate(make_blocks(models, vectorize=False))]
            for a in agents:
                hub.connect(a.address, host.protocol_address)
            tasks = [asyncio.ensure_future(a.serve()) for a in agents]
            try:
                return await CoordinatorAgent("coordinator", coordinator,
                                              [a.address for a in agents], hub).run(start.data)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    ref = dro.run_coordinated_optimization(actors(), dro.create_sharing_target_distance_admm_coordinator(),
                                           start, vectorize=False)
    got = asyncio.run(run(actors(), 60.0))
    assert got.iterations == ref.iterations
    np.testing.assert_allclose(got.z, ref.z, rtol=0, atol=1e-12)

    class Blocking(dro.LocalModel):
        def __init__(self):
            super().__init__(3, name="blocking")
            self.release, self.finished = threading.Event(), False

        def solve(self, v, rho):
            self.release.wait(30.0)
            self.finished = True
            return np.zeros(3)

    slow = Blocking()
    try:
        with pytest.raises(CoordinationTimeoutError, match="blocking|p2"):
            asyncio.run(run([*actors()[:2], slow], 0.5))
        assert not slow.finished  # the timeout fired while the solve was still running
    finally:
        slow.release.set()
