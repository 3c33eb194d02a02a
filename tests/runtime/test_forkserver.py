"""Agent processes forked from a warmed-up server (runtime/forkserver.py, cli/forkserver.py):
the same results, exit codes and ends as agents that are their own interpreter."""

from __future__ import annotations

import asyncio
import signal
import sys

import numpy as np
import pytest

from distributed_resource_optimization.flex_sharing import run_flex_sharing
from distributed_resource_optimization.runtime.forkserver import (
    START_ENV,
    ForkServer,
    available,
    start_method,
)
from distributed_resource_optimization.runtime.processes import READY_PREFIX

pytestmark = pytest.mark.skipif(not available(), reason="needs fork and descriptor passing")


def test_the_start_method_comes_from_the_environment_and_is_checked():
    assert start_method({}) == "forkserver"
    assert start_method({START_ENV: "exec"}) == "exec"
    with pytest.raises(ValueError, match=f"{START_ENV}='spawn': valid: forkserver, exec"):
        start_method({START_ENV: "spawn"})


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_forked_and_exec_agents_give_the_same_run(monkeypatch):
    """Three fleets over TCP, once forked, once each its own interpreter: the same iterates."""
    got = {}
    for method in ("forkserver", "exec"):
        monkeypatch.setenv(START_ENV, method)
        got[method] = run_flex_sharing(30, seed=11, processes=3, runtime="tcp")
    a, b = got["forkserver"].admm, got["exec"].admm
    assert a.iterations == b.iterations and a.converged
    for name, x in a.x.items():
        np.testing.assert_array_equal(x, b.x[name])


@pytest.mark.processes
def test_a_forked_child_reports_its_exit_code_and_ends_on_sigterm_or_closed_stdin(tmp_path):
    """A child runs ``dro <argv>``: a bad option exits 2 with its one-line error on the child's
    stderr; a serving agent announces itself on stdout, exits 143 on SIGTERM, and 0 when its
    stdin closes (the coordinator went away)."""

    async def main():
        async with ForkServer(sys.executable, {}) as server:
            with open(tmp_path / "bad.log", "wb") as log:
                bad = await server.spawn(["agent", "--idle-timeout", "-1"], log.fileno())
            assert await asyncio.wait_for(bad.wait(), 30) == 2
            codes = []
            for stop in ("terminate", "close stdin"):
                with open(tmp_path / "agent.log", "wb") as log:
                    child = await server.spawn(["agent", "--flex-share", "0/1", "--actors", "5",
                                                "--listen", "127.0.0.1:0", "--exit-with-stdin"],
                                               log.fileno())
                line = await asyncio.wait_for(child.stdout.readline(), 60)
                assert line.decode().startswith(READY_PREFIX)
                if sys.platform == "linux":  # named after its participant in top / ps -o comm
                    comm = open(f"/proc/{child.pid}/comm").read().strip()
                    assert comm == "dro fleet_0"
                if stop == "terminate":
                    child.terminate()
                else:
                    child.stdin.close()
                codes.append(await asyncio.wait_for(child.wait(), 30))
            return codes

    assert asyncio.run(main()) == [128 + signal.SIGTERM, 0]
    assert "--idle-timeout" in (tmp_path / "bad.log").read_text()
