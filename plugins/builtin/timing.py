"""Built-in plugin: measures the time spent inside the model, for summaries and benchmarks.

When ``options`` holds a ``timing`` dict, each model call adds its seconds to
``timing["model_s"]`` and one to ``timing["calls"]``.
"""

import time

from colorfuse.plugins import hookimpl


@hookimpl
def wrap_runner(runner, card, options):
    timing = options.get("timing")
    if timing is None:
        return None

    def timed(feeds):
        start = time.perf_counter()
        try:
            return runner(feeds)
        finally:
            timing["model_s"] = timing.get("model_s", 0.0) + time.perf_counter() - start
            timing["calls"] = timing.get("calls", 0) + 1

    return timed
