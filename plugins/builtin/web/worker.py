"""One worker thread for every CPU-heavy task, so many tabs share one model session without oversubscribing.

Decoding, colorizing, encoding and video previews all run here, one at a time and in the order they
were asked for; the web handlers await the results without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future

_STOP = object()


class Worker:
    """A FIFO of tasks run by one long-lived thread (ffmpeg processes it starts live as long as it does)."""

    def __init__(self):
        self._tasks: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="colorfuse-serve-worker", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Tasks waiting for the worker (not counting the one it runs)."""
        return self._tasks.qsize()

    def submit(self, function, *args) -> Future:
        future: Future = Future()
        self._tasks.put((future, function, args))
        return future

    async def run(self, function, *args):
        """Queue ``function(*args)`` and wait for its result (or its exception)."""
        return await asyncio.wrap_future(self.submit(function, *args))

    def _loop(self) -> None:
        while True:
            task = self._tasks.get()
            if task is _STOP:
                return
            future, function, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # handed to the waiting request, which reports it
                future.set_exception(exc)

    def close(self, timeout: float = 30.0) -> None:
        """Let the queued tasks finish, then stop the thread."""
        self._tasks.put(_STOP)
        self._thread.join(timeout)
