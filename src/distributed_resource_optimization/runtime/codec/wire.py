"""Bytes on the wire: :class:`WireCodec` (JSON or msgpack on its own) and :func:`mango_codec`
(the same schemas and type ids as a mango-agents codec)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from distributed_resource_optimization.runtime.codec.arrays import (
    MessageDecodeError,
)
from distributed_resource_optimization.runtime.codec.protocol import (
    _BY_ID,
    TYPE_IDS,
    from_plain,
    to_plain,
)
from distributed_resource_optimization.runtime.messages import (
    HANDSHAKE_TYPES,
    MESSAGE_TYPES,
    AlgorithmValue,
)

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
    # mango-agents is heavy (0.3 s): imported when a mango codec is built, not with the package
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
    :class:`AlgorithmValue` (roles of :mod:`..runtime.roles` exchange algorithm messages)."""
    from mango.messages.message import MangoMessage  # loaded already: a mango codec exists

    if isinstance(data, MangoMessage) and type(data.content) not in TYPE_IDS:
        return MangoMessage(AlgorithmValue(data.content), data.meta)
    return data


def _unwrap_algorithm_value(message: Any) -> Any:
    if isinstance(getattr(message, "content", None), AlgorithmValue):
        message.content = message.content.content
    return message


def _msgpack_encode(data: Any) -> bytes:
    # msgpack and mango-agents: only the msgpack wire format needs them
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
    # msgpack and mango-agents: only the msgpack wire format needs them
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
