"""Where participants run their local work: one worker thread per process, off the event loop.

Local solves are mostly Python and small numpy / solver calls that hold the GIL. Several worker
threads would only take turns on it, and every hand-over of the GIL between the worker and the
event loop costs time (a thread that wants the GIL may wait a whole switch interval, 5 ms). So
one worker thread runs the calls in order, and it reports finished calls to the event loop in
batches: when it has nothing left to do, or at the latest ``report_interval`` seconds after the
first unreported result. In-process runs with many agents then hand the GIL over about twice per
ADMM iteration instead of twice per agent, while the event loop stays free to move messages and
fire timeouts as long as a solve runs.

The thread is a daemon thread: a solve stuck in C code never keeps the process from exiting
(Ctrl-C, end of a command). At a normal exit it is still asked to end (and waited for briefly):
a daemon thread that used SciPy's SuperLU (the interior-point participants' factorisations)
and is still alive at the interpreter's finalisation makes it fail to flush stdout ("TypeError:
an integer is required", exit code 120; measured with SciPy 1.17).
"""

from __future__ import annotations

import asyncio
import atexit
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

_STOP = object()
#: How long a normal exit waits for the worker thread to end (it is idle then; a solve stuck in
#: C code is left behind).
EXIT_WAIT_S = 1.0


class LocalWorkThread:
    """One daemon thread that runs the calls of :meth:`call` in order (see module doc)."""

    def __init__(self, name: str = "dro-local-work", report_interval: float = 0.002) -> None:
        self._name = name
        self.report_interval = float(report_interval)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` on the worker thread and return its result (exceptions propagate)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
                atexit.register(self._end_at_exit, self._thread)
        self._queue.put((loop, future, fn))
        return await future

    def _run(self) -> None:
        done: list[tuple[asyncio.AbstractEventLoop, asyncio.Future, bool, Any]] = []
        first_done = 0.0
        while True:
            try:
                item = self._queue.get(block=not done, timeout=None)
            except queue.Empty:  # nothing left to do: report what is finished
                _report(done)
                done = []
                continue
            if item is _STOP:
                _report(done)
                return
            loop, future, fn = item
            if future.cancelled():  # the agent stopped waiting (run cancelled or timed out)
                continue
            try:
                result, ok = fn(), True
            except BaseException as exc:  # handed to the awaiting agent
                result, ok = exc, False
            if not done:
                first_done = time.monotonic()
            done.append((loop, future, ok, result))
            if time.monotonic() - first_done >= self.report_interval:
                _report(done)
                done = []

    def stop(self) -> None:
        """Let the thread finish the queued calls and end."""
        self._queue.put(_STOP)

    def _end_at_exit(self, thread: threading.Thread) -> None:
        if thread.is_alive():
            self.stop()
            thread.join(EXIT_WAIT_S)


def _report(done: list[tuple[asyncio.AbstractEventLoop, asyncio.Future, bool, Any]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, bool, Any]]] = {}
    for loop, future, ok, result in done:
        by_loop.setdefault(loop, []).append((future, ok, result))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_deliver, items)
        except RuntimeError:  # the loop has closed: nobody waits for these results any more
            pass


def _deliver(items: list[tuple[asyncio.Future, bool, Any]]) -> None:
    for future, ok, result in items:
        if future.done():  # cancelled meanwhile
            continue
        if ok:
            future.set_result(result)
        else:
            future.set_exception(result)


class InlineWork:
    """Runs the local work on the event loop itself. Only for a process that hosts one agent and
    nothing else (``dro agent``): nobody shares its loop, and the coordinator's timeouts run in
    another process, so the hand-over to a thread would only cost time."""

    async def call(self, fn: Callable[[], Any]) -> Any:
        return fn()


_DEFAULT: LocalWorkThread | None = None
_DEFAULT_LOCK = threading.Lock()


def default_local_work() -> LocalWorkThread:
    """The process-wide worker thread shared by all participant agents of the process."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = LocalWorkThread()
        return _DEFAULT
