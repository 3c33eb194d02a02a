"""Runs a stranger cannot join, read, steer or end; what the network can make an agent allocate.

References: the same run without any stranger (identical iterates: the codec carries float64
bit-exactly and the attacks must not change a single round) and the in-process run of the same
participants; hand-built frames for the link layer (runtime.security).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mango.messages.message import MangoMessage

import distributed_resource_optimization as dro
from distributed_resource_optimization.local.grouping import make_blocks
from distributed_resource_optimization.runtime.engine import CoordinatorAgent, ParticipantAgent
from distributed_resource_optimization.runtime.mango import MangoTransport
from distributed_resource_optimization.runtime.messages import (
    FinishRequest,
    JoinRequest,
    SolveRequest,
)
from distributed_resource_optimization.runtime.security import (
    REPLAY_WINDOW,
    FrameRejectedError,
    LinkSecurity,
)
from distributed_resource_optimization.runtime.tcp_transport import ConnectionLimits
from distributed_resource_optimization.runtime.transport import CoordinationTimeoutError

TOKEN = "correct horse battery staple"


# -- the link layer -------------------------------------------------------------------------------

def _linked(token_a: str = TOKEN, token_b: str = TOKEN) -> tuple[LinkSecurity, LinkSecurity]:
    a, b = LinkSecurity(token_a), LinkSecurity(token_b)
    _, hello = a.hello("a", "b")
    welcome = b.welcome("b", "a", hello)
    assert a.welcomed("a", "b", hello, welcome)
    return a, b


def test_a_sealed_frame_opens_once_on_its_own_link_and_nowhere_else() -> None:
    a, b = _linked()
    frame = a.seal("a", "b", b"solve request")
    payload, link = b.open(frame)
    assert bytes(payload) == b"solve request" and (link.local, link.remote) == ("b", "a")
    with pytest.raises(FrameRejectedError, match="came before"):
        b.open(frame)  # replayed
    tampered = bytearray(a.seal("a", "b", b"x = 1.0"))
    tampered[-1] ^= 1
    with pytest.raises(FrameRejectedError, match="wrong MAC"):
        b.open(bytes(tampered))
    with pytest.raises(FrameRejectedError, match="of no link"):
        a.open(a.seal("a", "b", b"reflected"))  # sent back to its own sender
    outsider = LinkSecurity("another token")
    with pytest.raises(FrameRejectedError, match="of no link"):
        outsider.open(a.seal("a", "b", b"y"))
    with pytest.raises(FrameRejectedError, match="wrong MAC"):
        outsider.open(a.seal_handshake(b"hello"))
    with pytest.raises(FrameRejectedError, match="not an authenticated frame"):
        b.open(struct.pack("!L", 5) + b"plain" * 20)
    back, _ = a.open(b.seal("b", "a", b"reply"))  # the responder answers on the same link
    assert bytes(back) == b"reply"


def test_a_handshake_is_answered_once_and_a_welcome_only_for_a_hello_of_ours() -> None:
    a, b = LinkSecurity(TOKEN), LinkSecurity(TOKEN)
    _, hello = a.hello("a", "b")
    welcome = b.welcome("b", "a", hello)
    with pytest.raises(FrameRejectedError, match="came before"):
        b.welcome("b", "a", hello)  # a captured hello played again
    assert not a.welcomed("a", "c", hello, welcome)  # not the hello's receiver
    assert a.welcomed("a", "b", hello, welcome)
    assert not a.welcomed("a", "b", hello, welcome)  # a captured welcome played again
    with pytest.raises(FrameRejectedError, match="malformed nonce"):
        b.welcome("b", "a", "zz")
    # Fresh keys per handshake: a frame of the first link does not open on a second one.
    old = a.seal("a", "b", b"old")
    a.drop_links("a", "b")
    _, hello2 = a.hello("a", "b")
    assert a.welcomed("a", "b", hello2, b.welcome("b", "a", hello2))
    new = a.seal("a", "b", b"new")
    assert old[4:20] != new[4:20]
    assert bytes(b.open(new)[0]) == b"new"


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(order=st.permutations(list(range(1, 60))), again=st.lists(st.integers(1, 59), max_size=20))
def test_frames_arriving_in_any_order_are_accepted_exactly_once(order, again) -> None:
    a, b = _linked()
    frames = {seq: a.seal("a", "b", str(seq).encode()) for seq in range(1, 60)}
    accepted = []
    for seq in order + again:
        try:
            accepted.append(int(bytes(b.open(frames[seq])[0])))
        except FrameRejectedError:
            pass
    assert sorted(accepted) == list(range(1, 60))


def test_frames_older_than_the_replay_window_are_dropped() -> None:
    a, b = _linked()
    first = a.seal("a", "b", b"first")
    for _ in range(REPLAY_WINDOW):
        a.seal("a", "b", b"skipped")
    b.open(a.seal("a", "b", b"newest"))
    with pytest.raises(FrameRejectedError, match="came before"):
        b.open(first)


# -- runs with a token, and strangers -------------------------------------------------------------

def _actors() -> list:
    return [dro.create_admm_flex_actor_one_to_many(10.0, [0.1, 0.5, -1.0], name="a"),
            dro.create_admm_flex_actor_one_to_many(15.0, [0.1, 0.5, -1.0], name="b"),
            dro.create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0, 1.0], name="c")]


START = dro.create_admm_start(dro.create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1]))


def _tutorial_on(hub: MangoTransport, host: MangoTransport
                 ) -> tuple[CoordinatorAgent, list[asyncio.Future]]:
    """The tutorial's three actors as agents on ``host`` serving two runs, and a coordinator of
    them on ``hub``."""
    agents = [ParticipantAgent(f"p{i}", b, host, idle_timeout=30)
              for i, b in enumerate(make_blocks(_actors(), vectorize=False))]
    for a in agents:
        hub.connect(a.address, host.protocol_address)
    serving = [asyncio.ensure_future(a.serve(runs=2)) for a in agents]
    coordinator = dro.create_sharing_target_distance_admm_coordinator(reply_timeout=30)
    return CoordinatorAgent("coordinator", coordinator, [a.address for a in agents], hub), serving


def _send_frames(address: tuple[str, int], frames: list[bytes]) -> bool:
    """Send length-prefixed frames on a fresh connection; whether the agent closed it."""
    with socket.create_connection(address, timeout=5) as s:
        for frame in frames:
            s.sendall(struct.pack("!L", len(frame)) + frame)
        s.settimeout(0.5)  # a closed connection answers at once
        try:
            return s.recv(1) == b""
        except (TimeoutError, ConnectionResetError):
            return False


@pytest.mark.slow
@pytest.mark.network
def test_a_stranger_gets_no_reply_and_cannot_steer_or_end_a_token_protected_run() -> None:
    """A process without the token sends join, solve and finish requests (as the agent's
    coordinator by name), and replays frames captured from the first run: nothing is answered,
    each is dropped and counted, and the second run is exactly the first."""

    async def main():
        hub, host = MangoTransport.tcp(token=TOKEN), MangoTransport.tcp(token=TOKEN)
        stranger = MangoTransport.tcp()
        sent: list[bytes] = []
        encode = hub.container.codec.encode
        hub.container.codec.encode = lambda m: sent.append(encode(m)) or sent[-1]
        async with hub, host, stranger:
            run, serving = _tutorial_on(hub, host)
            try:
                first = await run.run(START.data)
                captured = list(sent)
                # The stranger names itself "coordinator" and writes to p0 in every way it can.
                inbox = stranger.register("coordinator")
                stranger.connect("p0", host.protocol_address)
                before = host.stats.rejected
                await stranger.send("coordinator", "p0", JoinRequest("evil"))
                # The connection of that send is closed now: each further frame on its own.
                meta = {"sender_id": "coordinator", "sender_addr": stranger.protocol_address,
                        "receiver_id": "p0"}
                plain = [stranger.container.codec.encode(MangoMessage(m, meta)) for m in (
                    SolveRequest("evil", 1, np.ones(3), np.zeros(3), 1.0),
                    FinishRequest("evil", np.zeros(3), "converged"))]
                closed = [await asyncio.to_thread(_send_frames, host.protocol_address, [frame])
                          for frame in plain + captured]
                with pytest.raises(CoordinationTimeoutError):
                    await inbox.receive(1.0)  # the stranger got nothing
                attacks = host.stats.rejected - before
                second = await run.run(START.data)
                await asyncio.wait_for(asyncio.gather(*serving), 10)
            finally:
                for t in serving:
                    t.cancel()
            return first, second, captured, closed, attacks

    first, second, captured, closed, attacks = asyncio.run(main())
    # 3 plain frames of the stranger, then every captured frame played again: the hellos are
    # authentic but came before; the sealed frames (join, solves, finish) belong to links the
    # second run's handshake replaced or to sequence numbers already seen.
    assert attacks == 3 + len(captured)
    assert second.rejected_messages == attacks
    assert first.rejected_messages == 0
    assert sum(closed) >= len(closed) - 3  # only the 3 replayed hellos are authentic frames
    assert second.iterations == first.iterations
    np.testing.assert_array_equal(second.z, first.z)
    reference = dro.run_coordinated_optimization(
        _actors(), dro.create_sharing_target_distance_admm_coordinator(), START, vectorize=False)
    assert second.iterations == reference.iterations
    np.testing.assert_allclose(second.z, reference.z, rtol=0, atol=1e-12)


@pytest.mark.network
def test_a_coordinator_with_another_token_is_refused_without_a_reply() -> None:
    async def main():
        hub, host = MangoTransport.tcp(token="another token"), MangoTransport.tcp(token=TOKEN)
        async with hub, host:
            agent = ParticipantAgent("p0", make_blocks(_actors()[:1], vectorize=False)[0], host)
            hub.connect("p0", host.protocol_address)
            serving = asyncio.ensure_future(agent.serve())
            coordinator = dro.create_sharing_target_distance_admm_coordinator(reply_timeout=1.5)
            try:
                with pytest.raises(CoordinationTimeoutError,
                                   match="no authenticated answer from 'p0'.*another token"):
                    await CoordinatorAgent("coordinator", coordinator, ["p0"], hub).run(START.data)
            finally:
                serving.cancel()
            return host.stats

    stats = asyncio.run(main())
    assert stats.rejected >= 1 and stats.refused_connections >= 1


@pytest.mark.network
def test_connections_beyond_the_limit_push_out_idle_ones_never_a_working_one() -> None:
    """A container keeping at most 4 connections: 20 idle connections never take the place of
    the coordinator's, the run is exact; idle ones are closed after the idle time."""

    async def main():
        hub = MangoTransport.tcp()
        host = MangoTransport.tcp(limits=ConnectionLimits(max_connections=4,
                                                        unauthenticated_idle_s=0.5))
        async with hub, host:
            run, serving = _tutorial_on(hub, host)
            try:
                first = await run.run(START.data)  # the coordinator's connection is open now
                idle = [socket.create_connection(host.protocol_address) for _ in range(20)]
                await asyncio.sleep(1.0)
                second = await run.run(START.data)
                closed = 0
                for s in idle:
                    s.settimeout(2.0)
                    try:
                        closed += s.recv(1) == b""
                    except (TimeoutError, ConnectionResetError):
                        pass
                    s.close()
            finally:
                for t in serving:
                    t.cancel()
            return first, second, closed, host.stats

    first, second, closed, stats = asyncio.run(main())
    assert closed == 20 and stats.refused_connections == 20
    assert second.iterations == first.iterations
    np.testing.assert_array_equal(second.z, first.z)


# -- an agent process under a flood -------------------------------------------------------------

def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_a_2gb_length_prefix_and_800_connections_leave_a_concurrent_run_exact(tmp_path) -> None:
    from test_distributed import _ready_address

    from distributed_resource_optimization.flex_sharing import (
        fleet_name,
        fleet_share,
        flex_sharing_coordinator,
        random_flex_sharing_instance,
    )
    from distributed_resource_optimization.runtime.engine import coordinate_in_process
    from distributed_resource_optimization.runtime.processes import coordinate_agents
    from distributed_resource_optimization.runtime.transport import InProcessTransport

    n = 200
    log = tmp_path / "agent.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed_resource_optimization", "agent", "--flex-share",
         "0/1", "--actors", str(n), "--listen", "127.0.0.1:0", "--idle-timeout", "120"],
        stdout=subprocess.PIPE, stderr=open(log, "wb"), text=True)
    sockets: list[socket.socket] = []
    try:
        host, port = _ready_address(proc, log).split(":")
        address = (host, int(port))
        instance = random_flex_sharing_instance(n, 3, 0)
        data = dro.create_admm_sharing_data(instance.target_kw, instance.priorities)

        async def main():
            async def attack():
                rss0 = _rss_mb(proc.pid)
                cut = 0
                for _ in range(20):  # 2 GB announced, 1 MB sent: closed before it is kept
                    s = socket.create_connection(address)
                    try:
                        s.sendall(struct.pack("!L", 2 * 10**9) + os.urandom(2**20))
                        s.settimeout(5.0)
                        cut += s.recv(1) == b""
                    except (BrokenPipeError, ConnectionResetError):
                        cut += 1  # closed by the agent while the megabyte was on its way
                    sockets.append(s)
                    await asyncio.sleep(0)
                assert cut == 20
                for _ in range(800):  # three times the limit of 256: most push one out
                    sockets.append(socket.create_connection(address))
                    await asyncio.sleep(0)
                await asyncio.sleep(1.0)
                return rss0, _rss_mb(proc.pid)

            run = coordinate_agents(flex_sharing_coordinator(reply_timeout=60), data, [fleet_name(0)], "tcp",
                                    addresses={fleet_name(0): f"{host}:{port}"})
            (result, _, _), (rss0, rss1) = await asyncio.gather(run, attack())
            return result, rss0, rss1

        result, rss0, rss1 = asyncio.run(main())
    finally:
        for s in sockets:
            s.close()
        proc.kill()
        proc.wait()
    reference = asyncio.run(coordinate_in_process(
        {fleet_name(0): fleet_share(instance)}, flex_sharing_coordinator(), data,
        InProcessTransport()))
    assert result.iterations == reference.iterations
    np.testing.assert_allclose(result.z, reference.z, rtol=0, atol=1e-9)
    assert rss1 - rss0 < 100, (rss0, rss1)
    assert "Traceback" not in log.read_text()



# -- MQTT brokers that need a login and TLS -------------------------------------------------------

@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_flex_sharing_through_a_broker_with_login_tls_and_token_equals_the_one_process_run(
        tmp_path, capsys) -> None:
    import json

    from brokers import secured_mosquitto

    from distributed_resource_optimization.cli import main

    with secured_mosquitto(tmp_path) as broker:
        password = tmp_path / "broker-password"
        password.write_text(broker.password + "\n")
        # Three layers: TLS to the broker, the broker's login, and the run's own token.
        base = ["flex-sharing", "--actors", "20", "--processes", "2", "--runtime", "mqtt",
                "--broker", broker.address, "--broker-tls-ca", str(broker.ca), "--token",
                "run secret", "--figures", "none"]
        code = main([*base, "--broker-username", broker.username, "--broker-password-file",
                     str(password), "--out", str(tmp_path / "mqtt")])
        assert code == 0, capsys.readouterr().err
        wrong = tmp_path / "wrong-password"
        wrong.write_text("guess\n")
        code = main([*base, "--broker-username", broker.username, "--broker-password-file",
                     str(wrong), "--out", str(tmp_path / "refused")])
        err = capsys.readouterr().err
        assert code == 3 and "refused the connection" in err and "Not authorized" in err, err
    assert main(["flex-sharing", "--actors", "20", "--processes", "2", "--figures", "none",
                 "--out", str(tmp_path / "inproc")]) == 0
    got, ref = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("mqtt", "inproc"))
    assert got["iterations"] == ref["iterations"]
    assert got["objective"] == pytest.approx(ref["objective"], rel=1e-12)


def test_broker_options_are_checked_before_any_work(tmp_path, capsys) -> None:
    from distributed_resource_optimization.cli import main

    base = ["flex-sharing", "--actors", "20", "--runtime", "mqtt", "--out", str(tmp_path / "o")]
    for extra, said in (
            (["--broker-password-file", str(tmp_path / "pw")], "needs --broker-username"),
            (["--broker-username", "u", "--broker-password-file", str(tmp_path / "pw")],
             "--broker-password-file"),
            (["--broker-tls-ca", str(tmp_path / "ca.pem")], "--broker-tls-ca"),
            (["--broker-tls-cert", str(tmp_path / "c.pem")], "need --broker-tls-ca")):
        assert main([*base, *extra]) == 2
        assert said in capsys.readouterr().err
    os.environ.pop("DRO_BROKER_PASSWORD", None)
    assert main([*base, "--broker-username", "u"]) == 2
    assert "DRO_BROKER_PASSWORD" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    # In Python: a broker login for a runtime without a broker, refused before any spawn.
    from distributed_resource_optimization.runtime.mqtt_transport import BrokerAccess, BrokerLogin
    from distributed_resource_optimization.runtime.processes import PeerProcesses

    with pytest.raises(ValueError, match="broker_access .* needs the mqtt runtime, got 'tcp'"):
        PeerProcesses(["peer_factories:cohda"], runtime="tcp",
                      broker_access=BrokerAccess(BrokerLogin("u", "p")))


@pytest.mark.network
def test_listening_beyond_loopback_without_a_token_warns_naming_the_risk(caplog) -> None:
    async def main(**kwargs):
        async with MangoTransport.tcp("0.0.0.0:0", **kwargs):
            pass

    with caplog.at_level("WARNING"):
        asyncio.run(main())
    assert "without a token: anyone who reaches this port can join runs" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        asyncio.run(main(token=TOKEN))  # beyond loopback, with a token
        asyncio.run(_on_loopback())  # without a token, on loopback
    assert "without a token" not in caplog.text


async def _on_loopback() -> None:
    async with MangoTransport.tcp("127.0.0.1:0"):
        pass
