"""What participants publish at join and derive at setup, and who receives what: each
participant gets only the keys it subscribes to, after the participants that derive them."""

from __future__ import annotations

import numpy as np
import pytest

import distributed_resource_optimization as dro
from distributed_resource_optimization.local.blocks import publish_and_configure, setup_waves
from distributed_resource_optimization.runtime.codec import WireCodec
from distributed_resource_optimization.runtime.messages import SetupReply, SetupRequest
from distributed_resource_optimization.runtime.transport import InProcessTransport

VARIABLES = ("x0", "x1")


class Quadratic(dro.LocalModel):
    """``f(x) = 1/2 ||x - c||^2`` on the global variables ``x0``, ``x1``; ``c`` comes from its
    own data (``own``) or from what it receives (``from_key``: the per-variable values of a
    join publication, or the one value ``"mean"`` of a derived one)."""

    def __init__(self, name, *, own=None, from_key=None, subscriptions=(), derives=()):
        super().__init__(2, name=name, variables=VARIABLES)
        self.own = None if own is None else np.asarray(own, dtype=float)
        self.from_key = from_key
        self.subscriptions = subscriptions
        self.derives = derives
        self.received: dict | None = None
        self.c = self.own

    def publish(self):
        return None if self.own is None else {"target": self.own}

    def configure(self, published):
        self.received = {k: dict(v) for k, v in published.items()}
        if self.from_key == "target":
            self.c = np.array([published["target"][v] for v in VARIABLES])
        elif self.from_key == "mean":
            self.c = np.full(2, published["mean"]["m"])

    def derived(self):
        return {"mean": {"m": float(np.mean(self.c))}} if "mean" in self.derives else None

    def solve(self, v, rho):
        return (self.c + rho * v) / (1.0 + rho)

    def objective(self, x):
        return 0.5 * float(np.sum((x - self.c) ** 2))


def _actors():
    a = Quadratic("publisher", own=[1.0, 3.0])
    b = Quadratic("deriver", from_key="target", subscriptions=("target",), derives=("mean",))
    c = Quadratic("reader", from_key="mean", subscriptions=("mean",))
    return a, b, c


class RecordingTransport(InProcessTransport):
    def __init__(self) -> None:
        super().__init__(codec=WireCodec())  # through the codec, as over the network
        self.log: list = []

    async def send(self, sender, receiver, message):
        self.log.append((sender, receiver, message))
        await super().send(sender, receiver, message)


def test_setup_waves_order_the_participants_by_what_they_read() -> None:
    names = ["a", "b", "c", "d"]
    # d reads what c derives, c what b derives; a reads every join key (None): first wave
    waves = setup_waves([None, (), ("k",), ("m", "unknown")], [(), ("k",), ("m",), ()], names)
    assert waves == [[0, 1], [2], [3]]
    assert setup_waves([None] * 3, [()] * 3, names[:3]) == [[0, 1, 2]]
    # a key nobody derives is just absent (a model may treat it as optional)
    assert setup_waves([("nobody",)], [()], ["a"]) == [[0]]


@pytest.mark.parametrize(("subscriptions", "derives", "cycle"), [
    ([("k",)], [("k",)], "'a' -> 'a'"),
    ([("k",), ("m",)], [("m",), ("k",)], "'a' -> 'b' -> 'a'"),
])
def test_a_cycle_of_derived_publications_is_refused_naming_it(subscriptions, derives,
                                                              cycle) -> None:
    with pytest.raises(ValueError, match=cycle):
        setup_waves(subscriptions, derives, ["a", "b"][:len(derives)])


def test_each_participant_receives_what_it_subscribes_to_and_the_run_reaches_the_optimum(
) -> None:
    actors = _actors()
    transport = RecordingTransport()
    res = dro.run_coordinated_optimization(
        list(actors), dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor(),
                                                 abs_tol=1e-8, rel_tol=1e-8),
        dro.create_admm_start(), carrier=transport, vectorize=False)
    publisher, deriver, reader = actors
    # Hand-derived: the sum of 1/2 ||x - c_i||^2 is least at the mean of the c_i, with
    # c = (1, 3) for the publisher and the deriver and (2, 2) for the reader.
    np.testing.assert_allclose(res.z, [4.0 / 3.0, 8.0 / 3.0], atol=1e-6)
    assert publisher.received == {}
    assert deriver.received == {"target": {"x0": 1.0, "x1": 3.0}}
    assert reader.received == {"mean": {"m": 2.0}}
    setups = [(receiver, m) for _, receiver, m in transport.log if isinstance(m, SetupRequest)]
    # the reader's setup is sent after the deriver answered its own
    order = [receiver for receiver, _ in setups]
    assert len(order) == 3 and order.index(_agent(transport, "reader")) == 2
    replies = {sender: m for sender, _, m in transport.log if isinstance(m, SetupReply)}
    assert [p.key for p in replies[_agent(transport, "deriver")].publications] == ["mean"]


def _agent(transport: RecordingTransport, actor: str) -> str:
    """The agent address that answered for ``actor`` (its join reply names it)."""
    for sender, _, m in transport.log:
        if getattr(m, "names", None) == (actor,):
            return sender
    raise AssertionError(f"no join reply of {actor!r}")


def test_in_process_configuration_follows_the_same_waves() -> None:
    publisher, deriver, reader = _actors()
    published = publish_and_configure([reader, deriver, publisher])  # any order of the list
    assert reader.received == {"mean": {"m": 2.0}}
    assert deriver.received == {"target": {"x0": 1.0, "x1": 3.0}}
    assert published == {"target": {"x0": 1.0, "x1": 3.0}, "mean": {"m": 2.0}}


def test_a_derived_key_the_model_does_not_declare_is_refused() -> None:
    publisher, deriver, _ = _actors()
    deriver.derives = ()  # but its derived() still returns "mean"
    deriver.derived = lambda: {"mean": {"m": 2.0}}
    with pytest.raises(dro.LocalModelError, match="does not declare"):
        publish_and_configure([publisher, deriver])
