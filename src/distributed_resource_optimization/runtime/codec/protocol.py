"""The coordination protocol's schemas: fixed type ids, one field kind per field, and
:func:`to_plain` / :func:`from_plain` checking every field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from distributed_resource_optimization.interior_point.consensus import (
    Factored,
    Predicted,
    StepLimits,
    check_block,
)
from distributed_resource_optimization.runtime.codec.arrays import (
    _DTYPE,
    MessageDecodeError,
    _check_name,
    _encode_name,
    _raw,
    decode_array,
    encode_array,
)
from distributed_resource_optimization.runtime.codec.values import (
    decode_value,
    encode_value,
)
from distributed_resource_optimization.runtime.messages import (
    AlgorithmValue,
    CorrectReply,
    CorrectRequest,
    CreditReturn,
    FactorReply,
    FactorRequest,
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
    PolishReply,
    PolishRequest,
    PredictReply,
    PredictRequest,
    Publication,
    SetupReply,
    SetupRequest,
    SolveReply,
    SolveRequest,
)

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
    FactorRequest: 0x44524F12,
    FactorReply: 0x44524F13,
    PredictRequest: 0x44524F14,
    PredictReply: 0x44524F15,
    CorrectRequest: 0x44524F16,
    CorrectReply: 0x44524F17,
    PolishRequest: 0x44524F18,
    PolishReply: 0x44524F19,
}

#: Field kinds per message type, in declaration order.
SCHEMAS: dict[type, dict[str, str]] = {
    JoinRequest: {"session": "str", "protocol_version": "int"},
    JoinReply: {"session": "str", "names": "strs", "sizes": "ints", "variables": "variables?",
                "publications": "publications", "protocol_version": "int", "error": "str?",
                "context": "pairs", "subscriptions": "strs?", "derives": "strs",
                "bound_at_support": "strs"},
    SetupRequest: {"session": "str", "publications": "publications", "relinearise": "bool"},
    SetupReply: {"session": "str", "rho_scale": "arrays?", "error": "str?",
                 "publications": "publications"},
    SolveRequest: {"session": "str", "iteration": "int", "target": "array", "price": "array",
                   "rho": "float", "dual_price": "array?"},
    SolveReply: {"session": "str", "iteration": "int", "x": "array?", "error": "str?",
                 "dual_term": "float?", "objective": "float?"},
    FinishRequest: {"session": "str", "x": "array", "status": "str", "dual_price": "array?"},
    FinishReply: {"session": "str", "objectives": "array", "error": "str?", "rejected": "int",
                  "carrier_rejected": "int", "carrier_id": "str", "dual_term": "float?",
                  "outputs": "array?"},
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
    FactorRequest: {"session": "str", "iteration": "int", "primal_step": "float",
                    "dual_step": "float", "summed": "bool"},
    FactorReply: {"session": "str", "iteration": "int", "factored": "factored?", "error": "str?"},
    PredictRequest: {"session": "str", "iteration": "int", "price_step": "array"},
    PredictReply: {"session": "str", "iteration": "int", "predicted": "predicted?",
                   "error": "str?"},
    CorrectRequest: {"session": "str", "iteration": "int", "price_step": "array",
                     "sigma_mu": "float"},
    CorrectReply: {"session": "str", "iteration": "int", "limits": "limits?", "error": "str?"},
    PolishRequest: {"session": "str", "iteration": "int", "price": "array", "tolerance": "float"},
    PolishReply: {"session": "str", "iteration": "int", "fixed": "array?", "offered": "array?",
                  "directions": "array?", "costs": "array?", "fixed_cost": "float?",
                  "error": "str?"},
}


# -- per-kind encoders and decoders (compiled per message type in _FIELDS) ---------------------
# A decoder takes the value and a zero-argument function that names the field for an error
# message, so no text is built unless something is wrong.

def _enc_variables(value: Any, where: str, binary: bool) -> Any:
    return [None if v is None else [_encode_name(n, where) for n in v] for v in value]


def _enc_publications(value: Any, where: str, binary: bool) -> Any:
    return [{"key": str(p.key), "variables": [_encode_name(n, where) for n in p.variables],
             "values": encode_array(p.values, binary)} for p in value]


def _enc_factored(value: Factored, where: str, binary: bool) -> Any:
    return {"x": encode_array(value.x, binary),
            "sensitivity": [[[int(i) for i in positions], encode_array(block, binary)]
                            for positions, block in value.sensitivity],
            "affine": encode_array(value.affine, binary),
            "complementarity": float(value.complementarity), "count": int(value.count),
            "primal_residual": float(value.primal_residual),
            "dual_residual": float(value.dual_residual), "objective": float(value.objective)}


def _enc_predicted(value: Predicted, where: str, binary: bool) -> Any:
    return {"primal_limit": float(value.primal_limit), "dual_limit": float(value.dual_limit),
            "products": [float(p) for p in value.products],
            "base": encode_array(value.base, binary), "centre": encode_array(value.centre, binary)}


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
    "factored": _enc_factored,
    "predicted": _enc_predicted,
    "limits": lambda v, w, b: {"primal": float(v.primal), "dual": float(v.dual)},
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


def _record(value: Any, keys: frozenset[str], where: Callable[[], str]) -> dict:
    if type(value) is not dict or value.keys() != keys:
        raise MessageDecodeError(f"{where()}: expected the fields {sorted(keys)}")
    return value


def _vector(value: Any, where: str) -> np.ndarray:
    a = decode_array(value, where)
    if a.ndim != 1:
        raise MessageDecodeError(f"{where}: expected a vector, got shape {list(a.shape)}")
    return a


_FACTORED_KEYS = frozenset(("x", "sensitivity", "affine", "complementarity", "count",
                            "primal_residual", "dual_residual", "objective"))


def _dec_factored(value: Any, where: Callable[[], str]) -> Factored:
    v = _record(value, _FACTORED_KEYS, where)
    w = where()
    x, affine = _vector(v["x"], f"{w}.x"), _vector(v["affine"], f"{w}.affine")
    if affine.shape != x.shape:
        raise MessageDecodeError(f"{w}: {affine.size} affine entries for {x.size} values")
    blocks = []
    for i, item in enumerate(_list(v["sensitivity"], lambda: f"{w}.sensitivity")):
        wi = f"{w}.sensitivity[{i}]"
        if type(item) is not list or len(item) != 2:
            raise MessageDecodeError(f"{wi}: expected [positions, block]")
        positions = np.array(_dec_ints(item[0], lambda wi=wi: f"{wi}.positions"), dtype=int)
        block = decode_array(item[1], f"{wi}.block")
        try:
            check_block(positions, block, x.size)
        except ValueError as exc:
            raise MessageDecodeError(f"{wi}: {exc}") from None
        blocks.append((positions, block))

    def number(key: str) -> float:
        return _dec_float(v[key], lambda: f"{w}.{key}")

    return Factored(x=x, sensitivity=tuple(blocks), affine=affine,
                    complementarity=number("complementarity"),
                    count=_dec_int(v["count"], lambda: f"{w}.count"),
                    primal_residual=number("primal_residual"),
                    dual_residual=number("dual_residual"), objective=number("objective"))


_PREDICTED_KEYS = frozenset(("primal_limit", "dual_limit", "products", "base", "centre"))


def _dec_predicted(value: Any, where: Callable[[], str]) -> Predicted:
    v = _record(value, _PREDICTED_KEYS, where)
    w = where()
    products = _list(v["products"], lambda: f"{w}.products")
    if len(products) != 3:
        raise MessageDecodeError(f"{w}.products: expected 3 numbers")
    base, centre = _vector(v["base"], f"{w}.base"), _vector(v["centre"], f"{w}.centre")
    if base.shape != centre.shape:
        raise MessageDecodeError(f"{w}: {base.size} base entries but {centre.size} centre ones")
    return Predicted(primal_limit=_dec_float(v["primal_limit"], lambda: f"{w}.primal_limit"),
                     dual_limit=_dec_float(v["dual_limit"], lambda: f"{w}.dual_limit"),
                     products=tuple(_dec_float(p, lambda: f"{w}.products") for p in products),
                     base=base, centre=centre)


def _dec_limits(value: Any, where: Callable[[], str]) -> StepLimits:
    v = _record(value, frozenset(("primal", "dual")), where)
    return StepLimits(primal=_dec_float(v["primal"], lambda: f"{where()}.primal"),
                      dual=_dec_float(v["dual"], lambda: f"{where()}.dual"))


def _dec_bool(value: Any, where: Callable[[], str]) -> bool:
    if type(value) is not bool:
        raise MessageDecodeError(f"{where()}: expected true or false")
    return value


_DECODERS: dict[str, Callable[[Any, Callable[[], str]], Any]] = {
    "str": _dec_str, "bool": _dec_bool, "int": _dec_int, "float": _dec_float, "array": _dec_array,
    "strs": _dec_strs, "ints": _dec_ints, "pairs": _dec_pairs, "variables": _dec_variables,
    "arrays": _dec_arrays,
    "publications": _dec_publications, "value": lambda v, w: decode_value(v, w()),
    "factored": _dec_factored, "predicted": _dec_predicted, "limits": _dec_limits,
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
