"""Wire codec of the coordination protocol: explicit schemas, fixed type ids, no pickle.

Every message of :mod:`.messages` has a fixed type id and a field schema (:data:`SCHEMAS`).
:func:`to_plain` turns a message into JSON-compatible values (numpy arrays as
``{"dtype": "<f8", "shape": [n], "data": "<base64>"}``, bytes in little-endian order, so values
cross the wire bit-exactly; raw bytes instead of base64 in the msgpack wire format);
:func:`from_plain` checks every field against the schema and rebuilds the message, raising
:class:`MessageDecodeError` for anything else. Nothing is ever unpickled.

:class:`WireCodec` encodes a message to JSON bytes on its own (used by the in-process carrier's
``codec=`` option and by tests). :func:`mango_codec` returns a mango-agents JSON codec with the
same serializers registered under the same type ids, for the mango carriers; in the msgpack wire
format (the carriers' default) it sends the same schema and ids as msgpack with the array bytes
raw, about 3x (small vectors) to 50x (large ones) faster than base64 in JSON, and it decodes
both formats.
"""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from distributed_resource_optimization.runtime.messages import (
    HANDSHAKE_TYPES,
    MESSAGE_TYPES,
    AlgorithmValue,
    CreditReturn,
    FinishReply,
    FinishRequest,
    JoinReply,
    JoinRequest,
    LinkHello,
    LinkWelcome,
    PeerMessage,
    PeerReady,
    PeerReport,
    PeerRunStart,
    PeerStop,
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
    PeerRunStart: 0x44524F09,
    PeerReady: 0x44524F0A,
    PeerMessage: 0x44524F0B,
    CreditReturn: 0x44524F0C,
    PeerStop: 0x44524F0D,
    PeerReport: 0x44524F0E,
    AlgorithmValue: 0x44524F0F,
    LinkHello: 0x44524F10,
    LinkWelcome: 0x44524F11,
}

#: Field kinds per message type, in declaration order.
SCHEMAS: dict[type, dict[str, str]] = {
    JoinRequest: {"session": "str", "protocol_version": "int"},
    JoinReply: {"session": "str", "names": "strs", "sizes": "ints", "variables": "variables?",
                "publications": "publications", "protocol_version": "int", "error": "str?",
                "context": "pairs"},
    SetupRequest: {"session": "str", "publications": "publications"},
    SetupReply: {"session": "str", "rho_scale": "arrays?", "error": "str?"},
    SolveRequest: {"session": "str", "iteration": "int", "target": "array", "price": "array",
                   "rho": "float", "dual_price": "array?"},
    SolveReply: {"session": "str", "iteration": "int", "x": "array?", "error": "str?",
                 "dual_term": "float?", "objective": "float?"},
    FinishRequest: {"session": "str", "x": "array", "status": "str", "dual_price": "array?"},
    FinishReply: {"session": "str", "objectives": "array", "error": "str?", "rejected": "int",
                  "carrier_rejected": "int", "carrier_id": "str", "dual_term": "float?"},
    PeerRunStart: {"session": "str", "index": "int", "names": "strs", "addresses": "strs",
                   "neighbours": "ints", "start": "value", "timeout": "float",
                   "protocol_version": "int"},
    PeerReady: {"session": "str", "index": "int", "error": "str?"},
    PeerMessage: {"session": "str", "sender": "int", "receiver": "int", "message_id": "str",
                  "reply": "bool", "hop": "int", "credit": "str", "content": "value"},
    CreditReturn: {"session": "str", "index": "int", "credit": "str"},
    PeerStop: {"session": "str", "reason": "str"},
    PeerReport: {"session": "str", "index": "int", "solution": "value", "converged": "bool?",
                 "received": "int", "rounds": "int", "error": "str?"},
    AlgorithmValue: {"content": "value"},
    LinkHello: {"sender": "str", "receiver": "str", "nonce": "str"},
    LinkWelcome: {"sender": "str", "receiver": "str", "hello_nonce": "str", "nonce": "str"},
}

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


# -- algorithm values: what coordinator-free algorithms send (inside a PeerMessage) -----------
# None, bool, int, float, str and lists as themselves; everything else as a one-key dict whose key
# says what it is: tuple "t", dict "d" (a list of [key, value] pairs: keys may be ints), set "s",
# array "a" (float64, int64 or bool bytes), registered dataclass "m" ([wire name, {field: value}]).
# An encoded dict is therefore always a tag, never user data, and decoding builds nothing but
# these values and the registered classes (algorithm.core.message_type), by their constructors.

#: Array dtypes an algorithm value may hold (little-endian float64, int64 and bool).
VALUE_DTYPES: tuple[str, ...] = ("<f8", "<i8", "|b1")
#: Deepest nesting of an algorithm value (a guard against recursion bombs from the network).
MAX_VALUE_DEPTH = 64
_VALUE_TAGS = frozenset("tdsam")


def _value_array(a: np.ndarray, binary: bool) -> dict[str, Any]:
    kind = a.dtype.kind
    dtype = "<f8" if kind == "f" else "<i8" if kind in "iu" else "|b1" if kind == "b" else None
    if dtype is None:
        raise TypeError(f"arrays of dtype {a.dtype} cannot travel (float, int and bool can)")
    arr = np.ascontiguousarray(a, dtype=dtype)
    raw = arr.tobytes()
    return {"dtype": dtype, "shape": list(arr.shape),
            "data": raw if binary else binascii.b2a_base64(raw, newline=False).decode("ascii")}


class _RefusedError(Exception):
    """Raised inside the value codecs; the path to the offending place is collected on the way
    out (built only when something is wrong: most messages never need it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []

    def at(self, where: str) -> str:
        return f"{where}{''.join(reversed(self.path))}: {self.message}"


_PLAIN_TYPES = frozenset((bool, int, float, str))
#: Per dataclass: its wire name and the names of its constructor's fields.
_CLASS_FIELDS: dict[type, tuple[str, tuple[str, ...]]] = {}


def _class_fields(cls: type) -> tuple[str, tuple[str, ...]] | None:
    import dataclasses

    from distributed_resource_optimization.algorithm.core import wire_name

    name = wire_name(cls)
    if name is None:
        return None
    known = _CLASS_FIELDS.get(cls)
    if known is None or known[0] != name:
        known = (name, tuple(f.name for f in dataclasses.fields(cls) if f.init))
        _CLASS_FIELDS[cls] = known
    return known


def encode_value(value: Any, binary: bool = False, where: str = "value") -> Any:
    """An algorithm value as JSON-compatible data (see the comment above); ``TypeError`` naming
    the place (``where`` and the path below it) for anything that cannot travel (functions,
    unregistered objects)."""
    try:
        return _enc(value, binary, 0)
    except _RefusedError as exc:
        raise TypeError(exc.at(where)) from None


def _enc(value: Any, binary: bool, depth: int) -> Any:
    t = type(value)
    if value is None or t in _PLAIN_TYPES:
        return value
    if depth > MAX_VALUE_DEPTH:
        raise _RefusedError(f"nested deeper than {MAX_VALUE_DEPTH} levels")
    d = depth + 1
    if t is np.ndarray:
        try:
            return {"a": _value_array(value, binary)}
        except TypeError as exc:
            raise _RefusedError(str(exc)) from None
    if t is list or t is tuple:
        out = []
        for i, v in enumerate(value):
            try:
                out.append(_enc(v, binary, d))
            except _RefusedError as exc:
                exc.path.append(f"[{i}]")
                raise
        return out if t is list else {"t": out}
    if t is dict:
        pairs = []
        for k, v in value.items():
            try:
                pairs.append([_enc(k, binary, d), _enc(v, binary, d)])
            except _RefusedError as exc:
                exc.path.append(f"[{k!r}]")
                raise
        return {"d": pairs}
    fields = _class_fields(t) if hasattr(t, "__dataclass_fields__") else None
    if fields is not None:
        name, names = fields
        plain = {}
        for f in names:
            try:
                plain[f] = _enc(getattr(value, f), binary, d)
            except _RefusedError as exc:
                exc.path.append(f".{f}")
                raise
        return {"m": [name, plain]}
    if hasattr(t, "__dataclass_fields__") and not isinstance(value, type):
        raise _RefusedError(f"{t.__name__} cannot travel between processes: register it with "
                       "algorithm.core.message_type (or subclass OptimizationMessage)")
    if isinstance(value, np.ndarray):  # a subclass (e.g. a masked array): as the plain array
        return _enc(np.asarray(value), binary, depth)
    if isinstance(value, np.generic):
        return _enc(value.item(), binary, d)
    if isinstance(value, (set, frozenset)):
        items = []
        for v in value:
            try:
                items.append(_enc(v, binary, d))
            except _RefusedError as exc:
                exc.path.append(" item")
                raise
        return {"s": items}
    if isinstance(value, (list, tuple, dict)):  # subclasses (a namedtuple: as a tuple)
        base = list if isinstance(value, list) else tuple if isinstance(value, tuple) else dict
        return _enc(base(value), binary, depth)
    if isinstance(value, (bool, int, float, str)):  # subclasses (e.g. IntEnum) as the base type
        return next(b for b in (bool, int, float, str) if isinstance(value, b))(value)
    raise _RefusedError(f"a {t.__name__} cannot travel between processes (numbers, strings, lists, "
                   "tuples, dicts, sets, numpy arrays and registered dataclasses can)")


def decode_value(obj: Any, where: str = "value") -> Any:
    """Inverse of :func:`encode_value`; :class:`MessageDecodeError` naming the place for
    anything else (unknown tags or classes, bad arrays, fields a class does not take)."""
    try:
        return _dec(obj, 0)
    except _RefusedError as exc:
        raise MessageDecodeError(exc.at(where)) from None


def _dec(obj: Any, depth: int) -> Any:
    t = type(obj)
    if obj is None or t in _PLAIN_TYPES:
        return obj
    if depth > MAX_VALUE_DEPTH:
        raise _RefusedError(f"nested deeper than {MAX_VALUE_DEPTH} levels")
    d = depth + 1
    if t is list:
        return _dec_items(obj, d)
    if t is not dict or len(obj) != 1:
        raise _RefusedError("not an encoded algorithm value")
    tag, body = next(iter(obj.items()))
    if tag == "a":
        return _decode_value_array(body)
    if tag not in _VALUE_TAGS:
        raise _RefusedError("not an encoded algorithm value")
    if tag == "m":
        return _decode_dataclass(body, d)
    if type(body) is not list:
        raise _RefusedError("expected a list")
    if tag == "t":
        return tuple(_dec_items(body, d))
    if tag == "s":
        try:
            return set(_dec_items(body, d))
        except TypeError as exc:  # an unhashable item
            raise _RefusedError(str(exc)) from None
    out = {}
    for i, pair in enumerate(body):
        if type(pair) is not list or len(pair) != 2:
            raise _RefusedError(f"entry {i} is not a [key, value] pair")
        try:
            key = _dec(pair[0], d)
            out[key] = _dec(pair[1], d)
        except _RefusedError as exc:
            exc.path.append(f" entry {i}")
            raise
        except TypeError as exc:  # an unhashable key
            raise _RefusedError(f"entry {i}: {exc}") from None
    return out


def _dec_items(items: list, depth: int) -> list:
    out = []
    for i, v in enumerate(items):
        try:
            out.append(_dec(v, depth))
        except _RefusedError as exc:
            exc.path.append(f"[{i}]")
            raise
    return out


def _decode_value_array(body: Any) -> np.ndarray:
    if type(body) is not dict or body.keys() != _ARRAY_KEYS or body["dtype"] not in VALUE_DTYPES:
        raise _RefusedError(f"expected an encoded array of dtype {' / '.join(VALUE_DTYPES)}")
    shape, raw = body["shape"], _raw(body["data"])
    if type(shape) is not list or any(type(n) is not int or n < 0 for n in shape):
        raise _RefusedError(f"bad array shape {shape!r}")
    dtype = np.dtype(body["dtype"])
    if raw is None or len(raw) != dtype.itemsize * math.prod(shape):
        raise _RefusedError(f"array data do not match shape {shape}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _decode_dataclass(body: Any, depth: int) -> Any:
    from distributed_resource_optimization.algorithm.core import message_types

    if type(body) is not list or len(body) != 2 or type(body[0]) is not str \
            or type(body[1]) is not dict:
        raise _RefusedError("expected [class name, fields]")
    name, plain = body
    cls = _BY_WIRE_NAME.get(name)
    if cls is None or _class_fields(cls) is None or _CLASS_FIELDS[cls][0] != name:
        cls = message_types().get(name)
        if cls is None:
            raise _RefusedError(f"{name!r} is not a registered message class in this process "
                           "(import the module that defines it)")
        _BY_WIRE_NAME[name] = cls
    names = _CLASS_FIELDS[cls][1] if cls in _CLASS_FIELDS else _class_fields(cls)[1]
    extra = [k for k in plain if k not in names]
    if extra:
        raise _RefusedError(f"{name} has no field(s) {', '.join(sorted(map(str, extra)))}")
    fields = {}
    for k, v in plain.items():
        try:
            fields[k] = _dec(v, depth)
        except _RefusedError as exc:
            exc.path.append(f".{k}")
            raise
    try:
        return cls(**fields)
    except Exception as exc:  # the class's own checks refused the values
        raise _RefusedError(f"{name}: {type(exc).__name__}: {exc}") from None


#: Wire name -> class, as last decoded (checked against the registry on every hit).
_BY_WIRE_NAME: dict[str, type] = {}


# -- per-kind encoders and decoders (compiled per message type in _FIELDS) ---------------------
# A decoder takes the value and a zero-argument function that names the field for an error
# message, so no text is built unless something is wrong.

def _enc_variables(value: Any, where: str, binary: bool) -> Any:
    return [None if v is None else [_encode_name(n, where) for n in v] for v in value]


def _enc_publications(value: Any, where: str, binary: bool) -> Any:
    return [{"key": str(p.key), "variables": [_encode_name(n, where) for n in p.variables],
             "values": encode_array(p.values, binary)} for p in value]


_ENCODERS: dict[str, Callable[[Any, str, bool], Any]] = {
    "str": lambda v, w, b: str(v),
    "bool": lambda v, w, b: bool(v),
    "value": lambda v, w, b: encode_value(v, b, w),
    "int": lambda v, w, b: int(v),
    "float": lambda v, w, b: float(v),
    "array": lambda v, w, b: encode_array(v, b),
    "strs": lambda v, w, b: [str(x) for x in v],
    "ints": lambda v, w, b: [int(x) for x in v],
    "pairs": lambda v, w, b: [[str(k), str(x)] for k, x in v],
    "variables": _enc_variables,
    "arrays": lambda v, w, b: [None if a is None else encode_array(a, b) for a in v],
    "publications": _enc_publications,
}


def _dec_str(value: Any, where: Callable[[], str]) -> str:
    if type(value) is not str:
        raise MessageDecodeError(f"{where()}: expected a string")
    return value


def _dec_int(value: Any, where: Callable[[], str]) -> int:
    if type(value) is not int:
        raise MessageDecodeError(f"{where()}: expected an int")
    return value


def _dec_float(value: Any, where: Callable[[], str]) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise MessageDecodeError(f"{where()}: expected a number")


def _dec_array(value: Any, where: Callable[[], str]) -> np.ndarray:
    # Fast path for the per-iteration vectors; anything unusual gets the full check.
    if type(value) is dict and len(value) == 3 and value.get("dtype") == _DTYPE:
        shape = value.get("shape")
        if type(shape) is list and len(shape) == 1 and type(shape[0]) is int and shape[0] >= 0:
            raw = _raw(value.get("data"))
            if raw is not None and len(raw) == 8 * shape[0]:
                return np.frombuffer(raw, dtype=_DTYPE).copy()
    return decode_array(value, where())


def _list(value: Any, where: Callable[[], str]) -> list:
    if type(value) is not list:
        raise MessageDecodeError(f"{where()}: expected a list")
    return value


def _dec_strs(value: Any, where: Callable[[], str]) -> tuple[str, ...]:
    return tuple(_dec_str(v, where) for v in _list(value, where))


def _dec_ints(value: Any, where: Callable[[], str]) -> tuple[int, ...]:
    return tuple(_dec_int(v, where) for v in _list(value, where))


def _dec_pairs(value: Any, where: Callable[[], str]) -> tuple[tuple[str, str], ...]:
    out = []
    for v in _list(value, where):
        if type(v) is not list or len(v) != 2:
            raise MessageDecodeError(f"{where()}: expected [name, value] pairs")
        out.append((_dec_str(v[0], where), _dec_str(v[1], where)))
    return tuple(out)


def _dec_variables(value: Any, where: Callable[[], str]) -> tuple:
    out = []
    for i, v in enumerate(_list(value, where)):
        if v is None:
            out.append(None)
        elif type(v) is list:
            out.append(tuple(_check_name(n, f"{where()}[{i}]") for n in v))
        else:
            raise MessageDecodeError(f"{where()}[{i}]: expected a list of names")
    return tuple(out)


def _dec_arrays(value: Any, where: Callable[[], str]) -> tuple:
    return tuple(None if a is None else _dec_array(a, lambda i=i: f"{where()}[{i}]")
                 for i, a in enumerate(_list(value, where)))


def _dec_publications(value: Any, where: Callable[[], str]) -> tuple[Publication, ...]:
    out = []
    for i, p in enumerate(_list(value, where)):
        w = f"{where()}[{i}]"
        if type(p) is not dict or p.keys() != {"key", "variables", "values"}:
            raise MessageDecodeError(f"{w}: expected a publication")
        if type(p["variables"]) is not list:
            raise MessageDecodeError(f"{w}.variables: expected a list")
        pub = Publication(_dec_str(p["key"], lambda w=w: f"{w}.key"),
                          tuple(_check_name(n, f"{w}.variables") for n in p["variables"]),
                          decode_array(p["values"], f"{w}.values"))
        if pub.values.shape != (len(pub.variables),):
            raise MessageDecodeError(f"{w}: {pub.values.size} values for "
                                     f"{len(pub.variables)} variables")
        out.append(pub)
    return tuple(out)


def _dec_bool(value: Any, where: Callable[[], str]) -> bool:
    if type(value) is not bool:
        raise MessageDecodeError(f"{where()}: expected true or false")
    return value


_DECODERS: dict[str, Callable[[Any, Callable[[], str]], Any]] = {
    "str": _dec_str, "bool": _dec_bool, "int": _dec_int, "float": _dec_float, "array": _dec_array,
    "strs": _dec_strs, "ints": _dec_ints, "pairs": _dec_pairs, "variables": _dec_variables,
    "arrays": _dec_arrays,
    "publications": _dec_publications, "value": lambda v, w: decode_value(v, w()),
}


def _optional(fn: Callable) -> Callable:
    return lambda value, *args: None if value is None else fn(value, *args)


def _compiled(kind: str, table: dict[str, Callable]) -> Callable:
    return _optional(table[kind[:-1]]) if kind.endswith("?") else table[kind]


#: Per message type its fields with their (encoder, decoder), compiled once from SCHEMAS.
_FIELDS: dict[type, tuple[tuple[str, Callable, Callable], ...]] = {
    cls: tuple((name, _compiled(kind, _ENCODERS), _compiled(kind, _DECODERS))
               for name, kind in schema.items())
    for cls, schema in SCHEMAS.items()
}
_FIELD_NAMES: dict[type, frozenset[str]] = {cls: frozenset(s) for cls, s in SCHEMAS.items()}


def to_plain(message: Any, binary: bool = False) -> dict[str, Any]:
    """The fields of a protocol message as JSON-compatible values (see module doc); with
    ``binary`` the arrays' data are raw bytes (for msgpack)."""
    fields = _FIELDS.get(type(message))
    if fields is None:
        raise TypeError(f"{type(message).__name__} is not a message of the protocol")
    where = type(message).__name__
    return {name: enc(getattr(message, name), f"{where}.{name}", binary)
            for name, enc, _ in fields}


def from_plain(cls: type, plain: Any) -> Any:
    """Rebuild a message of type ``cls`` from :func:`to_plain` output, checking every field."""
    if type(plain) is not dict or plain.keys() != _FIELD_NAMES[cls]:
        got = sorted(plain) if isinstance(plain, dict) else type(plain).__name__
        raise MessageDecodeError(f"{cls.__name__}: expected fields {sorted(SCHEMAS[cls])}, "
                                 f"got {got}")
    return cls(**{name: dec(plain[name], lambda name=name: f"{cls.__name__}.{name}")
                  for name, _, dec in _FIELDS[cls]})


_BY_ID: dict[int, type] = {tid: cls for cls, tid in TYPE_IDS.items()}

#: Wire formats: JSON (mango's JSON codec), or msgpack (raw array bytes, no base64; the default
#: of the mango carriers). Every decoder here reads both.
WIRE_FORMATS: tuple[str, ...] = ("msgpack", "json")
DEFAULT_WIRE_FORMAT = "msgpack"
_MSGPACK_TAG = "dro"


class WireCodec:
    """Protocol messages to and from bytes: JSON ``{"type": <id>, "fields": {...}}`` or, with
    ``wire_format="msgpack"``, msgpack ``["dro", {}, <id>, fields]`` (as the mango carriers send
    it). Decodes both."""

    def __init__(self, wire_format: str = "json") -> None:
        if wire_format not in WIRE_FORMATS:
            raise ValueError(f"wire format must be one of {', '.join(WIRE_FORMATS)}, "
                             f"got {wire_format!r}")
        self.wire_format = wire_format

    def encode(self, message: Any) -> bytes:
        if self.wire_format == "msgpack":
            return _msgpack_encode(message)
        return json.dumps({"type": TYPE_IDS[type(message)], "fields": to_plain(message)},
                          separators=(",", ":")).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        if bytes(data[:1]) != b"{":
            return _msgpack_decode(data).content
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


def mango_codec(wire_format: str = "json") -> Any:
    """A mango-agents codec that carries the protocol messages (fixed type ids, no pickle).

    ``"json"``: mango's ``JSON`` codec with the protocol's serializers registered under
    :data:`TYPE_IDS`. Any other content (an algorithm's own message between mango roles, e.g.
    COHDA's working memory) travels as an :class:`~.messages.AlgorithmValue` (see
    :func:`encode_value`); what cannot travel is refused with ``TypeError`` when it is sent.
    ``"msgpack"``: the same codec, but messages are sent as msgpack ``["dro", meta, type id,
    fields]`` with the arrays' bytes raw; a received message in either
    format is decoded (a JSON message starts with ``{``).
    """
    if wire_format not in WIRE_FORMATS:
        raise ValueError(f"wire format must be one of {', '.join(WIRE_FORMATS)}, "
                         f"got {wire_format!r}")
    from mango import JSON
    from mango.messages.codecs import SerializationError

    class ProtocolCodec(JSON):
        def __init__(self) -> None:
            super().__init__()
            for cls in MESSAGE_TYPES + HANDSHAKE_TYPES:
                self.add_serializer(cls, to_plain, _deserializer(cls), type_id=TYPE_IDS[cls])
            self.wire_format = wire_format

        def encode(self, data: Any) -> bytes:
            wrapped = _wrap_algorithm_value(data)
            if self.wire_format != "json":
                return _msgpack_encode(wrapped)
            try:
                return super().encode(wrapped)
            except SerializationError as exc:
                # mango wraps the value codec's TypeError; say what cannot travel, as msgpack does
                if wrapped is not data and isinstance(exc.__cause__, TypeError):
                    raise exc.__cause__ from None
                raise

        def decode(self, data: bytes) -> Any:
            if bytes(data[:1]) == b"{":
                return _unwrap_algorithm_value(super().decode(data))
            return _unwrap_algorithm_value(_msgpack_decode(data))

    return ProtocolCodec()


def _wrap_algorithm_value(data: Any) -> Any:
    """A mango message whose content is no protocol message carries it as an
    :class:`AlgorithmValue` (roles of :mod:`..carrier.mango` exchange algorithm messages)."""
    from mango.messages.message import MangoMessage

    if isinstance(data, MangoMessage) and type(data.content) not in TYPE_IDS:
        return MangoMessage(AlgorithmValue(data.content), data.meta)
    return data


def _unwrap_algorithm_value(message: Any) -> Any:
    if isinstance(getattr(message, "content", None), AlgorithmValue):
        message.content = message.content.content
    return message


def _msgpack_encode(data: Any) -> bytes:
    import msgpack
    from mango.messages.codecs import SerializationError

    if type(data) in TYPE_IDS:  # a bare protocol message (PeerMessage has a content field too)
        content, meta = data, {}
    else:  # a mango message around one
        content, meta = getattr(data, "content", data), getattr(data, "meta", None) or {}
    if type(content) not in TYPE_IDS:
        raise SerializationError(f"{type(content).__name__} is not a message of the protocol")
    return msgpack.packb([_MSGPACK_TAG, meta, TYPE_IDS[type(content)], to_plain(content, True)],
                         use_bin_type=True)


def _msgpack_decode(data: bytes) -> Any:
    import msgpack
    from mango.messages.message import MangoMessage

    try:
        obj = msgpack.unpackb(bytes(data), raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise MessageDecodeError(f"not a msgpack message ({exc})") from None
    if type(obj) is not list or len(obj) != 4 or obj[0] != _MSGPACK_TAG \
            or type(obj[1]) is not dict:
        raise MessageDecodeError("not a protocol message")
    cls = _BY_ID.get(obj[2]) if type(obj[2]) is int else None
    if cls is None:
        raise MessageDecodeError(f"unknown message type id {obj[2]!r}")
    return MangoMessage(from_plain(cls, obj[3]), obj[1])
