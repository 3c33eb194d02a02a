"""Transports move messages between named agents; the runtime's agents only see this interface.

A transport gives each agent a :class:`Mailbox` and delivers ``send(sender, receiver, message)``.
The in-process :class:`InProcessTransport` is the default; the mango-agents transport
(:class:`~.mango.MangoTransport`) implements the same interface over TCP or MQTT, so agents run
unchanged in one process or across hosts. A transport is an async context manager:
``async with transport:`` starts and stops whatever it needs (network containers); for the
in-process transport that is nothing. (A *carrier* is what a participant's handlers hold:
:class:`~distributed_resource_optimization.algorithm.carrier.Carrier`.)
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import math
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def name_list(names: Sequence[str], most: int = 10) -> str:
    """``names`` for a message: all of them up to ``most``, else the first ``most`` and how many
    more (a run of a thousand building agents that all time out stays one readable line)."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


class CoordinationTimeoutError(TimeoutError):
    """No message arrived in time; the message says who was waited for and for how long."""


class CoordinationError(RuntimeError):
    """A participant reported an error or broke the protocol."""


class ParticipantError(CoordinationError):
    """A participant failed in its local work (or its handler raised); the message names it."""


@dataclass
class TrafficStats:
    """Messages a transport moved and their encoded size (bytes; 0 where nothing is encoded), the
    messages it dropped unread (undecodable, oversized, not of the protocol, not authentic,
    replayed) and the connections it refused or closed (over the connection limit, idle without a
    valid frame). ``carrier_id`` tells counts of different transports (processes, containers) apart
    when they are summed."""

    messages: int = 0
    bytes_sent: int = 0
    rejected: int = 0
    refused_connections: int = 0
    carrier_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)


def parse_host_port(text: str, what: str = "address") -> tuple[str, int]:
    """``"HOST:PORT"`` as ``(host, port)``; ``ValueError`` naming ``what`` otherwise."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{what} must be HOST:PORT (port 0-65535), got {text!r}")
    return host, int(port)


def warn_sometimes(log: logging.Logger, count: int, message: str, *args: Any) -> None:
    """Log ``message`` for the 1st, 2nd, 4th, 8th, ... occurrence (``count``, counted by the
    caller): a flood of bad frames or connections must not flood the log too."""
    if count > 0 and count & (count - 1) == 0:
        log.warning(message + " (%d so far)", *args, count)


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` if the current task was asked to stop and the request was lost.

    Python 3.11's ``asyncio.wait_for`` swallows a cancellation that arrives as the awaited
    future completes: a peer draining its last report when its stdin closed then served on
    until the SIGTERM 5 s later. A serve loop calls this before it waits for the next run (not
    cleanup code, which may await while its task is being cancelled). ``Task.cancelling()``
    counts the requests from Python 3.11 on; 3.10 has no count to go by.
    """
    cancelling = getattr(asyncio.current_task(), "cancelling", None)
    if cancelling is not None and cancelling():
        raise asyncio.CancelledError


class Mailbox:
    """An agent's inbox: ``receive`` waits at most ``timeout`` seconds.

    One waiter at a time (the agent that owns it). A message already queued is returned without
    suspending; otherwise the wait is one future with a timer, no extra task per message.
    """

    def __init__(self, address: str) -> None:
        self.address = address
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()
        self._waiter: asyncio.Future | None = None

    def put(self, sender: str, message: Any) -> None:
        self._queue.append((sender, message))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self, timeout: float, waiting_for: str = "a message") -> tuple[str, Any]:
        """Next ``(sender, message)``; raises :class:`CoordinationTimeoutError` after ``timeout`` s."""
        if self._queue:
            return self._queue.popleft()
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if not self._queue:  # the timer fired first
            raise CoordinationTimeoutError(
                f"{self.address}: no reply from {waiting_for} within {timeout:g} s")
        return self._queue.popleft()

    def take_newest(self, sender: str, rank: Callable[[Any], float | None]) -> Any:
        """Remove every queued message of ``sender`` that ``rank`` ranks (not ``None``) and
        return the highest ranked one (``None`` if there is none); other messages keep their
        order. A participant that fell behind answers only the newest request, not each in turn."""
        best, best_rank = None, None
        kept: collections.deque[tuple[str, Any]] = collections.deque()
        for item in self._queue:
            r = rank(item[1]) if item[0] == sender else None
            if r is None:
                kept.append(item)
            elif best_rank is None or r > best_rank:
                best, best_rank = item[1], r
        if best is not None:
            self._queue = kept
        return best


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


def transport_argument(transport: Transport | None, carrier: Transport | None
                       ) -> Transport | None:
    """The ``transport=`` argument of a run, or its old name ``carrier=``; ``TypeError`` for
    both at once or for anything that is not a :class:`Transport`."""
    if carrier is not None:
        if transport is not None:
            raise TypeError("give transport= (carrier= is its old name), not both")
        transport = carrier
    if transport is not None and not isinstance(transport, Transport):
        raise TypeError(f"transport must be a Transport (InProcessTransport(), "
                        f"MangoTransport.tcp() / .mqtt()), got {type(transport).__name__}")
    return transport


class Transport(ABC):
    """Message transport between agents addressed by name.

    ``stats`` counts what went through this transport (for a networked transport: what this process
    sent and received).
    """

    stats: TrafficStats

    @abstractmethod
    def register(self, address: str) -> Mailbox:
        """Create the mailbox of a new agent; addresses are unique."""

    @abstractmethod
    async def send(self, sender: str, receiver: str, message: Any) -> None:
        """Deliver ``message`` to ``receiver``'s mailbox."""

    async def open_links(self, sender: str, receivers: Sequence[str],
                         timeout: float | None = None) -> None:
        """Open fresh authenticated links from ``sender`` to ``receivers`` within ``timeout``
        seconds (a transport with a shared token: new keys for a new run); nothing for a transport
        without links."""
        return None

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class InProcessTransport(Transport):
    """In-process transport: one asyncio queue per agent.

    Without ``codec`` messages are passed by reference (numpy array fields copied on send, so no
    agent can change another's data). With a ``codec`` (e.g.
    :class:`~distributed_resource_optimization.runtime.codec.WireCodec`) every message is encoded
    to bytes and decoded again on send, exactly as a networked transport would, and ``stats``
    counts the bytes.
    """

    def __init__(self, codec: Any = None) -> None:
        self._boxes: dict[str, Mailbox] = {}
        self.codec = codec
        self.stats = TrafficStats()

    def register(self, address: str) -> Mailbox:
        if address in self._boxes:
            raise ValueError(f"agent address {address!r} is already registered")
        box = Mailbox(address)
        self._boxes[address] = box
        return box

    async def send(self, sender: str, receiver: str, message: Any) -> None:
        box = self._boxes.get(receiver)
        if box is None:
            raise CoordinationError(f"{sender}: unknown receiver {receiver!r}")
        self.stats.messages += 1
        if self.codec is None:
            box.put(sender, _copy_arrays(message))
            return
        data = self.codec.encode(message)
        self.stats.bytes_sent += len(data)
        box.put(sender, self.codec.decode(data))


def _copy_arrays(message: Any) -> Any:
    if not dataclasses.is_dataclass(message):
        return message
    changes = {f.name: getattr(message, f.name).copy() for f in dataclasses.fields(message)
               if isinstance(getattr(message, f.name), np.ndarray)}
    return dataclasses.replace(message, **changes) if changes else message


@dataclass
class FaultStats:
    """What a :class:`FaultyTransport` did to the messages it was given."""

    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0


@dataclass(frozen=True)
class Faults:
    """What a :class:`FaultyTransport` does to messages: drop / duplicate probabilities, a
    uniform delay range (s) and the random seed."""

    drop: float = 0.0
    duplicate: float = 0.0
    delay: tuple[float, float] = (0.0, 0.0)
    seed: int | None = None

    def wrap(self, transport: Transport) -> FaultyTransport:
        return FaultyTransport(transport, self.drop, self.duplicate, self.delay, self.seed)

    @classmethod
    def latency(cls, one_way_s: float) -> Faults:
        """Every message delayed by ``one_way_s`` seconds and nothing lost: a network's latency,
        in process (``faults=`` of the ``run_*`` functions; in process it delays every message,
        so one ADMM round costs two latencies). Compare the measured wall time with
        :meth:`~..admm.results.ADMMResult.wall_time_at_latency`."""
        if not (math.isfinite(one_way_s) and one_way_s >= 0.0):
            raise ValueError(f"one_way_s must be a finite number of seconds >= 0, got {one_way_s}")
        return cls(delay=(float(one_way_s), float(one_way_s)))


class FaultyTransport(Transport):
    """Wraps a transport and loses, duplicates and delays its messages: a testing aid.

    Each message is dropped with probability ``drop``, else sent twice with probability
    ``duplicate``; every copy is delayed by a uniform time in ``delay`` (seconds), so messages
    also overtake each other. Random draws from ``numpy.random.default_rng(seed)``. ``faults``
    counts what happened; ``stats`` are the wrapped transport's.
    """

    def __init__(self, transport: Transport, drop: float = 0.0, duplicate: float = 0.0,
                 delay: tuple[float, float] = (0.0, 0.0), seed: int | None = None) -> None:
        if not isinstance(transport, Transport):
            raise TypeError(f"transport must be a Transport, got {type(transport).__name__}")
        for name, p in (("drop", drop), ("duplicate", duplicate)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), got {p}")
        lo, hi = delay
        if not 0.0 <= lo <= hi:
            raise ValueError(f"delay must be (low, high) seconds with 0 <= low <= high, got {delay}")
        self.inner = transport
        self.drop, self.duplicate, self.delay = float(drop), float(duplicate), (lo, hi)
        self._rng = np.random.default_rng(seed)
        self.faults = FaultStats()
        self._pending: set[asyncio.Task] = set()

    @property
    def stats(self) -> TrafficStats:  # type: ignore[override]
        return self.inner.stats

    def register(self, address: str) -> Mailbox:
        return self.inner.register(address)

    async def open_links(self, sender: str, receivers: Sequence[str],
                         timeout: float | None = None) -> None:
        await self.inner.open_links(sender, receivers, timeout)

    async def send(self, sender: str, receiver: str, message: Any) -> None:
        if self._rng.random() < self.drop:
            self.faults.dropped += 1
            return
        copies = 1
        if self._rng.random() < self.duplicate:
            self.faults.duplicated += 1
            copies = 2
        for _ in range(copies):
            wait = self._rng.uniform(*self.delay) if self.delay[1] > 0 else 0.0
            if wait <= 0:
                await self.inner.send(sender, receiver, message)
                continue
            self.faults.delayed += 1
            task = asyncio.ensure_future(self._later(wait, sender, receiver, message))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _later(self, wait: float, sender: str, receiver: str, message: Any) -> None:
        await asyncio.sleep(wait)
        try:
            await self.inner.send(sender, receiver, message)
        except CoordinationError:  # the receiver is gone (the run ended meanwhile)
            pass

    async def __aenter__(self) -> FaultyTransport:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        await self.inner.__aexit__(*exc)
