"""Paired bootstrap over test subjects and seeds (bench/paired_bootstrap.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from dlink.bench.paired_bootstrap import PairedBootstrap, balanced_accuracy, class_counts


def _runs(rng, n_runs, y, subject, subjects, p_correct):
    out = []
    for _ in range(n_runs):
        pred = np.where(rng.random(len(y)) < p_correct, y, (y + 1) % 3)
        out.append((pred, class_counts(y, pred, subject, subjects, 3)[0]))
    return out


def test_counts_give_sklearns_balanced_accuracy():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    subject = rng.integers(10, 20, 300)
    pred = np.where(rng.random(300) < 0.6, y, rng.integers(0, 3, 300))
    subjects = sorted(set(subject))
    correct, total = class_counts(y, pred, subject, subjects, 3)
    assert total.sum() == 300
    assert balanced_accuracy(correct[None], total)[0] == pytest.approx(balanced_accuracy_score(y, pred))


def test_paired_difference_finds_a_real_gap_and_not_a_null_one():
    rng = np.random.default_rng(1)
    y = np.tile(np.repeat(np.arange(3), 20), 20)
    subject = np.repeat(np.arange(20), 60)
    subjects = list(range(20))
    total = class_counts(y, y, subject, subjects, 3)[1]
    good = np.stack([c for _, c in _runs(rng, 6, y, subject, subjects, 0.70)])
    same = np.stack([c for _, c in _runs(rng, 6, y, subject, subjects, 0.70)])
    worse = np.stack([c for _, c in _runs(rng, 6, y, subject, subjects, 0.64)])
    boot = PairedBootstrap(total, 6, n_boot=1000, seed=0)
    gap = boot.difference(good, worse)
    assert gap["lo"] > 0 and gap["lo"] < gap["diff"] < gap["hi"]
    assert gap["diff"] == pytest.approx(0.06, abs=0.02)
    null = boot.difference(good, same)
    assert null["lo"] < 0 < null["hi"]
    # 7,200 predictions a row: a 0.03 difference is resolvable (half-width below it; resampling
    # both subjects and runs is conservative)
    assert (null["hi"] - null["lo"]) / 2 < 0.03
    # identical rows: exactly zero, with a zero-width interval
    assert boot.difference(good, good) == {"diff": 0.0, "lo": 0.0, "hi": 0.0, "p_a_better": 0.0}
    lo, hi = boot.interval(good)
    assert lo < balanced_accuracy(good, total).mean() < hi
    with pytest.raises(ValueError, match="expected counts of shape"):
        boot.replicates(good[:3])
