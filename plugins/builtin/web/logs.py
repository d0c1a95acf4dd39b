"""The server's log lines reach stderr from a thread of their own, so a stderr nobody reads never stops it.

Records (uvicorn's, asyncio's, any library's) are queued without waiting and written by one daemon
thread straight to file descriptor 2; while that write is blocked (a full pipe), new lines beyond
:data:`WAITING` are dropped instead of holding the event loop up.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from contextlib import contextmanager
from logging.handlers import QueueHandler

WAITING = 1000  # lines queued while stderr takes none; later ones are dropped
_END = None


class _DroppingHandler(QueueHandler):
    """Queues a record, or drops it when the queue is full."""

    def enqueue(self, record):
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            pass


def _write_lines(lines: queue.Queue, formatter: logging.Formatter) -> None:
    while (record := lines.get()) is not _END:
        try:
            os.write(2, (formatter.format(record) + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


@contextmanager
def background_logging(level: int = logging.WARNING):
    """While inside, log records of ``level`` and above go to stderr through the background thread."""
    lines: queue.Queue = queue.Queue(WAITING)
    handler = _DroppingHandler(lines)
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    writer = threading.Thread(target=_write_lines, args=(lines, logging.Formatter("%(levelname)s: %(message)s")),
                              name="log-writer", daemon=True)
    writer.start()
    try:
        yield
    finally:
        root.removeHandler(handler)
        try:
            lines.put(_END, timeout=1)
        except queue.Full:
            return  # stderr takes nothing: the daemon thread stays blocked, and ends with the process
        writer.join(timeout=1)
