"""Agents that run ADMM over a carrier: the coordinator and the participants.

The coordinator agent drives any problem form through the carrier; a participant agent wraps
anything that satisfies :class:`Participant` (one local model or a vectorised fleet). Neither knows
how messages travel, nor what the local models are.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

import numpy as np

from distributed_resource_optimization.admm.coordinator import ADMMGenericCoordinator
from distributed_resource_optimization.admm.forms import ParticipantSpec
from distributed_resource_optimization.admm.objectives import TargetData
from distributed_resource_optimization.admm.results import ADMMResult, ADMMStatus
from distributed_resource_optimization.runtime.carrier import (
    Carrier,
    CoordinationError,
    CoordinationTimeoutError,
)
from distributed_resource_optimization.runtime.messages import (
    FinishReply,
    FinishRequest,
    JoinReply,
    JoinRequest,
    SolveReply,
    SolveRequest,
)


class ParticipantError(CoordinationError):
    """A participant failed in its local work; the message names the actor."""


class Participant(Protocol):
    """What a participant agent needs from the local side (a LocalBlock satisfies it)."""

    def describe(self) -> dict[str, Any]:
        """``names``, ``sizes`` and optional ``variables``/``rho_scale`` of its actors."""

    def prepare(self) -> None:
        """One-time setup before the first iteration."""

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        """Proximal step ``argmin f(x) + (rho/2)||x - v||^2`` over all its actors (flat)."""

    def assign(self, x: np.ndarray) -> None:
        """Keep the final outputs."""

    def objective(self, x: np.ndarray) -> float | None:
        """Local cost at ``x``, or ``None``."""


class ParticipantAgent:
    """Serves a participant: answers join, solve and finish requests from the coordinator.

    ``idle_timeout`` (s) bounds the wait for the coordinator's next message.
    """

    def __init__(self, address: str, participant: Participant, carrier: Carrier,
                 idle_timeout: float = 600.0) -> None:
        self.address = address
        self.participant = participant
        self.carrier = carrier
        self.mailbox = carrier.register(address)
        self.idle_timeout = idle_timeout

    async def serve(self) -> None:
        """Answer requests until a :class:`FinishRequest` has been handled."""
        while True:
            sender, msg = await self.mailbox.receive(self.idle_timeout, "the coordinator")
            reply = self._handle(msg)
            await self.carrier.send(self.address, sender, reply)
            if isinstance(msg, FinishRequest):
                return

    def _handle(self, msg: Any) -> Any:
        if isinstance(msg, JoinRequest):
            try:
                self.participant.prepare()
                d = self.participant.describe()
            except Exception as exc:  # reported to the coordinator, which raises it to the user
                return JoinReply(msg.session, (), (), error=str(exc))
            return JoinReply(msg.session, tuple(d["names"]), tuple(d["sizes"]),
                             d.get("variables"), d.get("rho_scale"))
        if isinstance(msg, SolveRequest):
            try:
                rho = msg.rho
                v = msg.target - msg.price / rho
                x = self.participant.solve(v, rho)
            except Exception as exc:
                return SolveReply(msg.session, msg.iteration, None, error=str(exc))
            return SolveReply(msg.session, msg.iteration, np.asarray(x, dtype=float))
        if isinstance(msg, FinishRequest):
            try:
                self.participant.assign(msg.x)
                obj = self.participant.objective(msg.x)
            except Exception as exc:
                return FinishReply(msg.session, error=str(exc))
            return FinishReply(msg.session, objective=obj)
        raise CoordinationError(f"{self.address}: unexpected message {type(msg).__name__}")


class CoordinatorAgent:
    """Runs an :class:`ADMMGenericCoordinator` against participant agents over a carrier."""

    def __init__(self, address: str, coordinator: ADMMGenericCoordinator,
                 participants: Sequence[str], carrier: Carrier,
                 progress: Any = None) -> None:
        if not participants:
            raise ValueError("actors must not be empty")
        self.address = address
        self.coordinator = coordinator
        self.participants = list(participants)
        self.carrier = carrier
        self.mailbox = carrier.register(address)
        self.timeout = coordinator.reply_timeout
        self.progress = progress

    async def _broadcast(self, messages: Sequence[Any]) -> None:
        for addr, msg in zip(self.participants, messages):
            await self.carrier.send(self.address, addr, msg)

    async def _gather(self, kind: type, session: str, iteration: int | None = None) -> list[Any]:
        """One reply of type ``kind`` from every participant, in participant order."""
        pending = {addr: i for i, addr in enumerate(self.participants)}
        replies: list[Any] = [None] * len(self.participants)
        deadline = time.monotonic() + self.timeout
        while pending:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise CoordinationTimeoutError
                sender, msg = await self.mailbox.receive(remaining)
                # In one process a blocking local solve holds the loop past the deadline and its
                # reply is then already queued: it is still late.
                if time.monotonic() > deadline:
                    raise CoordinationTimeoutError
            except CoordinationTimeoutError:
                where = "" if iteration is None else f" (iteration {iteration})"
                raise CoordinationTimeoutError(
                    f"{self.address}: no reply from {', '.join(sorted(pending))} within "
                    f"{self.timeout:g} s{where}") from None
            if not isinstance(msg, kind) or msg.session != session or sender not in pending:
                continue  # a late reply of an earlier round or run: not ours to use
            if iteration is not None and msg.iteration != iteration:
                continue
            if getattr(msg, "error", None):
                raise ParticipantError(f"participant {sender!r}: {msg.error}")
            replies[pending.pop(sender)] = msg
        return replies

    async def run(self, data: TargetData | None) -> ADMMResult:
        """Coordinate one optimisation; returns the result and leaves outputs with the actors."""
        start = time.perf_counter()
        session = uuid.uuid4().hex
        await self._broadcast([JoinRequest(session)] * len(self.participants))
        joins = await self._gather(JoinReply, session)
        specs = [ParticipantSpec(j.names, j.sizes, _tuple_or_none(j.variables),
                                 _tuple_or_none(j.rho_scale)) for j in joins]
        seen: set[str] = set()
        for n in (n for s in specs for n in s.names):
            if n in seen:
                raise ValueError(f"actors must have unique names; {n!r} appears twice")
            seen.add(n)
        state = self.coordinator.create_state(specs, data)
        while True:
            requests = state.requests()
            await self._broadcast([SolveRequest(session, state.iteration + 1, r.target, r.price,
                                                r.rho) for r in requests])
            replies = await self._gather(SolveReply, session, state.iteration + 1)
            done = state.step([r.x for r in replies])
            if self.progress is not None:
                self.progress(state)
            if done:
                break
        finals = [state.x[state.offsets[p]:state.offsets[p + 1]] for p in range(len(specs))]
        await self._broadcast([FinishRequest(session, x, state.status is ADMMStatus.CONVERGED)
                               for x in finals])
        done_replies = await self._gather(FinishReply, session)
        objs = [r.objective for r in done_replies]
        local = None if any(o is None for o in objs) else float(sum(objs))
        return state.result(time.perf_counter() - start, local)


def _tuple_or_none(value: Sequence[Hashable] | None) -> tuple | None:
    return None if value is None else tuple(value)
