"""Carriers move messages between named agents; algorithms only see this interface.

A carrier gives each agent a :class:`Mailbox` and delivers ``send(sender, receiver, message)``.
The in-process :class:`AsyncioCarrier` is the default; the mango-agents carriers
(:mod:`.mango`) implement the same interface over TCP or MQTT, so agents run unchanged in one
process or across hosts. A carrier is an async context manager: ``async with carrier:`` starts and
stops whatever it needs (network containers); for the in-process carrier that is nothing.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np


class CoordinationTimeoutError(TimeoutError):
    """No message arrived in time; the message says who was waited for and for how long."""


class CoordinationError(RuntimeError):
    """A participant reported an error or broke the protocol."""


@dataclass
class TrafficStats:
    """Messages a carrier moved and their encoded size (bytes; 0 where nothing is encoded)."""

    messages: int = 0
    bytes_sent: int = 0


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


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Carrier(ABC):
    """Message transport between agents addressed by name.

    ``stats`` counts what went through this carrier (for a networked carrier: what this process
    sent and received).
    """

    stats: TrafficStats

    @abstractmethod
    def register(self, address: str) -> Mailbox:
        """Create the mailbox of a new agent; addresses are unique."""

    @abstractmethod
    async def send(self, sender: str, receiver: str, message: Any) -> None:
        """Deliver ``message`` to ``receiver``'s mailbox."""

    async def __aenter__(self) -> Carrier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class AsyncioCarrier(Carrier):
    """In-process carrier: one asyncio queue per agent.

    Without ``codec`` messages are passed by reference (numpy array fields copied on send, so no
    agent can change another's data). With a ``codec`` (e.g.
    :class:`~distributed_resource_optimization.runtime.codec.WireCodec`) every message is encoded
    to bytes and decoded again on send, exactly as a networked carrier would, and ``stats``
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
