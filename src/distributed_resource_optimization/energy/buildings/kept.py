"""Values a process builds once and finds again by their inputs' content.

Building models are mutable dataclasses, so a value is kept under a key made from what its
inputs hold (their bytes), never from their identity: a model changed in place gets the value of
its new content. Shared by the market's entities, the baselines, the centralized solves and the
verification, which ask for the same buildings' values again and again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class KeptByContent(Generic[V]):
    """At most ``size`` values, the least recently used dropped first; safe to share between
    threads (the local-work thread builds the agents' models while the caller's thread may
    build a centralized solve's)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        """The value kept under ``key``, else ``build()``'s, then kept (the caller copies it
        before handing it out if anyone may change it)."""
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
                return value
        value = build()  # outside the lock: two threads may build the same value, harmlessly
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Forget every kept value."""
        with self._lock:
            self._values.clear()
