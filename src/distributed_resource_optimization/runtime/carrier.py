"""Carriers move messages between named agents; algorithms only see this interface.

A carrier gives each agent a :class:`Mailbox` and delivers ``send(sender, receiver, message)``.
The in-process :class:`AsyncioCarrier` is the default; a networked carrier (e.g. on mango-agents)
implements the same two methods, so agents run unchanged in one process or across hosts.
"""

from __future__ import annotations

import asyncio
import dataclasses
from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class CoordinationTimeoutError(TimeoutError):
    """No message arrived in time; the message says who was waited for and for how long."""


class CoordinationError(RuntimeError):
    """A participant reported an error or broke the protocol."""


class Mailbox:
    """An agent's inbox: ``receive`` waits at most ``timeout`` seconds."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(self, sender: str, message: Any) -> None:
        self._queue.put_nowait((sender, message))

    async def receive(self, timeout: float, waiting_for: str = "a message") -> tuple[str, Any]:
        """Next ``(sender, message)``; raises :class:`CoordinationTimeoutError` after ``timeout`` s."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            raise CoordinationTimeoutError(
                f"{self.address}: no reply from {waiting_for} within {timeout:g} s") from None


class Carrier(ABC):
    """Message transport between agents addressed by name."""

    @abstractmethod
    def register(self, address: str) -> Mailbox:
        """Create the mailbox of a new agent; addresses are unique."""

    @abstractmethod
    async def send(self, sender: str, receiver: str, message: Any) -> None:
        """Deliver ``message`` to ``receiver``'s mailbox."""


class AsyncioCarrier(Carrier):
    """In-process carrier: one asyncio queue per agent, messages passed by reference.

    Numpy arrays in messages are copied on send so no agent can change another's data.
    """

    def __init__(self) -> None:
        self._boxes: dict[str, Mailbox] = {}

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
        box.put(sender, _copy_arrays(message))


def _copy_arrays(message: Any) -> Any:
    if not dataclasses.is_dataclass(message):
        return message
    changes = {f.name: getattr(message, f.name).copy() for f in dataclasses.fields(message)
               if isinstance(getattr(message, f.name), np.ndarray)}
    return dataclasses.replace(message, **changes) if changes else message
