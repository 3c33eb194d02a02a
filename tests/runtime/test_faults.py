"""Bad input and degenerate runs: each finding of the fault review, with the message it gets.

Every run either finishes right or fails before any work with an error that names the
parameter (file, row and column for data).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import distributed_resource_optimization as dro
from distributed_resource_optimization import cli
from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR, DataFileError


def _tutorial_actors():
    return [dro.create_admm_flex_actor_one_to_many(10.0, [0.1, 0.5, -1.0]),
            dro.create_admm_flex_actor_one_to_many(15.0, [0.1, 0.5, -1.0]),
            dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0])]


TUTORIAL_START = dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1]))


# -- stopping never accepts the untouched all-zero start --------------------------------------

def test_a_huge_rho_does_not_stop_at_the_start():
    """rho = 1e18 used to stop at iteration 1 with objective 26 (the optimum is 2)."""
    res = dro.run_coordinated_optimization(
        _tutorial_actors(), dro.create_sharing_target_distance_admm_coordinator(rho=1e18),
        TUTORIAL_START)
    assert res.converged and res.iterations > 1
    assert res.objective == pytest.approx(2.0, abs=1e-4)


def test_a_huge_rho_at_a_fixed_penalty_is_not_called_converged():
    res = dro.run_coordinated_optimization(
        _tutorial_actors(), dro.create_sharing_target_distance_admm_coordinator(
            rho=1e18, adaptive_rho=False, max_iters=30), TUTORIAL_START)
    assert res.status is dro.ADMMStatus.MAX_ITERATIONS


def test_a_target_far_above_the_actors_does_not_stop_at_zero():
    """A target of 1e16 used to stop with z = 0: the z-step was lost to rounding."""
    actor = dro.create_admm_flex_actor_one_to_many(10.0, [1.0, 0.0, 0.0])
    res = dro.run_coordinated_optimization(
        [actor], dro.create_sharing_target_distance_admm_coordinator(),
        dro.create_admm_start(dro.create_admm_sharing_data([1e16, 0.0, 0.0])))
    assert res.converged
    np.testing.assert_allclose(res.z, [10.0, 0.0, 0.0], atol=1e-6)  # full output towards it


def test_an_all_zero_optimum_still_converges():
    actor = dro.create_admm_flex_actor_one_to_many(10.0, [1.0, 0.0, 0.0])
    res = dro.run_coordinated_optimization(
        [actor], dro.create_sharing_target_distance_admm_coordinator(),
        dro.create_admm_start(dro.create_admm_sharing_data([0.0, 0.0, 0.0])))
    assert res.converged and res.objective == 0.0
    np.testing.assert_array_equal(res.z, 0.0)


# -- names for the run only -------------------------------------------------------------------

def test_unnamed_actors_can_run_again():
    actors = _tutorial_actors()
    first = dro.run_coordinated_optimization(
        actors, dro.create_sharing_target_distance_admm_coordinator(), TUTORIAL_START)
    second = dro.run_coordinated_optimization(
        actors, dro.create_sharing_target_distance_admm_coordinator(), TUTORIAL_START)
    assert [a.name for a in actors] == [None, None, None]
    assert list(first.x) == list(second.x) == ["actor_0", "actor_1", "actor_2"]
    assert second.iterations == first.iterations


# -- the API: non-finite costs, sizes, solver errors, arguments -------------------------------

def test_a_cost_that_overflows_is_refused_at_the_actor():
    with pytest.raises(ValueError, match=r"P @ \(in_capacity \* eta\) = -inf"):
        dro.create_admm_flex_actor_one_to_many(10.0, [1.0, 1.0, 1.0], P=[-1e308] * 3)


def test_a_non_finite_objective_is_an_error_naming_the_actor():
    class NaNCost(dro.LocalModel):
        def __init__(self):
            super().__init__(3, name="broken_meter")

        def solve(self, v, rho):
            return np.zeros(3)

        def objective(self, x):
            return float("nan")

    with pytest.raises(dro.ParticipantError, match="broken_meter.*objective.*nan"):
        dro.run_coordinated_optimization(
            [NaNCost()], dro.create_sharing_target_distance_admm_coordinator(), TUTORIAL_START)


def test_a_fractional_size_is_refused():
    class Model(dro.LocalModel):
        def solve(self, v, rho):
            return v

    with pytest.raises(TypeError, match="size must be an integer"):
        Model(2.7)


def test_a_non_convex_qp_and_osqp_error_codes_are_explained():
    import osqp

    from distributed_resource_optimization.local.qp import QPLocalModel, _osqp_error

    with pytest.raises(ValueError, match="positive semidefinite"):
        QPLocalModel([0.0, 0.0], P=-np.eye(2))
    message = _osqp_error(osqp.interface.OSQPException(4))
    assert "not positive semidefinite" in message and "OSQP error 4" in message


@pytest.mark.parametrize("kwargs, match", [({"transport": "x"}, "transport must be a Transport"),
                                           ({"carrier": "x"}, "transport must be a Transport"),
                                           ({"progress": 5}, "progress must be a function")])
def test_wrong_runtime_arguments_are_refused_first(kwargs, match):
    with pytest.raises(TypeError, match=match):
        dro.run_coordinated_optimization(
            _tutorial_actors(), dro.create_sharing_target_distance_admm_coordinator(),
            TUTORIAL_START, **kwargs)


# -- the command line: every option before the first load -------------------------------------

@pytest.mark.parametrize("argv, fragment", [
    (["--rho", "inf"], "--rho must be positive and finite, got inf"),
    (["--eps", "inf"], "--eps must be positive and finite, got inf"),
    (["--rho", "1e-300"], "--rho must lie in [1e-08, 1e+08]"),
    (["--method", "centralized", "--rho", "-1"], "--rho must be positive and finite"),
    (["--round-timeout", "0"], "--round-timeout must be a finite positive number"),
    (["--drop-messages", "1.5"], "--drop-messages must be a fraction"),
])
def test_cli_options_are_checked_before_any_work(argv, fragment, tmp_path, capsys):
    code = cli.main(["market-clearing", *argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "loading" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("make_out, fragment", [
    (lambda t: "", "--out must name a folder of its own"),
    (lambda t: (t / "a_file").write_text("x") and str(t / "a_file"), "is a file, not a folder"),
    (lambda t: (t / "f").write_text("x") and str(t / "f" / "sub"), "is a file, so no folder"),
])
def test_bad_out_is_refused_before_any_work(make_out, fragment, tmp_path, capsys):
    for command in (["market-clearing"], ["flex-sharing", "--actors", "5"]):
        code = cli.main([*command, "--out", make_out(tmp_path)])
        err = capsys.readouterr().err
        assert code == 2 and fragment in err and "loading" not in err, err


@pytest.mark.slow
def test_a_centralized_run_replaces_an_earlier_admm_folder(tmp_path):
    out = tmp_path / "out"
    assert cli.main(["market-clearing", "--resolution", "60min", "--method", "admm",
                     "--max-iters", "3", "--out", str(out)]) == 1
    assert (out / "residuals.csv").exists()
    assert cli.main(["market-clearing", "--resolution", "60min", "--method", "centralized",
                     "--linearisation", "once", "--figures", "none", "--out", str(out)]) == 0
    assert not (out / "residuals.csv").exists() and not (out / "primal_residuals.png").exists()
    assert json.loads((out / "summary.json").read_text())["method"] == "centralized"


# -- data files: file, row and column -----------------------------------------------------------

@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, folder)
    return folder


def _set(folder, relative, row, column, value):
    import pandas as pd

    path = folder / relative
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 1, column] = value
    frame.to_csv(path, index=False)


def test_an_empty_file_is_named(data):
    from distributed_resource_optimization.energy.district import load_district

    (data / "grid" / "electric_grid_lines.csv").write_bytes(b"")
    with pytest.raises(DataFileError, match=r"electric_grid_lines\.csv: the file is empty"):
        load_district(data)


def test_a_line_from_a_node_to_itself_names_its_row(data):
    from distributed_resource_optimization.energy.electric_grid import load_electric_grid

    _set(data, "grid/electric_grid_lines.csv", 3, "node_2_name", "12")  # row 3 leaves node 12
    with pytest.raises(DataFileError, match=r"electric_grid_lines\.csv, row 3, column "
                                            r"'node_2_name': the line connects a node to itself"):
        load_electric_grid(data)


@pytest.mark.parametrize("relative, row, column", [
    ("grid/electric_grid_lines.csv", 5, "length"),
    ("grid/thermal_grid_lines.csv", 2, "length"),
    ("timeseries/price_singapore_wholesale.csv", 7, "price_value"),
])
def test_absurd_numbers_are_range_errors_at_their_cell(data, relative, row, column):
    from distributed_resource_optimization.energy.district import load_district

    _set(data, relative, row, column, "1e300")
    with pytest.raises(DataFileError, match=rf"{relative.split('/')[-1]}, row {row}, column "
                                            rf"'{column}': 1e\+300 is outside"):
        load_district(data)


# -- lost, duplicated, delayed messages and dead agents ---------------------------------------

@pytest.mark.slow
def test_ten_percent_message_loss_gives_the_lossless_flex_result():
    from distributed_resource_optimization.flex_sharing import run_flex_sharing
    from distributed_resource_optimization.runtime.transport import FaultyTransport, InProcessTransport

    ref = run_flex_sharing(30, seed=2, processes=3)
    lossy = FaultyTransport(InProcessTransport(), drop=0.1, duplicate=0.05, delay=(0.0, 0.002),
                          seed=7)
    got = run_flex_sharing(30, seed=2, processes=3, carrier=lossy)
    # The default polishes: 21 iterations and 2 polish rounds, about 160 messages.
    assert lossy.faults.dropped > 10 and lossy.faults.duplicated > 5
    assert got.admm.resent_requests > 0
    assert got.admm.iterations == ref.admm.iterations
    assert got.admm.polish_rounds == ref.admm.polish_rounds >= 1
    assert got.admm.objective == pytest.approx(ref.admm.objective, rel=1e-9)
    np.testing.assert_allclose(got.admm.z, ref.admm.z, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_ten_percent_message_loss_gives_the_lossless_market_result():
    from distributed_resource_optimization.energy.district import load_district
    from distributed_resource_optimization.market.clearing import run_market_clearing
    from distributed_resource_optimization.runtime.transport import Faults

    district = load_district(resolution="60min")
    # 60 of the 155 iterations: the lossy run must repeat the lossless one iterate by iterate
    ref = run_market_clearing(district, "thermal-congestion", max_iters=60)
    got = run_market_clearing(district, "thermal-congestion", max_iters=60,
                              faults=Faults(drop=0.1, seed=3))
    assert got.admm.resent_requests > 0
    assert got.iterations == ref.iterations
    assert got.objective == pytest.approx(ref.objective, rel=1e-9)
    for entity, quantities in ref.prices.items():
        for q, arr in quantities.items():
            np.testing.assert_allclose(got.prices[entity][q], arr, rtol=0, atol=1e-12)


def test_a_repeated_request_is_answered_without_solving_again():
    import asyncio

    from distributed_resource_optimization.local.blocks import SingleModelGroup
    from distributed_resource_optimization.runtime.engine import ParticipantAgent
    from distributed_resource_optimization.runtime.messages import (
        JoinRequest,
        SetupRequest,
        SolveRequest,
    )
    from distributed_resource_optimization.runtime.transport import InProcessTransport

    class Counting(dro.LocalModel):
        def __init__(self):
            super().__init__(2, name="meter")
            self.solves = 0

        def solve(self, v, rho):
            self.solves += 1
            return np.asarray(v, dtype=float)

    model = Counting()

    async def main():
        carrier = InProcessTransport()
        box = carrier.register("coordinator")
        agent = ParticipantAgent("p", SingleModelGroup(model), carrier)
        task = asyncio.ensure_future(agent.serve())
        request = SolveRequest("s", 1, np.ones(2), np.zeros(2), 1.0)
        replies = []
        for msg in (JoinRequest("s"), JoinRequest("s"), SetupRequest("s"), SetupRequest("s"),
                    request, request):
            await carrier.send("coordinator", "p", msg)
            replies.append((await box.receive(5.0))[1])
        task.cancel()
        return replies

    replies = asyncio.run(main())
    assert model.solves == 1
    assert [type(r).__name__ for r in replies] == ["JoinReply"] * 2 + ["SetupReply"] * 2 + \
        ["SolveReply"] * 2
    assert replies[4].iteration == replies[5].iteration == 1 and replies[5].error is None
    np.testing.assert_array_equal(replies[4].x, replies[5].x)


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_a_killed_agent_ends_a_tcp_run_with_exit_code_3_naming_it(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from test_distributed import _agents_with

    proc = subprocess.Popen(
        # --gap-tol 0 and no polish: a run that goes on until the agent is killed.
        [sys.executable, "-m", "distributed_resource_optimization", "flex-sharing", "--actors",
         "300", "--seed", "515151", "--processes", "3", "--runtime", "tcp", "--round-timeout",
         "1", "--no-polish", "--gap-tol", "0", "--out", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        # Each agent its own interpreter: the victim is found by its command line.
        env={**os.environ, "DRO_AGENT_START": "exec"})
    try:
        lines = []
        while "iteration 500" not in (lines[-1] if lines else ""):  # the agents are iterating
            lines.append(proc.stderr.readline())
            assert lines[-1] or proc.poll() is None, "".join(lines)
        victim = next(pid for pid in _agents_with("--seed 515151")
                      if "--flex-share 1/3" in open(f"/proc/{pid}/cmdline").read()
                      .replace("\0", " "))
        os.kill(victim, signal.SIGKILL)
        code = proc.wait(60)  # the round timeout is 1 s
        err = "".join(lines) + proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 3, err
    last = [line for line in err.splitlines() if line.startswith("dro: error:")]
    assert len(last) == 1 and "fleet_1" in last[0] and "iteration" in last[0]
    assert _agents_with("--seed 515151") == []
    assert not (tmp_path / "out").exists()


# -- untrusted peers ---------------------------------------------------------------------------

def test_an_agent_answers_only_the_coordinator_of_its_run():
    import asyncio

    from distributed_resource_optimization.local.blocks import SingleModelGroup
    from distributed_resource_optimization.runtime.engine import ParticipantAgent
    from distributed_resource_optimization.runtime.messages import (
        JoinRequest,
        SetupRequest,
        SolveReply,
        SolveRequest,
    )
    from distributed_resource_optimization.runtime.transport import InProcessTransport

    async def main():
        carrier = InProcessTransport()
        box, rogue = carrier.register("coordinator"), carrier.register("rogue")
        agent = ParticipantAgent("p", SingleModelGroup(
            dro.create_admm_flex_actor_one_to_many(1.0, [1.0], name="a")), carrier)
        task = asyncio.ensure_future(agent.serve())
        await carrier.send("rogue", "p", SolveRequest("s", 1, np.ones(1), np.zeros(1), 1.0))
        for msg in (JoinRequest("s"), SetupRequest("s")):
            await carrier.send("coordinator", "p", msg)
            await box.receive(5.0)
        await carrier.send("rogue", "p", SolveRequest("s", 1, np.ones(1), np.zeros(1), 1.0))
        await carrier.send("coordinator", "p", SolveRequest("s", 1, np.ones(1), np.zeros(1), 1.0))
        _, reply = await box.receive(5.0)
        with pytest.raises(dro.CoordinationTimeoutError):
            await rogue.receive(0.2)  # the rogue got nothing, before or after the join
        task.cancel()
        return agent.rejected, reply

    rejected, reply = asyncio.run(main())
    assert rejected == 2 and isinstance(reply, SolveReply) and reply.error is None


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_a_wrong_token_gets_no_answer_and_garbage_is_dropped(tmp_path, capsys):
    import os
    import socket
    import struct

    from test_distributed import start_entity_agents

    from distributed_resource_optimization.market.processes import read_agents_file

    split = tmp_path / "split"
    assert cli.main(["data", "split", "--out", str(split)]) == 0
    env = dict(os.environ, DRO_TOKEN="s3cret")  # the token also comes from the environment
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    procs: dict = {}
    try:
        agents_file = start_entity_agents(
            split, tmp_path, procs, env=env,
            extra=lambda e: () if e == "thermal_grid_operator" else ("--token-file", str(token_file)))
        addresses = read_agents_file(str(agents_file))
        host, port = addresses["aggregator"].split(":")
        closed = 0
        for payload in (b"garbage" * 10, b'{"not": 1}', os.urandom(300)):
            with socket.create_connection((host, int(port))) as s:  # framed as mango frames
                s.sendall(struct.pack("!L", len(payload)) + payload)
                s.settimeout(5)
                closed += s.recv(1) == b""  # no answer: the agent closes the connection
        assert closed == 3
        base = ["market-clearing", "--resolution", "60min", "--method", "admm", "--runtime",
                "tcp", "--agents-file", str(agents_file)]
        code = cli.main([*base, "--token", "wrong", "--round-timeout", "1", "--out",
                         str(tmp_path / "bad")])
        err = capsys.readouterr().err
        assert code == 3 and "no authenticated answer" in err and "another token" in err
        assert not (tmp_path / "bad").exists()
        code = cli.main([*base, "--token-file", str(token_file), "--max-iters", "5",
                         "--figures", "none", "--out",
                         str(tmp_path / "good")])
        assert code == 1, capsys.readouterr().err  # served (5 iterations of the run)
        summary = json.loads((tmp_path / "good" / "summary.json").read_text())
        # The garbage frames, and the wrong token's hellos (one per agent: the agent closes that
        # connection, so the coordinator's further hellos never arrive).
        assert summary["rejected_messages"] >= 3 + 3
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
    logs = {e: (tmp_path / f"{e}.log").read_text() for e in procs}
    assert all("wrong MAC (another token?)" in text for text in logs.values())
    assert "not authenticated" in logs["aggregator"] and "Traceback" not in logs["aggregator"]


def _change_one_price(folder) -> None:
    price = folder / "timeseries" / "price_singapore_wholesale.csv"
    text = price.read_text().splitlines()
    text[1] = text[1][:-1] + ("1" if text[1][-1] != "1" else "2")  # one digit of one price
    price.write_text("\n".join(text) + "\n")


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
@pytest.mark.parametrize("differs, expected", [
    ("scenario", "agent 'thermal_grid_operator' was started for scenario 'unconstrained', this "
                 "run needs 'thermal-congestion'"),
    ("data", "agent 'aggregator' was started for data '")])
def test_an_agent_started_for_another_run_is_refused_naming_agent_and_field(
        differs, expected, tmp_path, capsys):
    """Agents started for another scenario, or from data that differ from the coordinator's in
    one price, are refused before the first round (exit 2), naming the agent and the field."""
    from test_distributed import start_entity_agents

    split = tmp_path / "split"
    assert cli.main(["data", "split", "--out", str(split)]) == 0
    if differs == "data":
        _change_one_price(split / "aggregator")
    procs: dict = {}
    try:
        agents_file = start_entity_agents(
            split, tmp_path, procs,
            extra=lambda e: ("--scenario", "unconstrained")
            if differs == "scenario" and e == "thermal_grid_operator" else ())
        code = cli.main(["market-clearing", "--resolution", "60min", "--method", "admm",
                         "--runtime", "tcp", "--agents-file", str(agents_file), "--out",
                         str(tmp_path / "out")])
        err = capsys.readouterr().err
        line = [x for x in err.splitlines() if x.startswith("dro: error:")][-1]
        assert code == 2 and expected in line, err
        assert not (tmp_path / "out").exists()
    finally:
        for p in procs.values():
            p.kill()
            p.wait()


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_listen_is_honoured_with_spawned_agents(tmp_path, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = cli.main(["market-clearing", "--resolution", "60min", "--method", "admm",
                         "--runtime", "tcp", "--listen", f"127.0.0.1:{port}", "--out",
                         str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3 and f"cannot start the tcp container at 127.0.0.1:{port}" in err, err


# -- partial participation ---------------------------------------------------------------------

class _Sleeper(dro.LocalModel):
    """The tutorial's third actor, asleep for ``sleep_s`` in its ``at``-th solve."""

    def __init__(self, at: int, sleep_s: float):
        super().__init__(3, name="sleeper")
        self.inner = dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0])
        self.at, self.sleep_s, self.solves = at, sleep_s, 0

    def solve(self, v, rho):
        import time

        self.solves += 1
        if self.solves == self.at:
            time.sleep(self.sleep_s)
        return self.inner.solve(v, rho)

    def objective(self, x):
        return self.inner.objective(x)


def _run_with_sleeper(stale_rounds: int, sleep_s: float):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed_resource_optimization.local.blocks import SingleModelGroup
    from distributed_resource_optimization.runtime.engine import CoordinatorAgent, ParticipantAgent
    from distributed_resource_optimization.runtime.local_work import InlineWork
    from distributed_resource_optimization.runtime.transport import InProcessTransport

    sleeper = _Sleeper(at=4, sleep_s=sleep_s)
    awake = _tutorial_actors()[:2]
    coordinator = dro.create_sharing_target_distance_admm_coordinator(stale_rounds=stale_rounds)

    async def main():
        carrier = InProcessTransport()
        pool = ThreadPoolExecutor(1)  # the sleeper sleeps in its own thread, the loop runs on
        agents = [ParticipantAgent(f"p{i}", SingleModelGroup(a, f"actor_{i}"), carrier,
                                   executor=InlineWork()) for i, a in enumerate(awake)]
        agents.append(ParticipantAgent("p2", SingleModelGroup(sleeper), carrier, executor=pool))
        tasks = [asyncio.ensure_future(a.serve()) for a in agents]
        try:
            return await CoordinatorAgent("coordinator", coordinator, ["p0", "p1", "p2"],
                                          carrier).run(TUTORIAL_START.data)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            pool.shutdown()

    return asyncio.run(main()), sleeper


def test_a_participant_that_sleeps_through_three_rounds_is_carried_and_the_optimum_reached():
    ref = dro.run_coordinated_optimization(
        _tutorial_actors(), dro.create_sharing_target_distance_admm_coordinator(), TUTORIAL_START)
    res, sleeper = _run_with_sleeper(stale_rounds=3, sleep_s=1.0)
    # It slept far longer than three rounds: carried for exactly three, then waited for.
    assert res.stale_replies == {"p2": 3}
    assert res.converged and res.objective == pytest.approx(ref.objective, abs=1e-4)
    np.testing.assert_allclose(res.z, ref.z, atol=1e-4)
    # Woken, it skipped the two requests the run had moved past and solved only the newest
    # (its solves: every round's, the probe round's included, less those two).
    assert sleeper.solves == res.iterations + res.probe_rounds - 2


def test_without_stale_rounds_every_round_waits_for_everyone():
    ref = dro.run_coordinated_optimization(
        _tutorial_actors(), dro.create_sharing_target_distance_admm_coordinator(), TUTORIAL_START)
    res, sleeper = _run_with_sleeper(stale_rounds=0, sleep_s=0.5)
    assert res.stale_replies == {} and sleeper.solves == res.iterations + res.probe_rounds
    assert res.iterations == ref.iterations  # nothing changed but the time
    np.testing.assert_allclose(res.z, ref.z, rtol=0, atol=1e-12)


def test_stale_rounds_must_be_a_non_negative_integer(capsys):
    with pytest.raises(ValueError, match="stale_rounds must be non-negative"):
        dro.create_sharing_target_distance_admm_coordinator(stale_rounds=-1)
    with pytest.raises(TypeError, match="stale_rounds must be an integer"):
        dro.create_sharing_target_distance_admm_coordinator(stale_rounds=1.5)
    assert cli.main(["flex-sharing", "--actors", "10", "--stale-rounds", "-2"]) == 2
    assert "--stale-rounds must be 0 or more" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_a_tcp_agent_stopped_for_a_second_is_carried_and_the_optimum_reached(tmp_path):
    """SIGSTOP freezes one agent process mid-run (as a stalled host would); carried for three
    rounds, then waited for, it resumes after SIGCONT and the run ends at the optimum."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from test_distributed import _agents_with

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed_resource_optimization", "flex-sharing", "--actors",
         "1000", "--seed", "626262", "--processes", "3", "--runtime", "tcp", "--stale-rounds",
         "3", "--no-polish", "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DRO_AGENT_START": "exec"})  # the agents named on their command lines
    try:
        lines = []
        while "iteration 500" not in (lines[-1] if lines else ""):
            lines.append(proc.stderr.readline())
            assert lines[-1] or proc.poll() is None, "".join(lines)
        victim = next(pid for pid in _agents_with("--seed 626262")
                      if "--flex-share 2/3" in open(f"/proc/{pid}/cmdline").read()
                      .replace("\0", " "))
        os.kill(victim, signal.SIGSTOP)
        time.sleep(1.0)
        os.kill(victim, signal.SIGCONT)
        code = proc.wait(120)
        err = "".join(lines) + proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    # Carried for the three rounds --stale-rounds allows while it was frozen (1 s: many rounds),
    # then waited for. A reply that comes late on a loaded machine (the suite's two workers
    # fill both cores) is carried too: more stale replies are timing, not a fault.
    assert summary["stale_replies"].get("fleet_2", 0) >= 3
    assert summary["objective_gap_rel"] < 1e-4


def test_a_latency_delays_every_round_and_changes_nothing_else():
    """Faults.latency: every message takes the stated time. The run is the same (iterations,
    objective) and its wall time at least two latencies per round; the estimate from a run
    without latency (ADMMResult.wall_time_at_latency) counts the same round trips."""
    from distributed_resource_optimization.flex_sharing import run_flex_sharing
    from distributed_resource_optimization.runtime.transport import Faults

    one_way = 0.004
    plain = run_flex_sharing(12, seed=5)
    delayed = run_flex_sharing(12, seed=5, faults=Faults.latency(one_way))
    assert delayed.admm.iterations == plain.admm.iterations
    assert delayed.admm.objective == plain.admm.objective
    assert delayed.admm.wall_time_s >= 2 * one_way * delayed.admm.iterations
    estimate = plain.admm.wall_time_at_latency(one_way)
    # The probe round and the polish rounds are round trips too.
    rounds = plain.admm.iterations + plain.admm.probe_rounds + plain.admm.polish_rounds
    assert estimate == pytest.approx(plain.admm.wall_time_s + 2 * one_way * (rounds + 2))
    with pytest.raises(ValueError, match="one_way_s"):
        Faults.latency(-1.0)


# -- when a request is sent again ----------------------------------------------------------------

def test_a_lost_first_join_is_asked_for_again_after_the_floor_and_sets_no_pace():
    """With nothing to go by, the first resend waits RESEND_FIRST_S (an eighth of the default
    timeout, 3.75 s, made one lost join cost that much); a round that waited for a resend is
    not a measure of the participants' speed, a lossless one is."""
    import asyncio

    from distributed_resource_optimization.runtime.engine import RESEND_FIRST_S, CoordinatorAgent
    from distributed_resource_optimization.runtime.messages import JoinReply, JoinRequest
    from distributed_resource_optimization.runtime.transport import InProcessTransport

    class DropFirstJoin(InProcessTransport):
        dropped = 0

        async def send(self, sender, receiver, message):
            if isinstance(message, JoinRequest) and not self.dropped:
                self.dropped += 1
                return
            await super().send(sender, receiver, message)

    async def scenario(timeout: float):
        transport = DropFirstJoin()
        agent = CoordinatorAgent("coordinator", dro.ADMMGenericCoordinator(
            dro.ADMMSharingGlobalActor(), reply_timeout=timeout), ["p"], transport)
        first = agent._resend_interval(JoinReply)
        inbox = transport.register("p")

        async def participant():
            while True:
                _, msg = await inbox.receive(timeout)
                await transport.send("p", "coordinator", JoinReply(msg.session, ("p",), (1,)))

        answering = asyncio.create_task(participant())
        try:
            lossy = await agent._round([JoinRequest("s1")], JoinReply, "s1")
            after_lossy = {kind: list(times) for kind, times in agent._round_times.items()}
            clean = await agent._round([JoinRequest("s2")], JoinReply, "s2")
        finally:
            answering.cancel()
        return first, agent, lossy, after_lossy, clean

    first, agent, lossy, after_lossy, clean = asyncio.run(scenario(30.0))
    assert first == RESEND_FIRST_S
    assert agent.resent == 1 and lossy[0].names == ("p",) and clean[0].session == "s2"
    assert JoinReply not in after_lossy and len(agent._round_times[JoinReply]) == 1
    # never later than an eighth of the timeout, so several tries fit before it
    assert asyncio.run(scenario(2.0))[0] == 2.0 / 8
