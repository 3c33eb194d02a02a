"""Coordinator-free runs in one asyncio process: every participant behind a :class:`SimpleCarrier`.

Addresses are the participants' positions counted from 1 (:func:`cid`); each delivery is a task
of its own, run in the order sent, so a run is deterministic. The run ends when no message is in
flight (:attr:`ActorContainer.done_event`); :func:`run_in_process` (what
:func:`~.run.start_distributed_optimization` runs without a transport) bounds that wait,
raises the first error a participant's handler raised (naming the participant) and returns a
:class:`DistributedResult`.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from distributed_resource_optimization.algorithm.carrier import (
    Carrier,
    DistributedResult,
    call_later,
)
from distributed_resource_optimization.algorithm.core import (
    check_distinct_ids,
    on_exchange_message,
    start_optimization,
)
from distributed_resource_optimization.runtime.transport import (
    CoordinationTimeoutError,
    ParticipantError,
)

#: Seconds a run may take before it fails (every wait is bounded).
DEFAULT_TIMEOUT_S = 600.0

# The causal depth of the message being handled: what a message sent from its handler carries
# plus one (a run's "rounds"). Tasks copy the context, so each delivery sees its own.
_HOP: contextvars.ContextVar[int] = contextvars.ContextVar("hop", default=0)


class ActorContainer:
    """The participants of one in-process run and the deliveries in flight."""

    def __init__(self) -> None:
        self.actors: list[SimpleCarrier] = []
        self.active_tasks = 0
        self.done_event = asyncio.Event()
        #: Neighbour addresses per participant address (``None``: every other participant).
        self.neighbours: dict[int, list[int]] | None = None
        self.messages = 0
        self.rounds = 0
        #: ``(address, exception)`` of the first handler that raised.
        self.error: tuple[int, BaseException] | None = None
        self._tasks: set[asyncio.Task] = set()

    def _register(self, carrier: SimpleCarrier) -> int:
        self.actors.append(carrier)
        return len(self.actors)

    def _begin(self) -> None:
        self.active_tasks += 1
        if self.done_event.is_set():
            self.done_event.clear()

    def _end(self) -> None:
        self.active_tasks -= 1
        if self.active_tasks == 0:
            self.done_event.set()

    def _spawn(self, coro: Any, counted: bool) -> asyncio.Task:
        if counted:
            self._begin()
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def finished(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if counted:
                self._end()

        task.add_done_callback(finished)
        return task

    def cancel(self) -> None:
        """Cancel every delivery still in flight (a failed or timed-out run)."""
        for task in list(self._tasks):
            task.cancel()

    def raise_error(self, coordinator: int | None = None) -> None:
        """Raise the first handler's error as :class:`ParticipantError` naming the participant
        (or the coordinator at address ``coordinator``); nothing if there was none."""
        if self.error is None:
            return
        address, exc = self.error
        who = "coordinator" if address == coordinator else f"participant {address}"
        raise ParticipantError(f"{who} ({type(self.actors[address - 1].actor).__name__}): "
                               f"{type(exc).__name__}: {exc}") from exc


class SimpleCarrier(Carrier):
    """A participant's carrier in an :class:`ActorContainer` (address: position from 1)."""

    def __init__(self, container: ActorContainer, actor: Any) -> None:
        self.container = container
        self.actor = actor
        self.aid = container._register(self)
        self._uuid_to_handler: dict[Any, Callable] = {}

    def others(self, participant_id: Any = None) -> list[int]:
        nbrs = self.container.neighbours
        if nbrs is not None:
            return list(nbrs[self.aid])
        return [c.aid for c in self.container.actors if c.aid != self.aid]

    def get_address(self) -> int:
        return self.aid

    def _target(self, receiver: int) -> SimpleCarrier:
        actors = self.container.actors
        if not (isinstance(receiver, int) and 1 <= receiver <= len(actors)):
            raise ValueError(f"participant {self.aid}: no participant at address {receiver!r} "
                             f"(addresses are 1..{len(actors)})")
        return actors[receiver - 1]

    def send_to_other(self, content: Any, receiver: int, meta: dict | None = None
                      ) -> asyncio.Task:
        target = self._target(receiver)
        full = {"sender": self.aid, "message_id": uuid.uuid4()}
        full.update(meta or {})
        return self.container._spawn(self._dispatch_to(target, content, full), counted=True)

    async def _dispatch_to(self, target: SimpleCarrier, content: Any, meta: dict) -> None:
        container = self.container
        hop = _HOP.get() + 1
        _HOP.set(hop)
        container.messages += 1
        container.rounds = max(container.rounds, hop)
        try:
            handler = target._uuid_to_handler.get(meta.get("message_id"))
            if handler is not None:
                await handler(target, content, meta)
            else:
                await on_exchange_message(target.actor, target, content, meta)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the run reports it, naming the participant
            if container.error is None:
                container.error = (target.aid, exc)
            container.cancel()

    def reply_to_other(self, content: Any, meta: dict) -> asyncio.Task:
        return self.send_to_other(content, meta["sender"], meta={**meta, "reply": True})

    def send_awaitable(self, content: Any, receiver: int, meta: dict | None = None
                       ) -> asyncio.Future:
        target = self._target(receiver)
        msg_id = uuid.uuid4()
        full = {"sender": self.aid, "message_id": msg_id, **(meta or {})}
        future = asyncio.get_running_loop().create_future()

        async def resolve(_carrier: SimpleCarrier, reply: Any, _meta: dict) -> None:
            if not future.done():
                future.set_result(reply)
            self._uuid_to_handler.pop(msg_id, None)

        self._uuid_to_handler[msg_id] = resolve
        # The request is not counted as in flight: its sender awaits the reply inside a counted
        # delivery, so the run cannot end while it waits.
        self.container._spawn(self._dispatch_to(target, content, full), counted=False)
        return future

    def schedule_using(self, fn: Callable[[], Any], delay_s: float) -> asyncio.Task:
        # Counted: what it sends belongs to the run, which must not end before it.
        return self.container._spawn(call_later(fn, delay_s), counted=True)


def cid(carrier: SimpleCarrier) -> int:
    """The address of ``carrier``'s participant."""
    return carrier.aid


async def run_in_process(actors: Sequence[Any], start_message: Any,
                         neighbours: Sequence[Sequence[int]] | None = None,
                         timeout: float = DEFAULT_TIMEOUT_S) -> DistributedResult:
    """Run ``actors`` behind :class:`SimpleCarrier` s in this event loop from ``start_message``
    until no message is in flight (the start goes to the second participant from the first, to
    the only one from itself); ``neighbours[i]``: participant ``i``'s neighbours (positions from
    0; ``None``: everybody). ``timeout`` (s) bounds the run."""
    start = time.perf_counter()
    container = ActorContainer()
    if neighbours is not None:
        container.neighbours = {i + 1: [j + 1 for j in js] for i, js in enumerate(neighbours)}
    carriers = [SimpleCarrier(container, a) for a in actors]
    first, second = carriers[0], carriers[min(1, len(carriers) - 1)]
    first.send_to_other(start_message, cid(second))
    try:
        await asyncio.wait_for(container.done_event.wait(), timeout)
    except asyncio.TimeoutError:
        container.cancel()
        raise CoordinationTimeoutError(
            f"the distributed run did not end within {timeout:g} s ({container.active_tasks} "
            f"deliveries still in flight after {container.messages} messages)") from None
    except BaseException:
        container.cancel()  # Ctrl-C / cancellation: no delivery outlives the run
        raise
    container.raise_error()
    solutions = [a.solution() if callable(getattr(a, "solution", None)) else None
                 for a in actors]
    converged = all(getattr(a, "converged", True) is not False for a in actors)
    return DistributedResult(list(actors), solutions, container.rounds, container.messages,
                             time.perf_counter() - start, converged)


async def start_coordinated_distributed(actors: Sequence[Any], coordinator: Any,
                                        start_message: Any, *, timeout: float = DEFAULT_TIMEOUT_S
                                        ) -> Any:
    """Run a coordinator written as message handlers (:class:`~..algorithm.core.Coordinator`)
    with ``actors`` in this process (addresses 1..N, the coordinator N+1); returns what the
    coordinator returns. ``timeout`` (s) bounds the run."""
    actors = list(actors)
    if not actors:
        raise ValueError("actors must not be empty")
    check_distinct_ids(actors)
    container = ActorContainer()
    for a in actors:
        SimpleCarrier(container, a)
    # A complete graph, as in the reference: the coordinator reaches every participant.
    coordinator_carrier = SimpleCarrier(container, coordinator)
    task = asyncio.ensure_future(start_optimization(coordinator, coordinator_carrier,
                                                    start_message, {}))
    container._tasks.add(task)  # a participant's error cancels the coordinator's wait too
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:
        task.cancel()
        container.cancel()
        raise
    if not done:
        task.cancel()
        container.cancel()
        raise CoordinationTimeoutError(f"the coordinated run did not end within {timeout:g} s")
    container.raise_error(coordinator=coordinator_carrier.aid)
    return task.result()
