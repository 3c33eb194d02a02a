"""mango's TCP container with bounded reading: what a connection can make an agent allocate is
checked before it is allocated.

mango-agents' own server protocol buffers a whole frame (a 4-byte length prefix, up to 4 GiB)
before anything looks at it, and accepts any number of connections. :class:`BoundedTCPContainer`
is mango's ``TCPContainer`` whose server reads with :class:`BoundedProtocol` instead (mango's
connection pool, routing and agents are unchanged):

- a length prefix above the frame limit closes that connection before a byte of the frame is
  kept; with a shared token a frame must also announce an authenticated frame in its first
  bytes (a handshake of at most :data:`~.security.MAX_HANDSHAKE_BYTES`, or a sealed frame of a
  link this transport knows) before more of it is buffered;
- at most ``max_connections`` connections are open at once: a new one beyond that takes the place
  of the oldest connection that has not delivered a valid frame yet (a flood of idle connections
  only ever pushes out its own), or is closed if every open one has; and a connection that has
  not delivered one valid frame within ``unauthenticated_idle_s`` seconds is closed;
- a frame that fails (undecodable, not authentic, replayed) is dropped and counted; it also closes
  its connection unless that connection has delivered a valid frame before (a legitimate sender
  keeps its pooled connection, so a stale frame never cuts it off).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass
from typing import Any

from mango.container.core import Container
from mango.container.tcp import TCPContainer
from mango.util.clock import AsyncioClock

from distributed_resource_optimization.runtime.security import (
    HANDSHAKE,
    HEADER_BYTES,
    MAX_HANDSHAKE_BYTES,
    LinkSecurity,
    frame_kind,
)
from distributed_resource_optimization.runtime.transport import warn_sometimes

_log = logging.getLogger(__name__)

#: Largest message accepted (bytes): a flex fleet of a million actors sends about 50 MB.
MAX_MESSAGE_BYTES = 512 * 2**20
#: Connections an agent's container keeps open at once by default.
DEFAULT_MAX_CONNECTIONS = 256
#: Seconds a connection may stay open without delivering a valid frame (a legitimate sender
#: writes its first frame right after connecting).
UNAUTHENTICATED_IDLE_S = 5.0
_LENGTH = struct.Struct("!L")


@dataclass(frozen=True)
class ConnectionLimits:
    """What one TCP container accepts: open connections, frame size (bytes), and the seconds a
    connection may stay open without a valid frame."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_frame_bytes: int = MAX_MESSAGE_BYTES
    unauthenticated_idle_s: float = UNAUTHENTICATED_IDLE_S

    def __post_init__(self) -> None:
        if isinstance(self.max_connections, bool) or not isinstance(self.max_connections, int) \
                or self.max_connections < 1:
            raise ValueError(f"max_connections must be an int >= 1, got {self.max_connections!r}")
        if not 0 < self.unauthenticated_idle_s < float("inf"):
            raise ValueError("unauthenticated_idle_s must be a positive number of seconds, got "
                             f"{self.unauthenticated_idle_s!r}")


class BoundedTCPContainer(TCPContainer):
    """mango's TCP container whose server reads with :class:`BoundedProtocol`.

    ``codec.decode_frame(bytes) -> message | None`` decodes (and, with ``security``,
    authenticates) one frame, ``None`` when it is dropped; ``codec.stats`` also counts refused
    connections."""

    def __init__(self, *, addr: tuple[str, int], codec: Any, limits: ConnectionLimits,
                 security: LinkSecurity | None, **kwargs: Any) -> None:
        super().__init__(addr=addr, codec=codec, clock=AsyncioClock(), **kwargs)
        self.limits = limits
        self.security = security
        self.stats = codec.stats
        # Open connections in the order they came (a dict as an ordered set).
        self.connections: dict[BoundedProtocol, None] = {}

    async def start(self) -> None:
        # mango's TCPContainer.start creates a server with its own protocol; the rest of the
        # start (inbox, scheduler) is the base container's.
        self.server = await asyncio.get_running_loop().create_server(
            lambda: BoundedProtocol(self), self.addr[0], self.addr[1])
        self.addr = (self.addr[0], self.server.sockets[0].getsockname()[1])
        await Container.start(self)

    async def shutdown(self) -> None:
        for connection in list(self.connections):
            connection.close()
        await super().shutdown()


class BoundedProtocol(asyncio.Protocol):
    """Reads length-prefixed frames of one inbound connection within the container's limits
    (see the module doc) and puts the decoded messages into the container's inbox."""

    def __init__(self, container: BoundedTCPContainer) -> None:
        self.container = container
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._skip = 0  # bytes of a dropped frame still to be discarded
        self._trusted = False  # delivered a valid frame
        self._timer: asyncio.TimerHandle | None = None

    # -- connection -----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        c = self.container
        if len(c.connections) >= c.limits.max_connections:
            oldest = next((p for p in c.connections if not p._trusted), None)
            if oldest is None:
                self._refuse(f"more than {c.limits.max_connections} connections")
                return
            oldest._refuse(f"pushed out by a new connection (at most "
                           f"{c.limits.max_connections} are kept)")
            c.connections.pop(oldest, None)
        c.connections[self] = None
        self._timer = asyncio.get_running_loop().call_later(
            c.limits.unauthenticated_idle_s, self._idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self.container.connections.pop(self, None)
        if self._timer is not None:
            self._timer.cancel()
        self._buffer = bytearray()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _idle(self) -> None:
        if not self._trusted:
            self._refuse(f"no valid frame within {self.container.limits.unauthenticated_idle_s:g} s")

    def _refuse(self, why: str) -> None:
        stats = self.container.stats
        stats.refused_connections += 1
        warn_sometimes(_log, stats.refused_connections, "closed a connection from %s: %s",
                       self._peer(), why)
        self.close()

    def _peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"

    # -- frames ---------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        self._buffer.extend(data)
        while self.transport is not None and not self.transport.is_closing():
            if len(self._buffer) < _LENGTH.size:
                return
            n = _LENGTH.unpack_from(self._buffer)[0]
            why = self._too_much(n)
            if why == "":  # the frame's first bytes are not in yet
                return
            if why is not None:
                if self._drop(n, why):
                    continue
                return
            if len(self._buffer) < _LENGTH.size + n:
                return
            frame = bytes(self._buffer[_LENGTH.size:_LENGTH.size + n])
            del self._buffer[:_LENGTH.size + n]
            message = self.container.codec.decode_frame(frame)
            if message is None:  # dropped and counted by the codec
                if not self._trusted:
                    self._refuse("a frame that is not valid")
                    return
                continue
            self._trust()
            content, meta = message.split_content_and_meta()
            meta["network_protocol"] = "tcp"
            self.container.inbox.put_nowait((0, content, meta))

    def _too_much(self, n: int) -> str | None:
        """Why a frame of ``n`` bytes (length prefix read) is not read, ``""`` if its first
        bytes are needed to tell, ``None`` if it is read."""
        c = self.container
        if n > c.limits.max_frame_bytes:
            return f"a frame of {n} bytes (more than {c.limits.max_frame_bytes})"
        if c.security is None:
            return None
        if n < HEADER_BYTES:
            return "a frame shorter than the authenticated header"
        if len(self._buffer) < _LENGTH.size + HEADER_BYTES:
            return ""
        head = frame_kind(self._buffer[_LENGTH.size:_LENGTH.size + HEADER_BYTES])
        if head is None:
            return "a frame that is not authenticated (the sender has no token?)"
        kind, link_id = head
        if kind == HANDSHAKE:
            return f"a handshake frame of {n} bytes" if n > MAX_HANDSHAKE_BYTES else None
        return None if c.security.knows(link_id) else "a sealed frame of no link of this agent"

    def _drop(self, n: int, why: str) -> bool:
        """Drop the frame of ``n`` bytes at the buffer's start; whether reading goes on (a
        connection that delivered valid frames before keeps going, any other is closed)."""
        stats = self.container.stats
        stats.rejected += 1
        if not self._trusted:
            self._refuse(why)
            return False
        warn_sometimes(_log, stats.rejected, "dropped %s from %s", why, self._peer())
        total = _LENGTH.size + n
        self._skip = max(0, total - len(self._buffer))
        del self._buffer[:total]
        return True

    def _trust(self) -> None:
        if not self._trusted:
            self._trusted = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
