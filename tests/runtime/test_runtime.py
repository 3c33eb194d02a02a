"""Runtime: timeouts instead of hangs, the protocol's message contents, carrier independence."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import distributed_resource_optimization as dro
from distributed_resource_optimization.local.blocks import SingleModelGroup
from distributed_resource_optimization.runtime.engine import CoordinatorAgent, ParticipantAgent
from distributed_resource_optimization.runtime.messages import SolveReply, SolveRequest
from distributed_resource_optimization.runtime.transport import InProcessTransport


class SlowActor(dro.LocalModel):
    """Takes longer than the coordinator's reply timeout."""

    def __init__(self) -> None:
        super().__init__(3, name="sleepy")

    def solve(self, v, rho):
        import time

        time.sleep(0.5)
        return np.zeros(3)


def test_silent_participant_times_out_with_clear_error() -> None:
    coord = dro.create_sharing_target_distance_admm_coordinator(reply_timeout=0.2)
    start = dro.create_admm_start(dro.create_admm_sharing_data([1.0, 2.0, 3.0]))
    carrier = InProcessTransport()

    async def main():
        # A participant address that is registered but never answers.
        carrier.register("ghost")
        agent = ParticipantAgent("p0", SingleModelGroup(
            dro.create_admm_flex_actor_one_to_many(1.0, [1.0, 1.0, 1.0], name="a")), carrier)
        task = asyncio.ensure_future(agent.serve())
        try:
            await CoordinatorAgent("coordinator", coord, ["p0", "ghost"], carrier).run(
                start.data)
        finally:
            task.cancel()

    with pytest.raises(dro.CoordinationTimeoutError, match="no reply from ghost within 0.2 s"):
        asyncio.run(main())


class BlockingActor(dro.LocalModel):
    """A solve that blocks (in C or Python alike) until the test releases it."""

    def __init__(self) -> None:
        import threading

        super().__init__(3, name="blocking")
        self.release = threading.Event()
        self.finished = False

    def solve(self, v, rho):
        self.release.wait(30.0)
        self.finished = True
        return np.zeros(3)


def test_reply_timeout_fires_while_a_solve_is_still_running() -> None:
    """Local work runs off the event loop: the coordinator's timeout is not held up by it."""
    actor = BlockingActor()
    coord = dro.create_sharing_target_distance_admm_coordinator(reply_timeout=0.3)
    start = dro.create_admm_start(dro.create_admm_sharing_data([1.0, 2.0, 3.0]))
    try:
        with pytest.raises(dro.CoordinationTimeoutError, match="within 0.3 s"):
            dro.run_coordinated_optimization([actor], coord, start)
        # Had the solve held the loop, the error could only have come after it finished.
        assert not actor.finished
    finally:
        actor.release.set()


def test_slow_local_solve_times_out() -> None:
    coord = dro.create_sharing_target_distance_admm_coordinator(reply_timeout=0.2)
    start = dro.create_admm_start(dro.create_admm_sharing_data([1.0, 2.0, 3.0]))
    with pytest.raises(dro.CoordinationTimeoutError):
        # The slow actor blocks the event loop in-process; the deadline is checked on wake-up.
        dro.run_coordinated_optimization([SlowActor()], coord, start)


class RecordingCarrier(InProcessTransport):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str, object]] = []

    async def send(self, sender, receiver, message):
        self.log.append((sender, receiver, message))
        await super().send(sender, receiver, message)


def test_messages_carry_only_exchange_vectors_and_prices() -> None:
    carrier = RecordingCarrier()
    actors = [dro.create_admm_flex_actor_one_to_many(10.0, [0.1, 0.5, -1.0], P=[1.0, 0.0, 0.0]),
              dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0])]
    start = dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1]))
    res = dro.run_coordinated_optimization(actors, dro.create_sharing_target_distance_admm_coordinator(),
                                           start, carrier=carrier, vectorize=False)
    solves = [m for _, _, m in carrier.log if isinstance(m, SolveRequest)]
    replies = [m for _, _, m in carrier.log if isinstance(m, SolveReply)]
    # One solve round per iteration and the probe round (no rho given: docs/admm.md 8b).
    assert res.probe_rounds == 1
    assert len(solves) == len(replies) == 2 * (res.iterations + res.probe_rounds)
    for m in solves:
        assert set(vars(m)) == {"session", "iteration", "target", "price", "rho", "dual_price"}
        assert m.target.shape == m.price.shape == (3,)
        assert m.dual_price is None or m.dual_price.shape == (3,)
    for m in replies:
        assert set(vars(m)) == {"session", "iteration", "x", "error", "dual_term", "objective"}
        assert m.x.shape == (3,)
        assert all(v is None or isinstance(v, float) for v in (m.dual_term, m.objective))
    # No message carries the private model data (capacity, eta, P).
    for _, _, m in carrier.log:
        assert not any(k in vars(m) for k in ("eta", "P", "in_capacity"))


def test_custom_carrier_subclass_is_used_and_agrees() -> None:
    carrier = RecordingCarrier()
    a = [dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0])]
    start = dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1]))
    res = dro.run_coordinated_optimization(a, dro.create_sharing_target_distance_admm_coordinator(),
                                           start, carrier=carrier)
    assert carrier.log and res.converged
    np.testing.assert_allclose(a[0].x, [-4.0, 0.0, 4.0], atol=1e-4)


def test_local_failure_is_reported_not_hung() -> None:
    class Broken(dro.LocalModel):
        def __init__(self):
            super().__init__(3, name="broken")

        def solve(self, v, rho):
            raise RuntimeError("sensor offline")

    start = dro.create_admm_start(dro.create_admm_sharing_data([1.0, 2.0, 3.0]))
    with pytest.raises(dro.CoordinationError, match="broken.*sensor offline"):
        dro.run_coordinated_optimization([Broken()], dro.create_sharing_target_distance_admm_coordinator(),
                                         start)


def test_synchronous_entry_point_works_inside_a_running_loop() -> None:
    """As in a Jupyter cell: the caller's thread already runs an event loop."""
    def make():
        actors = [dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0])]
        start = dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1]))
        return actors, dro.create_sharing_target_distance_admm_coordinator(), start

    expected = dro.run_coordinated_optimization(*make())

    async def cell():
        return dro.run_coordinated_optimization(*make())

    inside = asyncio.run(cell())
    assert inside.iterations == expected.iterations
    np.testing.assert_allclose(inside.z, expected.z, atol=1e-12)


def test_a_timeout_names_at_most_ten_participants() -> None:
    from distributed_resource_optimization.runtime.transport import name_list

    names = [f"building_{k}" for k in range(1, 1001)]
    assert name_list(names[:3]) == "building_1, building_2, building_3"
    text = name_list(names)
    assert text.endswith("building_10 and 990 more") and text.count(",") == 9
