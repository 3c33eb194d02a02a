"""Ctrl-C and SIGTERM at any moment of a command, in one process and with agent processes: one
line, exit code 130 / 143, no process left behind, and the output folder as it was before."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the children")


def _children(pid: int) -> set[int]:
    """PIDs of the live child processes of ``pid``."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.add(int(entry.name))
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
                    agents: int = 0) -> tuple[int, str, set[int]]:
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous.txt").write_text("an earlier result")
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed_resource_optimization", "market-clearing",
         "--scenario", "electric-congestion", "--resolution", "60min", "--method", "admm",
         "--out", str(out), *extra],
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
    assert sorted(p.name for p in out.iterdir()) == ["previous.txt"]  # untouched
    assert not any(p.name.startswith(".out.tmp") for p in tmp_path.iterdir())
    return code, rest, leftover


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated")])
def test_signal_during_admm_in_process(tmp_path, sig, code, word):
    got, rest, _ = _run_and_signal(tmp_path, [], "iteration 20", sig)
    assert got == code, rest
    assert "Traceback" not in rest
    lines = [line for line in rest.splitlines() if line.strip()]
    assert lines[-1].startswith("dro: ") and word in lines[-1]
    assert sum(line.startswith("dro: ") and word in line for line in lines) == 1


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_admm_with_agent_processes(tmp_path, sig, code):
    got, rest, leftover = _run_and_signal(tmp_path, ["--runtime", "tcp"], "iteration 20", sig,
                                          agents=3)
    assert got == code, rest
    assert "Traceback" not in rest
    assert leftover == set()


def test_signal_while_loading(tmp_path):
    got, rest, _ = _run_and_signal(tmp_path, [], "loading district", signal.SIGINT)
    assert got == 130 and "Traceback" not in rest
