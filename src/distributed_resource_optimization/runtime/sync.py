"""Run a coroutine to completion from synchronous code, also inside a running event loop.

Scripts have no event loop: :func:`run_sync` uses :func:`asyncio.run`. Jupyter notebooks and async
applications already run one in this thread, where ``asyncio.run`` refuses to start; then the
coroutine runs on its own loop in a worker thread and this call waits for it (the caller's loop is
blocked meanwhile, as with any synchronous call). Ctrl-C while waiting cancels the coroutine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``make()`` and return its result (exceptions propagate).

    ``make`` is called on the loop that runs the coroutine, so objects bound to a loop (queues,
    futures) are created on the right one.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_call(make))
    box: dict[str, object] = {}
    ready = threading.Event()

    def worker() -> None:
        loop = asyncio.new_event_loop()
        box["loop"] = loop
        try:
            task = loop.create_task(_call(make))
            box["task"] = task
            ready.set()
            box["result"] = loop.run_until_complete(task)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        finally:
            ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    thread = threading.Thread(target=worker, name="dro-run-sync", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)  # short joins keep Ctrl-C responsive in the calling thread
    except KeyboardInterrupt:
        ready.wait()
        task = box.get("task")
        loop = box.get("loop")
        if task is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)  # type: ignore[union-attr]
        thread.join(5.0)
        raise
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    return await make()
