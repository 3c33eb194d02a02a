"""Arrays on the wire: little-endian float64, bit-exact, base64 in JSON or raw bytes in
msgpack; variable names as strings or ints."""

from __future__ import annotations

import binascii
import math
from typing import Any

import numpy as np


class MessageDecodeError(ValueError):
    """Bytes or values that are not a message of this protocol; the text says which field."""


_DTYPE = "<f8"  # the only array dtype on the wire: little-endian float64


def encode_array(a: np.ndarray, binary: bool = False) -> dict[str, Any]:
    """A float array as ``{"dtype", "shape", "data"}``: ``data`` holds its little-endian bytes,
    as base64 text for JSON or as raw bytes (``binary``, for msgpack)."""
    arr = np.ascontiguousarray(a, dtype=_DTYPE)
    raw = arr.tobytes()
    return {"dtype": _DTYPE, "shape": list(arr.shape),
            "data": raw if binary else binascii.b2a_base64(raw, newline=False).decode("ascii")}


def _raw(data: Any) -> bytes | None:
    """The bytes of an array's ``data``: raw (msgpack) or base64 text (JSON); None if neither."""
    if type(data) is bytes:
        return data
    if type(data) is str:
        try:
            return binascii.a2b_base64(data, strict_mode=True)
        except (binascii.Error, ValueError):
            return None
    return None


def decode_array(obj: Any, where: str) -> np.ndarray:
    """Inverse of :func:`encode_array`; checks dtype, shape and length."""
    if type(obj) is not dict or obj.keys() != _ARRAY_KEYS:
        raise MessageDecodeError(f"{where}: expected an encoded array")
    if obj["dtype"] != _DTYPE:
        raise MessageDecodeError(f"{where}: array dtype must be {_DTYPE!r}, got {obj['dtype']!r}")
    shape, data = obj["shape"], obj["data"]
    if type(shape) is not list or any(type(n) is not int or n < 0 for n in shape):
        raise MessageDecodeError(f"{where}: bad array shape {shape!r}")
    raw = _raw(data)
    if raw is None:
        raise MessageDecodeError(f"{where}: array data is not base64 text nor bytes")
    if len(raw) != 8 * math.prod(shape):
        raise MessageDecodeError(f"{where}: {len(raw)} bytes for shape {shape}")
    # An own writable copy: the receiver may keep or modify it.
    return np.frombuffer(raw, dtype=_DTYPE).reshape(shape).copy()


_ARRAY_KEYS = frozenset(("dtype", "shape", "data"))


def _check_name(value: Any, where: str) -> str | int:
    if type(value) is str or type(value) is int:
        return value
    raise MessageDecodeError(f"{where}: a variable name must be a string or an int")


def _encode_name(value: Any, where: str) -> str | int:
    if type(value) is str or type(value) is int:
        return value
    if isinstance(value, np.integer):
        return int(value)
    raise TypeError(f"{where}: global variable names must be strings or ints to travel "
                    f"between processes, got {type(value).__name__} {value!r}")
