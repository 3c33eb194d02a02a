"""Module paths the runtime's names moved away from (until 0.2): each old module's
``__getattr__`` serves a name from its new home with a ``DeprecationWarning`` naming both."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


def moved_names(old: str, new: ModuleType, renamed: Mapping[str, str] | None = None
                ) -> Callable[[str], Any]:
    """The ``__getattr__`` of the deprecated module ``old``: ``name`` (or its new name in
    ``renamed``) from ``new``, with a warning; ``AttributeError`` for anything ``new`` lacks."""
    renamed = dict(renamed or {})

    def moved_getattr(name: str) -> Any:
        target = renamed.get(name, name)
        if not hasattr(new, target):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(f"{old}.{name} is deprecated; use {new.__name__}.{target}",
                      DeprecationWarning, stacklevel=2)
        return getattr(new, target)

    return moved_getattr
