"""Seconds spent inside the model, counted by the colorizer itself (summaries and benchmarks read them)."""

from __future__ import annotations

import threading
import time
from typing import Callable


class ModelTiming:
    """Model seconds and calls of one colorizer, safe to update from several threads."""

    def __init__(self) -> None:
        self.model_s = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    def timed(self, runner: Callable) -> Callable:
        """``runner`` that adds each call's seconds (failed calls too) to this count."""

        def run(feeds):
            start = time.perf_counter()
            try:
                return runner(feeds)
            finally:
                with self._lock:
                    self.model_s += time.perf_counter() - start
                    self.calls += 1

        return run

    def reset(self) -> None:
        with self._lock:
            self.model_s, self.calls = 0.0, 0
