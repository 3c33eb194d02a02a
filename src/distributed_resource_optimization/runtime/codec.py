"""Wire codec of the coordination protocol: explicit schemas, fixed type ids, no pickle.

Every message of :mod:`.messages` has a fixed type id and a field schema (:data:`SCHEMAS`).
:func:`to_plain` turns a message into JSON-compatible values (numpy arrays as
``{"dtype": "<f8", "shape": [n], "data": "<base64>"}``, bytes in little-endian order, so values
cross the wire bit-exactly), :func:`from_plain` checks every field against the schema and rebuilds
the message, raising :class:`MessageDecodeError` for anything else. Nothing is ever unpickled.

:class:`WireCodec` encodes a message to JSON bytes on its own (used by the in-process carrier's
``codec=`` option and by tests); :func:`mango_codec` returns a mango-agents JSON codec with the same
serializers registered under the same type ids, for the mango carriers.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from distributed_resource_optimization.runtime.messages import (
    MESSAGE_TYPES,
    FinishReply,
    FinishRequest,
    JoinReply,
    JoinRequest,
    Publication,
    SetupReply,
    SetupRequest,
    SolveReply,
    SolveRequest,
)


class MessageDecodeError(ValueError):
    """Bytes or values that are not a message of this protocol; the text says which field."""


#: Fixed type ids, the same in every process and version of this protocol ("DRO" + number).
TYPE_IDS: dict[type, int] = {
    JoinRequest: 0x44524F01,
    JoinReply: 0x44524F02,
    SetupRequest: 0x44524F03,
    SetupReply: 0x44524F04,
    SolveRequest: 0x44524F05,
    SolveReply: 0x44524F06,
    FinishRequest: 0x44524F07,
    FinishReply: 0x44524F08,
}

#: Field kinds per message type, in declaration order.
SCHEMAS: dict[type, dict[str, str]] = {
    JoinRequest: {"session": "str", "protocol_version": "int"},
    JoinReply: {"session": "str", "names": "strs", "sizes": "ints", "variables": "variables?",
                "publications": "publications", "protocol_version": "int", "error": "str?"},
    SetupRequest: {"session": "str", "publications": "publications"},
    SetupReply: {"session": "str", "rho_scale": "arrays?", "error": "str?"},
    SolveRequest: {"session": "str", "iteration": "int", "target": "array", "price": "array",
                   "rho": "float"},
    SolveReply: {"session": "str", "iteration": "int", "x": "array?", "error": "str?"},
    FinishRequest: {"session": "str", "x": "array", "status": "str"},
    FinishReply: {"session": "str", "objectives": "array", "error": "str?"},
}

_DTYPE = "<f8"  # the only array dtype on the wire: little-endian float64


def encode_array(a: np.ndarray) -> dict[str, Any]:
    """A float array as ``{"dtype", "shape", "data"}`` (base64 of its little-endian bytes)."""
    arr = np.ascontiguousarray(a, dtype=_DTYPE)
    return {"dtype": _DTYPE, "shape": list(arr.shape),
            "data": base64.b64encode(arr.tobytes()).decode("ascii")}


def decode_array(obj: Any, where: str) -> np.ndarray:
    """Inverse of :func:`encode_array`; checks dtype, shape and length."""
    if not isinstance(obj, dict) or set(obj) != {"dtype", "shape", "data"}:
        raise MessageDecodeError(f"{where}: expected an encoded array")
    if obj["dtype"] != _DTYPE:
        raise MessageDecodeError(f"{where}: array dtype must be {_DTYPE!r}, got {obj['dtype']!r}")
    shape = obj["shape"]
    if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
        raise MessageDecodeError(f"{where}: bad array shape {shape!r}")
    if not isinstance(obj["data"], str):
        raise MessageDecodeError(f"{where}: array data must be base64 text")
    try:
        raw = base64.b64decode(obj["data"].encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise MessageDecodeError(f"{where}: array data is not base64 ({exc})") from None
    count = math.prod(shape)
    if len(raw) != 8 * count:
        raise MessageDecodeError(f"{where}: {len(raw)} bytes for shape {shape}")
    # Own writable copy: the receiver may keep or modify it.
    return np.frombuffer(raw, dtype=_DTYPE).reshape(shape).astype(float)


def _check_name(value: Any, where: str) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MessageDecodeError(f"{where}: a variable name must be a string or an int")
    return value


def _encode_name(value: Any, where: str) -> str | int:
    if isinstance(value, (np.integer,)):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{where}: global variable names must be strings or ints to travel "
                        f"between processes, got {type(value).__name__} {value!r}")
    return value


def _encode(kind: str, value: Any, where: str) -> Any:
    if kind.endswith("?"):
        return None if value is None else _encode(kind[:-1], value, where)
    if kind == "str":
        return str(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "array":
        return encode_array(value)
    if kind == "strs":
        return [str(v) for v in value]
    if kind == "ints":
        return [int(v) for v in value]
    if kind == "variables":
        return [None if v is None else [_encode_name(n, where) for n in v] for v in value]
    if kind == "arrays":
        return [None if a is None else encode_array(a) for a in value]
    if kind == "publications":
        return [{"key": str(p.key), "variables": [_encode_name(n, where) for n in p.variables],
                 "values": encode_array(p.values)} for p in value]
    raise AssertionError(f"unknown field kind {kind!r}")


def _decode(kind: str, value: Any, where: str) -> Any:
    if kind.endswith("?"):
        return None if value is None else _decode(kind[:-1], value, where)
    if kind == "str":
        if not isinstance(value, str):
            raise MessageDecodeError(f"{where}: expected a string")
        return value
    if kind == "int":
        if type(value) is not int:
            raise MessageDecodeError(f"{where}: expected an int")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MessageDecodeError(f"{where}: expected a number")
        return float(value)
    if kind == "array":
        return decode_array(value, where)
    if not isinstance(value, list):
        raise MessageDecodeError(f"{where}: expected a list")
    if kind == "strs":
        return tuple(_decode("str", v, f"{where}[{i}]") for i, v in enumerate(value))
    if kind == "ints":
        return tuple(_decode("int", v, f"{where}[{i}]") for i, v in enumerate(value))
    if kind == "variables":
        out = []
        for i, v in enumerate(value):
            if v is None:
                out.append(None)
            elif isinstance(v, list):
                out.append(tuple(_check_name(n, f"{where}[{i}]") for n in v))
            else:
                raise MessageDecodeError(f"{where}[{i}]: expected a list of names")
        return tuple(out)
    if kind == "arrays":
        return tuple(_decode("array?", a, f"{where}[{i}]") for i, a in enumerate(value))
    if kind == "publications":
        out = []
        for i, p in enumerate(value):
            w = f"{where}[{i}]"
            if not isinstance(p, dict) or set(p) != {"key", "variables", "values"}:
                raise MessageDecodeError(f"{w}: expected a publication")
            if not isinstance(p["variables"], list):
                raise MessageDecodeError(f"{w}.variables: expected a list")
            pub = Publication(_decode("str", p["key"], f"{w}.key"),
                              tuple(_check_name(n, f"{w}.variables") for n in p["variables"]),
                              decode_array(p["values"], f"{w}.values"))
            if pub.values.shape != (len(pub.variables),):
                raise MessageDecodeError(f"{w}: {pub.values.size} values for "
                                         f"{len(pub.variables)} variables")
            out.append(pub)
        return tuple(out)
    raise AssertionError(f"unknown field kind {kind!r}")


def to_plain(message: Any) -> dict[str, Any]:
    """The fields of a protocol message as JSON-compatible values (see module doc)."""
    schema = SCHEMAS.get(type(message))
    if schema is None:
        raise TypeError(f"{type(message).__name__} is not a message of the protocol")
    return {name: _encode(kind, getattr(message, name), f"{type(message).__name__}.{name}")
            for name, kind in schema.items()}


def from_plain(cls: type, plain: Any) -> Any:
    """Rebuild a message of type ``cls`` from :func:`to_plain` output, checking every field."""
    schema = SCHEMAS[cls]
    if not isinstance(plain, dict) or set(plain) != set(schema):
        got = sorted(plain) if isinstance(plain, dict) else type(plain).__name__
        raise MessageDecodeError(f"{cls.__name__}: expected fields {sorted(schema)}, got {got}")
    return cls(**{name: _decode(kind, plain[name], f"{cls.__name__}.{name}")
                  for name, kind in schema.items()})


_BY_ID: dict[int, type] = {tid: cls for cls, tid in TYPE_IDS.items()}


class WireCodec:
    """Protocol messages to and from JSON bytes: ``{"type": <id>, "fields": {...}}``."""

    def encode(self, message: Any) -> bytes:
        return json.dumps({"type": TYPE_IDS[type(message)], "fields": to_plain(message)},
                          separators=(",", ":")).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MessageDecodeError(f"not a JSON message ({exc})") from None
        if not isinstance(obj, dict) or set(obj) != {"type", "fields"}:
            raise MessageDecodeError("not a protocol message")
        cls = _BY_ID.get(obj["type"]) if type(obj["type"]) is int else None
        if cls is None:
            raise MessageDecodeError(f"unknown message type id {obj['type']!r}")
        return from_plain(cls, obj["fields"])


def _deserializer(cls: type) -> Callable[[Any], Any]:
    return lambda plain: from_plain(cls, plain)


def mango_codec() -> Any:
    """A mango-agents JSON codec that carries the protocol messages (fixed type ids, no pickle).

    Raises ``ImportError`` with an install hint when mango-agents is missing.
    """
    try:
        from mango import JSON
    except ImportError as exc:  # pragma: no cover - mango is a dependency
        raise ImportError("the mango carriers need mango-agents (pip install mango-agents)"
                          ) from exc
    codec = JSON()
    for cls in MESSAGE_TYPES:
        codec.add_serializer(cls, to_plain, _deserializer(cls), type_id=TYPE_IDS[cls])
    return codec

