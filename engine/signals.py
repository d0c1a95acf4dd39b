"""Stop signals of a run: Ctrl-C, SIGTERM and SIGHUP raise :class:`Interrupted` once; used by the CLI and the web server."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class StopSignals:
    """The first stop signal (Ctrl-C, SIGTERM, SIGHUP) that arrived; while armed it raises :class:`Interrupted`.

    Only the first raises: later ones, and any after :meth:`disarm`, are recorded, so the summary and
    the cleanup after an interrupt are never cut short."""

    def __init__(self):
        self.received: int | None = None
        self.armed = True
        self.running = True  # until disarm()

    def handle(self, signum, frame):
        from colorfuse.errors import Interrupted

        raise_now = self.armed and self.received is None
        self.received = self.received or signum
        if raise_now:
            self.armed = False
            raise Interrupted(signum)

    def check(self) -> None:
        """Raise :class:`Interrupted` again if a signal came while the run goes on: Python drops an exception
        raised inside a fork callback or a finalizer (a SIGTERM while ffmpeg starts). Call it only from the
        run's own loop, never from its cleanup."""
        from colorfuse.errors import Interrupted

        if self.running and self.received is not None:
            raise Interrupted(self.received)

    def disarm(self) -> None:
        self.armed = self.running = False

    @contextmanager
    def until_stopped(self):
        """Run the block until it ends or a stop signal (or Ctrl-C) ends it, recorded in :attr:`received`;
        from its end on, signals are only recorded."""
        try:
            try:
                yield self
            finally:
                self.disarm()
        except KeyboardInterrupt:
            self.received = self.received or signal.SIGINT


_in_charge: list[StopSignals] = []  # the StopSignals of the outermost signals_interrupt, while inside it


@contextmanager
def signals_interrupt():
    """While inside, Ctrl-C, SIGTERM and SIGHUP raise :class:`Interrupted` (a KeyboardInterrupt) once; yields
    the :class:`StopSignals` (inside another, that one's). A signal the process inherited as ignored
    (``nohup``) stays ignored."""
    if _in_charge or threading.current_thread() is not threading.main_thread():
        yield _in_charge[0] if _in_charge else StopSignals()
        return
    stop = StopSignals()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, stop.handle)
    _in_charge.append(stop)
    try:
        yield stop
    finally:
        _in_charge.clear()
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)


def signal_status(signum: int) -> tuple[str, int]:
    """The signal's name and the shell's exit status for it (128 + its number)."""
    return signal.Signals(signum).name, 128 + signum
