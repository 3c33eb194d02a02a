"""Agents that run ADMM over a transport: the coordinator and the participants.

The coordinator agent drives any problem form through the transport; a participant agent wraps
anything that satisfies :class:`Participant` (one local model or a vectorised fleet). Neither knows
how messages travel, nor what the local models are. The protocol is in :mod:`.messages`.

A participant runs its local work (configuration, solver setup, every proximal step) in the
process's local-work thread, off the event loop, so agents sharing one process or container keep
answering and the coordinator's reply timeout fires on time while a long solve is still running.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Callable,
    Generator,
    Hashable,
    Iterable,
    Mapping,
    Sequence,
)
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from distributed_resource_optimization.admm.coordinator import ADMMGenericCoordinator
from distributed_resource_optimization.admm.objectives import TargetData
from distributed_resource_optimization.admm.polish import Polished, PolishOffer, clear_offers
from distributed_resource_optimization.admm.results import (
    ActorValues,
    ADMMResult,
    ADMMStatus,
    certified_gap,
)
from distributed_resource_optimization.admm.state import ParticipantSpec, expand_price
from distributed_resource_optimization.admm.warm_start import WarmStart
from distributed_resource_optimization.interior_point.consensus import (
    DEFAULT_GAP_TOL,
    DEFAULT_MAX_ITERS,
    DEFAULT_TOL,
    BarrierParticipant,
    ConsensusNewton,
    InteriorPointRun,
    NewtonProgress,
    answer,
    predictor_corrector,
)
from distributed_resource_optimization.interior_point.sharing import (
    InteriorPointCoordinator,
    SharingNewton,
)
from distributed_resource_optimization.local.blocks import (
    merge_published,
    received,
    setup_waves,
)
from distributed_resource_optimization.runtime.local_work import (
    InlineWork,
    LocalWorkThread,
    default_local_work,
)
from distributed_resource_optimization.runtime.messages import (
    PROTOCOL_VERSION,
    CorrectReply,
    CorrectRequest,
    FactorReply,
    FactorRequest,
    FinishReply,
    FinishRequest,
    JoinReply,
    JoinRequest,
    PolishReply,
    PolishRequest,
    PredictReply,
    PredictRequest,
    Publication,
    SetupReply,
    SetupRequest,
    SolveReply,
    SolveRequest,
)
from distributed_resource_optimization.runtime.transport import (
    CoordinationError,
    CoordinationTimeoutError,
    ParticipantError,
    Transport,
    name_list,
    raise_if_cancelled,
)

_log = logging.getLogger(__name__)

#: Resending requests without a reply: first after this many times the recent rounds' duration,
#: but not before this many seconds, then at intervals growing by this factor (a slow
#: participant is not flooded, a lost message is retried many times before the timeout).
RESEND_FACTOR = 5.0
RESEND_MIN_S = 0.02
#: The first resend of a round kind that has no history of its own (finish) goes by the other
#: kinds' rounds, but not before this many seconds (well within the participants' linger); with
#: no history at all (the first join round) it comes after this many seconds too.
RESEND_FIRST_S = 0.5
RESEND_GROWTH = 1.5

#: The interior-point method's requests: round kind and reply type; the rounds' order.
_BARRIER_ROUNDS: dict[type, tuple[str, type]] = {
    FactorRequest: ("factor", FactorReply), PredictRequest: ("predict", PredictReply),
    CorrectRequest: ("correct", CorrectReply)}
_ROUND_ORDER = {"factor": 0, "predict": 1, "correct": 2}
_REQUESTS = {kind: (request, reply) for request, (kind, reply) in _BARRIER_ROUNDS.items()}


class ContextMismatchError(ValueError):
    """A participant was started for something else than this run (another scenario,
    resolution, horizon or data); the message names the participant and the field."""


class Participant(Protocol):
    """What a participant agent needs from the local side (a
    :class:`~..local.blocks.ModelGroup` satisfies it)."""

    def describe(self) -> dict[str, Any]:
        """``names``, ``sizes`` and optional ``variables`` of its actors (known before setup);
        optional ``subscriptions`` (the publication keys it reads, ``None``: all published at
        join) and ``derives`` (the keys it publishes at setup)."""

    def publish(self) -> dict[str, tuple[list[Hashable], list[np.ndarray]]]:
        """Public values announced at join: key -> (variable names, value arrays)."""

    def configure(self, published: dict[str, dict[Hashable, float]]) -> None:
        """Build the models from what was published under the keys it subscribes to (before
        :meth:`prepare`)."""

    def prepare(self) -> None:
        """One-time setup before the first iteration."""

    def rho_scales(self) -> tuple[np.ndarray | None, ...] | None:
        """Per-entry penalty scale of each actor (after :meth:`configure`), or ``None``."""

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        """Proximal step ``argmin f(x) + (rho/2)||x - v||^2`` over all its actors (flat)."""

    def assign(self, x: np.ndarray) -> None:
        """Keep the final outputs."""

    def objectives(self, x: np.ndarray) -> list[float | None]:
        """Each actor's local cost at ``x``, or ``None`` where unknown."""

    # Optional: ``derived() -> {key: (names, value arrays)}``, what it publishes at setup
    # under the keys it ``derives`` (after :meth:`configure`).
    # Optional: ``dual_term(price) -> float | None``, the sum over its actors of
    # ``min_x f_i(x) + price_i'x`` (flat prices as ``solve`` takes ``v``); without it the run
    # has no Lagrangian bound. Optional: ``async solve_async(v, rho)``, the step of a
    # participant that answers over the network (a mango role, :mod:`.roles`); the agent awaits
    # it on its loop instead of handing ``solve`` to the local work.


class ParticipantAgent:
    """Serves a participant: answers the coordinator's join, setup, solve and finish requests.

    ``idle_timeout`` (s) bounds every wait for the coordinator's next message. ``executor`` runs
    the local work: a :class:`~.local_work.LocalWorkThread`, :class:`~.local_work.InlineWork`
    (on the loop: a process that hosts only this agent) or any ``concurrent.futures`` executor
    (default: the process's one local-work thread, :func:`~.local_work.default_local_work`).
    Once joined, only the messages of that coordinator count; anything else is dropped
    (``rejected``). Who may join at all is the transport's business: a networked transport with a
    shared token (:mod:`.security`) delivers nothing that is not authentic. ``context``: what
    the agent was started for (field -> value, e.g. the market's scenario and data
    fingerprint), reported at every join so that the coordinator can refuse a mismatch.
    """

    def __init__(self, address: str, participant: Participant, transport: Transport,
                 idle_timeout: float = 600.0,
                 executor: LocalWorkThread | InlineWork | Executor | None = None,
                 context: Mapping[str, str] | None = None) -> None:
        self.address = address
        self.context = tuple((str(k), str(v)) for k, v in (context or {}).items())
        #: Messages dropped because they did not come from the coordinator of the current run.
        self.rejected = 0
        self._coordinator: str | None = None
        self._rejected_at_join = 0
        self.participant = participant
        self.transport = transport
        self.mailbox = transport.register(address)
        self.idle_timeout = idle_timeout
        self.executor = executor if executor is not None else default_local_work()
        self._session: str | None = None
        self._scale: np.ndarray | float = 1.0
        self._ready = False
        # The last reply per request kind, keyed by (session, iteration): a request that comes
        # again (re-sent after a lost message, or duplicated) gets the same answer, and no
        # model is set up or solved twice.
        self._answered: dict[type, tuple[tuple[str, int | None], Any]] = {}
        #: The interior-point method's participant of the current run (built at its first
        #: factor request) and the position (iteration, round) of the last request it answered.
        self._barrier: Any = None
        self._barrier_at: tuple[int, int] = (-1, -1)

    async def serve(self, runs: int | None = 1, linger: float = 2.0) -> int:
        """Answer requests until ``runs`` runs have finished (``None``: until idle).

        Returns the number of finished runs. Raises :class:`CoordinationTimeoutError` when no
        message arrives within ``idle_timeout`` seconds (with ``runs=None``, after the first run
        that is the normal end and the number of runs is returned instead). After the last run
        it answers repeated finish requests for ``linger`` seconds (its reply may have been
        lost).
        """
        finished = 0
        while runs is None or finished < runs:
            raise_if_cancelled()
            try:
                sender, msg = await self.mailbox.receive(self.idle_timeout, "the coordinator")
            except CoordinationTimeoutError:
                if runs is None:
                    return finished
                raise
            if not isinstance(msg, JoinRequest) and sender != self._coordinator:
                self.rejected += 1  # not from the coordinator of this run: not ours to answer
                continue
            if isinstance(msg, SolveRequest):
                # Fell behind (a slow solve, the coordinator carried us stale): requests it has
                # already moved past wait for no answer, so only the newest one is solved.
                msg = self.mailbox.take_newest(sender, _newer_solve(msg)) or msg
            reply = await self._answer(msg)
            if reply is not None:
                if isinstance(msg, JoinRequest) and reply.error is None:
                    self._coordinator = sender
                await self._reply(sender, reply)
            if isinstance(msg, FinishRequest) and msg.session == self._session:
                finished += 1
                self._session = None
        while linger > 0:
            try:
                sender, msg = await self.mailbox.receive(linger)
            except CoordinationTimeoutError:
                break
            if isinstance(msg, FinishRequest) and sender == self._coordinator:
                reply = self._repeated(msg)
                if reply is not None:
                    await self._reply(sender, reply)
        return finished

    async def _reply(self, receiver: str, reply: Any) -> None:
        """Send a reply; a coordinator that cannot be reached any more (it ended its run, its
        host went away) is no reason for the agent to stop serving."""
        try:
            await self.transport.send(self.address, receiver, reply)
        except CoordinationError as exc:
            _log.warning("%s: %s", self.address, exc)

    def _repeated(self, msg: Any) -> Any:
        """The reply already given to this very request, or ``None``."""
        cached = self._answered.get(type(msg))
        key = (msg.session, getattr(msg, "iteration", None))
        return cached[1] if cached is not None and cached[0] == key else None

    async def _answer(self, msg: Any) -> Any:
        repeated = self._repeated(msg)
        if repeated is not None:
            return repeated
        reply = await self._handle(msg)
        if reply is not None:
            self._answered[type(msg)] = ((msg.session, getattr(msg, "iteration", None)), reply)
        return reply

    async def _local(self, call: Callable[[], Any]) -> Any:
        if isinstance(self.executor, (LocalWorkThread, InlineWork)):
            return await self.executor.call(call)
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    async def _handle(self, msg: Any) -> Any:
        if isinstance(msg, JoinRequest):
            self._rejected_at_join = self.rejected
            self._session, self._ready = msg.session, False
            self._barrier, self._barrier_at = None, (-1, -1)
            if msg.protocol_version != PROTOCOL_VERSION:
                return JoinReply(msg.session, (), (), error=(
                    f"coordinator speaks protocol version {msg.protocol_version}, this "
                    f"participant version {PROTOCOL_VERSION}"))
            try:
                # Local work like a solve (a building's reference demand is its own baseline
                # solve, 0.2 s, unless computed before): off the loop other agents may share.
                d, published = await self._local(
                    lambda: (self.participant.describe(), self.participant.publish()))
                pubs = _publications(published)
            except Exception as exc:  # reported to the coordinator, which raises it to the user
                return JoinReply(msg.session, (), (), error=str(exc))
            subs = d.get("subscriptions")
            return JoinReply(msg.session, tuple(d["names"]), tuple(d["sizes"]), d.get("variables"),
                             pubs, context=self.context,
                             subscriptions=None if subs is None else tuple(subs),
                             derives=tuple(d.get("derives", ())),
                             bound_at_support=tuple(d.get("bound_at_support", ())))
        if getattr(msg, "session", None) != self._session:
            return None  # a late message of an earlier run: nobody waits for an answer
        if isinstance(msg, SetupRequest):
            published = {p.key: dict(zip(p.variables, p.values.tolist())) for p in msg.publications}
            try:
                # Optional: what the participant derives for others (a plain participant: none).
                derive = getattr(self.participant, "derived", dict)
                *_, derived = await self._local(
                    lambda: (msg.relinearise and self.participant.relinearise(),
                             self.participant.configure(published),
                             self.participant.prepare(), derive()))
                scales = self.participant.rho_scales()
                pubs = _publications(derived)
            except Exception as exc:
                return SetupReply(msg.session, error=str(exc))
            sizes = self.participant.describe()["sizes"]
            self._scale = 1.0 if scales is None else np.concatenate(
                [np.ones(n) if s is None else np.asarray(s, dtype=float)
                 for n, s in zip(sizes, scales)])
            self._ready = True
            return SetupReply(msg.session, scales, publications=pubs)
        if isinstance(msg, SolveRequest):
            if not self._ready:
                return SolveReply(msg.session, msg.iteration, None,
                                  error="solve request before setup")
            # Same operations as the coordinator's rho * scale, so the penalty is bit-identical.
            rho = msg.rho * self._scale
            try:
                size = msg.target.size
                v = msg.target - expand_price(msg.price, size) / rho
                solve_async = getattr(self.participant, "solve_async", None)
                if solve_async is not None:
                    # A participant elsewhere (a mango role): its step is a message round trip,
                    # awaited on the loop; its own cost is unknown here.
                    x = np.asarray(await solve_async(v, rho), dtype=float)
                    dual_term = objective = None
                else:
                    work = _solve_work(self.participant, v, rho, None if msg.dual_price is None
                                       else expand_price(msg.dual_price, size))
                    if getattr(self.participant, "closed_form", False):
                        x, dual_term, objective = work()  # bounded array work: no hand-over
                    else:
                        x, dual_term, objective = await self._local(work)
            except Exception as exc:
                return SolveReply(msg.session, msg.iteration, None, error=str(exc))
            return SolveReply(msg.session, msg.iteration, x, dual_term=dual_term,
                              objective=objective)
        if isinstance(msg, PolishRequest):
            return await self._polish_offer(msg)
        if type(msg) in _BARRIER_ROUNDS:
            return await self._barrier_round(msg)
        if isinstance(msg, FinishRequest):
            try:
                barrier = self._barrier
                # Sharing by the interior-point method: the coordinator knows only the sums, the
                # actors' own outputs are the barrier's.
                own = getattr(barrier, "outputs", None)

                def finish() -> tuple[list[float | None], float | None, np.ndarray | None]:
                    x = msg.x if own is None else own()
                    self.participant.assign(x)
                    d = None if msg.dual_price is None else \
                        _dual_term(self.participant, expand_price(msg.dual_price, x.size))
                    # After an interior-point run: each actor's cost at its own final point.
                    objectives = self.participant.objectives(x) if barrier is None \
                        else barrier.objectives()
                    return objectives, d, None if own is None else x

                objs, dual_term, outputs = await self._local(finish)
            except Exception as exc:
                return FinishReply(msg.session, error=str(exc))
            stats = getattr(self.transport, "stats", None)
            return FinishReply(msg.session, np.array([np.nan if f is None else f for f in objs],
                                                     dtype=float),
                               rejected=self.rejected - self._rejected_at_join,
                               carrier_rejected=0 if stats is None else stats.rejected,
                               carrier_id="" if stats is None else stats.carrier_id,
                               dual_term=dual_term, outputs=outputs)
        raise CoordinationError(f"{self.address}: unexpected message {type(msg).__name__}")

    async def _polish_offer(self, msg: PolishRequest) -> PolishReply:
        """The actors' polish offer at the request's sector prices (:mod:`..admm.polish`); an
        error reply if they take no part in a polish (the coordinator then polishes no more)."""
        if not self._ready:
            return PolishReply(msg.session, msg.iteration, error="polish request before setup")
        offer_at = getattr(self.participant, "polish_offer", None)
        try:
            if offer_at is None:
                raise ValueError(f"{type(self.participant).__name__} takes no part in a polish")
            tolerance = float(msg.tolerance)
            if not (np.isfinite(tolerance) and tolerance >= 0):
                raise ValueError(f"polish tolerance {tolerance} must be finite and >= 0")

            def work() -> Any:
                return offer_at(np.asarray(msg.price, dtype=float), tolerance)

            if getattr(self.participant, "closed_form", False):
                offer = work()  # bounded array work: no hand-over
            else:
                offer = await self._local(work)
            if offer is None:
                raise ValueError("an actor takes no part in a polish (flex actors do)")
        except Exception as exc:
            return PolishReply(msg.session, msg.iteration, error=str(exc))
        return PolishReply(msg.session, msg.iteration, offer.fixed, offer.offered,
                           offer.directions.ravel(), offer.costs, offer.fixed_cost)

    async def _barrier_round(self, msg: Any) -> Any:
        """One round of the interior-point method: factor, predict or correct (the local
        work in the local-work thread). A request older than the last one answered (delayed
        or duplicated on the way) gets no answer: answering it would move the point back."""
        kind, reply_type = _BARRIER_ROUNDS[type(msg)]
        position = (msg.iteration, _ROUND_ORDER[kind])
        if position <= self._barrier_at:
            return None
        if not self._ready:
            return reply_type(msg.session, msg.iteration, None,
                              error=f"{kind} request before setup")
        if kind != "factor" or msg.iteration != 0:
            if self._barrier is None:
                return reply_type(msg.session, msg.iteration, None,
                                  error=f"{kind} request before the first factor request")
        arguments = {"factor": lambda: (msg.primal_step, msg.dual_step),
                     "predict": lambda: (msg.price_step,),
                     "correct": lambda: (msg.price_step, msg.sigma_mu)}[kind]()

        def work() -> Any:
            if kind == "factor" and msg.iteration == 0:
                barrier = getattr(self.participant, "barrier", None)
                if barrier is None:
                    raise ValueError(f"{type(self.participant).__name__} takes no part in the "
                                     "interior-point method (no LP form)")
                self._barrier = barrier(summed=msg.summed)
            if kind != "factor" and np.shape(msg.price_step) != (self._barrier.size,):
                raise ValueError(f"{np.shape(msg.price_step)} price steps for "
                                 f"{self._barrier.size} exchanged entries")
            return answer(self._barrier, kind, msg.iteration, arguments)

        try:
            result = await self._local(work)
        except Exception as exc:
            return reply_type(msg.session, msg.iteration, None, error=str(exc))
        finally:
            self._barrier_at = position
        return reply_type(msg.session, msg.iteration, result)


class CoordinatorAgent:
    """Runs an :class:`ADMMGenericCoordinator` (or the interior-point method, see
    :meth:`run_interior_point`; an :class:`~..interior_point.sharing.InteriorPointCoordinator`
    makes :meth:`run` run it for sharing) against participant agents over a transport.

    ``participants`` are the transport addresses of the participant agents; ``progress`` is called
    with the form state after every iteration. Every run opens fresh links to the participants
    first (:meth:`~.transport.Carrier.open_links`: new keys per run on a transport with a token).
    ``expected_context``: per participant address, the fields its join must report with these
    values (see :class:`ParticipantAgent`); any difference is a :class:`ContextMismatchError`
    before the first round.
    """

    def __init__(self, address: str,
                 coordinator: ADMMGenericCoordinator | InteriorPointCoordinator,
                 participants: Sequence[str], transport: Transport,
                 progress: Callable[[Any], None] | None = None,
                 expected_context: Mapping[str, Mapping[str, str]] | None = None) -> None:
        if not participants:
            raise ValueError("actors must not be empty")
        self.address = address
        self.coordinator = coordinator
        self.participants = list(participants)
        self.transport = transport
        self.mailbox = transport.register(address)
        self.timeout = coordinator.reply_timeout
        self.progress = progress
        self.expected_context = {a: dict(c) for a, c in (expected_context or {}).items()}
        self.state: Any = None
        #: Requests sent again because their reply had not come (lost or slow messages).
        self.resent = 0
        self.stale_rounds = coordinator.stale_rounds
        #: Per participant: rounds it missed, its last output carried instead (stale rounds).
        self.stale: dict[str, int] = dict.fromkeys(self.participants, 0)
        self._missed: dict[str, int] = dict.fromkeys(self.participants, 0)
        self._answered_once: set[str] = set()
        self._round_times: dict[type, collections.deque[float]] = {}

    async def _broadcast(self, messages: Sequence[Any]) -> None:
        for addr, msg in zip(self.participants, messages):
            if msg is not None:
                await self.transport.send(self.address, addr, msg)

    async def _round(self, messages: Sequence[Any], kind: type, session: str,
                     iteration: int | None = None, timeout: float | None = None) -> list[Any]:
        """Send one request per participant and gather the replies (see :meth:`_gather`); a
        participant whose request is ``None`` is left out of the round (its reply ``None``)."""
        await self._broadcast(messages)
        return await self._gather(kind, session, iteration, messages, timeout)

    def _resend_interval(self, kind: type) -> float:
        """When to send a request again that has no reply yet: a few times the fastest of the
        recent rounds of this kind (rounds that waited for a resend do not count; the first
        round of a kind goes by the other kinds' rounds, so a lost finish reply is asked for
        again while the participant still lingers), but not before :data:`RESEND_FIRST_S` in
        the first round of a kind (it may do work of its own: a first solve prepares the
        model, a finish evaluates the final dual terms); so a lost message costs little, and
        at most an eighth of the timeout, so there are several tries before it."""
        times = self._round_times.get(kind)
        if times:
            typical = RESEND_FACTOR * min(times)
        else:
            # With no round of any kind to go by (the first join) the floor alone: a
            # participant answers a repeated join from its cache, so a slow join costs only
            # repeated messages (an eighth of the timeout made one lost join cost 3.75 s).
            others = [t for ts in self._round_times.values() for t in ts]
            typical = max(RESEND_FIRST_S, RESEND_FACTOR * min(others, default=0.0))
        return min(self.timeout / 8, max(RESEND_MIN_S, typical))

    def _may_carry(self, addr: str) -> bool:
        """Whether ``addr`` may miss this round: it has answered before and has missed fewer
        than ``stale_rounds`` rounds in a row."""
        return addr in self._answered_once and self._missed[addr] < self.stale_rounds

    async def _gather(self, kind: type, session: str, iteration: int | None = None,
                      requests: Sequence[Any] | None = None,
                      timeout: float | None = None) -> list[Any]:
        """One reply of type ``kind`` from every participant, in participant order.

        Requests without a reply are sent again (``requests``, in participant order) at growing
        intervals (:data:`RESEND_FACTOR`); participants answer a repeated request with the same
        reply, so lost, duplicated, delayed and reordered messages change nothing but the time.
        In a solve round with ``stale_rounds``, participants that may miss it
        (:meth:`_may_carry`) and have not answered by twice the first resend interval get
        ``None`` in their place.
        """
        start = time.monotonic()
        resent_before = self.resent
        timeout = self.timeout if timeout is None else timeout
        pending = {addr: i for i, addr in enumerate(self.participants)
                   if requests is None or requests[i] is not None}
        replies: list[Any] = [None] * len(self.participants)
        deadline = start + timeout
        interval = self._resend_interval(kind)
        resend_at = start + interval
        carry = kind is SolveReply and self.stale_rounds > 0
        carry_at = start + 2 * interval
        while pending:
            now = time.monotonic()
            if carry and now >= carry_at and all(self._may_carry(a) for a in pending):
                break  # everyone still missing may be carried with their last outputs
            remaining = deadline - now
            try:
                if remaining <= 0:
                    raise CoordinationTimeoutError
                wait = remaining if requests is None else min(remaining, resend_at - now)
                if carry and now < carry_at:
                    wait = min(wait, carry_at - now)
                sender, msg = await self.mailbox.receive(max(wait, 0.0))
            except CoordinationTimeoutError:
                now = time.monotonic()  # carrying is decided at the top of the loop
                if now < deadline and requests is not None and now >= resend_at:
                    for addr, i in list(pending.items()):
                        self.resent += 1
                        await self.transport.send(self.address, addr, requests[i])
                    interval = min(interval * RESEND_GROWTH, timeout / 8)
                    resend_at = time.monotonic() + interval
                    continue
                if now < deadline:
                    continue
                where = "" if iteration is None else f" (iteration {iteration})"
                raise CoordinationTimeoutError(
                    f"{self.address}: no reply from {name_list(sorted(pending))} within "
                    f"{timeout:g} s{where}") from None
            if not isinstance(msg, kind) or msg.session != session or sender not in pending:
                continue  # a late reply of an earlier round or run: not ours to use
            if iteration is not None and msg.iteration != iteration:
                continue
            if getattr(msg, "error", None):
                raise ParticipantError(f"participant {sender!r}: {msg.error}")
            replies[pending.pop(sender)] = msg
        if kind is SolveReply:
            for addr in self.participants:
                if addr in pending:
                    self._missed[addr] += 1
                    self.stale[addr] += 1
                else:
                    self._missed[addr] = 0
                    self._answered_once.add(addr)
        # A round cut short by stale participants says nothing of their speed, one that waited
        # for a resend nothing of the participants' (it measures the wait).
        if not pending and self.resent == resent_before:
            self._round_times.setdefault(kind, collections.deque(maxlen=5)).append(
                time.monotonic() - start)
        return replies

    async def _setup(self, session: str, joins: Sequence[JoinReply], relinearise: bool
                     ) -> list[SetupReply]:
        """The setup rounds: each participant gets what was published under the keys it
        subscribes to, in waves (:func:`~..local.blocks.setup_waves`), so that whoever reads a
        derived publication is set up after the participants that derive it."""
        items = [(addr, pub) for join, addr in zip(joins, self.participants)
                 for pub in join.publications]
        available = {p.key: p for p in merge_publications(items)}
        join_keys = tuple(available)
        setups: list[SetupReply | None] = [None] * len(self.participants)
        for wave in setup_waves([j.subscriptions for j in joins], [j.derives for j in joins],
                                self.participants):
            requests: list[SetupRequest | None] = [None] * len(self.participants)
            for i in wave:
                subscribed = received(available, joins[i].subscriptions, join_keys)
                requests[i] = SetupRequest(session, tuple(subscribed.values()), relinearise)
            replies = await self._round(requests, SetupReply, session,
                                        timeout=self.coordinator.setup_timeout)
            for i in wave:
                undeclared = {p.key for p in replies[i].publications} - set(joins[i].derives)
                if undeclared:
                    raise ParticipantError(
                        f"participant {self.participants[i]!r} publishes {sorted(undeclared)} "
                        "at setup without declaring them at join")
                setups[i] = replies[i]
                items += [(self.participants[i], pub) for pub in replies[i].publications]
            available = {p.key: p for p in merge_publications(items)}
        return setups

    async def _open(self, session: str, relinearise: bool
                    ) -> tuple[list[JoinReply], list[SetupReply]]:
        """Fresh links, the join round (context and unique actor names checked) and the setup
        rounds of a run."""
        n = len(self.participants)
        await self.transport.open_links(self.address, self.participants, self.timeout)
        joins = await self._round([JoinRequest(session)] * n, JoinReply, session)
        check_context(joins, self.participants, self.expected_context)
        seen: set[str] = set()
        for name in (name for j in joins for name in j.names):
            if name in seen:
                raise ValueError(f"actors must have unique names; {name!r} appears twice")
            seen.add(name)
        return joins, await self._setup(session, joins, relinearise)

    async def run_interior_point(self, *, relinearise: bool = False, tol: float = DEFAULT_TOL,
                                 gap_tol: float = DEFAULT_GAP_TOL,
                                 max_iters: int = DEFAULT_MAX_ITERS,
                                 progress: Callable[[int, dict[str, float]], None] | None = None,
                                 check: Callable[[list[Hashable]], None] | None = None,
                                 sharing: BarrierParticipant | None = None
                                 ) -> InteriorPointOutcome:
        """Coordinate one run of the distributed interior-point method
        (:func:`~..interior_point.consensus.predictor_corrector`, three rounds per Newton
        iteration); join and setup as in :meth:`run`.

        General-form consensus (``sharing=None``): the participants' actors name their global
        variables; at the end every participant gets its final exchanged values and the final
        prices balanced over each entry's owners, at which it evaluates its dual term.
        ``check(labels)`` may refuse the global variables before the first round (raise).
        Sharing: ``sharing`` is the global objective's participant, held here, which takes the
        sum of all actors' outputs (:class:`~..interior_point.sharing.SharingNewton`); every
        agent answers with its actors' sums and sends their own outputs at the end. The sum of
        the dual terms (and the global objective's) is the Lagrangian bound (``None`` if one
        cannot say)."""
        start = time.perf_counter()
        session = uuid.uuid4().hex
        joins, _ = await self._open(session, relinearise)
        n = len(joins)
        labels: dict[Hashable, int] = {}
        index: list[np.ndarray] = []
        if sharing is None:
            for join, addr in zip(joins, self.participants):
                if join.variables is None or any(v is None for v in join.variables):
                    raise ParticipantError(f"participant {addr!r}: the interior-point method "
                                           "couples general-form actors (global variable names)")
                index.append(np.array([labels.setdefault(v, len(labels))
                                       for names in join.variables for v in names], dtype=int))
            if check is not None:
                check(list(labels))
            coupling: Any = ConsensusNewton(index, len(labels))
            local: list[BarrierParticipant] = []
        else:
            m = sharing.size
            for join, addr in zip(joins, self.participants):
                if any(size != m for size in join.sizes):
                    raise ParticipantError(f"participant {addr!r}: actors with {join.sizes} "
                                           f"outputs, the global objective takes {m}")
            labels = {j: j for j in range(m)}
            index = [np.arange(m)] * n
            coupling = SharingNewton(m, [1] * n + [-1])
            local = [sharing]
        iterates: list[tuple[list[np.ndarray], list[np.ndarray]]] = []
        method = predictor_corrector(
            coupling, tol=tol, gap_tol=gap_tol, max_iters=max_iters,
            progress=progress, record=lambda x, y: iterates.append((x[:n], y[:n])),
            names=[*self.participants, *("the coordinator's objective" for _ in local)])
        stats = getattr(self.transport, "stats", None)
        rounds: list[tuple[float, int, int]] = []
        replies: list[Any] | None = None
        summed = {"summed": True} if sharing is not None else {}
        while True:
            # The coordinator's Newton algebra (a dense factorisation of up to a few thousand
            # entries): off the loop, which agents in this process share.
            request, run = await asyncio.to_thread(_advance, method, replies)
            if run is not None:
                break
            t0 = time.perf_counter()
            m0, b0 = (stats.messages, stats.bytes_sent) if stats is not None else (0, 0)
            kind, reply_type = _REQUESTS[request.kind]
            extra = summed if kind is FactorRequest else {}
            got = await self._round([kind(session, request.iteration, *args, **extra)
                                     for args in request.arguments[:n]],
                                    reply_type, session, request.iteration)
            replies = [getattr(r, _REPLY_FIELD[reply_type]) for r in got] + \
                [answer(p, request.kind, request.iteration, args)
                 for p, args in zip(local, request.arguments[n:])]
            if stats is not None:
                rounds.append((time.perf_counter() - t0, stats.messages - m0,
                               stats.bytes_sent - b0))
        if sharing is None:
            stacked = np.concatenate(index)
            owners = np.bincount(stacked, minlength=len(labels))
            y = np.concatenate(run.y)
            final = y - (np.bincount(stacked, weights=y, minlength=len(labels))
                         / owners)[stacked]
            offsets = np.cumsum([0] + [ix.size for ix in index])
            prices = [final[lo:hi] for lo, hi in zip(offsets[:-1], offsets[1:])]
        else:
            prices = run.y[:n]  # one price for all, every share already balanced
        done_replies = await self._round(
            [FinishRequest(session, x, run.status.value, price)
             for x, price in zip(run.x, prices)], FinishReply, session)
        outputs: list[np.ndarray] | None = None if sharing is None else []
        for join, reply, addr in zip(joins, done_replies, self.participants):
            if reply.objectives.shape != (len(join.names),):
                raise ParticipantError(f"participant {addr!r}: {reply.objectives.size} objectives "
                                       f"for {len(join.names)} actors")
            if outputs is not None:
                if reply.outputs is None or reply.outputs.shape != (sum(join.sizes),):
                    raise ParticipantError(f"participant {addr!r}: no outputs of its "
                                           f"{len(join.names)} actors")
                outputs.append(reply.outputs)
        terms = [r.dual_term for r in done_replies] + \
            [_finite_or_none(p.dual_term(y)) for p, y in zip(local, run.y[n:])]
        outcome = InteriorPointOutcome(
            run=run, names=[j.names for j in joins], sizes=[j.sizes for j in joins],
            labels=list(labels), index=index, iterates=iterates,
            objectives=np.concatenate([r.objectives for r in done_replies]),
            lower_bound=None if any(t is None for t in terms) else float(sum(terms)),
            wall_time_s=time.perf_counter() - start, resent_requests=self.resent,
            outputs=outputs,
            global_objective=None if sharing is None else float(sharing.objective()))
        if rounds:
            outcome.round_wall_s, outcome.round_messages, outcome.round_bytes = (
                np.array([r[k] for r in rounds]) for k in range(3))
        return outcome

    async def _run_sharing(self, data: TargetData | None, warm_start: WarmStart | None,
                           relinearise: bool) -> ADMMResult:
        """One run of the interior-point method for sharing towards ``data``'s target."""
        if warm_start is not None:
            raise ValueError("the interior-point method starts from its own interior point: "
                             "no warm_start")
        if data is None:
            raise ValueError("the interior-point method for sharing needs the target "
                             "(create_admm_sharing_data)")
        method, shown = self.coordinator, self.progress
        outcome = await self.run_interior_point(
            relinearise=relinearise, tol=method.tol, gap_tol=method.gap_tol,
            max_iters=method.max_iters,
            progress=None if shown is None else lambda it, m: shown(NewtonProgress(it, m)),
            sharing=method.global_participant(data.target, data.priorities))
        return _sharing_result(outcome)

    async def _polish(self, session: str, iteration: int, state: Any,
                      data: TargetData) -> Polished | None | Literal[False]:
        """One polish round (:mod:`..admm.polish`): the participants' offers at the current
        prices, cleared against the target in a worker thread. ``None``: nothing cleared this
        time; ``False``: a participant takes no part (the run polishes no more)."""
        price = state.polish_prices()
        try:
            replies = await self._round(
                [PolishRequest(session, iteration, price, state.settings.polish_tolerance)
                 for _ in self.participants], PolishReply, session, iteration)
        except (ParticipantError, CoordinationTimeoutError) as exc:
            # A participant without an offer (or one that did not answer in time): the run goes
            # on by ADMM, which carries stale participants where a polish cannot.
            _log.info("%s: no polish: %s", self.address, exc)
            return False
        m = price.size
        offers = []
        for spec, reply, addr in zip(state.specs, replies, self.participants):
            try:
                arrays = [np.asarray(getattr(reply, f), dtype=float)
                          for f in ("fixed", "offered", "directions", "costs")]
                if arrays[2].size % m:
                    raise ValueError(f"{arrays[2].size} direction entries for {m} outputs each")
                arrays[2] = arrays[2].reshape(-1, m)
                offer = PolishOffer(*arrays, float(reply.fixed_cost))
                offer.check(len(spec.names), m)
            except (TypeError, ValueError) as exc:
                raise ParticipantError(f"participant {addr!r}: polish reply: {exc}") from None
            offers.append(offer)
        return await asyncio.to_thread(clear_offers, offers, data.target, data.priorities)

    async def run(self, data: TargetData | None, warm_start: WarmStart | None = None,
                  relinearise: bool = False) -> ADMMResult:
        """Coordinate one optimisation (from ``warm_start``, an earlier run's state, if given);
        returns the result and leaves outputs with the actors. ``relinearise``: every
        participant re-linearises its model at the outputs the last run left with it before it
        is configured (:meth:`~..local.base.LocalModel.relinearise`). With an
        :class:`~..interior_point.sharing.InteriorPointCoordinator` it runs the interior-point
        method for sharing towards ``data`` instead (no ``warm_start``)."""
        if isinstance(self.coordinator, InteriorPointCoordinator):
            return await self._run_sharing(data, warm_start, relinearise)
        start = time.perf_counter()
        session = uuid.uuid4().hex
        joins, setups = await self._open(session, relinearise)
        specs = [ParticipantSpec(j.names, j.sizes, _tuple_or_none(j.variables),
                                 _tuple_or_none(s.rho_scale), j.bound_at_support)
                 for j, s in zip(joins, setups)]
        state = self.coordinator.create_state(specs, data)
        if warm_start is not None:
            state.warm_start(warm_start)
        self.state = state
        # Per iteration: wall time, messages and encoded bytes through this transport.
        rounds: list[tuple[float, int, int]] = []
        stats = getattr(self.transport, "stats", None)
        polishing = state.settings.polish and data is not None
        polished: Polished | None = None  # a polish whose certificate the next round brings
        polish_rounds = 0
        measuring = False  # a probe round's time and messages go to the first iteration's
        while True:
            if not measuring:
                t0 = time.perf_counter()
                m0, b0 = (stats.messages, stats.bytes_sent) if stats is not None else (0, 0)
            it = state.next_round()
            measuring = it == 0
            if it == 0:
                dual_prices = None  # the probe round (probe_rho): prices the start only
            elif polished is not None:
                dual_prices = state.bound_prices_at(polished.prices)
            else:
                dual_prices = state.bound_prices() if state.stopping.wants_bound(it) else None
            requests = [SolveRequest(session, it, r.target, r.price, r.rho,
                                     None if dual_prices is None else dual_prices[p])
                        for p, r in enumerate(state.requests())]
            try:
                replies = await self._round(requests, SolveReply, session, it)
            except ParticipantError as exc:
                if it != 0:
                    raise
                # A model that cannot take the probe's penalty (rho_max) is no reason to end
                # the run: it goes on at the given rho (the probe round still counts).
                _log.info("%s: no probe: %s", self.address, exc)
                state.skip_probe()
                continue
            fresh = all(r is not None for r in replies)
            bound = None if dual_prices is None or not fresh else (
                [r.dual_term for r in replies], [r.objective for r in replies])
            done = state.step([state.x[state.offsets[p]:state.offsets[p + 1]].copy()
                               if r is None else r.x for p, r in enumerate(replies)],
                              fresh=fresh, bound=bound)
            if it == 0:
                continue
            if polished is not None:
                # This round's bound was evaluated at the polish prices: certify the polish
                # (also when ADMM stopped in this round: a certified polish is the better end).
                lower = state.bound.lower_bound
                if fresh and state.bound.fresh and lower is not None:
                    gap = float(certified_gap(polished.objective, lower))
                    if gap <= state.settings.polish_gap_tol:
                        state.adopt(polished, gap)
                        done = True
                elif fresh:
                    # The participants evaluated no bound at the polish prices (a participant
                    # without dual terms): no polish can be certified, so none is tried again.
                    polishing = False
                polished = None
            elif polishing and not done and it % state.settings.polish_every == 0:
                cleared = await self._polish(session, it, state, data)
                polish_rounds += 1
                polishing = cleared is not False
                polished = cleared or None
            if stats is not None:
                rounds.append((time.perf_counter() - t0, stats.messages - m0,
                               stats.bytes_sent - b0))
            if self.progress is not None:
                self.progress(state)
            if done:
                break
        status = state.status or ADMMStatus.MAX_ITERATIONS
        finals = [state.x[state.offsets[p]:state.offsets[p + 1]] for p in range(len(specs))]
        # The last iteration's bound already certifies these outputs (a run stopped on its
        # certified gap, or at a polish): the finish asks for no second evaluation, which costs
        # every participant a solve (an aggregator of 1000 buildings: about 10 s).
        final_prices = None if state.bound.fresh else state.bound_prices()
        done_replies = await self._round(
            [FinishRequest(session, x, status.value,
                           None if final_prices is None else final_prices[p])
             for p, x in enumerate(finals)], FinishReply, session)
        rejected = dict.fromkeys(self.participants, 0)
        transports: dict[str, int] = {}
        own = getattr(self.transport, "stats", None)
        if own is not None:
            transports[own.carrier_id] = own.rejected
        for spec, reply, addr in zip(specs, done_replies, self.participants):
            rejected[addr] = reply.rejected
            if reply.carrier_id:
                transports[reply.carrier_id] = reply.carrier_rejected
            if reply.objectives.shape != (len(spec.names),):
                raise ParticipantError(f"participant {addr!r}: {reply.objectives.size} objectives "
                                       f"for {len(spec.names)} actors")
        objectives = np.concatenate([r.objectives for r in done_replies])
        if final_prices is not None:
            state.record_bound([r.dual_term for r in done_replies],
                               [None if np.isnan(r.objectives).any() else float(r.objectives.sum())
                                for r in done_replies], in_history=False)
        result = state.result(time.perf_counter() - start, objectives)
        result.resent_requests = self.resent
        result.polish_rounds = polish_rounds
        result.probe_rounds = state.probe_rounds
        result.stale_replies = {a: n for a, n in self.stale.items() if n}
        result.rejected_messages = sum(rejected.values()) + sum(transports.values())
        if rounds:
            result.iteration_wall_s, result.iteration_messages, result.iteration_bytes = (
                np.array([r[k] for r in rounds]) for k in range(3))
        return result


def _advance(method: Generator, replies: list[Any] | None) -> tuple[Any, Any]:
    """The method's next round, or ``(None, its result)`` once it has returned (a
    ``StopIteration`` cannot cross into an asyncio future)."""
    try:
        return method.send(replies), None
    except StopIteration as done:
        return None, done.value


_REPLY_FIELD = {FactorReply: "factored", PredictReply: "predicted", CorrectReply: "limits"}


@dataclass
class InteriorPointOutcome:
    """A run of the interior-point method over agents (:meth:`CoordinatorAgent.run_interior_point`):
    the method's run (per participant its exchanged values and prices; in sharing the global
    objective last), per participant its
    actors' names and output sizes, the global variables' names (``labels``) and each
    participant's global entries (``index``), the exchanged values and prices at every
    iteration (``iterates``), each actor's cost at its final point (cost unit), the Lagrangian
    bound at the balanced final prices (``None``: a participant cannot evaluate its term), the
    wall time (s), requests sent again, and per round its wall time (s), messages and bytes
    through this transport (empty without traffic counters)."""

    run: InteriorPointRun
    names: list[tuple[str, ...]]
    sizes: list[tuple[int, ...]]
    labels: list[Hashable]
    index: list[np.ndarray]
    iterates: list[tuple[list[np.ndarray], list[np.ndarray]]]
    objectives: np.ndarray
    lower_bound: float | None
    wall_time_s: float
    resent_requests: int = 0
    #: Sharing: per participant its actors' final outputs (flat), and the global objective's
    #: value at the end (cost unit); ``None`` in general-form consensus.
    outputs: list[np.ndarray] | None = None
    global_objective: float | None = None
    round_wall_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    round_messages: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    round_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def result(self, objective: float, outputs: np.ndarray, prices: np.ndarray, *,
               stopping_history: Mapping[str, Sequence[float]] | None = None,
               **fields: Any) -> ADMMResult:
        """The run as the engine's result (what the writers, tables and figures read): the
        actors' final ``outputs`` (flat, in the actors' order) and ``prices``, the run's
        ``objective`` (cost unit) with the Lagrangian bound at the end and its certified gap,
        the method's histories (one entry per Newton iteration; ``stopping_history`` adds the
        caller's own measures) and the traffic per round. ``fields``: more
        :class:`~..admm.results.ADMMResult` fields (e.g. ``z_labels``)."""
        run = self.run
        names = [name for names in self.names for name in names]
        offsets = np.cumsum([0] + [size for sizes in self.sizes for size in sizes])
        bound = self.lower_bound
        n = len(run.history["consensus"])
        return ADMMResult(
            status=ADMMStatus.CONVERGED if run.converged else ADMMStatus.MAX_ITERATIONS,
            iterations=run.rounds, x=ActorValues(names, offsets, outputs), z=run.z,
            objective=objective, primal_residuals=np.asarray(run.history["consensus"]),
            dual_residuals=np.asarray(run.history["dual"]), eps_primal=np.full(n, np.nan),
            eps_dual=np.full(n, np.nan), rho_history=np.zeros(0), wall_time_s=self.wall_time_s,
            actor_objectives=ActorValues(names, None, self.objectives, scalar=True),
            lower_bound=bound, bound_objective=None if bound is None else objective,
            gap_certified=None if bound is None else float(certified_gap(objective, bound)),
            # The bound is evaluated once, at the last iterate.
            lower_bound_history=np.append(np.full(n - 1, np.nan),
                                          np.nan if bound is None else bound),
            objective_history=np.asarray(run.history["objective"], dtype=float),
            stopping_history={k: np.asarray(v) for k, v in
                              {**(stopping_history or {}), **run.history}.items()},
            stopped_by=run.stopped_by, last_x=outputs, prices=prices, method="interior-point",
            resent_requests=self.resent_requests, iteration_wall_s=self.round_wall_s,
            iteration_messages=self.round_messages, iteration_bytes=self.round_bytes, **fields)


def _sharing_result(outcome: InteriorPointOutcome) -> ADMMResult:
    """A run of the interior-point method for sharing as the engine's result: the actors'
    outputs, their sum, the objective (the actors' costs and the global objective) and the
    Lagrangian bound at the final price with its certified gap."""
    n_actors = sum(len(names) for names in outcome.names)
    return outcome.result(
        float(outcome.objectives.sum()) + float(outcome.global_objective),
        np.concatenate(outcome.outputs), np.tile(outcome.run.y[0], n_actors))


@dataclass
class CoordinationSession:
    """A coordinator with its participants reachable (in this process, or agent processes that
    serve until the session ends): :meth:`run` coordinates one run, as often as wanted."""

    coordinator: CoordinatorAgent
    transport: Any
    #: Agent processes spawned for the session (0 in process or for running agents).
    spawned: int = 0

    async def run(self, data: TargetData | None, warm_start: WarmStart | None = None,
                  relinearise: bool = False) -> ADMMResult:
        """One run (see :meth:`CoordinatorAgent.run`)."""
        return await self.coordinator.run(data, warm_start, relinearise)

    async def run_interior_point(self, **kwargs: Any) -> InteriorPointOutcome:
        """One run of the interior-point method (see
        :meth:`CoordinatorAgent.run_interior_point`)."""
        return await self.coordinator.run_interior_point(**kwargs)

    @property
    def stats(self) -> Any:
        """The transport's traffic counters (messages, bytes), over the session so far."""
        return self.transport.stats


@contextlib.asynccontextmanager
async def in_process_session(participants: dict[str, Participant],
                             coordinator: ADMMGenericCoordinator | InteriorPointCoordinator,
                             transport: Transport,
                             progress: Callable[[Any], None] | None = None
                             ) -> AsyncIterator[CoordinationSession]:
    """``participants`` (agent name -> participant) and a coordinator on one ``transport`` in
    this event loop, for as many runs as the block makes; the participant agents are stopped
    when it ends, also on error."""
    async with transport:
        agents = [ParticipantAgent(name, p, transport,
                                   idle_timeout=max(600.0, coordinator.reply_timeout))
                  for name, p in participants.items()]
        coord = CoordinatorAgent("coordinator", coordinator, list(participants), transport,
                                 progress=progress)
        # Serve every run of the session (the tasks are cancelled when it ends).
        tasks = [asyncio.ensure_future(a.serve(runs=None)) for a in agents]
        try:
            yield CoordinationSession(coord, transport)
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def coordinate_in_process(participants: dict[str, Participant],
                                coordinator: ADMMGenericCoordinator | InteriorPointCoordinator,
                                data: TargetData | None,
                                transport: Transport, progress: Callable[[Any], None] | None = None,
                                warm_start: WarmStart | None = None) -> ADMMResult:
    """Run ``participants`` (agent name -> participant) and a coordinator on one ``transport`` in
    this event loop (from ``warm_start`` if given); the participant agents are stopped when the
    run ends, also on error."""
    async with in_process_session(participants, coordinator, transport, progress) as session:
        return await session.run(data, warm_start)


def check_context(joins: Sequence[JoinReply], participants: Sequence[str],
                  expected: Mapping[str, Mapping[str, str]]) -> None:
    """:class:`ContextMismatchError` naming the first participant whose join does not report
    the expected value of a field (``expected``: address -> field -> value)."""
    for join, addr in zip(joins, participants):
        reported = dict(join.context)
        for name, value in expected.get(addr, {}).items():
            got = reported.get(name)
            if got is None:
                raise ContextMismatchError(
                    f"agent {addr!r} does not report its {name} (expected {value!r}); it may be "
                    "of an older version")
            if got != str(value):
                raise ContextMismatchError(
                    f"agent {addr!r} was started for {name} {got!r}, this run needs {value!r}")


def _publications(table: Mapping[str, tuple[Sequence[Hashable], Sequence[np.ndarray]]]
                  ) -> tuple[Publication, ...]:
    """A participant's publications (key -> (names, value arrays)) as protocol messages' parts."""
    return tuple(Publication(key, tuple(names), np.concatenate(values))
                 for key, (names, values) in table.items())


def merge_publications(items: Iterable[tuple[str, Publication]]) -> tuple[Publication, ...]:
    """Publications ``(publisher, publication)`` merged per key (first appearance order); two
    participants publishing different values for the same variable is a ``ValueError``."""
    merged = merge_published((addr, pub.key, pub.variables, pub.values) for addr, pub in items)
    return tuple(Publication(key, tuple(table), np.array(list(table.values()), dtype=float))
                 for key, table in merged.items())


def _solve_work(participant: Participant, v: np.ndarray, rho: float | np.ndarray,
                dual_price: np.ndarray | None
                ) -> Callable[[], tuple[np.ndarray, float | None, float | None]]:
    """The local work of one solve request: the proximal step ``x``, and with ``dual_price``
    the participant's dual term there and its objective at ``x`` (else ``None``, ``None``)."""
    def work() -> tuple[np.ndarray, float | None, float | None]:
        x = np.asarray(participant.solve(v, rho), dtype=float)
        if dual_price is None:
            return x, None, None
        objs = participant.objectives(x)
        f = None if any(o is None for o in objs) else float(sum(objs))
        return x, _dual_term(participant, dual_price), _finite_or_none(f)

    return work


def _dual_term(participant: Participant, price: np.ndarray) -> float | None:
    """The participant's dual term at ``price``, or ``None`` if it has none or it is not finite."""
    term = getattr(participant, "dual_term", None)
    return None if term is None else _finite_or_none(term(price))


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _newer_solve(msg: SolveRequest) -> Callable[[Any], float | None]:
    """Ranks the solve requests of ``msg``'s run that are newer than it by their iteration."""
    def rank(m: Any) -> float | None:
        if isinstance(m, SolveRequest) and m.session == msg.session \
                and m.iteration > msg.iteration:
            return m.iteration
        return None

    return rank


def _tuple_or_none(value: Sequence[Hashable] | None) -> tuple | None:
    return None if value is None else tuple(value)
