"""The distributed interior-point method over agents: every request and reply encoded to bytes
and back, with lost, duplicated, delayed and reordered messages, gives the very run of the
in-process loop (bit for bit: the same arithmetic on the same numbers), and its Lagrangian bound
at the balanced final prices is a lower bound on the optimum of the stacked LP (HiGHS: within
1e-7 of it at the stop, and above it by at most HiGHS's own accuracy, 1e-8)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import distributed_resource_optimization as dro
from distributed_resource_optimization import cli
from distributed_resource_optimization.flex_sharing import run_flex_sharing
from distributed_resource_optimization.interior_point.consensus import solve_consensus
from distributed_resource_optimization.interior_point.sharing import InteriorPointCoordinator
from distributed_resource_optimization.local.blocks import SingleModelGroup
from distributed_resource_optimization.local.interior_point import barrier_participants
from distributed_resource_optimization.local.lp import LPLocalModel
from distributed_resource_optimization.local.qp import QPLocalModel
from distributed_resource_optimization.runtime.codec import WireCodec
from distributed_resource_optimization.runtime.engine import in_process_session
from distributed_resource_optimization.runtime.transport import (
    Faults,
    InProcessTransport,
    ParticipantError,
)


def _models(seed: int = 11, n_parts: int = 3, n_global: int = 6) -> list[LPLocalModel]:
    """Random feasible, bounded LPs coupled on named entries, 2 or 3 owners each (as
    tests/interior_point's instances)."""
    rng = np.random.default_rng(seed)
    owners = [rng.choice(n_parts, size=rng.integers(2, n_parts + 1), replace=False)
              for _ in range(n_global)]
    agreed = rng.uniform(-1, 1, n_global)
    models = []
    for i in range(n_parts):
        entries = [j for j in range(n_global) if i in owners[j]]
        n = len(entries) + int(rng.integers(2, 5))
        w0 = rng.uniform(-1, 1, n)
        w0[:len(entries)] = agreed[entries]
        lb, ub = w0 - rng.uniform(0.5, 3, n), w0 + rng.uniform(0.5, 3, n)
        a_ub = rng.normal(size=(3, n))
        a_eq = rng.normal(size=(1, n))
        models.append(LPLocalModel(rng.normal(size=n), a_eq, a_eq @ w0, a_ub,
                                   a_ub @ w0 + rng.uniform(0.2, 1, 3), lb, ub,
                                   exchange=np.arange(len(entries)), free=[], solver="clarabel",
                                   name=f"part{i}", variables=[f"g{j}" for j in entries]))
    return models


def _optimum(models: list[LPLocalModel]) -> float:
    """The stacked LP (HiGHS): every model's columns, the exchanged ones equal per name."""
    names = sorted({v for m in models for v in m.variables})
    sizes = [m.lp[0].size for m in models]
    offsets = np.cumsum([0] + sizes)
    n = offsets[-1] + len(names)
    c = np.zeros(n)
    eq, eq_b, ub, ub_b, bounds = [], [], [], [], []
    for m, o in zip(models, offsets):
        cost, a_eq, b_eq, a_ub, b_ub, lb, hi = m.lp
        k = cost.size
        c[o:o + k] = cost
        for rows, b, target, target_b in ((a_eq, b_eq, eq, eq_b), (a_ub, b_ub, ub, ub_b)):
            block = np.zeros((rows.shape[0], n))
            block[:, o:o + k] = np.asarray(rows.todense() if hasattr(rows, "todense") else rows)
            target.append(block)
            target_b.append(b)
        bounds += list(zip(lb, hi))
        for col, name in zip(m.exchange_index, m.variables):
            row = np.zeros((1, n))
            row[0, o + col], row[0, offsets[-1] + names.index(name)] = 1.0, -1.0
            eq.append(row)
            eq_b.append(np.zeros(1))
    res = linprog(c, A_ub=np.vstack(ub), b_ub=np.concatenate(ub_b), A_eq=np.vstack(eq),
                  b_eq=np.concatenate(eq_b), bounds=bounds + [(None, None)] * len(names),
                  method="highs")
    assert res.status == 0
    return float(res.fun)


def _over_agents(models, transport):
    async def run():
        coordinator = dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor(),
                                                 reply_timeout=4.0)
        groups = {m.label: SingleModelGroup(m) for m in models}
        async with in_process_session(groups, coordinator, transport) as session:
            return await session.run_interior_point()

    return asyncio.run(run())


@pytest.mark.slow  # the lost messages' resends wait (about 3 s)
def test_over_a_lossy_encoding_transport_equals_the_in_process_run_and_bounds_the_optimum():
    reference = solve_consensus(*barrier_participants(_models())[:2],
                                len(barrier_participants(_models())[2]))
    models = _models()
    faults = Faults(drop=0.1, duplicate=0.15, delay=(0.0, 0.002), seed=3)
    lossy = faults.wrap(InProcessTransport(codec=WireCodec("msgpack")))
    outcome = _over_agents(models, lossy)
    run = outcome.run
    assert run.converged and reference.converged
    assert lossy.faults.dropped > 0 and lossy.faults.duplicated > 0
    assert outcome.resent_requests > 0
    # The same run, bit for bit: a request answered twice or out of order would move a point.
    assert (run.iterations, run.rounds) == (reference.iterations, reference.rounds)
    for got, want in zip(run.x + run.y, reference.x + reference.y):
        np.testing.assert_array_equal(got, want)
    assert run.objective == reference.objective
    assert sorted(outcome.labels) == [f"g{j}" for j in range(6)]
    # Each actor's cost is its own point's; their sum is the run's objective.
    assert outcome.objectives.sum() == pytest.approx(run.objective, rel=1e-12, abs=1e-12)
    # The outputs stay with the actors (what a re-linearisation starts from).
    for m, x in zip(models, run.x):
        np.testing.assert_array_equal(m.x, x)
    optimum = _optimum(models)
    scale = 1.0 + abs(optimum)
    assert abs(run.objective - optimum) <= 1e-7 * scale
    # HiGHS solves the stacked LP and the bound's terms each to about 1e-8 (measured: the
    # bound 2.7e-9 above the optimum, relative).
    assert optimum - 1e-7 * scale <= outcome.lower_bound <= optimum + 1e-8 * scale


def test_an_actor_without_an_lp_form_is_named():
    models = _models()[:2]
    qp = QPLocalModel(np.zeros(1), np.eye(1), name="quadratic", variables=["g0"])
    with pytest.raises(ParticipantError, match="'quadratic'.*no LP form"):
        _over_agents([*models, qp], InProcessTransport())


@pytest.mark.slow
@pytest.mark.processes
def test_a_process_that_ran_the_method_over_agents_exits_cleanly():
    """The participants' factorisations (SuperLU) run in the process's local-work thread; the
    thread ends at exit, so the interpreter's finalisation flushes stdout (it failed with exit
    code 120 while the thread was left running)."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_interior_point_agents import _models, _over_agents
        from distributed_resource_optimization.runtime.transport import InProcessTransport
        print(_over_agents(_models(), InProcessTransport()).run.rounds)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().isdigit() and "Exception ignored" not in done.stderr


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_flex_sharing_in_agent_processes_over_tcp_equals_the_in_process_run(tmp_path):
    """``dro flex-sharing --method interior-point`` with two fleet agent processes over TCP:
    every round carries the fleets' sums (3 values and a 3 x 3 sensitivity), the actors' own
    outputs travel once; the same run as two fleets in this process, bit for bit."""
    inproc = run_flex_sharing(200, seed=3, processes=2,
                              coordinator=InteriorPointCoordinator())
    out = tmp_path / "flex"
    code = cli.main(["flex-sharing", "--actors", "200", "--seed", "3", "--processes", "2",
                     "--runtime", "tcp", "--method", "interior-point", "--figures", "none",
                     "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "interior-point" and summary["runtime"] == "tcp"
    assert summary["iterations"] == inproc.admm.iterations
    assert summary["objective"] == inproc.admm.objective
    assert summary["objective_gap_rel"] <= 1e-6 and summary["gap_certified"] <= 1e-6
    actors = pd.read_csv(out / "actors.csv")
    np.testing.assert_array_equal(actors.filter(like="output_").to_numpy(),
                                  inproc.outputs())
    # The rounds carry sums: far less than one value per actor and round.
    assert summary["bytes_sent"] < 200 * 3 * 8 * summary["iterations"]


def test_the_flex_command_refuses_admm_options(tmp_path, capsys):
    out = tmp_path / "flex"
    code = cli.main(["flex-sharing", "--actors", "5", "--method", "interior-point",
                     "--gap-tol", "1e-3", "--out", str(out)])
    assert code == 2
    assert "--gap-tol belong to --method admm" in capsys.readouterr().err
    assert not out.exists()
