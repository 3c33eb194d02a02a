"""Values a process builds once and finds again by their inputs' content.

Building models are mutable dataclasses, so a value is kept under a key made from what its
inputs hold (their bytes), never from their identity: a model changed in place gets the value of
its new content. Shared by the market's entities, the baselines, the centralized solves and the
verification, which ask for the same buildings' values again and again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

V = TypeVar("V")


def content_key(*values: object) -> bytes:
    """A digest of what ``values`` hold, in order: arrays by dtype, shape and bytes, mappings
    (by sorted key), tuples and lists item by item, anything else by its ``repr`` (exact for
    floats and strings). Containers are walked, not ``repr``-ed: numpy abbreviates the ``repr``
    of a large array, so two different arrays inside one could give the same key."""
    digest = hashlib.blake2b(digest_size=20)
    _update(digest, values)
    return digest.digest()


def _update(digest: hashlib.blake2b, value: object) -> None:
    if isinstance(value, np.ndarray):
        digest.update(f"array {value.dtype.str}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        digest.update(f"dict {len(value)}".encode())
        for key in sorted(value):
            _update(digest, key)
            _update(digest, value[key])
    elif isinstance(value, (tuple, list)):
        digest.update(f"{type(value).__name__} {len(value)}".encode())
        for item in value:
            _update(digest, item)
    else:
        digest.update(f"{type(value).__name__} {value!r};".encode())


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
