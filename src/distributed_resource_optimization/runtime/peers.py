"""Coordinator-free runs on a networked carrier: every participant an agent of its own.

The participants' handlers are the same as in one process (:mod:`..runtime.inproc`); here each
sits behind a :class:`PeerCarrier` (addresses 1..N, its neighbours from the run's topology) on a
:class:`~.transport.Transport`: the in-process one, or mango-agents over TCP or MQTT,
one process per participant included. The algorithm's messages travel as
:class:`~.messages.PeerMessage` with an explicit codec (:func:`~.codec.encode_value`: numbers,
strings, containers, numpy arrays and registered dataclasses; never pickle).

A *controller* (a small agent of the process that starts the run) starts the run, injects the
start message and detects the end: the run's termination credit 1 travels with the messages
(Mattern's credit recovery). A peer that receives a message adds its credit to what it holds;
every message it sends takes half of that; once it has nothing left to do (no handler running,
no scheduled call pending) it returns what it holds to the controller. All the credit is back,
as an exact dyadic fraction, exactly when no message is in flight and no handler is running. The
controller then asks each peer for its ``solution()``. Every wait is bounded by the run's
``timeout``; a handler's error ends the run for everybody and is raised naming the participant.

:func:`run_on_transport` runs participants of this process on one carrier;
:func:`~.processes.start_distributed_processes` spawns one ``dro peer`` process per participant (each builds
its participant from its own data with a factory, :class:`ParticipantFactory`) or reaches peers
already running on other hosts, and returns the same :class:`~..algorithm.carrier.DistributedResult`;
:class:`PeerProcesses` keeps such processes for several runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from distributed_resource_optimization.algorithm.carrier import Carrier as ParticipantCarrier
from distributed_resource_optimization.algorithm.carrier import DistributedResult, call_later
from distributed_resource_optimization.algorithm.core import on_exchange_message
from distributed_resource_optimization.runtime.credit import (
    WHOLE_CREDIT,
    Credit,
    format_credit,
    parse_credit,
)
from distributed_resource_optimization.runtime.messages import (
    PROTOCOL_VERSION,
    CreditReturn,
    PeerMessage,
    PeerReady,
    PeerReport,
    PeerRunStart,
    PeerStop,
)
from distributed_resource_optimization.runtime.transport import (
    CoordinationError,
    CoordinationTimeoutError,
    Mailbox,
    ParticipantError,
    Transport,
    raise_if_cancelled,
)

_log = logging.getLogger(__name__)

#: Seconds a run may take by default (every wait is bounded by it).
DEFAULT_TIMEOUT_S = 600.0
#: Seconds the controller waits for the peers' answers to the start and the stop, at most.
HANDSHAKE_TIMEOUT_S = 60.0
#: Name of the controller agent on its carrier (the MQTT inbox ``<prefix>/controller``).
CONTROLLER_NAME = "controller"

# The hop of the message a peer's handler is handling (tasks copy the context).
_HOP: contextvars.ContextVar[int] = contextvars.ContextVar("peer_hop", default=0)


def peer_name(index: int) -> str:
    """The agent name of participant ``index`` (1-based) in a run: ``participant-<index>``."""
    return f"participant-{index}"


# -- the participant side -----------------------------------------------------------------------

class PeerCarrier(ParticipantCarrier):
    """What a participant's handlers see in a networked run: addresses 1..N, like in one
    process. ``meta`` of a received message has ``sender``, ``message_id`` and, for answers,
    ``reply``; other keys a sender puts into ``meta`` do not travel."""

    def __init__(self, peer: PeerAgent) -> None:
        self._peer = peer

    def others(self, participant_id: Any = None) -> list[int]:
        return list(self._peer.neighbours)

    def get_address(self) -> int:
        return self._peer.index

    def send_to_other(self, content: Any, receiver: int, meta: dict | None = None
                      ) -> asyncio.Future:
        return self._peer.send(content, receiver, uuid.uuid4().hex, reply=False)

    def reply_to_other(self, content: Any, meta: dict) -> asyncio.Future:
        return self._peer.send(content, meta["sender"], str(meta["message_id"]), reply=True)

    def send_awaitable(self, content: Any, receiver: int, meta: dict | None = None
                       ) -> asyncio.Future:
        message_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self._peer.pending[message_id] = future
        self._peer.send(content, receiver, message_id, reply=False)
        return future

    def schedule_using(self, fn: Callable[[], Any], delay_s: float) -> asyncio.Task:
        return self._peer.spawn(call_later(fn, delay_s))


class PeerAgent:
    """One participant (``algorithm``) as agent ``name`` on ``transport``: serves runs started
    by a controller (:meth:`serve`); ``idle_timeout`` (s): how long :meth:`serve` waits for a
    run by default. ``rejected`` counts messages it dropped (other sessions, not of the
    protocol)."""

    def __init__(self, name: str, algorithm: Any, carrier: Transport,
                 idle_timeout: float = DEFAULT_TIMEOUT_S) -> None:
        if not callable(getattr(algorithm, "on_exchange_message", None)):
            raise TypeError(f"{name}: a {type(algorithm).__name__} is not a distributed "
                            "algorithm participant (it needs on_exchange_message)")
        self.name = name
        self.algorithm = algorithm
        self.carrier = carrier
        self.idle_timeout = float(idle_timeout)
        self.box = carrier.register(name)
        self.rejected = 0
        self.index = 0
        self.neighbours: tuple[int, ...] = ()
        self.pending: dict[str, asyncio.Future] = {}
        self._reset()

    def _reset(self) -> None:
        self.session = ""
        self.names: tuple[str, ...] = ()
        self.controller = ""
        self.held = Credit()
        self.active = 0
        self.received = 0
        self.rounds = 0
        self.error: str | None = None
        #: The controller ended the run: nothing more is sent (no late credit, no late error).
        self.over = False
        self.pending.clear()
        self._tasks: set[asyncio.Task] = set()
        self._outbox: asyncio.Queue | None = None
        self._view = PeerCarrier(self)

    # -- what the handlers call ----------------------------------------------------------------
    def send(self, content: Any, receiver: Any, message_id: str, reply: bool) -> asyncio.Future:
        if not (isinstance(receiver, int) and 1 <= receiver <= len(self.names)):
            raise ValueError(f"participant {self.index}: no participant at address {receiver!r} "
                             f"(addresses are 1..{len(self.names)})")
        if not self.held:
            error = (f"participant {self.index} sent a message outside a message handler or a "
                     "schedule_using call; a networked run cannot see when such a message ends")
            self._fail(error)  # the run ends with this error rather than an unseen message
            raise RuntimeError(error)
        share = self.held = self.held.half()  # it keeps one half and sends the other
        message = PeerMessage(self.session, self.index, receiver, message_id, reply,
                              _HOP.get() + 1, format_credit(share), content)
        return self._post(self.names[receiver - 1], message)

    def spawn(self, coro: Any) -> asyncio.Task:
        """Run ``coro`` as part of the run: the peer holds on to its credit until it is done."""
        self.active += 1
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    # -- internals ------------------------------------------------------------------------------
    def _post(self, receiver: str, message: Any) -> asyncio.Future:
        done = asyncio.get_running_loop().create_future()
        assert self._outbox is not None
        self._outbox.put_nowait((receiver, message, done))
        return done

    async def _send_loop(self) -> None:
        # One sender per peer: messages leave in the order the handlers sent them.
        assert self._outbox is not None
        while True:
            receiver, message, done = await self._outbox.get()
            try:
                await self.carrier.send(self.name, receiver, message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._fail(f"cannot send a {type(getattr(message, 'content', message)).__name__}"
                           f" to {receiver}: {type(exc).__name__}: {exc}")
            finally:
                if not done.done():
                    done.set_result(None)
                self._outbox.task_done()

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self.active -= 1
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._fail(f"{type(exc).__name__}: {exc}")
        self._return_credit()

    def _return_credit(self) -> None:
        if self.active == 0 and self.held and self.error is None and not self.over:
            credit, self.held = self.held, Credit()
            self._post(self.controller, CreditReturn(self.session, self.index,
                                                     format_credit(credit)))

    def _fail(self, error: str) -> None:
        if self.error is None and not self.over:
            self.error = error
            _log.warning("%s: %s", self.name, error)
            self._post(self.controller, PeerReport(self.session, self.index, error=error))

    async def _handle(self, message: PeerMessage) -> None:
        _HOP.set(message.hop)
        meta = {"sender": message.sender, "message_id": message.message_id}
        if message.reply:
            meta["reply"] = True
        await on_exchange_message(self.algorithm, self._view, message.content, meta)

    def _deliver(self, message: PeerMessage) -> None:
        try:
            credit = parse_credit(message.credit, f"{self.name}: message from {message.sender}")
        except CoordinationError as exc:
            self.rejected += 1
            _log.warning("%s", exc)
            return
        self.held = self.held + credit
        self.received += 1
        self.rounds = max(self.rounds, message.hop)
        waiting = self.pending.pop(message.message_id, None) if message.reply else None
        if waiting is not None:
            if not waiting.done():
                waiting.set_result(message.content)
            self._return_credit()  # the awaiting handler holds the run open until it ends
            return
        self.spawn(self._handle(message))

    # -- serving --------------------------------------------------------------------------------
    async def serve(self, runs: int | None = 1, idle_timeout: float | None = None) -> int:
        """Serve ``runs`` runs (``None``: until no run starts for ``idle_timeout`` s, default
        the agent's); returns how many were served. A run's own waits are bounded by the
        controller's timeout."""
        idle_timeout = self.idle_timeout if idle_timeout is None else idle_timeout
        served = 0
        while runs is None or served < runs:
            raise_if_cancelled()
            try:
                sender, message = await self.box.receive(idle_timeout, "a controller")
            except CoordinationTimeoutError:
                if runs is None:
                    return served
                raise
            if not isinstance(message, PeerRunStart):
                self.rejected += 1  # a straggler of an ended run, or not for us
                continue
            await self._run(sender, message)
            served += 1
        return served

    async def _run(self, controller: str, start: PeerRunStart) -> None:
        self._reset()
        self.session, self.controller = start.session, controller
        self.index, self.names = start.index, tuple(start.names)
        self.neighbours = tuple(start.neighbours)
        self._outbox = asyncio.Queue()
        sender = asyncio.ensure_future(self._send_loop())
        try:
            error = self._check(start)
            await self.carrier.send(self.name, controller, PeerReady(self.session, self.index,
                                                                     error))
            if error is not None:
                return
            await self._receive_until_stopped(start.timeout)
        finally:
            self.over = True
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(asyncio.TimeoutError):  # the report, if there is one
                await asyncio.wait_for(self._outbox.join(), HANDSHAKE_TIMEOUT_S)
            sender.cancel()
            await asyncio.gather(sender, *self._tasks, return_exceptions=True)

    def _check(self, start: PeerRunStart) -> str | None:
        if start.protocol_version != PROTOCOL_VERSION:
            return (f"{self.name} speaks protocol version {PROTOCOL_VERSION}, the controller "
                    f"{start.protocol_version}")
        if len(start.addresses) != len(start.names) or not 1 <= start.index <= len(start.names):
            return f"{self.name}: a run start with inconsistent names and addresses"
        connect = getattr(self.carrier, "connect", None)
        for name, address in zip(start.names, start.addresses):
            if address and name != self.name and callable(connect):
                connect(name, address)
        check = getattr(self.algorithm, "check_start", None)
        if callable(check):
            try:
                check(start.start)
            except Exception as exc:  # the participant refuses this start: say why
                return f"{type(exc).__name__}: {exc}"
        return None

    async def _receive_until_stopped(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CoordinationTimeoutError(f"{self.name}: the run did not end within "
                                               f"{timeout:g} s")
            _, message = await self.box.receive(remaining, "the other participants")
            if getattr(message, "session", None) != self.session:
                self.rejected += 1
                continue
            if isinstance(message, PeerMessage) and message.receiver == self.index:
                if self.error is None:
                    self._deliver(message)
            elif isinstance(message, PeerStop):
                if message.reason == "finished" and self.error is None:
                    self._post(self.controller, self._report())
                self.over = True
                return
            else:
                self.rejected += 1

    def _report(self) -> PeerReport:
        solve = getattr(self.algorithm, "solution", None)
        converged = getattr(self.algorithm, "converged", None)
        try:
            solution = solve() if callable(solve) else None
        except Exception as exc:
            return PeerReport(self.session, self.index, error=f"solution(): {exc}")
        return PeerReport(self.session, self.index, solution,
                          None if converged is None else bool(converged), self.received,
                          self.rounds)


# -- the controller -----------------------------------------------------------------------------

class PeerRunController:
    """Starts a run of the peers ``names`` (agents reached through ``carrier``), detects its
    end and collects the solutions (:meth:`run`)."""

    def __init__(self, carrier: Transport, names: Sequence[str], neighbours: Sequence[Sequence[int]],
                 *, addresses: Sequence[str] | None = None, name: str = CONTROLLER_NAME,
                 timeout: float = DEFAULT_TIMEOUT_S, box: Mailbox | None = None) -> None:
        self.carrier = carrier
        self.names = tuple(names)
        self.neighbours = [tuple(int(j) + 1 for j in js) for js in neighbours]
        self.addresses = tuple(addresses) if addresses is not None else ("",) * len(self.names)
        self.name = name
        self.timeout = float(timeout)
        # A controller of several runs on one carrier keeps its mailbox (``box``).
        self.box = box if box is not None else carrier.register(name)
        self.rejected = 0

    async def run(self, start_message: Any) -> DistributedResult:
        session = uuid.uuid4().hex
        began = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        try:
            # Fresh links (new keys) to every peer for this run, on a carrier with a token.
            await self.carrier.open_links(self.name, self.names,
                                          self._remaining(deadline, HANDSHAKE_TIMEOUT_S))
            await self._start(session, start_message, deadline)
            await self._until_all_credit_is_back(session, deadline)
            reports = await self._stop(session, deadline)
        except BaseException:
            await self._abort(session)
            raise
        ordered = [reports[i + 1] for i in range(len(self.names))]
        converged = all(r.converged is not False for r in ordered)
        return DistributedResult([], [r.solution for r in ordered],
                                 max(r.rounds for r in ordered), sum(r.received for r in ordered),
                                 time.perf_counter() - began, converged)

    def _remaining(self, deadline: float, limit: float = float("inf")) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CoordinationTimeoutError(f"the distributed run did not end within "
                                           f"{self.timeout:g} s")
        return min(remaining, limit)

    async def _receive(self, deadline: float, what: str) -> Any:
        try:
            _, message = await self.box.receive(self._remaining(deadline), what)
        except CoordinationTimeoutError:
            raise CoordinationTimeoutError(f"the distributed run did not end within "
                                           f"{self.timeout:g} s (waiting for {what})") from None
        return message

    async def _send_all(self, make: Callable[[int], Any]) -> None:
        await asyncio.gather(*(self.carrier.send(self.name, n, make(i + 1))
                               for i, n in enumerate(self.names)))

    async def _collect(self, session: str, kind: type, deadline: float, what: str
                       ) -> dict[int, Any]:
        got: dict[int, Any] = {}
        limit = self._remaining(deadline, HANDSHAKE_TIMEOUT_S)
        stop = time.monotonic() + limit
        while len(got) < len(self.names):
            missing = [self.names[i] for i in range(len(self.names)) if i + 1 not in got]
            try:
                _, message = await self.box.receive(max(stop - time.monotonic(), 1e-3),
                                                    f"{what} of {', '.join(missing[:5])}")
            except CoordinationTimeoutError:
                raise CoordinationTimeoutError(
                    f"{self.name}: no {what} from {', '.join(missing)} within {limit:g} s"
                ) from None
            if getattr(message, "session", None) != session:
                self.rejected += 1
                continue
            if isinstance(message, PeerReport) and message.error is not None:
                self._raise(message)
            if isinstance(message, kind) and 1 <= message.index <= len(self.names):
                got[message.index] = message
            elif not isinstance(message, CreditReturn):
                self.rejected += 1
        return got

    def _raise(self, report: Any) -> None:
        raise ParticipantError(f"participant {report.index} ({self.names[report.index - 1]}): "
                               f"{report.error}")

    async def _start(self, session: str, start_message: Any, deadline: float) -> None:
        n = len(self.names)
        await self._send_all(lambda i: PeerRunStart(
            session, i, self.names, self.addresses, self.neighbours[i - 1], start_message,
            self.timeout))
        ready = await self._collect(session, PeerReady, deadline, "answer to the run start")
        for r in ready.values():
            if r.error is not None:
                self._raise(r)
        # As in one process: the start goes from the first participant to the second.
        receiver = min(2, n)
        await self.carrier.send(self.name, self.names[receiver - 1], PeerMessage(
            session, 1, receiver, uuid.uuid4().hex, False, 1, format_credit(WHOLE_CREDIT),
            start_message))

    async def _until_all_credit_is_back(self, session: str, deadline: float) -> None:
        back = Credit()
        while back.compare_to_one() < 0:
            message = await self._receive(deadline, "the participants to end the run")
            if getattr(message, "session", None) != session:
                self.rejected += 1
            elif isinstance(message, CreditReturn):
                back = back + parse_credit(message.credit,
                                           f"credit of participant {message.index}")
                if back.compare_to_one() > 0:
                    raise CoordinationError(f"{self.name}: more credit came back than was "
                                            "given out (a duplicated message?)")
            elif isinstance(message, PeerReport) and message.error is not None:
                self._raise(message)
            else:
                self.rejected += 1

    async def _stop(self, session: str, deadline: float) -> dict[int, PeerReport]:
        await self._send_all(lambda i: PeerStop(session, "finished"))
        return await self._collect(session, PeerReport, deadline, "solution")

    async def _abort(self, session: str) -> None:
        async def tell(name: str) -> None:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(self.carrier.send(self.name, name,
                                                         PeerStop(session, "aborted")), 2.0)

        with contextlib.suppress(BaseException):
            await asyncio.shield(asyncio.gather(*(tell(n) for n in self.names)))


# -- runs -----------------------------------------------------------------------------------------

async def run_on_transport(actors: Sequence[Any], start_message: Any,
                         neighbours: Sequence[Sequence[int]], carrier: Transport, *,
                         timeout: float = DEFAULT_TIMEOUT_S) -> DistributedResult:
    """Run ``actors`` (this process) as peers ``participant-1`` ... on ``carrier`` from
    ``start_message``; ``neighbours[i]`` are actor ``i``'s neighbours (0-based positions). The
    run starts and stops the carrier (``async with``)."""
    async with carrier:
        peers = [PeerAgent(peer_name(i + 1), a, carrier) for i, a in enumerate(actors)]
        controller = PeerRunController(carrier, [p.name for p in peers], neighbours,
                                       timeout=timeout)
        serving = [asyncio.ensure_future(p.serve(1, timeout)) for p in peers]
        try:
            result = await controller.run(start_message)
            await asyncio.wait_for(asyncio.gather(*serving), HANDSHAKE_TIMEOUT_S)
        finally:
            for task in serving:
                task.cancel()
            await asyncio.gather(*serving, return_exceptions=True)
    result.actors = list(actors)
    result.extra["traffic"] = carrier.stats
    return result
