"""The agent fork server's own process (``python -m distributed_resource_optimization.cli.forkserver
FD``): imports what ``dro agent`` and ``dro peer`` load, then forks a child per request of its
parent (:class:`~..runtime.forkserver.ForkServer`, which documents the protocol) and reports each
child's pid and exit code. A child becomes the ``dro`` command of its request."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import traceback
from collections.abc import Sequence

# Preloaded for the children: what `dro agent` and `dro peer` import when they run.
import distributed_resource_optimization.market.entities  # noqa: F401
import distributed_resource_optimization.runtime.factories  # noqa: F401
import distributed_resource_optimization.runtime.peers  # noqa: F401
from distributed_resource_optimization.cli.main import main
from distributed_resource_optimization.flex_sharing import fleet_name
from distributed_resource_optimization.runtime.forkserver import MAX_MESSAGE_BYTES


def serve(fd: int) -> None:
    """Announce readiness on the socket ``fd``, then fork a child per request until the socket
    closes; report each child's pid and exit code."""
    sock = socket.socket(fileno=fd)
    # The terminal's Ctrl-C reaches the whole process group: it is for the agents and the
    # coordinator, which end their runs; the server ends when the coordinator closes the socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the selector through wake_w
    sock.send(json.dumps({"ready": True}).encode())
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sock:
                data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE_BYTES, 3)
                if not data:
                    return  # the coordinator closed the socket or went away
                _fork(sock, json.loads(data), fds, (wake_r, wake_w))
            else:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            _reap(sock)


def _fork(sock: socket.socket, request: dict, fds: list[int], close: Sequence[int]) -> None:
    if len(fds) != 3:
        for f in fds:
            os.close(f)
        sock.send(json.dumps({"id": request.get("id"),
                              "failed": "expected three descriptors"}).encode())
        return
    pid = os.fork()
    if pid == 0:
        _child(request["argv"], fds, (sock.fileno(), *close))
    for f in fds:
        os.close(f)
    sock.send(json.dumps({"id": request["id"], "spawned": pid}).encode())


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}).encode())


def _child(argv: list[str], fds: list[int], close: Sequence[int]) -> None:
    """Become ``dro <argv>`` with stdin, stdout, stderr from ``fds``; never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh interpreter has
        for fd in close:
            os.close(fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the process's own stdin)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        sys.argv = ["dro", *argv]
        _name_process(argv)
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _name_process(argv: Sequence[str]) -> None:
    """Name the child in ``top`` / ``ps -o comm`` (Linux, 15 characters) after the participant
    it serves, e.g. ``dro building_22``: its command line is the server's."""
    name = argv[0]
    for flag in ("--entity", "--flex-share", "--factory"):
        if flag in argv[:-1]:
            name = argv[argv.index(flag) + 1]
            if flag == "--flex-share" and name.partition("/")[0].isdigit():
                name = fleet_name(int(name.partition("/")[0]))
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(f"dro {name}"[:15])
    except OSError:
        pass  # not Linux, or no /proc: the name is cosmetic


if __name__ == "__main__":
    serve(int(sys.argv[1]))
