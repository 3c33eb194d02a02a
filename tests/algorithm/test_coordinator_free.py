"""Coordinator-free runs: the in-process carrier, topologies, termination, errors and timeouts.

References: a gossip of the maximum (the answer is known: the largest value, everywhere), the
reference package's SimpleCarrier behaviour (addresses from 1, sender in meta, replies reach
``send_awaitable``, the done event of quiescence), and a coordinated algorithm written as message
handlers (plain sharing ADMM of flex actors) against the engine's optimum.
"""

from __future__ import annotations

import asyncio
import runpy
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import distributed_resource_optimization as dro
from distributed_resource_optimization import (
    ActorContainer,
    ADMMAnswer,
    ADMMMessage,
    Coordinator,
    DistributedAlgorithm,
    SimpleCarrier,
    cid,
    run_distributed_optimization,
    start_distributed_optimization,
)
from distributed_resource_optimization.carrier import neighbour_lists
from distributed_resource_optimization.runtime.engine import ParticipantError
from distributed_resource_optimization.runtime.transport import CoordinationTimeoutError

#: The example of docs/custom_algorithm.md (examples/custom_algorithm.py), tested here.
EXAMPLE = runpy.run_path(str(Path(__file__).parents[2] / "examples" / "custom_algorithm.py"))
MaxGossip = EXAMPLE["MaxGossip"]


VALUES = [3.0, 9.0, 1.0, 4.0, 7.0, 2.0]


@pytest.mark.parametrize("topology", [None, "complete", "ring", {0: [1], 1: [0, 2], 2: [1, 3],
                                                                   3: [2, 4], 4: [3, 5], 5: [4]},
                                      nx.path_graph(6), np.eye(6, k=1) + np.eye(6, k=-1)])
def test_gossip_reaches_everyone_on_every_topology(topology) -> None:
    res = run_distributed_optimization([MaxGossip(v) for v in VALUES], None, topology=topology)
    assert res.solutions == [max(VALUES)] * len(VALUES)
    assert res.converged and res.status == "finished" and res.messages > len(VALUES)
    # On a path the news of 9 (at position 1) needs 4 hops to reach position 5.
    complete = topology is None or (isinstance(topology, str) and topology == "complete")
    assert res.rounds >= (2 if complete else 4)


def test_neighbour_lists_check_the_graph() -> None:
    assert neighbour_lists("ring", 4) == [[1, 3], [0, 2], [1, 3], [0, 2]]
    assert neighbour_lists(None, 3) == [[1, 2], [0, 2], [0, 1]]
    with pytest.raises(ValueError, match="not connected"):
        neighbour_lists({0: [1], 1: [0], 2: [3], 3: [2]}, 4)
    with pytest.raises(ValueError, match="links are two-way"):
        neighbour_lists({0: [1], 1: [], 2: [1]}, 3)
    with pytest.raises(ValueError, match="its own neighbour"):
        neighbour_lists({0: [0, 1], 1: [0]}, 2)
    with pytest.raises(ValueError, match="nodes must be the positions"):
        neighbour_lists(nx.path_graph(["a", "b"]), 2)
    with pytest.raises(ValueError, match="topology must be one of complete, ring"):
        neighbour_lists("star", 3)


def test_simple_carrier_addresses_meta_and_replies() -> None:
    async def main():
        container = ActorContainer()
        got: list = []

        class Echo(DistributedAlgorithm):
            async def on_exchange_message(self, carrier, content, meta):
                got.append((carrier.get_address(), content, meta["sender"]))
                if content == "ping":
                    carrier.reply_to_other("pong", meta)

        a, b, c = (SimpleCarrier(container, Echo()) for _ in range(3))
        assert [cid(a), cid(b), cid(c)] == [1, 2, 3] and b.others("x") == [1, 3]
        a.send_to_other("hello", cid(c))
        await asyncio.wait_for(container.done_event.wait(), 2.0)
        reply = await asyncio.wait_for(a.send_awaitable("ping", cid(b)), 2.0)
        return got, reply

    got, reply = asyncio.run(main())
    assert got[0] == (3, "hello", 1) and (2, "ping", 1) in got and reply == "pong"


def test_a_failing_handler_names_the_participant() -> None:
    class Boom(DistributedAlgorithm):
        async def on_exchange_message(self, carrier, message_data, meta):
            raise RuntimeError("local solver failed")

    with pytest.raises(ParticipantError, match=r"participant 2 \(Boom\): RuntimeError: local"):
        run_distributed_optimization([MaxGossip(1.0), Boom()], None)


def test_a_run_that_never_ends_times_out() -> None:
    class PingPong(DistributedAlgorithm):
        async def on_exchange_message(self, carrier, message_data, meta):
            await asyncio.sleep(0.01)
            carrier.send_to_other(message_data, meta["sender"])

    with pytest.raises(CoordinationTimeoutError, match="did not end within 0.3 s"):
        run_distributed_optimization([PingPong(), PingPong()], "ball", timeout=0.3)


def test_bad_input_is_refused_before_the_run() -> None:
    with pytest.raises(ValueError, match="actors must not be empty"):
        run_distributed_optimization([], None)
    with pytest.raises(TypeError, match=r"actors\[1\] is a int, not a distributed algorithm"):
        run_distributed_optimization([MaxGossip(1.0), 3], None)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        run_distributed_optimization([MaxGossip(1.0)], None, timeout=0)


def test_synchronous_twin_inside_a_running_loop() -> None:
    async def notebook_cell():
        return run_distributed_optimization([MaxGossip(v) for v in VALUES], None)

    assert asyncio.run(notebook_cell()).solutions == [9.0] * 6
    res = asyncio.run(start_distributed_optimization([MaxGossip(2.0)], None))
    assert res.solutions == [2.0]  # one participant: the start reaches it from itself


class PlainSharingADMM(Coordinator):
    """A coordinated algorithm written as message handlers: plain scaled sharing ADMM for a
    weighted L1 target distance (Boyd et al. 2011, 7.3), fixed rho, as a user would write it."""

    def __init__(self, rho: float = 1.0, iterations: int = 3000) -> None:
        self.rho, self.iterations = rho, iterations

    async def start_optimization(self, carrier, message_data, meta):
        target, w = message_data.data.target, message_data.data.priorities
        peers = carrier.others("coordinator")
        n, m = len(peers), target.size
        x, z, u = np.zeros((n, m)), np.zeros(m), np.zeros(m)
        for _ in range(self.iterations):
            xbar = x.mean(axis=0)
            replies = await asyncio.gather(*[
                carrier.send_awaitable(ADMMMessage(v=-(x[i] - xbar + z - u), rho=self.rho), p)
                for i, p in enumerate(peers)])
            x = np.array([r.x for r in replies])
            xbar = x.mean(axis=0)
            # z-update: argmin sum_k w_k |n z_k - t_k| + n rho / 2 ||z - xbar - u||^2 (soft
            # threshold of the aggregate towards the target).
            a = n * (xbar + u)
            s = target + np.sign(a - target) * np.maximum(np.abs(a - target) - n * w / self.rho, 0)
            z = s / n
            u = u + xbar - z
        return [row for row in x]


def test_custom_coordinated_algorithm_on_the_carrier_matches_the_engine() -> None:
    def actors():
        return [dro.create_admm_flex_actor_one_to_many(10, [0.1, 0.5, -1.0]),
                dro.create_admm_flex_actor_one_to_many(15, [0.1, 0.5, -1.0]),
                dro.create_admm_flex_actor_one_to_many(10, [-1.0, 0.0, 1.0])]

    start = dro.create_admm_start(dro.create_admm_sharing_data([-4, 0, 6], [5, 1, 1]))
    mine = asyncio.run(dro.start_coordinated_optimization(actors(), PlainSharingADMM(), start))
    ours = dro.run_coordinated_optimization(
        actors(), dro.create_sharing_target_distance_admm_coordinator(), start)
    np.testing.assert_allclose(np.sum(mine, axis=0), ours.z, atol=1e-3)
    np.testing.assert_allclose(mine[2], [-4.0, 0.0, 4.0], atol=1e-3)
    assert isinstance(ADMMAnswer(x=np.zeros(1)), dro.OptimizationMessage)


def test_custom_algorithm_example_clears_at_equal_marginal_cost() -> None:
    example = EXAMPLE
    gens = [example["Generator"](0.05, 0.001, 50.0), example["Generator"](0.08, 0.0005, 80.0)]
    price = asyncio.run(dro.start_coordinated_optimization(
        gens, example["PriceCoordinator"](100.0), 0.1))
    # Centralized: both interior, c_i + 2 e_i P_i = price and P_1 + P_2 = 100.
    A = np.array([[0.002, 0.0, -1.0], [0.0, 0.001, -1.0], [1.0, 1.0, 0.0]])
    p1, p2, lam = np.linalg.solve(A, [-0.05, -0.08, 100.0])
    assert price == pytest.approx(lam, abs=1e-6)
    np.testing.assert_allclose([g.P for g in gens], [p1, p2], atol=1e-3)
