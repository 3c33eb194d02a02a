"""The carrier a participant's handlers see: its address, its neighbours, how to reach them.

Every carrier of coordinator-free runs implements :class:`Carrier`; algorithms use nothing else,
so they run unchanged in one process (:mod:`~distributed_resource_optimization.runtime.inproc`) or
one agent per process on mango-agents.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class EventWithValue:
    """An event that carries a value once set (``await wait()`` returns it)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.value: Any = None

    def set(self, value: Any = None) -> None:
        self.value = value
        self.event.set()

    async def wait(self) -> Any:
        await self.event.wait()
        return self.value


async def call_later(fn: Callable[[], Any], delay_s: float) -> None:
    """Wait ``delay_s`` seconds (none if not positive), then call ``fn``."""
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    fn()


class Carrier(ABC):
    """One participant's connection to the others."""

    @abstractmethod
    def send_to_other(self, content: Any, receiver: Any, meta: dict | None = None) -> Any:
        """Send ``content`` to ``receiver`` (an address of :meth:`others`); returns the
        sending task."""

    @abstractmethod
    def reply_to_other(self, content: Any, meta: dict) -> Any:
        """Answer the message whose ``meta`` is given (reaches a :meth:`send_awaitable`)."""

    @abstractmethod
    def send_awaitable(self, content: Any, receiver: Any, meta: dict | None = None
                       ) -> asyncio.Future:
        """Send ``content``; the returned future resolves with the receiver's reply."""

    @abstractmethod
    def others(self, participant_id: Any) -> list:
        """The addresses of this participant's neighbours."""

    @abstractmethod
    def get_address(self) -> Any:
        """This participant's own address."""

    def schedule_using(self, fn: Callable[[], Any], delay_s: float) -> Any:
        """Call ``fn`` after ``delay_s`` seconds (a task)."""
        return asyncio.ensure_future(call_later(fn, delay_s))

    async def wait_for(self, awaitable: Any) -> Any:
        """Await ``awaitable`` (an :class:`EventWithValue` or any awaitable)."""
        if isinstance(awaitable, EventWithValue):
            return await awaitable.wait()
        return await awaitable


@dataclass
class DistributedResult:
    """Outcome of a coordinator-free run: ``solutions[i]`` is participant ``i``'s
    ``solution()`` (``None`` if it offers none), ``rounds`` the longest chain of messages each
    sent in reaction to the one before, ``messages`` the messages delivered, ``wall_time_s`` in
    seconds; ``converged`` is ``False`` if a participant reports ``converged = False``.
    ``actors`` are the participant objects of this process (empty when they ran in processes of
    their own: their solutions then came back over the network); ``extra`` holds what a
    carrier adds (e.g. ``"traffic"``: messages and bytes of a networked run)."""

    actors: list[Any]
    solutions: list[Any]
    rounds: int
    messages: int
    wall_time_s: float
    converged: bool = True
    status: str = "finished"
    extra: dict[str, Any] = field(default_factory=dict)
