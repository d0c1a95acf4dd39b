"""Which variant of a model runs: ``--precision auto|fp32|int8|bf16`` and ``--runtime``.

``auto`` takes the variants whose measured quality loss is within :data:`~colorfuse.engine.variants.MAX_PSNR_LOSS_DB`
and :data:`~colorfuse.engine.variants.MAX_COLOURFULNESS_CHANGE_PCT`; a named precision takes its variants. Of
several, the fastest on this machine runs. They are timed once per model, machine (CPU, its bf16/VNNI/AMX flags,
threads) and runtime versions, at the model's own working size, in at most :data:`MEASURE_BUDGET_S` (warm-up,
then interleaved rounds, median), and the outcome is cached in ``$COLORFUSE_CACHE_DIR`` (default
``~/.cache/colorfuse``). Until then nothing waits: the variant predicted fastest for this CPU's features
(:func:`predicted_order`) runs at once, one line on stderr says so, and the timing goes on in a background
thread (the process waits for it at exit, within the budget); the next run takes the measured fastest.

Before a reduced-precision variant is trusted, its output on a fixed probe input is compared with
fp32's (some CPUs and runtime builds compute bf16 or int8 wrongly): when it is not finite or lies
further than three times what was measured when it was built, a :class:`VariantWarning` says so
and the next variant (at last fp32) runs instead. CUDA runs the fp32 model.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from colorfuse.errors import ColorfuseError
from colorfuse.engine.atomic import write_json_atomic
from colorfuse.engine.geometry import padded
from colorfuse.engine.hints import complete_feeds
from colorfuse.engine.session import CUDA, available_providers, get_session
from colorfuse.engine.variants import CHOICES, RUNTIME_CHOICES, Variant, VariantWarning, load_variants

PROBE_SHAPE = (192, 256)  # the first-use check's input, also used when the variants are built
TIMING_ROUNDS = 5
SETTLE_S = 0.05
MEASURE_BUDGET_S = 3.0  # the whole first-use timing of a model's variants, sessions included
_measuring: dict[str, threading.Thread] = {}  # cache key -> the background timing under way
_stop = threading.Event()  # set at exit: the background timing starts no new run


@dataclass
class Choice:
    """The variant that runs, why, and what was measured to choose it."""

    variant: Variant
    reason: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # variant key -> why it was not used
    cached: bool = False
    measuring: threading.Thread | None = field(default=None, repr=False)  # the background timing, if one runs

    def wait(self) -> bool:
        """Wait for the background timing; whether there was one (the next choice comes from the cache)."""
        if self.measuring is None:
            return False
        self.measuring.join()
        return True


def probe_feeds(card, shape=PROBE_SHAPE, batch: int = 1) -> dict[str, np.ndarray]:
    """A deterministic photo-like input: smooth shading, texture and hard edges, normalised as the engine does."""
    import cv2

    height, width = (padded(side, card.size_multiple) for side in shape)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    lum = 20 + 60 * (y / height) + 8 * np.sin(x / 5.0) * np.cos(y / 7.0)
    lum[height // 4 : height // 2, width // 5 : width // 2] = 85.0
    lum[2 * height // 3 :, 3 * width // 5 :] = 12.0
    norm = lambda a: np.repeat(((a - np.float32(card.l_offset)) / np.float32(card.l_scale)).astype(np.float32)[None, None],  # noqa: E731
                               batch, axis=0)
    feeds = {card.input_name("L"): norm(lum)}
    if card.global_input_size:
        size = card.global_input_size
        feeds[card.input_name("L_global")] = norm(cv2.resize(lum, (size, size), interpolation=cv2.INTER_AREA))
    return complete_feeds(card, feeds)


def mean_abs_difference(card, session, base_session, feeds) -> float:
    """Mean |ab - ab_fp32| over every ab output on ``feeds`` (inf when not finite)."""
    names = [spec.name for spec in card.outputs]
    ours, base = session.run(names, feeds), base_session.run(names, feeds)
    if not all(np.isfinite(out).all() for out in ours):
        return float("inf")
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(ours, base)]))


def _cache_path() -> Path:
    root = os.environ.get("COLORFUSE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "colorfuse")
    return Path(root) / "precision-choices.json"


def _machine_key(card, candidates, threads) -> str:
    from colorfuse.engine.machine import cpu_identity
    from colorfuse.engine.openvino_runtime import openvino_version
    import onnxruntime

    parts = [card.weights_sha256, [(v.key, str(v.path), v.probe_mean_abs_ab) for v in candidates], cpu_identity(),
             onnxruntime.__version__, openvino_version(), threads]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


def _read_cache() -> dict:
    try:
        return json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(key: str, entry: dict) -> None:
    path = _cache_path()
    try:
        write_json_atomic({**_read_cache(), key: entry}, path)  # the cache is ours alone: replacing loses nothing
    except ColorfuseError:
        pass  # an unwritable cache only means measuring again next time


def open_variant(variant: Variant, device: str = "cpu", threads: int | None = None):
    """The cached session running ``variant`` (the base model keeps ``device``; variants run on the CPU)."""
    device = device if variant.is_base else "cpu"
    return get_session(variant.path, device, threads, runtime=variant.runtime,
                       precision="bf16" if variant.precision == "bf16" else "fp32")


def _time_ms(sessions: dict, feeds, output_names, deadline: float = float("inf")) -> dict[str, float]:
    """Median milliseconds per run of each session: one warm-up run, then up to :data:`TIMING_ROUNDS`
    interleaved rounds (at least one), none started after ``deadline`` (``time.perf_counter()``).

    Each run waits :data:`SETTLE_S` first: a runtime's worker threads spin for a while after a run
    and would take the cores from the next session's run."""
    times: dict[str, list[float]] = {key: [] for key in sessions}
    for session in sessions.values():
        if _stop.is_set():
            return {}
        session.run(output_names, feeds)
    for round_ in range(TIMING_ROUNDS):
        if round_ and time.perf_counter() > deadline:
            break
        for key, session in sessions.items():
            if _stop.is_set():
                break
            time.sleep(SETTLE_S)
            start = time.perf_counter()
            session.run(output_names, feeds)
            times[key].append(time.perf_counter() - start)
    return {key: round(1e3 * float(np.median(values)), 3) for key, values in times.items() if values}


BF16_FLAGS, INT8_FLAGS = {"avx512_bf16", "amx_bf16"}, {"avx512_vnni", "avx_vnni", "amx_int8"}


def computes_bf16(flags) -> bool:
    """Whether a CPU with ``flags`` computes bf16 (elsewhere OpenVINO runs a bf16 request in fp32)."""
    return bool(set(flags) & BF16_FLAGS)


def predicted_order(variants: list[Variant], flags) -> list[Variant]:
    """``variants``, the one predicted fastest on a CPU with ``flags`` first: bf16 where the CPU computes it
    (AVX512-BF16, AMX), int8 where it has VNNI, then fp32; OpenVINO before onnxruntime at each precision."""
    flags = set(flags)
    fast = {"bf16": computes_bf16(flags), "int8": bool(flags & INT8_FLAGS)}
    rank = {"bf16": 0, "int8": 1, "fp32": 2}
    return sorted(variants, key=lambda v: (rank[v.precision] if fast.get(v.precision, True) else 3,
                                           v.runtime != "openvino"))


def _candidates(variants: list[Variant], precision: str, runtime: str) -> tuple[list[Variant], dict[str, str]]:
    from colorfuse.engine.openvino_runtime import openvino_problem

    rejected, kept, openvino = {}, [], openvino_problem()
    for variant in variants:
        if precision == "auto" and not variant.within_limits():
            rejected[variant.key] = "measured quality loss over auto's limits"
        elif precision not in ("auto", variant.precision) or runtime not in ("auto", variant.runtime):
            continue
        elif variant.runtime == "openvino" and openvino:
            rejected[variant.key] = openvino
        else:
            kept.append(variant)
    return _quality_first(kept, rejected, precision), rejected


def _quality_first(kept: list[Variant], rejected: dict[str, str], precision: str) -> list[Variant]:
    """An explicit precision on several runtimes: those of its variants within auto's quality limits, else
    the one that measured best (one runtime's int8 may lose far more than another's)."""
    if precision == "auto" or len(kept) < 2:
        return kept
    chosen = [v for v in kept if v.within_limits()] or \
        [min(kept, key=lambda v: (v.psnr_loss_db, abs(v.colourfulness_change_pct)))]
    for variant in kept:
        if variant not in chosen:
            rejected[variant.key] = f"measured worse than {chosen[0].key} ({variant.describe()})"
    return chosen


def choose_variant(model_path, card, precision: str = "auto", runtime: str = "auto", device: str = "auto",
                   threads: int | None = None) -> Choice:
    """Pick what runs ``model_path`` here (see the module docstring).

    ``precision`` may also be a :class:`Variant`, which runs as given (the variant builder measures them so).
    An explicit precision whose variants all lose more than auto accepts runs its best-measured one, with a
    :class:`VariantWarning` that gives the loss.
    """
    choice = _choose(model_path, card, precision, runtime, device, threads)
    if isinstance(precision, str) and precision != "auto" and not choice.variant.within_limits():
        warnings.warn(f"model {card.name!r}: {choice.variant.describe()}, measured on the manifest's photos",
                      VariantWarning, stacklevel=2)
    return choice


def _choose(model_path, card, precision, runtime: str, device: str, threads: int | None) -> Choice:
    if isinstance(precision, Variant):
        return Choice(precision, "given")
    if precision not in CHOICES:
        raise ColorfuseError(f"unknown precision {precision!r}: choose one of {', '.join(CHOICES)}")
    if runtime not in RUNTIME_CHOICES:
        raise ColorfuseError(f"unknown runtime {runtime!r}: choose one of {', '.join(RUNTIME_CHOICES)}")
    variants = load_variants(model_path, card)
    base = variants[0]
    if device == "cuda" or (device == "auto" and CUDA in available_providers()):
        if precision not in ("auto", "fp32") or runtime == "openvino":
            warnings.warn(f"{precision}@{runtime} is a CPU variant: running fp32 on onnxruntime's CUDA provider",
                          VariantWarning, stacklevel=2)
        return Choice(base, "CUDA runs the fp32 model")
    candidates, rejected = _candidates(variants, precision, runtime)
    if not candidates:
        known = ", ".join(v.key for v in variants)
        why = "; ".join(f"{key}: {reason}" for key, reason in rejected.items())
        raise ColorfuseError(f"model {card.name!r} has no {precision} variant for runtime {runtime} here "
                             f"(it has {known}{'; ' + why if why else ''}); colorfuse variants build makes them")
    if candidates == [base]:
        why = "asked for" if precision == "fp32" else "no other variant is within auto's quality limits and runs here"
        return Choice(base, f"the fp32 model ({why})" if len(variants) > 1 else "the fp32 model (it has no variants)",
                      rejected=rejected)
    key = _machine_key(card, candidates, threads)
    entry = _read_cache().get(key)
    if entry is None:
        return _predicted_choice(key, candidates, base, card, threads, rejected, precision)
    by_key = {v.key: v for v in candidates}
    for variant_key, reason in entry["failed"].items():
        rejected[variant_key] = reason
        if precision != "auto":
            _warn_failed(card, variant_key, reason)
    for variant_key in entry.get("untimed", []):
        rejected[variant_key] = f"not reached within the {MEASURE_BUDGET_S:g} s of timing on first use"
    timings = {k: ms for k, ms in entry["timings_ms"].items() if k in by_key}
    if not timings:
        return Choice(base, "every reduced-precision variant failed its check", rejected=rejected, cached=True)
    fastest = min(timings, key=timings.get)
    others = ", ".join(f"{k} {ms:.1f} ms" for k, ms in sorted(timings.items(), key=lambda item: item[1]))
    return Choice(by_key[fastest], f"fastest here at {entry['shape'][1]}x{entry['shape'][0]} ({others})", timings,
                  rejected, cached=True)


def _warn_failed(card, variant_key: str, reason: str) -> None:
    warnings.warn(f"{card.name} {variant_key} failed its check against fp32 on this machine ({reason}): "
                  "running the next variant instead", VariantWarning, stacklevel=4)


def timing_shape(card) -> tuple[int, int]:
    """The padded working shape of a 4:3 photo at the model's own working size: what the variants are timed at."""
    side = card.default_max_side or 512
    multiple = card.size_multiple
    return padded(side * 3 // 4, multiple), padded(side, multiple)


def _predicted_choice(key, candidates, base, card, threads, rejected, precision) -> Choice:
    """No timing yet: the first predicted-fastest variant that passes its check runs; the timing starts behind it."""
    from colorfuse.engine.machine import cpu_identity

    flags = cpu_identity()["flags"]
    base_session = get_session(base.path, "cpu", threads)
    chosen, order = base, predicted_order(candidates, flags)
    for variant in order:
        problem = _check(variant, base_session, card, threads)
        if problem is None:
            chosen = variant
            break
        rejected[variant.key] = problem
        _warn_failed(card, variant.key, problem)
    if len(candidates) == 1:
        return Choice(chosen, "the only candidate" if chosen is not base else "its variant failed its check",
                      rejected=rejected)
    thread = _measuring.get(key)
    if thread is None or not thread.is_alive():
        first = sorted(order, key=lambda v: (v is not chosen, not v.is_base))  # the sessions open already first
        thread = _measuring[key] = threading.Thread(target=_measure_and_cache, name="colorfuse-precision-timing",
                                                    args=(key, first, base.path, card, threads, chosen), daemon=True)
        print(f"colorfuse: --precision {precision}: running {chosen.key} (predicted fastest for this CPU: "
              f"{', '.join(flags) or 'no AVX'}) while {len(candidates)} variants of {card.name} are timed once, in the "
              f"background (at most ~{MEASURE_BUDGET_S:.0f} s; cached in {_cache_path().parent})", file=sys.stderr,
              flush=True)
        thread.deadline = time.perf_counter() + MEASURE_BUDGET_S
        thread.start()
    return Choice(chosen, f"predicted fastest for this CPU ({', '.join(flags) or 'no AVX'}); being timed",
                  rejected=rejected, measuring=thread)


def _check(variant: Variant, base_session, card, threads) -> str | None:
    """Why ``variant`` cannot be trusted here (its probe output against fp32's), or None when it can."""
    if variant.is_base:
        return None
    try:
        difference = mean_abs_difference(card, open_variant(variant, "cpu", threads), base_session, probe_feeds(card))
    except Exception as exc:  # noqa: BLE001 - a runtime that cannot load or run the file is a failed check
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    limit = 3 * variant.probe_mean_abs_ab + 2e-3
    return None if difference <= limit else f"mean |ab difference| {difference:.4g}, limit {limit:.4g}"


def _measure_and_cache(key, candidates, base_path, card, threads, trusted=None) -> None:
    """Time the candidates and cache the outcome when it compares at least two of them."""
    try:
        entry = _measure(candidates, base_path, card, threads, trusted)
    except Exception:  # noqa: BLE001 - a timing that fails only means predicting again next time
        return
    if len(entry["timings_ms"]) > 1 or not _stop.is_set():
        _write_cache(key, entry)


@atexit.register
def _finish_measuring() -> None:
    """At exit, give a background timing the rest of its budget to end and be cached, then stop it after the step
    under way (a run or a compile): no runtime is torn down under it, and a job shorter than the budget waits
    for the budget's rest only."""
    for thread in list(_measuring.values()):
        thread.join(timeout=max(0.0, getattr(thread, "deadline", 0.0) - time.perf_counter()))
    _stop.set()
    for thread in list(_measuring.values()):
        thread.join()


def _measure(candidates: list[Variant], base_path, card, threads, trusted: Variant | None = None) -> dict:
    """Check each reduced variant (but ``trusted``, checked already) against fp32 on the probe, then time the ones
    that pass, within the budget."""
    deadline = time.perf_counter() + MEASURE_BUDGET_S
    base_session = get_session(base_path, "cpu", threads)
    sessions, failed, untimed = {}, {}, []
    for variant in candidates:  # the predicted one was opened and checked already: it comes at no cost
        if _stop.is_set() or (time.perf_counter() > deadline and len(sessions) > 1):
            untimed.append(variant.key)
            continue
        problem = None if variant == trusted else _check(variant, base_session, card, threads)
        if problem is not None:
            failed[variant.key] = problem
        else:
            sessions[variant.key] = open_variant(variant, "cpu", threads)
    shape = timing_shape(card)
    timings = _time_ms(sessions, probe_feeds(card, shape), [card.outputs[0].name], deadline) if sessions else {}
    return {"timings_ms": timings, "failed": failed, "untimed": untimed, "shape": list(shape),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
