"""The reference package's mango-agents integration: algorithms and coordinators as mango roles.

* :class:`DistributedOptimizationRole` hosts a participant (any
  :class:`~..algorithm.core.DistributedAlgorithm`, e.g. a flex actor, a COHDA or consensus
  participant) in a mango agent; :class:`CoordinatorRole` hosts a coordinator and runs it when
  a :class:`StartCoordinatedDistributedOptimization` arrives; :meth:`CoordinatorRole.wait_done`
  returns its result.
* :class:`MangoCarrier` is the participant's :class:`~..algorithm.carrier.Carrier` inside such a role: its
  neighbours are the agent's neighbours in mango's topology (``complete_topology``,
  ``auto_assign``, ``create_topology``), addresses are mango ``AgentAddress`` es.

The coordinator may be written as message handlers (:class:`~..algorithm.core.Coordinator`) or
be this library's ADMM engine (:class:`~..admm.coordinator.ADMMGenericCoordinator`, what
``create_sharing_admm_coordinator`` and friends return): the engine then runs in the
coordinator's agent and every neighbour is one actor, asked for its local update with
``ADMMMessage`` / ``ADMMAnswer``: the engine's own agents run in the coordinator's agent and
await each round trip on its event loop. Afterwards every
participant gets its part of the result in an :class:`OptimizationFinishedMessage`; a participant
with an ``x`` (a local model) stores it.

Roles of one container exchange the messages as objects. Between containers (processes, hosts)
create the containers with ``codec=mango_codec()`` (:func:`~..runtime.codec.mango_codec`): the
messages then travel as plain values with fixed type ids, never pickled.

This module's ``MangoCarrier`` is the reference's role-side carrier (a
:class:`~..algorithm.carrier.Carrier`); the runtime's transport
(:class:`~.mango.MangoTransport`, ``.tcp()`` / ``.mqtt()``) moves this library's own agents'
messages.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from mango import Role
from mango import sender_addr as mango_sender_addr

from distributed_resource_optimization.admm.coordinator import ADMMGenericCoordinator, ADMMStart
from distributed_resource_optimization.algorithm.carrier import Carrier, call_later
from distributed_resource_optimization.algorithm.core import (
    Coordinator,
    OptimizationMessage,
    on_exchange_message,
    start_optimization,
)
from distributed_resource_optimization.algorithm.local_update import ADMMMessage
from distributed_resource_optimization.local.base import LocalModelError
from distributed_resource_optimization.runtime.engine import coordinate_in_process
from distributed_resource_optimization.runtime.transport import InProcessTransport

_log = logging.getLogger(__name__)

#: Seconds a coordinator waits for one participant's answer (every wait is bounded).
DEFAULT_REPLY_TIMEOUT_S = 600.0


@dataclass
class StartCoordinatedDistributedOptimization(OptimizationMessage):
    """Sent to a :class:`CoordinatorRole` to start a run; ``input`` is the start message (e.g.
    ``create_sharing_admm_start(...)``)."""

    input: Any


@dataclass
class OptimizationFinishedMessage(OptimizationMessage):
    """Sent by the coordinator to each participant when the run has ended: its ``result``."""

    result: Any


@dataclass
class _CarrierRequest(OptimizationMessage, wire_name="dro.mango.CarrierRequest"):
    """A message sent with :meth:`MangoCarrier.send_awaitable`."""

    content: Any
    request_id: str


@dataclass
class _CarrierReply(OptimizationMessage, wire_name="dro.mango.CarrierReply"):
    """The answer to a :class:`_CarrierRequest` (matched by ``request_id``)."""

    content: Any
    request_id: str


class MangoCarrier(Carrier):
    """The carrier of a participant or coordinator inside the mango role ``parent``: sends with
    the role's context, neighbours from mango's topology (plus its own address with
    ``include_self``)."""

    def __init__(self, parent: Role, include_self: bool = False) -> None:
        self._parent = parent
        self._include_self = bool(include_self)
        self._pending: dict[str, asyncio.Future] = {}

    def _schedule(self, coroutine: Any) -> asyncio.Task:
        # Through the agent's scheduler: mango's simulation clock sees the task, and the agent's
        # shutdown ends it.
        return self._parent.context.schedule_instant_task(coroutine)

    def send_to_other(self, content: Any, receiver: Any, meta: dict | None = None
                      ) -> asyncio.Task:
        return self._schedule(self._parent.context.send_message(content, receiver))

    def reply_to_other(self, content: Any, meta: dict) -> asyncio.Task:
        request_id = meta.get("_request_id")
        payload = _CarrierReply(content, request_id) if request_id else content
        return self._schedule(self._parent.context.send_message(payload,
                                                                mango_sender_addr(meta)))

    def send_awaitable(self, content: Any, receiver: Any, meta: dict | None = None
                       ) -> asyncio.Future:
        request_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        task = self._schedule(self._parent.context.send_message(
            _CarrierRequest(content, request_id), receiver))

        def failed(t: asyncio.Task) -> None:  # e.g. the codec refused the content: say so
            if not t.cancelled() and t.exception() is not None and not future.done():
                self._pending.pop(request_id, None)
                future.set_exception(t.exception())

        task.add_done_callback(failed)
        return future

    def _resolve_reply(self, reply: _CarrierReply) -> bool:
        future = self._pending.pop(reply.request_id, None)
        if future is None or future.done():
            return False
        future.set_result(reply.content)
        return True

    def others(self, participant_id: Any = None) -> list[Any]:
        neighbours = list(self._parent.context.neighbors())
        if self._include_self:
            neighbours.append(self._parent.context.addr)
        return neighbours

    def get_address(self) -> Any:
        return self._parent.context.addr

    def schedule_using(self, fn: Any, delay_s: float) -> asyncio.Task:
        return self._schedule(call_later(fn, delay_s))


class DistributedOptimizationRole(Role):
    """A mango role hosting the participant ``algorithm`` (its ``on_exchange_message`` gets
    every message but replies and start messages)."""

    def __init__(self, algorithm: Any, include_self: bool = False) -> None:
        super().__init__()
        if not callable(getattr(algorithm, "on_exchange_message", None)):
            raise TypeError(f"algorithm must be a distributed algorithm participant (with "
                            f"on_exchange_message), got {type(algorithm).__name__}")
        self.algorithm = algorithm
        self._include_self = include_self
        self._carrier: MangoCarrier | None = None

    def setup(self) -> None:
        self._carrier = MangoCarrier(self, self._include_self)
        self.context.subscribe_message(
            self, self._handle_optimization,
            lambda c, m: not isinstance(c, (_CarrierReply, StartCoordinatedDistributedOptimization)))
        self.context.subscribe_message(self, self._handle_reply,
                                       lambda c, m: isinstance(c, _CarrierReply))

    def _handle_optimization(self, content: Any, meta: dict) -> None:
        if isinstance(content, _CarrierRequest):
            content, meta = content.content, {**meta, "_request_id": content.request_id}
        if isinstance(content, OptimizationFinishedMessage):
            _store_result(self.algorithm, content.result)
        self.context.schedule_instant_task(
            on_exchange_message(self.algorithm, self._carrier, content, meta))

    def _handle_reply(self, content: _CarrierReply, meta: dict) -> None:
        if self._carrier is not None:
            self._carrier._resolve_reply(content)


def _store_result(algorithm: Any, result: Any) -> None:
    """A local model keeps its final output (the engine's result may be a better iterate than
    the last local update it computed)."""
    x = getattr(algorithm, "x", None)
    if isinstance(x, np.ndarray):
        value = np.asarray(result, dtype=float) if result is not None else None
        if value is not None and value.shape == x.shape:
            algorithm.x = value


class CoordinatorRole(Role):
    """A mango role hosting ``coordinator``: a :class:`StartCoordinatedDistributedOptimization`
    starts it with the neighbours as participants (``include_self``: the coordinator's own
    agent takes part too); :meth:`wait_done` returns the result. ``reply_timeout`` (s) bounds
    each wait of the ADMM engine for an answer."""

    def __init__(self, coordinator: Any, include_self: bool = False,
                 reply_timeout: float = DEFAULT_REPLY_TIMEOUT_S) -> None:
        super().__init__()
        self.coordinator = coordinator
        self._include_self = include_self
        self._reply_timeout = float(reply_timeout)
        self._carrier: MangoCarrier | None = None
        self._done_future: asyncio.Future | None = None

    def setup(self) -> None:
        self._carrier = MangoCarrier(self, self._include_self)
        self.context.subscribe_message(
            self, self._handle_start,
            lambda c, m: isinstance(c, StartCoordinatedDistributedOptimization))
        self.context.subscribe_message(self, self._handle_reply,
                                       lambda c, m: isinstance(c, _CarrierReply))

    def _handle_start(self, content: StartCoordinatedDistributedOptimization, meta: dict) -> None:
        self._done_future = asyncio.get_running_loop().create_future()
        self._carrier._schedule(self._run(content.input, meta, self._done_future))

    async def _run(self, start: Any, meta: dict, done: asyncio.Future) -> None:
        try:
            if isinstance(self.coordinator, Coordinator):
                results = await start_optimization(self.coordinator, self._carrier, start, meta)
            else:
                results = await _run_engine(self.coordinator, self._carrier, start,
                                            self._reply_timeout)
            neighbours = self._carrier.others("coordinator")
            per_participant = isinstance(results, (list, tuple)) and \
                len(results) == len(neighbours)
            for i, address in enumerate(neighbours):
                await self.context.send_message(
                    OptimizationFinishedMessage(results[i] if per_participant else results),
                    address)
        except Exception as exc:  # wait_done raises it instead of waiting forever
            _log.warning("coordinator run failed: %s: %s", type(exc).__name__, exc)
            if not done.done():
                done.set_exception(exc)
            return
        if not done.done():
            done.set_result(results)

    def _handle_reply(self, content: _CarrierReply, meta: dict) -> None:
        if self._carrier is not None:
            self._carrier._resolve_reply(content)

    async def wait_done(self) -> Any:
        """The run's result (for ADMM: the :class:`~..admm.results.ADMMResult`, which reads as
        the list of the participants' outputs); ``RuntimeError`` if no run was started."""
        if self._done_future is None:
            raise RuntimeError("Optimization has not been started yet.")
        return await self._done_future


async def _run_engine(coordinator: Any, carrier: MangoCarrier, start: Any,
                      reply_timeout: float) -> Any:
    """Run the ADMM engine with every neighbour of ``carrier`` as one remote participant: the
    engine's own coordinator and participant agents (:mod:`.engine`) run in this agent's event
    loop, and each participant agent's proximal step is one ``ADMMMessage`` / ``ADMMAnswer``
    round trip to its mango agent, awaited on the loop (no thread waits for it)."""
    if not isinstance(coordinator, ADMMGenericCoordinator):
        raise TypeError(f"coordinator must be a Coordinator or an ADMMGenericCoordinator, got "
                        f"{type(coordinator).__name__}")
    if not isinstance(start, ADMMStart):
        raise TypeError(f"the start input must come from create_admm_start, got "
                        f"{type(start).__name__}")
    if start.solution_length is None:
        raise ValueError("the start input must say the participants' output length "
                         "(create_admm_start(data) or create_admm_start(length=N))")
    participants = {f"participant_{i}": _RemoteParticipant(start.solution_length, carrier,
                                                            address, reply_timeout)
                    for i, address in enumerate(carrier.others("coordinator"))}
    if not participants:
        raise ValueError("the coordinator has no neighbours in mango's topology to coordinate")
    return await coordinate_in_process(participants, coordinator, start.data,
                                       InProcessTransport(), None, start.warm_start)


class _RemoteParticipant:
    """A participant in another mango agent, as a participant of the engine
    (:class:`~.engine.Participant`): its proximal step is one ``ADMMMessage`` / ``ADMMAnswer``
    round trip (:meth:`solve_async`, bounded by ``timeout`` s); it publishes nothing and its own
    cost is unknown here."""

    closed_form = False

    def __init__(self, size: int, carrier: MangoCarrier, address: Any, timeout: float) -> None:
        self.size = int(size)
        self.name = f"{getattr(address, 'aid', address)}"
        self._carrier, self._address, self._timeout = carrier, address, float(timeout)

    def describe(self) -> dict[str, Any]:
        return {"names": (self.name,), "sizes": (self.size,), "variables": None}

    def publish(self) -> dict[str, Any]:
        return {}

    def configure(self, published: dict[str, dict[Any, float]]) -> None:
        return None

    def prepare(self) -> None:
        return None

    def rho_scales(self) -> None:
        return None

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        raise LocalModelError(f"{self.name}: a remote participant answers over mango only "
                              "(solve_async)")

    async def solve_async(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        r = np.asarray(rho, dtype=float)
        if r.ndim and not np.all(r == r.flat[0]):
            raise LocalModelError(f"{self.name}: ADMMMessage carries one scalar rho")
        message = ADMMMessage(v=-np.asarray(v, dtype=float), rho=float(r.flat[0]))
        try:
            answer = await asyncio.wait_for(
                self._carrier.send_awaitable(message, self._address), self._timeout)
        except asyncio.TimeoutError:
            raise LocalModelError(f"{self.name}: no ADMMAnswer within {self._timeout:g} s"
                                  ) from None
        x = np.asarray(getattr(answer, "x", None), dtype=float)
        if x.shape != (self.size,):
            raise LocalModelError(f"{self.name}: answered shape {x.shape}, expected "
                                  f"({self.size},)")
        return x

    def assign(self, x: np.ndarray) -> None:
        return None  # the participant gets its part in an OptimizationFinishedMessage

    def objectives(self, x: np.ndarray) -> list[float | None]:
        return [None]


__all__ = ["CoordinatorRole", "DistributedOptimizationRole", "MangoCarrier",
           "OptimizationFinishedMessage", "StartCoordinatedDistributedOptimization"]
