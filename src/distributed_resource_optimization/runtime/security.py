"""Authenticated links between the agents of a run that share a token.

With a shared token every frame a networked transport sends carries a MAC that is checked before
anything of it is decoded; a process without the token gets no answer at all, cannot join, read
replies meant for others, steer or end a run.

A *link* joins a local agent and a remote one. The agent that first sends to the other opens it
with a handshake in two frames, both authenticated with the token's key ``K`` (HMAC-SHA256 of
the token; the token itself never travels):

1. ``LinkHello(sender, receiver, nonce_i)``: 16 random bytes of the initiator;
2. ``LinkWelcome(sender, receiver, nonce_i, nonce_r)``: the responder's own 16 random bytes.

Both sides derive one key per direction from ``K``, both names and both nonces, so a link's keys
are fresh per handshake (the coordinator opens new links at the start of every run): a frame
captured in one run is worthless in any other. Every later frame is *sealed*: it names the
receiver's link id (the receiver's own nonce), a sequence number and a MAC with the sender's
direction key over all of it; the receiver drops frames of unknown links, bad MACs, sequence
numbers it has already seen (a window of :data:`REPLAY_WINDOW` tolerates reordering, e.g.
MQTT's), and frames whose decoded sender and receiver are not the link's two agents. A hello
that comes again (same nonce) is dropped too. Everything dropped is counted by the transport
(``TrafficStats.rejected``, summed into ``ADMMResult.rejected_messages``).

What the token protects: who may take part (authenticity), that nothing is changed on the way
(integrity) and that nothing is played again (replay). What it does not: values travel in clear
on a plain TCP link (confidentiality); put the run into a TLS-protected broker or an SSH or
WireGuard tunnel for that.

Frame layout (big-endian): ``b"DRO"``, kind (``H`` handshake, ``S`` sealed), link id (16 bytes;
zeros in a handshake), sequence number (8 bytes; 0 in a handshake), MAC (32 bytes), payload (the
codec's bytes of the message). This module knows nothing of mango or of message contents; the
transport asks it to seal, open and hand-shake (:class:`LinkSecurity`).
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import os
import struct
import threading
from dataclasses import dataclass, field

#: Frame kinds.
HANDSHAKE = b"H"
SEALED = b"S"
_MAGIC = b"DRO"
_HEADER = struct.Struct("!3sc16sQ32s")
#: Bytes before the payload of every frame.
HEADER_BYTES = _HEADER.size
#: Largest handshake frame accepted (bytes): two names and two nonces fit many times over.
MAX_HANDSHAKE_BYTES = 16 * 1024
#: Sequence numbers a link accepts out of order (older ones are dropped as replays).
REPLAY_WINDOW = 1024
#: Links a transport keeps (confirmed and waiting for their first frame); the oldest go first.
MAX_LINKS = 4096
#: Confirmed links kept per pair of agents: the newest is used to send, the one before still
#: accepts frames that were under way when a new link was opened.
LINKS_PER_PAIR = 2
#: Hello nonces remembered, to drop a hello that comes again.
MAX_REMEMBERED_HELLOS = 8192
_NONCE_BYTES = 16
_ZERO_ID = bytes(_NONCE_BYTES)


class FrameRejectedError(Exception):
    """A frame that is not authentic, comes again, or belongs to no link; the text says why."""


def token_key(token: str) -> bytes:
    """The key ``K`` every link of a run is derived from (the token never travels)."""
    if not isinstance(token, str) or not token:
        raise ValueError("token must be a non-empty string")
    return hmac.digest(token.encode("utf-8"), b"distributed_resource_optimization link key v1",
                       "sha256")


def _mac(key: bytes, header: bytes, payload: bytes | memoryview) -> bytes:
    mac = hmac.new(key, header, hashlib.sha256)
    mac.update(payload)
    return mac.digest()


def frame_kind(head: bytes | bytearray | memoryview) -> tuple[bytes, bytes] | None:
    """``(kind, link id)`` of a frame from its first :data:`HEADER_BYTES` bytes, or ``None``
    if they are no frame of this module (so a transport can refuse it before buffering it)."""
    if len(head) < HEADER_BYTES or bytes(head[:3]) != _MAGIC:
        return None
    kind = bytes(head[3:4])
    return (kind, bytes(head[4:20])) if kind in (HANDSHAKE, SEALED) else None


class _ReplayWindow:
    """Sequence numbers seen: the highest, and a bit per number in the window below it."""

    __slots__ = ("top", "bits")

    def __init__(self) -> None:
        self.top = 0
        self.bits = 0

    def accept(self, seq: int) -> bool:
        if seq <= 0:
            return False
        if seq > self.top:
            shift = seq - self.top
            self.bits = ((self.bits << shift) | 1) & ((1 << REPLAY_WINDOW) - 1) \
                if shift < REPLAY_WINDOW else 1
            self.top = seq
            return True
        offset = self.top - seq
        if offset >= REPLAY_WINDOW or (self.bits >> offset) & 1:
            return False
        self.bits |= 1 << offset
        return True


@dataclass(eq=False)
class Link:
    """One authenticated link between agent ``local`` (here) and agent ``remote``."""

    local: str
    remote: str
    #: Our own nonce (what the remote's frames name) and the remote's (what ours name).
    own_id: bytes
    remote_id: bytes
    send_key: bytes
    receive_key: bytes
    #: Whether a frame has proven that the other side holds the keys (the initiator knows it
    #: from the welcome; the responder from the first sealed frame).
    confirmed: bool
    next_seq: int = 1
    window: _ReplayWindow = field(default_factory=_ReplayWindow)


def _direction_keys(key: bytes, initiator: str, responder: str, nonce_i: bytes, nonce_r: bytes
                    ) -> tuple[bytes, bytes]:
    """(initiator -> responder key, responder -> initiator key) of one handshake."""
    transcript = json.dumps([initiator, responder, nonce_i.hex(), nonce_r.hex()]).encode()
    return (hmac.digest(key, b"initiator to responder " + transcript, "sha256"),
            hmac.digest(key, b"responder to initiator " + transcript, "sha256"))


class LinkSecurity:
    """The links of one transport (all its agents) under one token: handshakes, sealing and
    opening of frames. Thread-safe: a transport may decode in another thread (paho's)."""

    def __init__(self, token: str) -> None:
        self._key = token_key(token)
        self._lock = threading.Lock()
        self._by_id: collections.OrderedDict[bytes, Link] = collections.OrderedDict()
        self._pairs: dict[tuple[str, str], list[Link]] = {}
        # Hellos we sent and wait to be welcomed: our nonce -> (local, remote).
        self._hellos: dict[bytes, tuple[str, str]] = {}
        # Hello nonces answered, oldest first (an ordered set).
        self._seen: collections.OrderedDict[bytes, None] = collections.OrderedDict()

    # -- handshakes -----------------------------------------------------------------------------
    def hello(self, local: str, remote: str) -> tuple[bytes, str]:
        """A fresh nonce (hex, for :class:`~.messages.LinkHello`) of ``local`` asking ``remote``
        for a link; the first return value identifies the pending hello."""
        nonce = os.urandom(_NONCE_BYTES)
        with self._lock:
            if len(self._hellos) >= MAX_LINKS:
                self._hellos.pop(next(iter(self._hellos)))
            self._hellos[nonce] = (local, remote)
        return nonce, nonce.hex()

    def forget_hello(self, nonce: bytes) -> None:
        with self._lock:
            self._hellos.pop(nonce, None)

    def welcome(self, local: str, remote: str, hello_nonce: str) -> str:
        """Answer ``remote``'s hello to ``local``: a link waiting for its first sealed frame;
        returns our nonce (hex, for :class:`~.messages.LinkWelcome`). ``FrameRejectedError`` for a
        hello that came before (a replay) or a malformed nonce."""
        nonce_i = _nonce(hello_nonce)
        nonce_r = os.urandom(_NONCE_BYTES)
        to_r, to_i = _direction_keys(self._key, remote, local, nonce_i, nonce_r)
        with self._lock:
            if nonce_i in self._seen:
                raise FrameRejectedError(f"a hello of {remote!r} that came before (replayed)")
            self._seen[nonce_i] = None
            while len(self._seen) > MAX_REMEMBERED_HELLOS:
                self._seen.popitem(last=False)
            self._add(Link(local, remote, nonce_r, nonce_i, to_i, to_r, confirmed=False))
        return nonce_r.hex()

    def welcomed(self, local: str, remote: str, hello_nonce: str, nonce: str) -> bool:
        """The welcome of ``remote`` to our hello ``hello_nonce``: the link is ready to send.
        ``False`` (nothing changes) if no such hello of ``local`` is waiting."""
        nonce_i, nonce_r = _nonce(hello_nonce), _nonce(nonce)
        with self._lock:
            if self._hellos.get(nonce_i) != (local, remote):
                return False
            del self._hellos[nonce_i]
            to_r, to_i = _direction_keys(self._key, local, remote, nonce_i, nonce_r)
            self._add(Link(local, remote, nonce_i, nonce_r, to_r, to_i, confirmed=True))
        return True

    def has_link(self, local: str, remote: str) -> bool:
        """Whether ``local`` has a confirmed link to ``remote`` to send on."""
        with self._lock:
            return any(link.confirmed for link in self._pairs.get((local, remote), ()))

    def drop_links(self, local: str, remote: str) -> None:
        """Forget the links of this pair (the next send opens a new one)."""
        with self._lock:
            for link in self._pairs.pop((local, remote), ()):
                self._by_id.pop(link.own_id, None)

    def _add(self, link: Link) -> None:
        self._by_id[link.own_id] = link
        if link.confirmed:
            self._confirm(link)
        while len(self._by_id) > MAX_LINKS:
            _, old = self._by_id.popitem(last=False)
            pair = self._pairs.get((old.local, old.remote))
            if pair is not None and old in pair:
                pair.remove(old)

    def _confirm(self, link: Link) -> None:
        link.confirmed = True
        pair = self._pairs.setdefault((link.local, link.remote), [])
        pair.insert(0, link)
        for old in pair[LINKS_PER_PAIR:]:
            self._by_id.pop(old.own_id, None)
        del pair[LINKS_PER_PAIR:]

    # -- frames ---------------------------------------------------------------------------------
    def seal_handshake(self, payload: bytes) -> bytes:
        """A handshake frame around ``payload`` (authenticated with the token's key)."""
        head = struct.pack("!3sc16sQ", _MAGIC, HANDSHAKE, _ZERO_ID, 0)
        return head + _mac(self._key, head, payload) + payload

    def seal(self, local: str, remote: str, payload: bytes) -> bytes:
        """A sealed frame from ``local`` to ``remote`` on their newest link; ``LookupError``
        if there is none (the transport opens links before it sends)."""
        with self._lock:
            pair = self._pairs.get((local, remote))
            if not pair:
                raise LookupError(f"{local}: no authenticated link to {remote!r}")
            link = pair[0]
            seq, link.next_seq = link.next_seq, link.next_seq + 1
        head = struct.pack("!3sc16sQ", _MAGIC, SEALED, link.remote_id, seq)
        return head + _mac(link.send_key, head, payload) + payload

    def knows(self, link_id: bytes) -> bool:
        """Whether a sealed frame naming ``link_id`` could be authentic (a transport asks before
        it buffers the frame)."""
        with self._lock:
            return link_id in self._by_id

    def open(self, frame: bytes | bytearray | memoryview) -> tuple[memoryview, Link | None]:
        """The payload of an authentic frame and its link (``None`` for a handshake frame,
        whose payload must still be checked to be a hello or welcome). ``FrameRejectedError``
        otherwise; the MAC is checked before anything else of the frame is used."""
        view = memoryview(frame)
        if len(view) < HEADER_BYTES:
            raise FrameRejectedError("a frame shorter than its header")
        magic, kind, link_id, seq, mac = _HEADER.unpack_from(view)
        if magic != _MAGIC or kind not in (HANDSHAKE, SEALED):
            raise FrameRejectedError("not an authenticated frame (the sender has no token?)")
        head, payload = bytes(view[:HEADER_BYTES - 32]), view[HEADER_BYTES:]
        if kind == HANDSHAKE:
            if len(view) > MAX_HANDSHAKE_BYTES:
                raise FrameRejectedError(f"a handshake frame of {len(view)} bytes")
            if not hmac.compare_digest(mac, _mac(self._key, head, payload)):
                raise FrameRejectedError("a handshake frame with a wrong MAC (another token?)")
            return payload, None
        with self._lock:
            link = self._by_id.get(link_id)
        if link is None:
            raise FrameRejectedError("a sealed frame of no link (an ended run, or forged)")
        if not hmac.compare_digest(mac, _mac(link.receive_key, head, payload)):
            raise FrameRejectedError(f"a frame of the link from {link.remote!r} with a wrong MAC")
        with self._lock:
            if not link.window.accept(seq):
                raise FrameRejectedError(f"frame {seq} of {link.remote!r} came before (replayed)")
            if not link.confirmed and self._by_id.get(link_id) is link:
                self._confirm(link)
        return payload, link


def _nonce(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except (TypeError, ValueError):
        raw = b""
    if len(raw) != _NONCE_BYTES:
        raise FrameRejectedError("a handshake with a malformed nonce")
    return raw
