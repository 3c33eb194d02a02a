"""What a distributed algorithm is here: message handlers and, for coordinated ones, a coordinator.

A participant of a coordinator-free algorithm implements :meth:`DistributedAlgorithm.on_exchange_message`:
it is called with the participant's carrier (:class:`~.carrier.core.Carrier`: its address, its
neighbours and how to send to them), the message and its ``meta`` (``sender``, ``message_id``).
The algorithm ends when no participant sends any more. The same handlers run on every carrier:
in one process (:class:`~.carrier.simple.SimpleCarrier`) or one agent per process on
mango-agents. See ``docs/custom_algorithm.md``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any


class OptimizationMessage:
    """Marker base class of an algorithm's protocol messages."""


class DistributedAlgorithm(ABC):
    """A participant of a distributed algorithm: reacts to messages, sends through its carrier."""

    @abstractmethod
    async def on_exchange_message(self, carrier: Any, message_data: Any, meta: dict) -> Any:
        """Handle ``message_data`` from ``meta["sender"]``; send follow-ups via ``carrier``."""

    def check_start(self, start_message: Any) -> None:  # noqa: B027  (optional hook)
        """Raise ``ValueError`` naming the parameter if this participant cannot take part in a
        run started by ``start_message`` (called before the run starts)."""

    def solution(self) -> Any:
        """This participant's part of the solution when the run has ended (``None``: nothing to
        report); what :func:`~.carrier.simple.start_distributed_optimization` collects."""
        return None


class Coordinator(ABC):
    """The coordinator of a coordinated distributed algorithm."""

    @abstractmethod
    async def start_optimization(self, carrier: Any, message_data: Any, meta: dict) -> Any:
        """Run the optimisation from the start message ``message_data``; returns its result."""


async def on_exchange_message(algorithm: DistributedAlgorithm, carrier: Any, message_data: Any,
                              meta: dict) -> Any:
    """Deliver one message to ``algorithm`` (what every carrier calls)."""
    return await algorithm.on_exchange_message(carrier, message_data, meta)


async def start_optimization(coordinator: Coordinator, carrier: Any, message_data: Any,
                             meta: dict) -> Any:
    """Start ``coordinator`` with ``message_data``; returns its result."""
    return await coordinator.start_optimization(carrier, message_data, meta)


class CoordinatedDistributedAlgorithm:
    """A coordinated algorithm's parts: the participants and their coordinator."""

    def __init__(self, distributed_algo: Sequence[DistributedAlgorithm],
                 coordinator: Coordinator) -> None:
        self.distributed_algo = list(distributed_algo)
        self.coordinator = coordinator
