"""Ctrl-C and SIGTERM at any moment of a command, in one process and with agent processes: one
line, exit code 130 / 143, no process left behind, and the output folder as it was before."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distributed_resource_optimization.io.output import MANIFEST_FILE, write_manifest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the children")


def _children(pid: int) -> set[int]:
    """PIDs of the live descendants of ``pid`` (agents forked by a fork server are its
    grandchildren)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - out
        out |= frontier
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _run_and_signal(tmp_path: Path, extra: list[str], wait_for: str, sig: int,
                    agents: int = 0, scenario: str = "electric-congestion"
                    ) -> tuple[int, str, set[int]]:
    """Run ``dro market-clearing`` (ADMM, 60 min; electric-congestion takes 594 iterations, so
    a signal at iteration 20 finds it clearing), send ``sig`` once ``wait_for`` is on stderr;
    returns the exit code, the rest of stderr and the child processes left alive."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous.txt").write_text("an earlier result")
    write_manifest(out, "market-clearing")  # an earlier output of this command: the run replaces it
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed_resource_optimization", "market-clearing",
         "--scenario", scenario, "--resolution", "60min", "--method", "admm",
         "--linearisation", "once", "--out", str(out), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while True:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "".join(lines)
            lines.append(line)
            children |= _children(proc.pid)
            if wait_for in line:
                break
            assert time.monotonic() < deadline, "".join(lines)
        if agents:
            assert len(children) >= agents, (children, "".join(lines))
        proc.send_signal(sig)
        rest = proc.stderr.read()
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 15
    while _alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = _alive(children)
    for pid in leftover:  # do not leave them to the next test
        subprocess.run(["kill", "-9", str(pid)], check=False)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_FILE, "previous.txt"]  # untouched
    assert not any(p.name.startswith((".out.tmp", ".out.old")) for p in tmp_path.iterdir())
    return code, rest, leftover


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated")])
def test_signal_during_admm_in_process(tmp_path, sig, code, word):
    got, rest, _ = _run_and_signal(tmp_path, [], "iteration 20", sig)
    assert got == code, rest
    assert "Traceback" not in rest
    lines = [line for line in rest.splitlines() if line.strip()]
    assert lines[-1].startswith("dro: ") and word in lines[-1]
    assert sum(line.startswith("dro: ") and word in line for line in lines) == 1


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
# One signal per phase with agent processes (each such run costs four processes): both signals
# take the same path into the run's cancellation, which test_signal_during_admm_in_process
# covers for each; Ctrl-C with agent processes is covered while writing and by
# tests/runtime/test_distributed.py::test_spawned_agents_end_on_ctrl_c.
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143)])
def test_signal_during_admm_with_agent_processes(tmp_path, sig, code):
    got, rest, leftover = _run_and_signal(tmp_path, ["--runtime", "tcp"], "iteration 20", sig,
                                          agents=3)
    assert got == code, rest
    assert "Traceback" not in rest
    assert leftover == set()


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
@pytest.mark.parametrize("runtime", ["inproc", "tcp"])
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_while_loading(tmp_path, runtime, sig, code):
    got, rest, leftover = _run_and_signal(tmp_path, ["--runtime", runtime], "loading district",
                                          sig)
    assert got == code and "Traceback" not in rest and leftover == set()


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
@pytest.mark.parametrize("runtime, sig, code", [("tcp", signal.SIGINT, 130),
                                               ("inproc", signal.SIGTERM, 143)])
def test_signal_while_writing_the_results(tmp_path, runtime, sig, code):
    """Writing the tables and figures takes about a second after the "writing" line: a
    signal then leaves the earlier folder as it was and no half-written one beside it (the
    unconstrained market: 18 iterations to get there)."""
    got, rest, leftover = _run_and_signal(tmp_path, ["--runtime", runtime], "writing", sig,
                                          scenario="unconstrained")
    assert got == code, rest
    assert "Traceback" not in rest and leftover == set()
    assert sum(line.startswith("dro: ") for line in rest.splitlines()) == 1


# -- the API -----------------------------------------------------------------------------------

#: How long each solve of :class:`_Slow` takes (s): long enough that the signalled main thread
#: is scheduled before the next solve would start, also with the suite's two test workers
#: loading both cores.
SOLVE_S = 0.25


class _Slow:
    """Tutorial-like actors whose every solve takes ``SOLVE_S``; counts the solves that
    started."""

    def __init__(self, signal_at: int):
        import threading

        import distributed_resource_optimization as dro

        self.started = 0
        self.signal_at = signal_at
        self.reached = threading.Event()
        outer = self

        class Actor(dro.LocalModel):
            def __init__(self, name):
                super().__init__(3, name=name)
                self.inner = dro.create_admm_flex_actor_one_to_many(10.0, [0.1, 0.5, -1.0])

            def solve(self, v, rho):
                outer.started += 1
                if outer.started == outer.signal_at:
                    outer.reached.set()
                time.sleep(SOLVE_S)
                return self.inner.solve(v, rho)

            def objective(self, x):
                return self.inner.objective(x)

        self.actors = [Actor(f"a{i}") for i in range(3)]
        self.start = dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0]))
        self.coordinator = dro.create_sharing_target_distance_admm_coordinator()


def test_ctrl_c_stops_the_sync_api_within_one_local_solve():
    import os
    import threading

    import distributed_resource_optimization as dro

    slow = _Slow(signal_at=7)
    at_signal = []

    def press_ctrl_c():
        if slow.reached.wait(30):
            os.kill(os.getpid(), signal.SIGINT)  # to the process, as a terminal sends it

    def ctrl_c_handler(signum, frame):
        # Python's own Ctrl-C handler (signal.default_int_handler), as in a terminal or a
        # notebook, noting how many solves had started when the main thread took the signal:
        # on a loaded machine that can be a solve after the one that sent it (the OS schedules
        # the main thread late), which the library cannot prevent.
        at_signal.append(slow.started)
        raise KeyboardInterrupt

    # (A test worker of pytest-xdist ignores SIGINT, so that only the controlling pytest gets
    # the user's Ctrl-C: install the handler a terminal session has.)
    previous = signal.signal(signal.SIGINT, ctrl_c_handler)
    try:
        threading.Thread(target=press_ctrl_c, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            dro.run_coordinated_optimization(slow.actors, slow.coordinator, slow.start)
    finally:
        signal.signal(signal.SIGINT, previous)
    time.sleep(2 * SOLVE_S)  # two more solves' time: none may start
    # Once Python has taken the signal, at most the solve running then may finish and one more
    # start (the one the worker thread may take before the cancellation reaches it).
    assert len(at_signal) == 1 and at_signal[0] >= 7 and slow.started <= at_signal[0] + 1


def test_cancelling_the_async_api_stops_it_within_one_local_solve():
    import asyncio

    import distributed_resource_optimization as dro

    slow = _Slow(signal_at=7)

    async def main():
        task = asyncio.ensure_future(dro.start_coordinated_optimization(
            slow.actors, slow.coordinator, slow.start))
        while not slow.reached.is_set():
            await asyncio.sleep(0.005)
        at_cancel = slow.started
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(2 * SOLVE_S)
        return at_cancel

    at_cancel = asyncio.run(main())
    assert at_cancel == 7 and slow.started <= 8


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_a_coordinator_free_run_in_peer_processes(tmp_path, sig):
    """Ctrl-C / SIGTERM while peers in processes of their own play a never-ending game: the
    starting process ends and no peer process is left behind."""
    import os

    script = tmp_path / "game.py"
    playing = tmp_path / "playing"
    script.write_text(
        "import signal\n"
        "from distributed_resource_optimization import ParticipantFactory\n"
        "from distributed_resource_optimization import run_distributed_processes\n"
        "signal.signal(signal.SIGTERM, signal.default_int_handler)  # as the CLI does\n"
        "print('starting', flush=True)\n"
        f"peer = ParticipantFactory('peer_factories:ping_pong', {{'playing': {str(playing)!r}}})\n"
        "run_distributed_processes([peer] * 2, 'ball', timeout=300)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    children: set[int] = set()
    try:
        assert proc.stdout.readline().strip() == "starting"
        deadline = time.monotonic() + 120
        while not playing.exists():  # the peers have started and play the ball
            children |= _children(proc.pid)
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        children |= _children(proc.pid)
        assert len(_alive(children)) >= 2
        proc.send_signal(sig)
        proc.wait(60)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "KeyboardInterrupt" in err  # the run was interrupted, not ended by itself
    deadline = time.monotonic() + 15
    while _alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = _alive(children)
    for pid in leftover:
        subprocess.run(["kill", "-9", str(pid)], check=False)
    assert not leftover


# -- dro agent and dro peer: a served process stopped by a signal or by its parent ---------------

_SERVING = {
    "agent": ["agent", "--flex-share", "0/1", "--actors", "5"],
    "peer": ["peer", "--factory", "peer_factories:ping_pong", "--name", "participant-1",
             "--runs", "0"],
}


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
@pytest.mark.parametrize("command", ["agent", "peer"])
@pytest.mark.parametrize("how, code, line", [
    (signal.SIGTERM, 143, "dro: terminated (SIGTERM); stopped serving"),
    (signal.SIGINT, 130, "dro: interrupted (Ctrl-C); stopped serving"),
    ("stdin", 0, "stopped (the spawning process closed its stdin)")])
def test_a_serving_agent_or_peer_exits_143_on_sigterm_and_0_when_its_parent_goes(
        command, how, code, line):
    """SIGTERM / Ctrl-C: exit 143 / 130 with one line; the spawning process closing stdin
    (``--exit-with-stdin``, it went away): a normal end, exit 0."""
    import json
    import os

    from distributed_resource_optimization.runtime.processes import READY_PREFIX

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed_resource_optimization", *_SERVING[command],
         "--runtime", "tcp", "--listen", "127.0.0.1:0", "--idle-timeout", "120",
         "--exit-with-stdin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env)
    try:
        ready = proc.stdout.readline()
        assert ready.startswith(READY_PREFIX), proc.stderr.read() if proc.poll() is not None \
            else ready
        assert json.loads(ready[len(READY_PREFIX):])["address"].startswith("127.0.0.1:")
        if how == "stdin":
            proc.stdin.close()
        else:
            proc.send_signal(how)
        got = proc.wait(60)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert got == code, err
    assert "Traceback" not in err
    lines = [text for text in err.splitlines() if text.strip()]
    assert len(lines) == 1 and line in lines[0], err


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() is Python 3.11's")
def test_a_cancellation_lost_on_the_way_still_ends_a_serve_loop() -> None:
    """Python 3.11's asyncio.wait_for can swallow a cancellation that arrives as the awaited
    future completes: a peer draining its last report when its stdin closed then served on
    until SIGTERM. The serve loops (PeerAgent.serve, ParticipantAgent.serve) check before they
    wait for the next run, and end."""
    import asyncio

    from distributed_resource_optimization.runtime.transport import (
        Mailbox,
        raise_if_cancelled,
    )

    async def main() -> None:
        box = Mailbox("peer")

        async def serving() -> None:
            while True:
                raise_if_cancelled()
                await box.receive(60, "a controller")  # wait for the next run
                try:  # the run's last drain, which loses the cancellation
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    pass

        task = asyncio.ensure_future(serving())
        await asyncio.sleep(0)
        box.put("controller", "a run")
        await asyncio.sleep(0.01)
        task.cancel()
        # 5 s is only the bound of this test's own wait: the task ends at once.
        done, _ = await asyncio.wait([task], timeout=5)
        assert task in done and task.cancelled()

    asyncio.run(main())
