"""Wire protocol: every message type round-trips through the codecs; runs through an encoding
carrier equal the plain in-process runs; malformed input is refused; nothing is unpickled."""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import distributed_resource_optimization as dro
from distributed_resource_optimization.interior_point.consensus import (
    Factored,
    Predicted,
    StepLimits,
)
from distributed_resource_optimization.runtime.codec import (
    SCHEMAS,
    TYPE_IDS,
    MessageDecodeError,
    WireCodec,
    decode_array,
    encode_array,
    mango_codec,
)
from distributed_resource_optimization.runtime.messages import (
    HANDSHAKE_TYPES,
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    AlgorithmValue,
    CorrectReply,
    CorrectRequest,
    CreditReturn,
    FactorReply,
    FactorRequest,
    FinishReply,
    FinishRequest,
    JoinReply,
    JoinRequest,
    LinkHello,
    LinkWelcome,
    PeerMessage,
    PeerReady,
    PeerReport,
    PeerRunStart,
    PeerStop,
    PolishReply,
    PolishRequest,
    PredictReply,
    PredictRequest,
    Publication,
    SetupReply,
    SetupRequest,
    SolveReply,
    SolveRequest,
)
from distributed_resource_optimization.runtime.transport import InProcessTransport

RNG = np.random.default_rng(7)


def _examples() -> list:
    x = RNG.normal(size=5)
    return [
        JoinRequest("s1"),
        JoinReply("s1", ("a", "b"), (2, 3), (("p_th@2017-01-02T14:00@22", 7), None),
                  (Publication("reference_demand", ("p_th@2017-01-02T14:00@22", 7), x[:2]),)),
        JoinReply("s1", (), (), error="boom"),
        JoinReply("s1", ("a",), (1,), context=(("scenario", "voltage"), ("data", "0f1e"))),
        SetupRequest("s1", (Publication("k", ("v",), np.array([np.inf])),)),
        SetupReply("s1", (np.array([1.0, 2.5e-9]), None)),
        SetupReply("s1"),
        SolveRequest("s1", 3, x, -x, 20.0),
        SolveReply("s1", 3, x * 1e300),
        SolveReply("s1", 4, None, error="infeasible"),
        FinishRequest("s1", x, "max_iterations"),
        FinishReply("s1", np.array([1.5, np.nan])),
        FinishReply("s1", np.array([1.5, -2.0]), outputs=x),
        PeerRunStart("s1", 2, ("participant-1", "participant-2"), ("127.0.0.1:4001", ""), (1,),
                     dro.create_cohda_start_message([1.0, 2.0]), 30.0),
        PeerReady("s1", 2, error="start_message: needs a target"),
        PeerMessage("s1", 1, 2, "m1", True, 7, "3/3", {"lam": x, 3: (1, "a", None)}),
        CreditReturn("s1", 2, "1/1"),
        PeerStop("s1", "finished"),
        PeerReport("s1", 2, {"P": x, "converged": True}, True, 12, 5),
        AlgorithmValue(dro.ADMMMessage(v=x, rho=2.0)),
        LinkHello("coordinator", "aggregator", "00" * 16),
        LinkWelcome("aggregator", "coordinator", "00" * 16, "ff" * 16),
        FactorRequest("s1", 0, 0.0, 0.0),
        FactorRequest("s1", 3, 0.75, 0.5, summed=True),
        FactorReply("s1", 4, Factored(x, ((np.array([0, 3]), RNG.normal(size=(2, 2))),
                                          (np.array([4]), np.array([[2.5e-14]]))),
                                      -x, 1.5e3, 40, 1e-9, 2e-11, -7.25)),
        FactorReply("s1", 4, None, error="the Newton system stays singular"),
        PredictRequest("s1", 4, x),
        PredictReply("s1", 4, Predicted(np.inf, 0.25, (1.0, -2.0, 3e-9), x, x * 0.5)),
        CorrectRequest("s1", 4, -x, 1e-6),
        CorrectReply("s1", 4, StepLimits(0.7, np.inf)),
        PolishRequest("s1", 10, np.array([0.25, -0.5]), 0.05),
        PolishReply("s1", 10, np.array([1.0, 2.0, 0.0, 0.0]), np.array([0.0, 1.0]),
                    np.array([3.0, -1.5]), np.array([0.75]), -2.5),
        PolishReply("s1", 10, error="actor 'a': FlexFleet takes no part"),
    ]


def _equal(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if dataclasses.is_dataclass(a):
        return all(_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def test_schema_covers_every_message_field():
    wire = MESSAGE_TYPES + HANDSHAKE_TYPES
    assert set(SCHEMAS) == set(TYPE_IDS) == set(wire)
    assert len(set(TYPE_IDS.values())) == len(TYPE_IDS)
    for cls in wire:
        assert list(SCHEMAS[cls]) == [f.name for f in dataclasses.fields(cls)]
    assert {type(m) for m in _examples()} == set(wire)


@pytest.mark.parametrize("wire_format", ["json", "msgpack"])
@pytest.mark.parametrize("message", _examples(), ids=lambda m: type(m).__name__)
def test_every_message_round_trips_bit_exactly(message, wire_format):
    codec = WireCodec(wire_format)
    data = codec.encode(message)
    assert isinstance(data, bytes)
    assert _equal(codec.decode(data), message)
    assert _equal(WireCodec().decode(data), message)  # every decoder reads both formats


@pytest.mark.parametrize("message", _examples(), ids=lambda m: type(m).__name__)
def test_every_message_round_trips_through_mango_json(message):
    from mango.messages.message import MangoMessage

    codec = mango_codec("json")
    envelope = MangoMessage(message, {"sender_id": "coordinator", "sender_addr": ["h", 1]})
    back = codec.decode(codec.encode(envelope))
    # Between mango roles the codec unwraps an algorithm's own message again.
    assert _equal(back.content, _unwrapped(message))
    # The type id is the fixed one, whatever the process or class layout.
    wire = json.loads(codec.encode(envelope))
    assert wire["__type__"][1]["content"]["__type__"][0] == TYPE_IDS[type(message)]


def _unwrapped(message):
    return message.content if isinstance(message, AlgorithmValue) else message


@pytest.mark.parametrize("message", _examples(), ids=lambda m: type(m).__name__)
def test_every_message_round_trips_through_msgpack_and_either_side_reads_both(message):
    import msgpack
    from mango.messages.message import MangoMessage

    meta = {"sender_id": "coordinator", "sender_addr": ["h", 1]}
    fast, plain = mango_codec("msgpack"), mango_codec("json")
    envelope = MangoMessage(message, meta)
    for writer in (fast, plain):
        for reader in (fast, plain):
            back = reader.decode(writer.encode(envelope))
            assert _equal(back.content, _unwrapped(message)) and back.meta == meta
    tag, _, type_id, fields = msgpack.unpackb(fast.encode(envelope), raw=False)
    assert (tag, type_id) == ("dro", TYPE_IDS[type(message)])
    for value in fields.values():  # arrays travel as raw little-endian bytes
        if isinstance(value, dict) and "data" in value:
            assert isinstance(value["data"], bytes)


@pytest.mark.slow
@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.floats(allow_nan=False, width=64), max_size=40),
       names=st.lists(st.one_of(st.text(max_size=12), st.integers(-2**62, 2**62)),
                      min_size=1, max_size=5, unique=True))
def test_arrays_and_names_round_trip(values, names):
    a = np.array(values, dtype=float)
    assert np.array_equal(decode_array(json.loads(json.dumps(encode_array(a))), "x"), a)
    pub = Publication("k", tuple(names), np.arange(len(names), dtype=float))
    msg = JoinReply("s", ("a",), (len(names),), (tuple(names),), (pub,))
    assert _equal(WireCodec().decode(WireCodec().encode(msg)), msg)


def _wire(message) -> dict:
    return json.loads(WireCodec().encode(message))


@pytest.mark.parametrize("mutate, match", [
    (lambda w: w.update(type=123), "unknown message type id 123"),
    (lambda w: w["fields"].pop("rho"), "expected fields"),
    (lambda w: w["fields"].update(extra=1), "expected fields"),
    (lambda w: w["fields"].update(iteration="3"), "SolveRequest.iteration: expected an int"),
    (lambda w: w["fields"]["target"].update(dtype="|O"), "dtype must be '<f8'"),
    (lambda w: w["fields"]["target"].update(shape=[7]), "bytes for shape"),
    (lambda w: w["fields"]["target"].update(data="%%%"), "not base64"),
    (lambda w: w["fields"].update(target=[1.0, 2.0]), "expected an encoded array"),
])
def test_malformed_messages_are_refused(mutate, match):
    wire = _wire(SolveRequest("s", 3, np.ones(5), np.zeros(5), 1.0))
    mutate(wire)
    with pytest.raises(MessageDecodeError, match=match):
        WireCodec().decode(json.dumps(wire).encode())


@pytest.mark.parametrize("mutate, match", [
    (lambda f: f["sensitivity"][0].__setitem__(0, [0, 9]), r"positions outside 0\.\.4"),
    (lambda f: f["sensitivity"][0].__setitem__(0, [0]), "a block of shape"),
    (lambda f: f.pop("count"), "expected the fields"),
    (lambda f: f.update(affine=encode_array(np.ones(4))), "4 affine entries for 5 values"),
])
def test_malformed_interior_point_replies_are_refused(mutate, match):
    x = np.arange(5.0)
    wire = _wire(FactorReply("s", 1, Factored(x, ((np.array([0, 1]), np.eye(2)),), x, 1.0, 2,
                                              0.0, 0.0, 0.0)))
    mutate(wire["fields"]["factored"])
    with pytest.raises(MessageDecodeError, match=match):
        WireCodec().decode(json.dumps(wire).encode())


def test_garbage_and_pickles_are_refused(monkeypatch):
    def no_unpickling(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    for data in (b"\x80\x04K\x01.", pickle.dumps(SolveReply("s", 1, None), protocol=4), b"{",
                 b"[]"):
        with pytest.raises(MessageDecodeError):
            WireCodec().decode(data)
    for message in _examples():  # the mango paths do not unpickle either
        from mango.messages.message import MangoMessage

        for fmt in ("json", "msgpack"):
            codec = mango_codec(fmt)
            codec.decode(codec.encode(MangoMessage(message, {})))
    import msgpack

    for data in (msgpack.packb(["dro", {}, 999, {}]), msgpack.packb({"a": 1}), b"\xc1"):
        with pytest.raises(MessageDecodeError):
            mango_codec("msgpack").decode(data)


def test_variable_names_must_be_strings_or_ints_on_the_wire():
    msg = JoinReply("s", ("a",), (1,), ((("p_th", 0, "22"),),))
    with pytest.raises(TypeError, match="strings or ints to travel"):
        WireCodec().encode(msg)


def test_protocol_version_mismatch_is_reported():
    import asyncio

    from distributed_resource_optimization.local.blocks import SingleModelGroup
    from distributed_resource_optimization.runtime.engine import ParticipantAgent

    async def main():
        carrier = InProcessTransport()
        box = carrier.register("coordinator")
        agent = ParticipantAgent("p", SingleModelGroup(
            dro.create_admm_flex_actor_one_to_many(1.0, [1.0])), carrier)
        task = asyncio.ensure_future(agent.serve())
        await carrier.send("coordinator", "p", JoinRequest("s", PROTOCOL_VERSION + 1))
        _, reply = await box.receive(5.0)
        task.cancel()
        return reply

    reply = asyncio.run(main())
    assert isinstance(reply, JoinReply) and "protocol version" in reply.error


# -- whole runs through a carrier that encodes and decodes every message ---------------------

def _tutorial():
    actors = [dro.create_admm_flex_actor_one_to_many(10.0, [0.1, 0.5, -1.0]),
              dro.create_admm_flex_actor_one_to_many(15.0, [0.1, 0.5, -1.0]),
              dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0], P=[0.1, 0, 0])]
    start = dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1]))
    return actors, dro.create_sharing_target_distance_admm_coordinator(), start


def _tutorial_probed():
    # probe_rho: the probe round (at rho_max) travels like any solve round.
    actors, _, start = _tutorial()
    return actors, dro.create_sharing_target_distance_admm_coordinator(probe_rho=True), start


def _consensus():
    actors = [dro.ADMMFlexActor.one_to_many(c, [1.0, -0.5], P=[p, 0.0], name=f"a{i}")
              for i, (c, p) in enumerate([(4.0, 1.0), (6.0, -1.0), (5.0, 0.2)])]
    return actors, dro.create_consensus_admm_coordinator(), dro.create_admm_start()


def _assert_same_run(plain: dro.ADMMResult, wired: dro.ADMMResult) -> None:
    assert wired.iterations == plain.iterations and wired.status == plain.status
    assert set(wired.x) == set(plain.x)
    for name in plain.x:
        np.testing.assert_allclose(wired.x[name], plain.x[name], rtol=0, atol=1e-12)
    np.testing.assert_allclose(wired.z, plain.z, rtol=0, atol=1e-12)
    assert wired.objective == pytest.approx(plain.objective, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(wired.primal_residuals, plain.primal_residuals, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("wire_format", ["json", "msgpack"])
@pytest.mark.parametrize("case", [_tutorial, _tutorial_probed, _consensus],
                         ids=["sharing", "sharing-probed", "consensus"])
@pytest.mark.parametrize("vectorize", [True, False])
def test_encoded_run_equals_plain_run(case, vectorize, wire_format):
    plain = dro.run_coordinated_optimization(*case(), vectorize=vectorize)
    carrier = InProcessTransport(codec=WireCodec(wire_format))
    wired = dro.run_coordinated_optimization(*case(), vectorize=vectorize, carrier=carrier)
    _assert_same_run(plain, wired)
    assert plain.objective is not None
    # join, setup and finish rounds plus one solve round per iteration, request and reply each
    n_participants = 1 if vectorize else 3
    # A request sent again (a round slower than usual) adds itself and one repeated reply.
    assert carrier.stats.messages == 2 * n_participants * (wired.iterations + wired.probe_rounds
                                                           + 3) \
        + 2 * wired.resent_requests
    assert carrier.stats.bytes_sent > 0


@pytest.mark.slow
@pytest.mark.parametrize("agents", ["entities", "per-building"])
def test_encoded_market_clearing_equals_plain(agents):
    from distributed_resource_optimization.energy.district import load_district
    from distributed_resource_optimization.market.clearing import run_market_clearing

    district = load_district(resolution="60min")
    # 60 of the 155 iterations: compared iterate by iterate, convergence is another test's
    plain = run_market_clearing(district, "thermal-congestion", agents=agents, max_iters=60)
    wired = run_market_clearing(district, "thermal-congestion", agents=agents, max_iters=60,
                                carrier=InProcessTransport(codec=WireCodec()))
    _assert_same_run(plain.admm, wired.admm)
    assert wired.objective == pytest.approx(plain.objective, rel=1e-12)
    assert wired.entity_objectives == pytest.approx(plain.entity_objectives, rel=1e-12)
    for entity, quantities in plain.prices.items():
        for q, arr in quantities.items():
            np.testing.assert_allclose(wired.prices[entity][q], arr, rtol=0, atol=1e-12)
