"""The reference package's mango-agents integration (``runtime.roles``): roles, their carrier, the
coordinator's start and end.

The reference's tests (tests/test_mango_carrier.py, same scenarios; run with ``asyncio.run`` as
there is no pytest-asyncio, on free ports instead of fixed ones), with the numbers checked
against independent references: the ADMM engine run in one process on the same actors (the
roles must give exactly its outputs) and the centralised optimum (cvxpy). A handler-written
coordinator runs across two containers (two TCP servers) with the protocol's codec, so its
messages are encoded, never pickled.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from algorithm.test_reference_admm import OBJ_TOL, _central, _objective
from brokers import free_port
from mango import (
    RoleAgent,
    activate,
    agent_composed_of,
    auto_assign,
    complete_topology,
    create_tcp_container,
)

import distributed_resource_optimization as dro
from distributed_resource_optimization import (
    Coordinator,
    CoordinatorRole,
    DistributedOptimizationRole,
    StartCoordinatedDistributedOptimization,
    create_admm_flex_actor_one_to_many,
    create_admm_sharing_data,
    create_sharing_target_distance_admm_coordinator,
)
from distributed_resource_optimization.admm.stopping import ResidualRule
from distributed_resource_optimization.algorithm.admm.sharing_admm import (
    create_sharing_admm_start,
)
from distributed_resource_optimization.runtime.codec import mango_codec

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import custom_algorithm  # noqa: E402  (the how-to's example: its coordinator across containers)

SPECS = [(10, [0.1, 0.5, -1.0]), (15, [0.1, 0.5, -1.0]), (10, [-1.0, 0.0, 1.0])]
TARGET = [-4, 0, 6]


def _actors():
    return [create_admm_flex_actor_one_to_many(c, eta) for c, eta in SPECS]


async def _started(role: CoordinatorRole) -> None:
    # The start handler runs as a task of its own once the message is delivered.
    for _ in range(500):
        if role._done_future is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the coordinator never started")


@pytest.mark.network
def test_coordinator_wait_done_raises_before_start() -> None:
    async def main():
        role = CoordinatorRole(create_sharing_target_distance_admm_coordinator())
        container = create_tcp_container(addr=("127.0.0.1", free_port()))
        container.register(RoleAgent()).add_role(role)
        async with activate(container):
            with pytest.raises(RuntimeError, match="not been started"):
                await role.wait_done()

    asyncio.run(main())


@pytest.mark.network
def test_mango_carrier_get_address_matches_role_context() -> None:
    async def main():
        role = DistributedOptimizationRole(create_admm_flex_actor_one_to_many(10, [0.1, 0.5, -1]))
        container = create_tcp_container(addr=("127.0.0.1", free_port()))
        agent = container.register(RoleAgent())
        agent.add_role(role)
        async with activate(container):
            assert role._carrier.get_address() == agent.addr
            assert role._carrier.others() == []  # no topology: no neighbours

    asyncio.run(main())


@pytest.mark.network
def test_admm_sharing_end_to_end_over_mango_roles_equals_the_engine_in_one_process() -> None:
    actors = _actors()

    async def main():
        container = create_tcp_container(addr=("127.0.0.1", free_port()))
        agents = [container.register(agent_composed_of(DistributedOptimizationRole(a)))
                  for a in actors]
        # The residual rule on both sides: over the roles the participants' messages carry no
        # bound terms, so the default's certified gap (and a polish's certificate) would stop
        # only the in-process run; a remote participant over the roles makes no polish offer.
        coord_role = CoordinatorRole(create_sharing_target_distance_admm_coordinator(
            stopping=ResidualRule(), polish=False))
        coord_agent = container.register(agent_composed_of(coord_role))
        auto_assign(complete_topology(len(agents) + 1), [*agents, coord_agent])
        async with activate(container):
            start = create_sharing_admm_start(create_admm_sharing_data(TARGET))
            await coord_agent.roles[0].context.send_message(
                StartCoordinatedDistributedOptimization(input=start), coord_agent.addr)
            await _started(coord_role)
            result = await asyncio.wait_for(coord_role.wait_done(), 120)
            await asyncio.sleep(0.05)  # the finished messages reach the participants
        return result

    result = asyncio.run(main())
    # The same engine in one process, one actor per participant as over the roles.
    ref_actors = _actors()
    ref = dro.run_coordinated_optimization(
        ref_actors, create_sharing_target_distance_admm_coordinator(stopping=ResidualRule(),
                                                                    polish=False),
        create_sharing_admm_start(create_admm_sharing_data(TARGET)), vectorize=False)
    assert result.iterations == ref.iterations and result.converged
    for a, b, r in zip(actors, ref_actors, result):
        np.testing.assert_array_equal(a.x, b.x)  # stored from OptimizationFinishedMessage
        np.testing.assert_array_equal(r, b.x)
    optimum, _ = _central(actors, TARGET, None, squared=False)
    got = _objective(actors, [a.x for a in actors], TARGET, None, False)
    # The optimum is degenerate (actor 3 anywhere in [4, 6]); the reference stops at 5.617.
    assert abs(got - optimum) <= OBJ_TOL * max(1.0, abs(optimum))
    np.testing.assert_allclose(actors[0].x, 0.0, atol=1e-3)
    np.testing.assert_allclose(actors[1].x, 0.0, atol=1e-3)
    assert 4.0 - 1e-3 <= actors[2].x[2] <= 6.0 + 1e-3 and actors[2].x[0] == -actors[2].x[2]


class Generator(custom_algorithm.Generator):
    """The example's generator (examples/custom_algorithm.py), keeping the coordinator's
    final message."""

    def __init__(self, c: float, e: float, p_max: float) -> None:
        super().__init__(c, e, p_max)
        self.finished = None

    async def on_exchange_message(self, carrier, message_data, meta):
        if isinstance(message_data, dro.OptimizationFinishedMessage):
            self.finished = message_data.result
        await super().on_exchange_message(carrier, message_data, meta)


@pytest.mark.network
def test_handler_coordinator_across_two_containers_through_the_codec() -> None:
    generators = [Generator(0.05, 0.001, 50.0), Generator(0.08, 0.0005, 80.0)]
    traffic = []

    async def main():
        codec_a, codec_b = mango_codec(), mango_codec()
        for codec in (codec_a, codec_b):  # count what crosses between the containers
            encode = codec.encode
            codec.encode = lambda data, encode=encode: traffic.append(encode(data)) or traffic[-1]
        here = create_tcp_container(addr=("127.0.0.1", free_port()), codec=codec_a)
        there = create_tcp_container(addr=("127.0.0.1", free_port()), codec=codec_b)
        agents = [there.register(agent_composed_of(DistributedOptimizationRole(g)))
                  for g in generators]
        role = CoordinatorRole(custom_algorithm.PriceCoordinator(100.0, iterations=100))
        coord = here.register(agent_composed_of(role))
        auto_assign(complete_topology(3), [*agents, coord])
        async with activate(here, there):
            await coord.roles[0].context.send_message(
                StartCoordinatedDistributedOptimization(input=0.1), coord.addr)
            await _started(role)
            price = await asyncio.wait_for(role.wait_done(), 120)
            for _ in range(100):  # the finished messages cross the network too
                if all(g.finished is not None for g in generators):
                    break
                await asyncio.sleep(0.01)
        return price

    price = asyncio.run(main())
    # Centralised dispatch: equal marginal costs c + 2 e P = price with P1 + P2 = 100 kW.
    p1 = (0.08 - 0.05 + 2 * 0.0005 * 100) / (2 * 0.001 + 2 * 0.0005)
    assert price == pytest.approx(0.05 + 2 * 0.001 * p1, rel=1e-6)
    assert [g.P for g in generators] == pytest.approx([p1, 100 - p1], rel=1e-5)
    assert [g.finished for g in generators] == [price, price]  # one result: broadcast
    assert len(traffic) >= 2 * 2 * 100 and all(b[:1] != b"\x80" for b in traffic)  # no pickle


@pytest.mark.network
def test_a_failing_coordinator_is_raised_by_wait_done() -> None:
    class Broken(Coordinator):
        async def start_optimization(self, carrier, message_data, meta):
            raise ValueError("start_message: unusable")

    async def main():
        container = create_tcp_container(addr=("127.0.0.1", free_port()))
        role = CoordinatorRole(Broken())
        agent = container.register(agent_composed_of(role))
        async with activate(container):
            await agent.roles[0].context.send_message(
                StartCoordinatedDistributedOptimization(input=None), agent.addr)
            await _started(role)
            with pytest.raises(ValueError, match="unusable"):
                await asyncio.wait_for(role.wait_done(), 30)

    asyncio.run(main())


@pytest.mark.network
def test_a_message_the_codec_refuses_fails_the_run_instead_of_hanging() -> None:
    @dataclass
    class NotRegistered:  # a plain dataclass: cannot cross between containers
        price: float

    class Asks(Coordinator):
        async def start_optimization(self, carrier, message_data, meta):
            return await carrier.send_awaitable(NotRegistered(1.0), carrier.others("c")[0])

    async def main():
        here = create_tcp_container(addr=("127.0.0.1", free_port()), codec=mango_codec())
        there = create_tcp_container(addr=("127.0.0.1", free_port()), codec=mango_codec())
        agent = there.register(agent_composed_of(DistributedOptimizationRole(Generator(1, 1, 1))))
        role = CoordinatorRole(Asks())
        coord = here.register(agent_composed_of(role))
        auto_assign(complete_topology(2), [agent, coord])
        async with activate(here, there):
            await coord.roles[0].context.send_message(
                StartCoordinatedDistributedOptimization(input=None), coord.addr)
            await _started(role)
            with pytest.raises(TypeError, match="NotRegistered cannot travel"):
                await asyncio.wait_for(role.wait_done(), 30)

    asyncio.run(main())
