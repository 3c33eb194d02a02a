"""Coordinator-free runs on the networked carriers: every participant an agent of its own.

References:
* the same run on the in-process SimpleCarrier (for the gossip algorithms with exact rules the
  answers agree to 1e-12 in one process: the codec carries float64 bit-exactly; across processes,
  where the rounds interleave differently, to the rules' stopping tolerance), and the centralised
  QPs of ``test_averaging_consensus`` / ``test_diffusion``
  (Clarabel) with their tolerances;
* an exhaustive search for COHDA (whose trace depends on message order, so not the in-process
  trace: the optimum of the small instance);
* hand-derived values for the codec and the termination credit.

Processes are spawned with ``dro peer`` on free loopback ports (TCP) or on a private mosquitto
(``brokers.py``); the run stops them, also on failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from algorithm.test_averaging_consensus import (
    assert_matches_centralized,
    centralized_dispatch,
    dispatch_participants,
    random_units,
)
from algorithm.test_diffusion import (
    HORIZON,
    assert_matches,
    assert_storage_feasible,
    centralized,
    random_system,
    ratings,
    system_participants,
)
from brokers import mosquitto
from hypothesis import given, settings
from hypothesis import strategies as st

from distributed_resource_optimization import (
    DistributedAlgorithm,
    OptimizationMessage,
    create_averaging_consensus_start,
    create_cohda_participant,
    create_cohda_start_message,
    create_exact_diffusion_start,
    run_distributed_optimization,
)
from distributed_resource_optimization.algorithm.core import message_type
from distributed_resource_optimization.runtime.codec import (
    MessageDecodeError,
    WireCodec,
    decode_value,
    encode_value,
)
from distributed_resource_optimization.runtime.credit import (
    WHOLE_CREDIT,
    Credit,
    format_credit,
    parse_credit,
)
from distributed_resource_optimization.runtime.engine import ParticipantError
from distributed_resource_optimization.runtime.factories import ParticipantFactory
from distributed_resource_optimization.runtime.mango import MangoTransport
from distributed_resource_optimization.runtime.messages import PeerMessage
from distributed_resource_optimization.runtime.peers import run_on_transport
from distributed_resource_optimization.runtime.processes import (
    PeerProcesses,
    run_distributed_processes,
)
from distributed_resource_optimization.runtime.transport import (
    CoordinationError,
    CoordinationTimeoutError,
    InProcessTransport,
)

TESTS = Path(__file__).resolve().parents[1]  # tests/: peer_factories.py for the spawned peers
EXAMPLES = TESTS.parent / "examples"
sys.path.insert(0, str(EXAMPLES))
import peer_processes  # noqa: E402  (examples/peer_processes.py, the how-to's example)

#: The in-process carriers: by reference, and through each wire format of the codec.
CODEC_CARRIERS = {"reference": lambda: InProcessTransport(),
                  "json": lambda: InProcessTransport(WireCodec("json")),
                  "msgpack": lambda: InProcessTransport(WireCodec("msgpack")),
                  "mango-tcp": lambda: MangoTransport.tcp()}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with mosquitto(tmp_path_factory.mktemp("broker")) as address:
        yield address


@pytest.fixture
def peer_path(monkeypatch):
    """Spawned peers import the factories of tests/ and examples/."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(TESTS), str(EXAMPLES), os.environ.get("PYTHONPATH")) if p))


# ---------------------------------------------------------------------------------------------
# The codec of algorithm values
# ---------------------------------------------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers(-2**62, 2**62) | st.text(max_size=8) \
    | st.floats(allow_nan=False)
_arrays = st.lists(st.floats(allow_nan=False), max_size=5).map(np.array) \
    | st.lists(st.integers(-2**62, 2**62), max_size=5).map(lambda xs: np.array(xs, dtype=np.int64))
_values = st.recursive(
    _scalars | _arrays,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.integers(0, 9) | st.text(max_size=4), inner, max_size=4),
    max_leaves=12)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(value=_values, wire=st.sampled_from(["json", "msgpack"]))
def test_algorithm_values_round_trip_exactly(value, wire) -> None:
    codec = WireCodec(wire)
    message = PeerMessage("s", 1, 2, "m", False, 1, "1/0", value)
    assert _same(codec.decode(codec.encode(message)).content, value)


def test_registered_dataclasses_sets_and_arrays_round_trip() -> None:
    @message_type
    @dataclasses.dataclass
    class Bid:
        price: float
        volumes: np.ndarray
        tags: frozenset

    value = {1: Bid(3.5, np.array([1.0, -2.0]), frozenset({"a"})), "ids": {1, 2},
             "mask": np.array([True, False]), "counts": np.arange(3)}
    for wire in ("json", "msgpack"):
        got = WireCodec(wire).decode(WireCodec(wire).encode(
            PeerMessage("s", 1, 2, "m", False, 1, "1/0", value))).content
        assert got[1].price == 3.5 and np.array_equal(got[1].volumes, [1.0, -2.0])
        assert got["ids"] == {1, 2} and got["mask"].dtype == bool
        assert got["counts"].dtype == np.int64 and got["counts"].tolist() == [0, 1, 2]


def test_what_cannot_travel_is_refused_naming_the_place() -> None:
    @dataclasses.dataclass
    class Unregistered:
        x: int

    with pytest.raises(TypeError, match=r"value\[0\]\[1\]: Unregistered cannot travel"):
        encode_value([(1, Unregistered(1))])
    with pytest.raises(TypeError, match="a function cannot travel"):
        encode_value({"f": lambda: 0})
    with pytest.raises(TypeError, match="arrays of dtype complex128"):
        encode_value(np.array([1j]))
    with pytest.raises(MessageDecodeError, match="'Evil' is not a registered message class"):
        decode_value({"m": ["Evil", {}]})
    with pytest.raises(MessageDecodeError, match="not an encoded algorithm value"):
        decode_value({"x": 1})
    with pytest.raises(MessageDecodeError, match="has no field"):
        decode_value({"m": ["ScheduleSelection", {"schedule": [], "counter": 0, "rm": 1}]})
    with pytest.raises(MessageDecodeError, match="ScheduleSelection: ValueError"):
        decode_value({"m": ["ScheduleSelection", {"schedule": [[1.0]], "counter": 0}]})
    bomb: list = []
    for _ in range(100):
        bomb = [bomb]
    with pytest.raises(MessageDecodeError, match="nested deeper than 64"):
        decode_value(bomb)


def test_wire_names_are_unique_across_modules() -> None:
    # A class of another module with the qualified name of COHDA's message gets a longer name.
    clash = dataclasses.make_dataclass("WorkingMemory", [("x", int, 0)],
                                       bases=(OptimizationMessage,))
    plain = encode_value(clash(3))
    assert plain["m"][0] == f"{clash.__module__}.WorkingMemory"
    assert decode_value(plain) == clash(3)
    memory = create_cohda_start_message([1.0])
    assert encode_value(memory)["m"][0] == "WorkingMemory"  # COHDA's own is unaffected
    assert type(decode_value(encode_value(memory))) is type(memory)
    with pytest.raises(TypeError, match="'WorkingMemory' is already the wire name"):
        message_type(dataclasses.make_dataclass("Other", [("x", int, 0)]), name="WorkingMemory")

    @dataclasses.dataclass
    class Named(OptimizationMessage, wire_name="tests.named"):
        x: int = 0

    assert decode_value(encode_value(Named(4))) == Named(4)


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(splits=st.lists(st.integers(0, 30), min_size=1, max_size=60))
def test_credit_shares_sum_back_to_exactly_one(splits) -> None:
    """Hand the credit on as the peers do (each send halves what the sender holds) along the
    splits, return every share in a shuffled order: exactly 1 comes back, against Fraction."""
    held, shares = WHOLE_CREDIT, []
    for k in splits:
        for _ in range(k % 7):
            held = held.half()
            shares.append(held)
        if k % 3 == 0:  # the holder goes idle: returns its rest, a received share goes on
            shares.append(held)
            held = shares.pop(len(shares) // 2) if len(shares) > 1 else shares.pop()
    shares.append(held)
    assert sum((s.as_fraction() for s in shares), Fraction(0)) == 1
    back = Credit()
    for s in sorted(shares, key=lambda c: (c.exponent * 7919) % 101):
        back = back + parse_credit(format_credit(s))
        assert back.compare_to_one() <= 0
    assert back == WHOLE_CREDIT and back.compare_to_one() == 0


def test_credit_text_is_checked() -> None:
    assert format_credit(Credit.make(6, 4)) == "3/3"  # normalised: 6/16 = 3/8
    assert parse_credit("ff/8").as_fraction() == Fraction(255, 256)
    assert Credit.make(1, 200).half() + Credit.make(1, 201) == Credit(1, 200)
    for bad in ("0/0", "3/1", "zz/1", "1/x", "1", "1/-2", "-1/1", "0x1/0", "/3"):
        with pytest.raises(CoordinationError):
            parse_credit(bad)


# ---------------------------------------------------------------------------------------------
# In this process, every participant an agent of its own on a carrier of the runtime
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("carrier", list(CODEC_CARRIERS))
def test_consensus_dispatch_on_every_carrier_matches_the_qp_and_the_simple_carrier(carrier):
    cost, eps, p_min, p_max, demand = random_units(5, 5)
    start = create_averaging_consensus_start(20.0, demand)
    ref = run_distributed_optimization(dispatch_participants(cost, eps, p_min, p_max,
                                                             tracking=True, alpha=0.5, tol=1e-9),
                                       start, topology="ring")
    actors = dispatch_participants(cost, eps, p_min, p_max, tracking=True, alpha=0.5, tol=1e-9)
    got = run_distributed_optimization(actors, start, topology="ring",
                                       carrier=CODEC_CARRIERS[carrier](), timeout=120)
    assert got.converged and got.actors == actors
    assert_matches_centralized(actors, cost, eps, p_min, p_max, demand)
    for a, b in zip(got.solutions, ref.solutions):
        np.testing.assert_allclose(a["lam"], b["lam"], rtol=1e-12)
        np.testing.assert_allclose(a["P"], b["P"], rtol=1e-12, atol=1e-12)
    assert got.messages > 0 and got.rounds > 0
    # Through the codec every message is encoded (mango's own container copies, not encodes).
    assert (got.extra["traffic"].bytes_sent > 0) == (carrier in ("json", "msgpack"))


def test_exact_diffusion_with_storage_through_the_codec_matches_the_lp():
    gens, storages, demand = random_system(2)
    P_star, lam_star = centralized(gens, storages, demand)
    actors = system_participants(gens, storages, exact=True)
    res = run_distributed_optimization(actors, create_exact_diffusion_start(20.0, demand, HORIZON),
                                       topology="ring", carrier=InProcessTransport(WireCodec()))
    assert res.converged
    assert_matches(actors, P_star, lam_star, ratings(gens, storages))
    for a in actors[len(gens):]:
        assert_storage_feasible(a.actor)
    assert res.extra["traffic"].bytes_sent > 0


# The reference's COHDA tutorial: supply is at most 6 against a target sum of 9.
_A = [[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
_B = [[2.0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 2]]
SCHEDULES = [_A, _B, _A, _B]
TARGET = [3.0, 3.0, 1.0, 2.0]


def distance(total) -> float:
    return float(np.abs(np.asarray(total) - TARGET).sum())


def assert_cohda_optimal(solutions, candidate_schedules=None) -> None:
    best = min(distance(np.sum(c, axis=0))  # exhaustive search over the 81 combinations
               for c in itertools.product(*map(np.array, SCHEDULES)))
    assert best == 3.0
    assert all(distance(s) == best for s in solutions)
    assert all(np.array_equal(s, solutions[0]) for s in solutions)  # one shared candidate
    for i, row in enumerate([] if candidate_schedules is None else candidate_schedules):
        assert any(np.array_equal(row, own) for own in np.array(SCHEDULES[i]))  # its own


@pytest.mark.network
@pytest.mark.parametrize("carrier", ["msgpack", "mango-tcp"])
def test_cohda_on_the_codec_carriers_finds_the_optimum(carrier):
    actors = [create_cohda_participant(i + 1, s) for i, s in enumerate(SCHEDULES)]
    res = run_distributed_optimization(actors, create_cohda_start_message(TARGET),
                                       carrier=CODEC_CARRIERS[carrier]())
    assert_cohda_optimal(res.solutions, actors[0].memory.solution_candidate.schedules)


class AskNeighbours(DistributedAlgorithm):
    def __init__(self, value: float) -> None:
        self.value, self.total = value, None

    async def on_exchange_message(self, carrier, message_data, meta):
        if message_data == "value?":
            carrier.reply_to_other(self.value, meta)
            return
        answers = await asyncio.gather(*(carrier.send_awaitable("value?", n)
                                         for n in carrier.others("ask")))
        if self.total is None:  # the first "start" or "go": add up, tell the others
            self.total = self.value + sum(answers)
            for n in carrier.others("ask"):
                carrier.send_to_other("go", n)

    def solution(self):
        return self.total


def test_requests_and_replies_travel_between_agents():
    values = [1.0, 2.0, 4.0, 8.0]
    res = run_distributed_optimization([AskNeighbours(v) for v in values], "start",
                                       topology="ring", carrier=InProcessTransport(WireCodec()))
    # Each participant adds its ring neighbours' values to its own.
    assert res.solutions == [v + values[i - 1] + values[(i + 1) % 4] for i, v in
                             enumerate(values)]


class Boom(DistributedAlgorithm):
    async def on_exchange_message(self, carrier, message_data, meta):
        raise RuntimeError("local model failed")


class PingPong(DistributedAlgorithm):
    async def on_exchange_message(self, carrier, message_data, meta):
        await asyncio.sleep(0.01)
        carrier.send_to_other(message_data, meta["sender"])


class Picky(DistributedAlgorithm):
    def check_start(self, start_message):
        raise ValueError("start_message: needs a target")

    async def on_exchange_message(self, carrier, message_data, meta):
        pass


@pytest.mark.network
def test_errors_timeouts_and_refusals_end_the_run_naming_the_participant():
    carrier = InProcessTransport(WireCodec())
    with pytest.raises(ParticipantError, match=r"participant 2 \(participant-2\): RuntimeError: "
                                               "local model failed"):
        run_distributed_optimization([PingPong(), Boom()], "ball", carrier=carrier)
    with pytest.raises(CoordinationTimeoutError, match="did not end within 0.3 s"):
        run_distributed_optimization([PingPong(), PingPong()], "ball", timeout=0.3,
                                     carrier=InProcessTransport())

    async def refused():  # bypasses the up-front check of start_distributed_optimization
        return await run_on_transport([PingPong(), Picky()], "go", [[1], [0]], InProcessTransport())

    with pytest.raises(ParticipantError, match=r"participant 2 .*ValueError: start_message"):
        asyncio.run(refused())
    with pytest.raises(TypeError, match="transport must be a Transport"):
        run_distributed_optimization([PingPong()], "x", carrier="tcp")
    with pytest.raises(TypeError, match="transport must be a Transport"):
        run_distributed_optimization([PingPong()], "x", transport="tcp")


# ---------------------------------------------------------------------------------------------
# One OS process per participant
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
@pytest.mark.parametrize("runtime", ["tcp", "mqtt"])
def test_dispatch_units_in_processes_of_their_own_equal_the_in_process_run(runtime, request,
                                                                          peer_path):
    broker = request.getfixturevalue("broker") if runtime == "mqtt" else None
    here, apart = peer_processes.main(runtime, broker)
    # Processes interleave the rounds differently from one process (a few messages more or
    # less); both runs stop once no price moves by more than tol = 1e-9 S$/MWh per round, so
    # they agree to that tolerance over the contraction (measured: 1.5e-10 apart).
    assert apart == pytest.approx(here, abs=1e-7)
    units = peer_processes.UNITS
    _, lam_star = centralized_dispatch(np.array([u["cost"] for u in units]),
                                       np.array([u["epsilon"] for u in units]),
                                       np.zeros(len(units)),
                                       np.array([u["p_max"] for u in units]),
                                       peer_processes.DEMAND_MW)
    assert apart == pytest.approx(lam_star, rel=1e-4)


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_cohda_in_processes_finds_the_optimum_and_a_failure_stops_every_peer(peer_path,
                                                                                tmp_path):
    res = run_distributed_processes(
        [ParticipantFactory("peer_factories:cohda", {"participant_id": i + 1, "schedules": s})
         for i, s in enumerate(SCHEDULES)],
        create_cohda_start_message(TARGET), runtime="tcp", timeout=120)
    assert res.actors == [] and len(res.solutions) == 4 and res.messages >= 4
    assert_cohda_optimal(res.solutions)

    logs = tmp_path / "logs"
    with pytest.raises(ParticipantError, match=r"participant 2 \(participant-2\): RuntimeError"):
        run_distributed_processes([ParticipantFactory("peer_factories:ask_neighbours",
                                                      {"value": 1.0}), "peer_factories:boom"],
                                  "start", runtime="tcp", timeout=120, log_dir=logs)
    # Both peers ended by themselves (told by the controller or by their closed stdin, whichever
    # came first), not killed after the grace period; the healthy one logged no error.
    for name in ("participant-1", "participant-2"):
        log = (logs / f"{name}.log").read_text()
        assert f"peer {name}: served 1 run(s), exiting" in log or \
            f"peer {name}: stopped (the spawning process closed its stdin)" in log, log
        assert "Fatal" not in log and "Traceback" not in log
    assert "local model failed" not in (logs / "participant-1.log").read_text()


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_requests_and_replies_between_processes(peer_path):
    with pytest.raises(ValueError, match="must be JSON values"):  # checked before any spawn
        ParticipantFactory("peer_factories:ask_neighbours", {"value": object()})
    res = run_distributed_processes(
        [ParticipantFactory("peer_factories:ask_neighbours", {"value": v}) for v in (1, 2, 4)],
        "start", runtime="tcp", timeout=120)
    # Participant 2 got the start and asked everybody; the others did not add up.
    assert res.solutions == [None, 7, None]


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_bad_factories_are_refused(peer_path):
    with pytest.raises(ValueError, match="factory must be 'package.module:function'"):
        ParticipantFactory("peer_factories.cohda")
    with pytest.raises(CoordinationError, match="exited with code .*ModuleNotFoundError"):
        run_distributed_processes(["no_such_module:make"], None, runtime="tcp", timeout=60)
    cmd = [sys.executable, "-m", "distributed_resource_optimization", "peer", "--factory",
           "peer_factories:boom", "--name", "p", "--kwargs", "[1]"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--kwargs must be a JSON object" in out.stderr


def _peers_by_hand(procs: list[subprocess.Popen], *extra: str) -> list[str]:
    """Start three `dro peer`s of ``ask_neighbours`` (values 1, 2, 4) as one would by hand (into
    ``procs``, for the caller to stop); returns their announced addresses."""
    import json

    from distributed_resource_optimization.runtime.processes import READY_PREFIX

    for i, value in enumerate((1.0, 2.0, 4.0)):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed_resource_optimization", "peer", "--factory",
             "peer_factories:ask_neighbours", "--kwargs", json.dumps({"value": value}),
             "--name", f"participant-{i + 1}", "--runtime", "tcp", "--listen", "127.0.0.1:0",
             "--idle-timeout", "120", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    addresses = []
    for p in procs:
        line = p.stdout.readline()
        assert line.startswith(READY_PREFIX), p.stderr.read()
        addresses.append(json.loads(line[len(READY_PREFIX):])["address"])
    return addresses


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_peers_started_by_hand_are_reached_by_their_addresses(peer_path):
    """As on several hosts: `dro peer` processes started on their own, the run given their
    addresses; each serves its one run and exits."""
    procs: list[subprocess.Popen] = []
    try:
        addresses = _peers_by_hand(procs)
        res = run_distributed_processes(None, "start", addresses=addresses, runtime="tcp",
                                        timeout=60)
        assert res.solutions == [None, 7.0, None]
        assert [p.wait(timeout=30) for p in procs] == [0, 0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_peers_with_a_token_follow_only_a_controller_that_holds_it(peer_path, tmp_path):
    """`dro peer --token-file`: a controller without the token, or with another one, gets no
    answer (so no peer connects to the addresses it names); with the token the run, in which
    participant 2 asks the others (links between the peers too), is the plain run's."""
    token = tmp_path / "token"
    token.write_text("peer secret\n")
    procs: list[subprocess.Popen] = []
    try:
        addresses = _peers_by_hand(procs, "--token-file", str(token))
        for stranger, said in ((None, "no answer to the run start"),
                               ("another secret", "no authenticated answer")):
            # A peer on loopback answers within milliseconds: 0.5 s of silence is no answer.
            with pytest.raises(CoordinationTimeoutError, match=said):
                run_distributed_processes(None, "start", addresses=addresses, runtime="tcp",
                                          timeout=0.5, token=stranger)
        res = run_distributed_processes(None, "start", addresses=addresses, runtime="tcp",
                                        timeout=60, token="peer secret")
        assert res.solutions == [None, 7.0, None]
        assert [p.wait(timeout=30) for p in procs] == [0, 0, 0]  # each served its one run
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_processes_kept_for_several_runs_answer_each_like_one_process(peer_path):
    """Spawn the four units once, clear two demands; each price equals the in-process run of
    the same (reused) participants and the centralised QP's."""
    units = peer_processes.UNITS
    here = [peer_processes.dispatch_unit(**u) for u in units]
    demands = (150.0, 180.0)

    async def session():
        prices = []
        async with PeerProcesses([ParticipantFactory("peer_processes:dispatch_unit", u)
                                  for u in units], runtime="tcp") as procs:
            for demand in demands:
                res = await procs.run(create_averaging_consensus_start(20.0, demand),
                                      topology="ring", timeout=120)
                prices.append(float(res.solutions[0]["lam"][0]))
            assert procs.spawned == 4
        return prices

    prices = asyncio.run(session())
    for demand, price in zip(demands, prices):
        ref = run_distributed_optimization(here, create_averaging_consensus_start(20.0, demand),
                                           topology="ring")
        _, lam_star = centralized_dispatch(np.array([u["cost"] for u in units]),
                                           np.array([u["epsilon"] for u in units]),
                                           np.zeros(len(units)),
                                           np.array([u["p_max"] for u in units]), demand)
        assert price == pytest.approx(float(ref.solutions[0]["lam"][0]), abs=1e-7)
        assert price == pytest.approx(lam_star, rel=1e-4)
    assert prices[1] > prices[0]  # more demand, a higher price
    with pytest.raises(RuntimeError, match="needs `async with"):
        asyncio.run(PeerProcesses(["peer_factories:boom"]).run(None))
    with pytest.raises(ValueError, match="runs must be None or an int >= 1"):
        PeerProcesses(["peer_factories:boom"], runs=0)
