"""What a distributed algorithm is here: message handlers and, for coordinated ones, a coordinator.

A participant of a coordinator-free algorithm implements :meth:`DistributedAlgorithm.on_exchange_message`:
it is called with the participant's carrier (:class:`~.algorithm.carrier.Carrier`: its address, its
neighbours and how to send to them), the message and its ``meta`` (``sender``, ``message_id``).
The algorithm ends when no participant sends any more. The same handlers run on every carrier:
in one process (:class:`~.runtime.inproc.SimpleCarrier`) or one agent per process on
mango-agents. See ``docs/custom_algorithm.md``.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from typing import Any

#: Every class whose instances may travel inside an algorithm's messages between processes, by
#: wire name (see :func:`message_type`); the codecs of the networked carriers decode nothing else.
_MESSAGE_TYPES: dict[str, type] = {}


def message_type(cls: type | None = None, *, name: str | None = None) -> Any:
    """Let the dataclass ``cls`` travel between processes inside algorithm messages (a class
    decorator; subclasses of :class:`OptimizationMessage` are registered by themselves).

    Its name on the wire is ``name`` if given, else its qualified name (e.g. ``"PriceSignal"``),
    so a class defined in a script's ``__main__`` and the same class in the module a peer
    process imports match. If another module's class already has that qualified name, this one
    is registered as ``"<module>.<qualified name>"`` instead (a peer process then needs the
    same module). Redefining a class of the same module replaces it (notebooks); an explicit
    ``name`` taken by another module's class raises ``TypeError``. A codec rebuilds a registered
    class from its fields by calling its constructor and nothing else.
    """

    def register(c: type) -> type:
        if not (isinstance(c, type) and dataclasses.is_dataclass(c)):
            raise TypeError(f"message_type: {c!r} is not a dataclass; algorithm messages are "
                            "dataclasses of plain values")
        explicit = name or c.__dict__.get("__wire_name__")
        wire = explicit or c.__qualname__
        known = _MESSAGE_TYPES.get(wire)
        if known is not None and known is not c and known.__module__ != c.__module__:
            if explicit:
                raise TypeError(f"message_type: {wire!r} is already the wire name of "
                                f"{known.__module__}.{known.__qualname__}; give "
                                f"{c.__module__}.{c.__qualname__} another name")
            wire = f"{c.__module__}.{c.__qualname__}"
        c.__wire_name__ = wire
        _MESSAGE_TYPES[wire] = c
        return c

    return register if cls is None else register(cls)


def message_types() -> dict[str, type]:
    """The registered message classes by wire name (a copy)."""
    _register_pending()
    return dict(_MESSAGE_TYPES)


def wire_name(cls: type) -> str | None:
    """The wire name of a registered message class, ``None`` if it is not registered."""
    _register_pending()
    if cls in _CONFLICTS:
        raise TypeError(_CONFLICTS[cls])
    name = cls.__dict__.get("__wire_name__")
    return name if name is not None and _MESSAGE_TYPES.get(name) is cls else None


class OptimizationMessage:
    """Marker base class of an algorithm's protocol messages.

    A dataclass subclass is registered for the networked carriers when it is created
    (:func:`message_type`); ``class M(OptimizationMessage, wire_name="...")`` names it
    explicitly. The dataclass decorator runs after the class is created, so registration happens
    at the first encode or decode of the class (:func:`message_types` registers late ones)."""

    def __init_subclass__(cls, wire_name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _PENDING.append((cls, wire_name))


# Subclasses of OptimizationMessage seen but not yet registered: the @dataclass decorator runs
# after __init_subclass__, so whether a class is a dataclass is known only later.
_PENDING: list[tuple[type, str | None]] = []


# Late-registered classes whose wire name was taken: the error is raised when one is encoded,
# not at whatever unrelated encode happened to register it.
_CONFLICTS: dict[type, str] = {}


def _register_pending() -> None:
    while _PENDING:
        cls, name = _PENDING.pop(0)
        if dataclasses.is_dataclass(cls):  # a plain subclass cannot travel; encoding says so
            try:
                message_type(cls, name=name)
            except TypeError as exc:
                _CONFLICTS[cls] = str(exc)


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
        report); what :func:`~.runtime.inproc.start_distributed_optimization` collects."""
        return None

    def algorithm_id(self) -> Hashable | None:
        """The id this participant goes by inside the algorithm's messages (e.g. a COHDA
        participant's ``participant_id``), which no other participant of a run may have
        (:func:`check_distinct_ids`); ``None`` (the default): its carrier address is its only
        identity."""
        return None


def check_distinct_ids(actors: Sequence[Any]) -> None:
    """Refuse, before a run, two of ``actors`` with the same :meth:`~DistributedAlgorithm.
    algorithm_id`: their messages would be taken for one participant's, and the run would end
    with a wrong answer and no error. ``ValueError`` naming the id and both positions."""
    seen: dict[Hashable, int] = {}
    for i, actor in enumerate(actors):
        own_id = getattr(actor, "algorithm_id", None)
        key = own_id() if callable(own_id) else None
        if key is None:
            continue
        if key in seen:
            raise ValueError(f"actors[{seen[key]}] and actors[{i}] have the same participant "
                             f"id {key!r}; every participant needs an id of its own")
        seen[key] = i


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
