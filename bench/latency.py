"""Host latency per window: median and spread over repeated runs, warm-up runs excluded.

All runtimes are timed in the same process, one after the other, on the same window, with one
thread each, so ratios between them (e.g. the teacher/student speed-up) come from one run.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np

from dlink._check import check_positive

logger = logging.getLogger(__name__)


def summarize_ms(times_s: list[float] | np.ndarray, *, warmup: int = 0) -> dict[str, Any]:
    """Summary of per-call times in milliseconds.

    Returns
    -------
    dict
        ``median_ms``, ``p10_ms``, ``p90_ms``, ``iqr_ms`` (75th - 25th percentile), ``mean_ms``,
        ``std_ms``, ``min_ms``, ``max_ms``, ``repeats`` and ``warmup``.
    """
    t = np.asarray(times_s, dtype=np.float64) * 1e3
    if t.size == 0:
        raise ValueError("summarize_ms needs at least one timing, got none.")
    q10, q25, q50, q75, q90 = np.percentile(t, [10, 25, 50, 75, 90])
    return {
        "median_ms": float(q50), "p10_ms": float(q10), "p90_ms": float(q90),
        "iqr_ms": float(q75 - q25), "mean_ms": float(t.mean()), "std_ms": float(t.std()),
        "min_ms": float(t.min()), "max_ms": float(t.max()), "repeats": int(t.size),
        "warmup": int(warmup),
    }


def time_calls(fn: Callable[[], Any], *, repeats: int, warmup: int) -> list[float]:
    """Seconds per call of ``fn`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    check_positive("repeats", repeats)
    check_positive("warmup", warmup, allow_zero=True)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def measure_latency(fn: Callable[[], Any], *, repeats: int, warmup: int) -> dict[str, Any]:
    """Time ``fn`` (one inference on one window): see :func:`summarize_ms`."""
    return summarize_ms(time_calls(fn, repeats=repeats, warmup=warmup), warmup=warmup)


def measure_batched_latency(run_batch: Callable[[np.ndarray], Any], x: np.ndarray, *,
                            repeats: int, warmup: int) -> dict[str, Any]:
    """Per-window latency of a runtime that has a fixed cost per call (e.g. a process start).

    Times ``run_batch`` on all ``n`` windows of ``x`` and on its first window; the per-window
    latency of each repeat is ``(t_n - t_1) / (n - 1)``, so the fixed cost cancels.
    """
    n = len(x)
    if n < 2:
        raise ValueError(f"measure_batched_latency needs at least 2 windows, got {n}.")
    t_n = time_calls(lambda: run_batch(x), repeats=repeats, warmup=warmup)
    t_1 = time_calls(lambda: run_batch(x[:1]), repeats=repeats, warmup=warmup)
    per = (np.asarray(t_n) - np.asarray(t_1)) / (n - 1)
    out = summarize_ms(np.maximum(per, 0.0), warmup=warmup)
    out["method"] = f"(t({n} windows) - t(1 window)) / {n - 1}, per-call start-up excluded"
    out["call_overhead_ms"] = float(np.median(t_1) * 1e3 - out["median_ms"])
    return out
