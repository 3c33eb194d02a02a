"""Start agent processes from a fork server: one warmed-up process per run that forks each agent.

A fresh interpreter per agent spends 0.5-1 s of CPU importing numpy, scipy, pandas and
mango-agents before it does anything; 24 agents on a 2-core laptop are then 10 s of start-up.
:class:`ForkServer` starts one process (``python -m`` :data:`SERVER_MODULE`) that imports those
modules once and then forks a child per agent; each child runs the same ``dro agent`` /
``dro peer`` command line a fresh interpreter would, with its own stdin, stdout and stderr. The
parent talks to the server over a local socket pair (``AF_UNIX``, one JSON message per datagram;
the child's three pipe ends travel as file descriptors with the request) and gets back each
child's pid and, later, its exit code. Nothing else crosses this socket, and it never leaves the
machine.

A forked agent behaves like an exec'ed one: it ends when its stdin closes (the spawning process
went away), on SIGTERM (143) and on Ctrl-C (130; the terminal sends it to the whole process
group, and the server itself ignores it). Its command line in ``ps`` is the server's, not the
agent's: ``DRO_AGENT_START=exec`` (:data:`START_ENV`) starts every agent as its own interpreter
instead. POSIX only (``fork`` and descriptor passing); elsewhere agents are always exec'ed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from collections.abc import Mapping, Sequence
from typing import Any

#: Environment variable choosing how agent processes start: ``forkserver`` (default where
#: available) or ``exec`` (a fresh interpreter per agent, its own command line in ``ps``).
START_ENV = "DRO_AGENT_START"
#: The ways to start agent processes.
START_METHODS: tuple[str, ...] = ("forkserver", "exec")

#: The server's module (in the command-line layer: its children run ``dro``), run by name.
SERVER_MODULE = "distributed_resource_optimization.cli.forkserver"

#: Largest message on the socket (bytes): a command line and its reply fit many times over.
MAX_MESSAGE_BYTES = 1 << 16


def available() -> bool:
    """Whether this platform can fork agents from a server."""
    return os.name == "posix" and hasattr(socket, "send_fds") and hasattr(os, "fork")


def start_method(environ: Mapping[str, str] | None = None) -> str:
    """How agent processes start here: :data:`START_ENV` if set (``ValueError`` if it names no
    method), else ``forkserver`` where :func:`available`, else ``exec``."""
    value = (os.environ if environ is None else environ).get(START_ENV, "").strip()
    if value:
        if value not in START_METHODS:
            raise ValueError(f"{START_ENV}={value!r}: valid: {', '.join(START_METHODS)}")
        if value == "forkserver" and not available():
            raise ValueError(f"{START_ENV}=forkserver: this platform cannot fork agents")
        return value
    return "forkserver" if available() else "exec"


# ------------------------------------------------------------------------------------------------
# The parent's side


class _WriteEnd:
    """The parent's end of a child's stdin (what closing it means: the child exits)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def is_closing(self) -> bool:
        return self._fd is None


class ForkedProcess:
    """A child of the fork server, with the part of ``asyncio.subprocess.Process`` that
    :class:`~.processes.AgentProcesses` uses: ``pid``, ``stdin`` (closable), ``stdout`` (a
    stream reader), ``returncode`` (negative: ended by that signal), ``wait``, ``terminate``,
    ``kill``."""

    def __init__(self, pid: int, stdin: _WriteEnd, stdout: asyncio.StreamReader,
                 done: asyncio.Future) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self._done = done

    @property
    def returncode(self) -> int | None:
        # None also once the server was closed before this child's exit was reported.
        done = self._done
        return done.result() if done.done() and not done.cancelled() else None

    async def wait(self) -> int:
        return await asyncio.shield(self._done)

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:  # never signal a pid the system may have reused
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """One fork server process (an async context manager): :meth:`spawn` starts a child running
    ``dro <argv>``. ``python`` is the interpreter, ``env`` the environment of the server and so
    of every child (thread limits, the token), ``stderr`` where the server's own errors go."""

    def __init__(self, python: str, env: Mapping[str, str], stderr: Any = None,
                 ready_timeout: float = 120.0) -> None:
        self.python = python
        self.env = dict(env)
        self.stderr = stderr
        self.ready_timeout = float(ready_timeout)
        self._server: asyncio.subprocess.Process | None = None
        self._sock: socket.socket | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._children: dict[int, asyncio.Future] = {}
        self._early_exits: dict[int, int] = {}
        self._running = False
        self._next_id = 0

    async def __aenter__(self) -> ForkServer:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._server = await asyncio.create_subprocess_exec(
                self.python, "-m", SERVER_MODULE, str(theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=self.stderr, env=self.env, pass_fds=(theirs.fileno(),))
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        loop = asyncio.get_running_loop()
        try:
            first = await asyncio.wait_for(loop.sock_recv(ours, MAX_MESSAGE_BYTES),
                                           self.ready_timeout)
        except BaseException:
            await self.close()
            raise
        if not first or json.loads(first) != {"ready": True}:
            await self.close()
            raise RuntimeError("the agent fork server ended before it was ready")
        self._running = True
        loop.add_reader(ours.fileno(), self._on_readable)
        return self

    def _on_readable(self) -> None:
        # A reader callback, not a task: when a run is cancelled (asyncio.run cancels every
        # task on Ctrl-C) the children's exits must still arrive while the agents are stopped.
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(MAX_MESSAGE_BYTES)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._gone()
                return
            self._handle(json.loads(data))

    def _handle(self, message: dict) -> None:
        if "spawned" in message or "failed" in message:
            future = self._pending.pop(message["id"], None)
            if future is None or future.done():
                return
            if "spawned" in message:
                future.set_result(message["spawned"])
            else:
                future.set_exception(OSError(f"fork server: {message['failed']}"))
        elif "exited" in message:
            pid, code = message["exited"], message["code"]
            done = self._children.get(pid)
            if done is None:
                self._early_exits[pid] = code  # before the spawn reply was handled
            elif not done.done():
                done.set_result(code)

    def _gone(self) -> None:
        """The server ended: nothing more will be spawned or reported through it."""
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
        self._running = False
        for future in self._pending.values():
            if not future.done():
                future.set_exception(OSError("the agent fork server ended"))

    async def spawn(self, argv: Sequence[str], stderr_fd: int) -> ForkedProcess:
        """Fork a child running ``dro <argv>`` with stderr into ``stderr_fd`` (the caller keeps
        and closes its own descriptor)."""
        if self._sock is None or not self._running:
            raise OSError("the agent fork server is not running")
        loop = asyncio.get_running_loop()
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        try:
            request_id = self._next_id
            self._next_id += 1
            future: asyncio.Future = loop.create_future()
            self._pending[request_id] = future
            payload = json.dumps({"id": request_id, "argv": list(argv)}).encode()
            socket.send_fds(self._sock, [payload], [stdin_r, stdout_w, stderr_fd])
        except BaseException:
            for fd in (stdin_w, stdout_r):
                os.close(fd)
            raise
        finally:
            os.close(stdin_r)
            os.close(stdout_w)
        try:
            pid = await future
        except BaseException:
            os.close(stdin_w)
            os.close(stdout_r)
            raise
        done: asyncio.Future = loop.create_future()
        self._children[pid] = done
        if pid in self._early_exits:
            done.set_result(self._early_exits.pop(pid))
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                     os.fdopen(stdout_r, "rb", 0))
        return ForkedProcess(pid, _WriteEnd(stdin_w), reader, done)

    async def close(self) -> None:
        """Stop the server (its children are not touched: they end with their stdin)."""
        if self._sock is not None:
            if self._running:
                self._gone()
            self._sock.close()
            self._sock = None
        for done in self._children.values():
            if not done.done():
                done.cancel()
        if self._server is not None and self._server.returncode is None:
            try:
                await asyncio.wait_for(self._server.wait(), 5.0)
            except asyncio.TimeoutError:
                self._server.kill()
                await self._server.wait()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
