"""Latency summaries: warm-up excluded, per-call start-up cancelled (with a fake clock)."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.bench import latency


def test_summarize_ms_known_values():
    s = latency.summarize_ms([0.001, 0.002, 0.003, 0.004, 0.005], warmup=2)
    assert s["median_ms"] == pytest.approx(3.0)
    assert s["min_ms"] == pytest.approx(1.0) and s["max_ms"] == pytest.approx(5.0)
    assert s["iqr_ms"] == pytest.approx(2.0)
    assert s["repeats"] == 5 and s["warmup"] == 2


def test_summarize_ms_rejects_empty():
    with pytest.raises(ValueError, match="at least one timing"):
        latency.summarize_ms([])


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_measure_latency_excludes_warmup(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(latency.time, "perf_counter", clock)
    calls = []

    def fn():  # the first calls are slow (warm-up), later ones take 2 ms
        calls.append(1)
        clock.t += 0.050 if len(calls) <= 3 else 0.002

    s = latency.measure_latency(fn, repeats=10, warmup=3)
    assert len(calls) == 13
    assert s["median_ms"] == pytest.approx(2.0)
    assert s["max_ms"] == pytest.approx(2.0)


def test_batched_latency_cancels_call_overhead(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(latency.time, "perf_counter", clock)

    def run_batch(x):  # 30 ms start-up per call + 1.5 ms per window
        clock.t += 0.030 + 0.0015 * len(x)

    s = latency.measure_batched_latency(run_batch, np.zeros((9, 4)), repeats=4, warmup=1)
    assert s["median_ms"] == pytest.approx(1.5)
    assert s["call_overhead_ms"] == pytest.approx(30.0)


def test_measure_latency_rejects_zero_repeats():
    with pytest.raises(ValueError, match="repeats must be > 0"):
        latency.measure_latency(lambda: None, repeats=0, warmup=0)
