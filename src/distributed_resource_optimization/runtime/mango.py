"""The transport on mango-agents: the same agents over TCP or MQTT, across processes and hosts.

A :class:`MangoTransport` owns one mango container (a TCP server, or an MQTT client of a broker).
Every agent registered on it gets a small mango agent with the same id (``aid``) that puts what
it receives into the agent's :class:`~.transport.Mailbox`; ``send`` hands the message to the
container, which encodes it with :func:`~.codec.mango_codec` (fixed type ids, explicit array
encoding, never pickle). Where other agents live is kept in ``directory`` (agent name ->
``mango.AgentAddress``): add remote agents with :meth:`MangoTransport.connect`; the address of a
sender is learnt from every message that arrives, so a participant can answer a coordinator it
did not know before.

``async with transport:`` starts the container (TCP: binds the port; MQTT: connects to the broker
and subscribes to the inbox topic) and shuts it down on exit, also on error. ``stats`` counts the
messages and encoded bytes this process sent and received, and what it dropped.

With a shared ``token`` every frame is authenticated before it is decoded (:mod:`.security`):
the transport opens a link by handshake before the first message to an agent (and
:meth:`MangoTransport.open_links` opens fresh ones for a new run), and drops everything that is
not authentic; an address to answer is then only learnt from authenticated frames. The TCP
container reads within :class:`~.tcp_transport.ConnectionLimits` (frame size checked on the
length prefix, connections capped, idle unauthenticated ones closed). Without a token, listening
on an address other than loopback logs a warning.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

from mango import Agent, AgentAddress, sender_addr
from mango.messages.message import MangoMessage

from distributed_resource_optimization.runtime.codec import DEFAULT_WIRE_FORMAT, mango_codec
from distributed_resource_optimization.runtime.messages import (
    HANDSHAKE_TYPES,
    MESSAGE_TYPES,
    LinkHello,
    LinkWelcome,
)
from distributed_resource_optimization.runtime.mqtt_transport import (
    BrokerLogin,
    BrokerMQTTContainer,
    BrokerTLS,
)
from distributed_resource_optimization.runtime.security import FrameRejectedError, LinkSecurity
from distributed_resource_optimization.runtime.tcp_transport import (
    MAX_MESSAGE_BYTES,
    BoundedTCPContainer,
    ConnectionLimits,
)
from distributed_resource_optimization.runtime.transport import (
    CoordinationError,
    CoordinationTimeoutError,
    Mailbox,
    TrafficStats,
    Transport,
    parse_host_port,
    warn_sometimes,
)

_log = logging.getLogger(__name__)

#: Topic prefix of the MQTT inboxes: ``<prefix>/<inbox name>``.
DEFAULT_TOPIC_PREFIX = "dro"
#: Seconds to wait for the answer to a link's handshake (sent again with growing pauses).
HANDSHAKE_TIMEOUT_S = 10.0
#: MQTT quality of service of every publish: at least once (duplicates are filtered by the
#: protocol's session and iteration numbers), so a busy broker does not drop a message silently.
MQTT_QOS = 1


class MangoTransport(Transport):
    """A transport on one mango-agents container; build it with :meth:`tcp` or :meth:`mqtt`."""

    def __init__(self, container: Any, kind: str, security: LinkSecurity | None = None) -> None:
        self.container = container
        self.kind = kind
        #: The links of a run with a shared token (``None``: no token, nothing authenticated).
        self.security = security
        self.directory: dict[str, Any] = {}
        self._relays: dict[str, Any] = {}
        self._connected: set[str] = set()
        self._started = False
        # Handshakes under way per (sender, receiver), and the hello nonces they wait on.
        self._handshakes: dict[tuple[str, str], asyncio.Future] = {}
        self._welcomes: dict[bytes, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        self.stats = container.codec.stats

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def tcp(cls, listen: str | tuple[str, int] = ("127.0.0.1", 0), *,
            wire_format: str = DEFAULT_WIRE_FORMAT, token: str | None = None,
            limits: ConnectionLimits | None = None) -> MangoTransport:
        """A TCP container listening on ``listen`` (``"HOST:PORT"``; port 0: the system picks a
        free one, see :attr:`protocol_address` after start); ``wire_format`` of what it sends
        (``"msgpack"`` or ``"json"``; it reads both); ``token``: the run's shared secret (every
        frame authenticated); ``limits``: what its server accepts (default
        :class:`~.tcp_transport.ConnectionLimits`)."""
        host, port = parse_host_port(listen, "listen address") if isinstance(listen, str) \
            else listen
        security = LinkSecurity(token) if token else None
        codec = _framing_codec(wire_format, security)
        # Agents sharing the container get deep copies, as if the message had travelled.
        container = BoundedTCPContainer(
            addr=(host, int(port)), codec=codec, limits=limits or ConnectionLimits(),
            security=security, copy_internal_messages=True)
        return cls(container, "tcp", security)

    @classmethod
    def mqtt(cls, broker: str | tuple[str, int], inbox: str | None = None,
             *, topic_prefix: str = DEFAULT_TOPIC_PREFIX,
             wire_format: str = DEFAULT_WIRE_FORMAT, token: str | None = None,
             login: BrokerLogin | None = None, tls: BrokerTLS | None = None) -> MangoTransport:
        """An MQTT container on ``broker`` (``"HOST:PORT"``) whose inbox topic is
        ``<topic_prefix>/<inbox>`` (default inbox: a random name); ``token`` as for
        :meth:`tcp`; ``login``: user name and password at the broker; ``tls``: TLS (and a
        client certificate) to the broker (:mod:`.mqtt_transport`)."""
        host, port = parse_host_port(broker, "broker address") if isinstance(broker, str) \
            else broker
        inbox = inbox or uuid.uuid4().hex[:12]
        topic = mqtt_topic(inbox, topic_prefix)
        security = LinkSecurity(token) if token else None
        container = BrokerMQTTContainer(
            broker_addr=(host, int(port)),
            client_id=f"{topic.replace('/', '-')}-{uuid.uuid4().hex[:6]}", inbox_topic=topic,
            codec=_framing_codec(wire_format, security), login=login, tls=tls,
            copy_internal_messages=True)
        return cls(container, "mqtt", security)

    # -- addresses -----------------------------------------------------------------------------
    @property
    def protocol_address(self) -> Any:
        """Where this container is reached: ``(host, port)`` (TCP) or the inbox topic (MQTT)."""
        return tuple(self.container.addr) if self.kind == "tcp" else self.container.inbox_topic

    def connect(self, name: str, protocol_address: Any) -> None:
        """Make the remote agent ``name`` reachable: ``(host, port)`` / ``"HOST:PORT"`` (TCP) or
        its container's inbox topic (MQTT)."""
        if self.kind == "tcp" and isinstance(protocol_address, str):
            protocol_address = parse_host_port(protocol_address, f"address of {name!r}")
        elif self.kind == "tcp":
            protocol_address = tuple(protocol_address)
        self.directory[name] = AgentAddress(protocol_address, name)
        self._connected.add(name)

    # -- Transport -------------------------------------------------------------------------------
    def register(self, address: str) -> Mailbox:
        if address in self._relays:
            raise ValueError(f"agent address {address!r} is already registered")
        box = Mailbox(address)
        relay = self.container.register(_relay_agent(self, box), suggested_aid=address)
        if relay.aid != address:  # mango refuses ids of its own pattern ("agent0", ...)
            raise ValueError(f"agent address {address!r} cannot be used on a mango container")
        self._relays[address] = relay
        self.directory[address] = relay.addr
        return box

    async def send(self, sender: str, receiver: str, message: Any) -> None:
        relay = self._relays.get(sender)
        if relay is None:
            raise CoordinationError(f"{sender!r} is not registered on this transport")
        target = self.directory.get(receiver)
        if target is None:
            raise CoordinationError(f"{sender}: unknown receiver {receiver!r}")
        if self.security is not None and receiver not in self._relays:
            await self._link(sender, receiver)
        await self._deliver(relay, message, target, receiver)

    async def _deliver(self, relay: Any, message: Any, target: Any, receiver: str) -> None:
        kwargs = {"qos": MQTT_QOS} if self.kind == "mqtt" else {}
        ok = await relay.send_message(message, receiver_addr=target, **kwargs)
        # mango's MQTT container reports whether the broker has acknowledged yet, which at QoS 1
        # it has not right after publishing; a message the broker loses ends in a timeout.
        if ok is False and self.kind == "tcp":
            raise CoordinationError(f"{relay.aid}: could not deliver a {type(message).__name__} "
                                    f"to {receiver!r} at {target.protocol_addr}")

    async def open_links(self, sender: str, receivers: Sequence[str],
                         timeout: float | None = None) -> None:
        """Open fresh authenticated links from ``sender`` to every one of ``receivers`` at once
        (new keys, e.g. for a new run) within ``timeout`` seconds (default
        :data:`HANDSHAKE_TIMEOUT_S`); nothing without a token."""
        if self.security is None:
            return
        remote = [r for r in receivers if r not in self._relays]
        for receiver in remote:
            if receiver not in self.directory:
                raise CoordinationError(f"{sender}: unknown receiver {receiver!r}")
            self.security.drop_links(sender, receiver)
        await asyncio.gather(*(self._link(sender, r, timeout) for r in remote))

    async def _link(self, sender: str, receiver: str, timeout: float | None = None) -> None:
        """Wait until ``sender`` has an authenticated link to ``receiver``, opening it by
        handshake if needed (one handshake per pair at a time)."""
        assert self.security is not None
        if self.security.has_link(sender, receiver):
            return
        pair = (sender, receiver)
        waiter = self._handshakes.get(pair)
        if waiter is not None:
            await asyncio.shield(waiter)
            return
        waiter = self._handshakes[pair] = asyncio.get_running_loop().create_future()
        try:
            await self._handshake(sender, receiver, waiter, timeout or HANDSHAKE_TIMEOUT_S)
        except Exception as exc:
            if not waiter.done():  # the other senders on this pair get the same error
                waiter.set_exception(exc)
                waiter.exception()  # retrieved: nobody else waiting is no error of its own
            raise
        finally:
            if not waiter.done():  # cancelled (Ctrl-C): so are the others
                waiter.cancel()
            del self._handshakes[pair]

    async def _handshake(self, sender: str, receiver: str, waiter: asyncio.Future,
                         timeout: float) -> None:
        """Send hellos (each with a fresh nonce; the pause grows from 0.25 s to 2 s) until one is
        welcomed, for at most ``timeout`` seconds."""
        assert self.security is not None
        relay, target = self._relays[sender], self.directory[receiver]
        deadline = time.monotonic() + timeout
        pause, nonces = 0.25, []
        try:
            while True:
                nonce, text = self.security.hello(sender, receiver)
                nonces.append(nonce)
                self._welcomes[nonce] = waiter
                await self._deliver(relay, LinkHello(sender, receiver, text), target, receiver)
                if await _done_within(waiter, min(pause, deadline - time.monotonic())):
                    return
                if time.monotonic() >= deadline:
                    raise CoordinationTimeoutError(
                        f"{sender}: no authenticated answer from {receiver!r} within "
                        f"{timeout:g} s: it is not running or not reachable, or it "
                        "holds another token (--token / DRO_TOKEN)")
                pause = min(2 * pause, 2.0)
        finally:
            for nonce in nonces:
                self.security.forget_hello(nonce)
                self._welcomes.pop(nonce, None)

    async def __aenter__(self) -> MangoTransport:
        if not self._started:
            try:
                await self.container.start()
            except OSError as exc:
                where = ":".join(map(str, self.container.addr)) if self.kind == "tcp" \
                    else self.container.broker_addr
                raise CoordinationError(f"cannot start the {self.kind} container at {where}: "
                                        f"{exc}") from exc
            self.container.on_ready()
            self._started = True
            if self.kind == "mqtt":
                _no_delay_mqtt(self.container.mqtt_client)
                host = self.container.broker_addr[0]
                if self.security is None and self.container.login is None \
                        and not _is_loopback(host):
                    _log.warning(
                        "using the MQTT broker at %s without a token or a broker login: anyone "
                        "who reaches the broker can join runs, read what is sent and steer or "
                        "end them; give every party the same --token-file (or DRO_TOKEN)", host)
            elif self.security is None and not _is_loopback(self.container.addr[0]):
                _log.warning(
                    "listening on %s:%d without a token: anyone who reaches this port can join "
                    "runs, read what is sent and steer or end them; give every party the same "
                    "--token-file (or DRO_TOKEN), or listen on 127.0.0.1 behind an SSH or "
                    "WireGuard tunnel", *self.container.addr)
            # Agents registered before the start got the container's address with port 0.
            for name, relay in self._relays.items():
                self.directory[name] = relay.addr
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._started:
            self._started = False
            await self.container.shutdown()

    def _received(self, box: Mailbox, content: Any, meta: dict[str, Any]) -> None:
        sender = meta.get("sender_id")
        kind = type(content)
        if not isinstance(sender, str) or not (kind in MESSAGE_TYPES or kind in HANDSHAKE_TYPES):
            self.stats.rejected += 1
            warn_sometimes(_log, self.stats.rejected, "%s: ignored a message that is not of the "
                           "protocol (%s)", box.address, kind.__name__)
            return
        # Learn (and relearn: a new coordinator of a later run) where to answer a sender,
        # unless its address was given with connect(): an agent listening on 0.0.0.0 names that
        # as its own address, which is no place to send to. With a token only authenticated
        # frames get here, so the address is never taken from an unauthenticated field.
        if sender not in self._connected and sender not in self._relays:
            try:
                self.directory[sender] = sender_addr(meta)
            except (KeyError, TypeError):
                _log.warning("%s: message from %r without a sender address", box.address, sender)
                return
        if kind is LinkHello:
            self._spawn(self._welcome(box.address, content))
        elif kind is LinkWelcome:
            self._welcomed(box.address, content)
        else:
            box.put(sender, content)

    async def _welcome(self, local: str, hello: LinkHello) -> None:
        assert self.security is not None
        try:
            nonce = self.security.welcome(local, hello.sender, hello.nonce)
        except FrameRejectedError as exc:
            self.stats.rejected += 1
            warn_sometimes(_log, self.stats.rejected, "%s: dropped %s", local, exc)
            return
        try:
            await self._deliver(self._relays[local], LinkWelcome(local, hello.sender, hello.nonce,
                                                                 nonce),
                                self.directory[hello.sender], hello.sender)
        except (CoordinationError, OSError) as exc:
            _log.warning("%s: cannot answer the hello of %r: %s", local, hello.sender, exc)

    def _welcomed(self, local: str, welcome: LinkWelcome) -> None:
        assert self.security is not None
        try:
            ok = self.security.welcomed(local, welcome.sender, welcome.hello_nonce, welcome.nonce)
        except FrameRejectedError:
            ok = False
        if not ok:  # a welcome to no hello of ours: a replay, or one already answered
            self.stats.rejected += 1
            return
        waiter = self._welcomes.pop(bytes.fromhex(welcome.hello_nonce), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _done_within(future: asyncio.Future, timeout: float) -> bool:
    """Whether ``future`` is done within ``timeout`` seconds (a future and a timer: no
    ``asyncio.wait_for``, which can swallow a cancellation)."""
    if future.done() or timeout <= 0:
        return future.done()
    loop = asyncio.get_running_loop()
    woken = loop.create_future()

    def wake(_: Any = None) -> None:
        if not woken.done():
            woken.set_result(None)

    timer = loop.call_later(timeout, wake)
    future.add_done_callback(wake)
    try:
        await woken
    finally:
        timer.cancel()
        future.remove_done_callback(wake)
    return future.done()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def mqtt_topic(inbox: str, topic_prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    """The MQTT inbox topic of ``inbox`` (no wildcards allowed)."""
    if any(c in inbox for c in "#+") or any(c in topic_prefix for c in "#+"):
        raise ValueError(f"MQTT topic parts must not contain '#' or '+': {topic_prefix}/{inbox}")
    return f"{topic_prefix}/{inbox}"


def _no_delay_mqtt(client: Any) -> None:
    """Switch off Nagle's algorithm on the MQTT client's socket (now and after reconnects), and
    paho's logging.

    paho leaves it on; with QoS 1 the small PUBACKs then wait for the peer's delayed ACK, about
    40 ms per message on loopback instead of well under one.
    """
    def no_delay(sock: Any) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):  # not a TCP socket (e.g. websockets, unix socket)
            pass

    client.on_socket_open = lambda _client, _userdata, sock: no_delay(sock)
    if client.socket() is not None:
        no_delay(client.socket())
    # paho's network thread logs a harmless "Client is not connected" error when it polls once
    # more after mango's shutdown closed the socket; lost messages show up as timeouts anyway.
    client.disable_logger()


class _DirectInbox:
    """Stands in for a relay agent's inbox queue: the container hands every message for the
    agent to ``put`` / ``put_nowait``, which deliver it into the mailbox at once. That skips
    the agent's own queue and dispatch task (a loop iteration and a task per message); the
    agent's inbox task waits on ``get`` forever and is cancelled at shutdown."""

    def __init__(self, transport: MangoTransport, box: Mailbox) -> None:
        self._deliver = lambda item: transport._received(box, item[1], item[2])

    def put_nowait(self, item: tuple[int, Any, dict[str, Any]]) -> None:
        self._deliver(item)

    async def put(self, item: tuple[int, Any, dict[str, Any]]) -> None:
        self._deliver(item)

    async def get(self) -> Any:
        await asyncio.get_running_loop().create_future()  # never: nothing is queued here

    def task_done(self) -> None:
        pass


def _relay_agent(transport: MangoTransport, box: Mailbox) -> Any:
    class _Relay(Agent):
        """Puts every protocol message it receives into the agent's mailbox."""

        def __init__(self) -> None:
            super().__init__()
            self.inbox = _DirectInbox(transport, box)

        def handle_message(self, content: Any, meta: dict[str, Any]) -> None:
            transport._received(box, content, meta)  # not reached: the inbox delivers directly

    return _Relay()


def _framing_codec(wire_format: str, security: LinkSecurity | None) -> Any:
    """The protocol's mango codec, counting messages and encoded bytes in ``stats``; with
    ``security`` every frame is sealed on the way out and authenticated before it is decoded on
    the way in. ``decode_frame(raw)`` returns the message or ``None`` for a dropped frame (the
    TCP transport acts on it); ``decode`` returns an empty mango message instead (the MQTT
    container decodes in paho's thread, where an exception would stop the client)."""
    codec = mango_codec(wire_format)
    stats = TrafficStats()
    encode, decode = codec.encode, codec.decode

    def framing_encode(data: Any) -> bytes:
        raw = encode(data)
        if security is not None:
            if type(getattr(data, "content", None)) in HANDSHAKE_TYPES:
                raw = security.seal_handshake(raw)
            else:
                meta = getattr(data, "meta", None) or {}
                try:
                    raw = security.seal(meta.get("sender_id"), meta.get("receiver_id"), raw)
                except LookupError as exc:
                    raise CoordinationError(str(exc)) from None
        stats.messages += 1
        stats.bytes_sent += len(raw)
        return raw

    def reject(why: str, *args: Any) -> None:
        stats.rejected += 1
        warn_sometimes(_log, stats.rejected, why, *args)

    def decode_frame(raw: bytes) -> Any:
        stats.messages += 1
        stats.bytes_sent += len(raw)
        if len(raw) > MAX_MESSAGE_BYTES:
            return reject("dropped a message of %d bytes (more than %d)", len(raw),
                          MAX_MESSAGE_BYTES)
        link = None
        if security is not None:
            try:
                raw, link = security.open(raw)
            except FrameRejectedError as exc:
                return reject("dropped %s", exc)
        try:
            message = decode(raw)
        except Exception as exc:  # garbage from the network must never stop the container
            return reject("dropped an undecodable message of %d bytes: %s", len(raw), exc)
        if not isinstance(message, MangoMessage) or not isinstance(message.meta, dict):
            return reject("dropped a %d-byte message that is not of the protocol", len(raw))
        if security is not None and not _authentic(message, link):
            return reject("dropped a frame whose sender or receiver is not its link's")
        return message

    def framing_decode(raw: bytes) -> Any:
        message = decode_frame(raw)
        return MangoMessage(None, {}) if message is None else message

    codec.encode, codec.decode, codec.decode_frame = framing_encode, framing_decode, decode_frame
    codec.stats = stats
    return codec


def _authentic(message: Any, link: Any) -> bool:
    """Whether an authenticated frame's decoded sender and receiver are those its key stands
    for: the link's two agents (sealed), or the names inside a handshake message."""
    meta, content = message.meta, message.content
    sender, receiver = meta.get("sender_id"), meta.get("receiver_id")
    if link is None:  # a handshake frame: only a hello or welcome, and about its own names
        return type(content) in HANDSHAKE_TYPES and content.sender == sender \
            and content.receiver == receiver
    return sender == link.remote and receiver == link.local
