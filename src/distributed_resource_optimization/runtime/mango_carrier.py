"""Carriers on mango-agents: the same agents over TCP or MQTT, across processes and hosts.

A :class:`MangoCarrier` owns one mango container (a TCP server, or an MQTT client of a broker).
Every agent registered on it gets a small mango agent with the same id (``aid``) that puts what
it receives into the agent's :class:`~.carrier.Mailbox`; ``send`` hands the message to the
container, which encodes it with :func:`~.codec.mango_codec` (fixed type ids, explicit array
encoding, never pickle). Where other agents live is kept in ``directory`` (agent name ->
``mango.AgentAddress``): add remote agents with :meth:`MangoCarrier.connect`; the address of a
sender is learnt from every message that arrives, so a participant can answer a coordinator it
did not know before.

``async with carrier:`` starts the container (TCP: binds the port; MQTT: connects to the broker
and subscribes to the inbox topic) and shuts it down on exit, also on error. ``stats`` counts the
messages and encoded bytes this process sent and received.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from distributed_resource_optimization.runtime.carrier import (
    Carrier,
    CoordinationError,
    Mailbox,
    TrafficStats,
)
from distributed_resource_optimization.runtime.codec import DEFAULT_WIRE_FORMAT, mango_codec
from distributed_resource_optimization.runtime.messages import MESSAGE_TYPES

_log = logging.getLogger(__name__)

#: Topic prefix of the MQTT inboxes: ``<prefix>/<inbox name>``.
DEFAULT_TOPIC_PREFIX = "dro"
#: Largest message accepted (bytes): a flex fleet of a million actors sends about 50 MB.
MAX_MESSAGE_BYTES = 512 * 2**20
#: MQTT quality of service of every publish: at least once (duplicates are filtered by the
#: protocol's session and iteration numbers), so a busy broker does not drop a message silently.
MQTT_QOS = 1


def parse_host_port(text: str, what: str = "address") -> tuple[str, int]:
    """``"HOST:PORT"`` as ``(host, port)``; ``ValueError`` naming ``what`` otherwise."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{what} must be HOST:PORT (port 0-65535), got {text!r}")
    return host, int(port)


class MangoCarrier(Carrier):
    """A carrier on one mango-agents container; build it with :meth:`tcp` or :meth:`mqtt`."""

    def __init__(self, container: Any, kind: str) -> None:
        self.container = container
        self.kind = kind
        self.directory: dict[str, Any] = {}
        self._relays: dict[str, Any] = {}
        self._connected: set[str] = set()
        self._started = False
        self.stats = container.codec.stats

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def tcp(cls, listen: str | tuple[str, int] = ("127.0.0.1", 0), *,
            wire_format: str = DEFAULT_WIRE_FORMAT) -> MangoCarrier:
        """A TCP container listening on ``listen`` (``"HOST:PORT"``; port 0: the system picks a
        free one, see :attr:`protocol_address` after start); ``wire_format`` of what it sends
        (``"msgpack"`` or ``"json"``; it reads both)."""
        from mango import create_tcp_container

        host, port = parse_host_port(listen, "listen address") if isinstance(listen, str) \
            else listen
        # Agents sharing the container get deep copies, as if the message had travelled.
        return cls(create_tcp_container((host, int(port)), codec=_counting_codec(wire_format),
                                        copy_internal_messages=True), "tcp")

    @classmethod
    def mqtt(cls, broker: str | tuple[str, int], inbox: str | None = None,
             *, topic_prefix: str = DEFAULT_TOPIC_PREFIX,
             wire_format: str = DEFAULT_WIRE_FORMAT) -> MangoCarrier:
        """An MQTT container on ``broker`` (``"HOST:PORT"``) whose inbox topic is
        ``<topic_prefix>/<inbox>`` (default inbox: a random name)."""
        from mango import create_mqtt_container

        host, port = parse_host_port(broker, "broker address") if isinstance(broker, str) \
            else broker
        inbox = inbox or uuid.uuid4().hex[:12]
        topic = mqtt_topic(inbox, topic_prefix)
        container = create_mqtt_container(
            (host, int(port)), client_id=f"{topic.replace('/', '-')}-{uuid.uuid4().hex[:6]}",
            inbox_topic=topic, codec=_counting_codec(wire_format), copy_internal_messages=True)
        return cls(container, "mqtt")

    # -- addresses -----------------------------------------------------------------------------
    @property
    def protocol_address(self) -> Any:
        """Where this container is reached: ``(host, port)`` (TCP) or the inbox topic (MQTT)."""
        return tuple(self.container.addr) if self.kind == "tcp" else self.container.inbox_topic

    def connect(self, name: str, protocol_address: Any) -> None:
        """Make the remote agent ``name`` reachable: ``(host, port)`` / ``"HOST:PORT"`` (TCP) or
        its container's inbox topic (MQTT)."""
        from mango import AgentAddress

        if self.kind == "tcp" and isinstance(protocol_address, str):
            protocol_address = parse_host_port(protocol_address, f"address of {name!r}")
        elif self.kind == "tcp":
            protocol_address = tuple(protocol_address)
        self.directory[name] = AgentAddress(protocol_address, name)
        self._connected.add(name)

    # -- Carrier -------------------------------------------------------------------------------
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
            raise CoordinationError(f"{sender!r} is not registered on this carrier")
        target = self.directory.get(receiver)
        if target is None:
            raise CoordinationError(f"{sender}: unknown receiver {receiver!r}")
        kwargs = {"qos": MQTT_QOS} if self.kind == "mqtt" else {}
        ok = await relay.send_message(message, receiver_addr=target, **kwargs)
        # mango's MQTT container reports whether the broker has acknowledged yet, which at QoS 1
        # it has not right after publishing; a message the broker loses ends in a timeout.
        if ok is False and self.kind == "tcp":
            raise CoordinationError(f"{sender}: could not deliver a {type(message).__name__} to "
                                    f"{receiver!r} at {target.protocol_addr}")

    async def __aenter__(self) -> MangoCarrier:
        if not self._started:
            try:
                await self.container.start()
            except OSError as exc:
                raise CoordinationError(f"cannot start the {self.kind} container: {exc}") from exc
            self.container.on_ready()
            self._started = True
            if self.kind == "mqtt":
                _no_delay_mqtt(self.container.mqtt_client)
            # Agents registered before the start got the container's address with port 0.
            for name, relay in self._relays.items():
                self.directory[name] = relay.addr
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._started:
            self._started = False
            await self.container.shutdown()

    def _received(self, box: Mailbox, content: Any, meta: dict[str, Any]) -> None:
        from mango import sender_addr

        sender = meta.get("sender_id")
        if not isinstance(sender, str) or not isinstance(content, MESSAGE_TYPES):
            self.stats.rejected += 1
            _log.warning("%s: ignored a message that is not of the protocol (%s)", box.address,
                         type(content).__name__)
            return
        # Learn (and relearn: a new coordinator of a later run) where to answer a sender,
        # unless its address was given with connect(): an agent listening on 0.0.0.0 names that
        # as its own address, which is no place to send to.
        if sender not in self._connected and sender not in self._relays:
            try:
                self.directory[sender] = sender_addr(meta)
            except (KeyError, TypeError):
                _log.warning("%s: message from %r without a sender address", box.address, sender)
                return
        box.put(sender, content)


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
    import socket

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

    def __init__(self, carrier: MangoCarrier, box: Mailbox) -> None:
        self._deliver = lambda item: carrier._received(box, item[1], item[2])

    def put_nowait(self, item: tuple[int, Any, dict[str, Any]]) -> None:
        self._deliver(item)

    async def put(self, item: tuple[int, Any, dict[str, Any]]) -> None:
        self._deliver(item)

    async def get(self) -> Any:
        await asyncio.get_running_loop().create_future()  # never: nothing is queued here

    def task_done(self) -> None:
        pass


def _relay_agent(carrier: MangoCarrier, box: Mailbox) -> Any:
    from mango import Agent

    class _Relay(Agent):
        """Puts every protocol message it receives into the agent's mailbox."""

        def __init__(self) -> None:
            super().__init__()
            self.inbox = _DirectInbox(carrier, box)

        def handle_message(self, content: Any, meta: dict[str, Any]) -> None:
            carrier._received(box, content, meta)  # not reached: the inbox delivers directly

    return _Relay()


def _counting_codec(wire_format: str) -> Any:
    """The protocol's mango codec, counting messages and encoded bytes in ``stats``."""
    codec = mango_codec(wire_format)
    stats = TrafficStats()
    encode, decode = codec.encode, codec.decode

    def counting_encode(data: Any) -> bytes:
        raw = encode(data)
        stats.messages += 1
        stats.bytes_sent += len(raw)
        return raw

    def counting_decode(raw: bytes) -> Any:
        from mango.messages.message import MangoMessage

        stats.messages += 1
        stats.bytes_sent += len(raw)
        if len(raw) > MAX_MESSAGE_BYTES:
            stats.rejected += 1
            _log.warning("dropped a message of %d bytes (more than %d)", len(raw),
                         MAX_MESSAGE_BYTES)
            return MangoMessage(None, {})
        try:
            message = decode(raw)
        except Exception as exc:  # garbage from the network must never stop the container
            stats.rejected += 1
            _log.warning("dropped an undecodable message of %d bytes: %s", len(raw), exc)
            return MangoMessage(None, {})
        if not isinstance(message, MangoMessage) or not isinstance(message.meta, dict):
            stats.rejected += 1  # valid JSON, but no message of ours
            _log.warning("dropped a %d-byte message that is not of the protocol", len(raw))
            return MangoMessage(None, {})
        return message

    codec.encode, codec.decode = counting_encode, counting_decode
    codec.stats = stats
    return codec
