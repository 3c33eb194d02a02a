"""Algorithm values: what coordinator-free algorithms send inside a ``PeerMessage``, as
JSON-compatible data with explicit tags (never pickle)."""

from __future__ import annotations

import binascii
import dataclasses
import math
from typing import Any

import numpy as np

from distributed_resource_optimization.algorithm.core import message_types, wire_name
from distributed_resource_optimization.runtime.codec.arrays import (
    _ARRAY_KEYS,
    MessageDecodeError,
    _raw,
)

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
