"""Participant factories: how a peer process builds its participant, and which callables may.

``dro peer --factory X`` runs code named on a command line (or sent by whoever spawns the
peer), so it calls only functions that their authors registered as participant factories:

* with the decorator :func:`participant_factory` in the factory's module, then
  ``--factory package.module:function``;
* or as an entry point of the group :data:`ENTRY_POINT_GROUP` in the package's metadata
  (``pyproject.toml``: ``[project.entry-points."distributed_resource_optimization.participants"]
  my-unit = "my_package.units:make_unit"``), then ``--factory my-unit`` or its target
  ``--factory my_package.units:make_unit``.

Anything else (``--factory os:system``) is refused before it is called.
:class:`ParticipantFactory` resolves, checks and calls a factory; every way it can fail is a
``ValueError`` naming the factory (``dro peer`` reports it as one line, exit code 2).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

#: The entry-point group of installed participant factories.
ENTRY_POINT_GROUP = "distributed_resource_optimization.participants"

F = TypeVar("F", bound=Callable[..., Any])


class FactoryRegistry:
    """The callables registered as participant factories (by :func:`participant_factory`) and
    the installed ones (entry points of :data:`ENTRY_POINT_GROUP`): the one place that knows
    which factories ``dro peer`` may call."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self.group = group
        self._registered: dict[str, Callable[..., Any]] = {}

    def register(self, fn: F) -> F:
        """Register ``fn`` (returned unchanged, so it serves as a decorator)."""
        if not callable(fn):
            raise TypeError(f"a participant factory must be callable, got {type(fn).__name__}")
        self._registered[f"{fn.__module__}:{fn.__qualname__}"] = fn
        return fn

    def is_registered(self, fn: Any) -> bool:
        """Whether ``fn`` itself was registered (by identity: a module that re-exports a
        registered function under another name serves it too, a look-alike does not)."""
        return any(fn is f for f in self._registered.values())

    def installed(self, spec: str) -> list[importlib.metadata.EntryPoint]:
        """The entry points of the group that ``spec`` names: by their name, or for
        ``module:function`` by their target (found in the metadata, nothing is imported)."""
        entry_points = importlib.metadata.entry_points(group=self.group)
        module, sep, function = spec.partition(":")
        if not sep:
            return list(entry_points.select(name=spec))
        return [ep for ep in entry_points if ep.module == module and ep.attr == function]

    def _refusal(self, spec: str) -> ValueError:
        return ValueError(f"{spec} is not a registered participant factory; register it with "
                          f"@participant_factory or the entry point group {self.group}")

    def resolve(self, spec: str) -> Callable[..., Any]:
        """The factory named ``spec`` (``module:function`` or an entry point's name), without
        calling it; ``ValueError`` naming ``spec`` if it cannot be found or is not registered.
        A ``module:function`` that no entry point names is imported to see its registration."""
        module, sep, function = spec.partition(":")
        installed = self.installed(spec)
        if not (sep or installed):
            raise self._refusal(spec)
        if installed:
            try:
                fn = installed[0].load()
            except Exception as exc:  # the package's own import error, whatever it is
                raise ValueError(f"participant factory {spec} ({installed[0].value}) cannot be "
                                 f"loaded: {type(exc).__name__}: {exc}") from exc
            if not callable(fn):
                raise ValueError(f"participant factory {spec} ({installed[0].value}) is a "
                                 f"{type(fn).__name__}, not a function")
            return fn
        try:
            loaded = importlib.import_module(module)
        except Exception as exc:  # ModuleNotFoundError, or the module's own code failed
            raise ValueError(f"factory {spec}: cannot import {module}: "
                             f"{type(exc).__name__}: {exc}") from exc
        fn = getattr(loaded, function, None)
        if fn is None:
            raise ValueError(f"factory {spec}: {module} has no function {function!r}")
        if not self.is_registered(fn):
            raise self._refusal(spec)
        return fn


#: The process's registry of participant factories.
PARTICIPANT_FACTORIES = FactoryRegistry()


def participant_factory(fn: F) -> F:
    """Decorator: allow ``fn`` as ``dro peer --factory module:function`` (and in
    :class:`ParticipantFactory`); ``fn(**kwargs)`` builds one participant from its JSON keyword
    arguments."""
    return PARTICIPANT_FACTORIES.register(fn)


@dataclass(frozen=True)
class ParticipantFactory:
    """How a peer process builds its participant from its own data: ``factory`` is a registered
    participant factory, ``"package.module:function"`` (decorated with
    :func:`participant_factory`, or the target of an entry point of :data:`ENTRY_POINT_GROUP`)
    or an entry point's name, called with ``kwargs`` (JSON values: numbers, strings, lists,
    dicts; e.g. the path of the organisation's data file). The module must be importable in the
    peer's process (installed, or on ``PYTHONPATH``)."""

    factory: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        module, sep, function = str(self.factory).partition(":")
        # An entry point's name must be known here already: the spawned peers run on this
        # machine, in this environment (a module:function is checked where it is imported).
        valid = bool(module and function) if sep else bool(PARTICIPANT_FACTORIES.installed(module))
        if not valid:
            raise ValueError(f"factory must be 'package.module:function' or the name of an entry "
                             f"point of {ENTRY_POINT_GROUP}, got {self.factory!r}")
        try:
            json.dumps(dict(self.kwargs), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"kwargs of {self.factory} must be JSON values: {exc}") from None

    def build(self) -> Any:
        """Resolve the factory (refused unless registered), call it with ``kwargs`` and check
        what it returned. Every failure is a ``ValueError`` naming the factory: the factory's
        code is the user's, and whatever it raises must reach ``dro peer``'s one-line report
        (``KeyboardInterrupt`` is not an ``Exception`` and goes through)."""
        fn = PARTICIPANT_FACTORIES.resolve(self.factory)
        kwargs = dict(self.kwargs)
        misfit = _kwargs_misfit(fn, kwargs)
        if misfit is not None:
            raise ValueError(f"--kwargs do not fit factory {self.factory}{misfit}")
        try:
            participant = fn(**kwargs)
        except Exception as exc:
            raise ValueError(f"factory {self.factory} raised {type(exc).__name__}: {exc}") from exc
        if not callable(getattr(participant, "on_exchange_message", None)):
            raise ValueError(f"factory {self.factory} returned a {type(participant).__name__}, "
                             "not a distributed algorithm participant (it needs "
                             "on_exchange_message)")
        return participant

    def command(self, name: str) -> list[str]:
        """The ``dro peer`` arguments that build this participant as agent ``name``."""
        return ["--factory", self.factory, "--kwargs", json.dumps(dict(self.kwargs)),
                "--name", name]


def _kwargs_misfit(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> str | None:
    """``None`` if ``fn(**kwargs)`` fits ``fn``'s parameters (or ``fn`` has no signature: then
    the call itself tells), else its parameters and what does not fit: ``"(value): ..."``.
    Checked before the call, so that a ``TypeError`` of the factory's own code stays its own."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none
        return None
    try:
        signature.bind(**kwargs)
        return None
    except TypeError as exc:
        problem = str(exc)
    params = signature.parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        unknown = sorted(set(kwargs) - names)
        if unknown and "unexpected" not in problem:  # bind names only the first problem
            problem += f"; got unexpected {', '.join(map(repr, unknown))}"
    # The parameters' names are what --kwargs must match: no annotations.
    shown = signature.replace(return_annotation=inspect.Signature.empty, parameters=[
        p.replace(annotation=inspect.Parameter.empty) for p in params])
    return f"{shown}: {problem}"
