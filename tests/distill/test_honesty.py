"""Warnings that keep results honest: teacher from scratch, small test sets, intervals."""

from __future__ import annotations

import numpy as np

from dlink.distill.honesty import (format_ci, teacher_init, teacher_label, teacher_warning,
                                   small_test_set_warning, worst_case_half_width)
from dlink.distill.metrics import balanced_accuracy_ci, classification_metrics


def test_interval_is_seeded_covers_the_estimate_and_narrows_with_more_windows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    pred = np.where(rng.random(40) < 0.8, y, 1 - y)
    lo, hi = balanced_accuracy_ci(y, pred, 2)
    m = classification_metrics(y, np.eye(2)[pred], 2)
    assert lo <= m["balanced_accuracy"] <= hi and m["balanced_accuracy_ci"] == [lo, hi]
    assert balanced_accuracy_ci(y, pred, 2) == [lo, hi]  # seeded
    big_y, big_p = np.tile(y, 25), np.tile(pred, 25)
    blo, bhi = balanced_accuracy_ci(big_y, big_p, 2)
    assert bhi - blo < (hi - lo) / 3  # 25x the windows: about a fifth of the width
    # a model that predicts one class: 0.5, and the interval stays wide (a bootstrap over windows
    # would shrink to the point [0.5, 0.5])
    clo, chi = balanced_accuracy_ci(y, np.zeros_like(y), 2)
    assert clo < 0.5 < chi and chi - clo > 0.1
    assert balanced_accuracy_ci([0, 0, 1, 1], [0, 0, 1, 1], 2)[1] == 1.0  # contains the estimate


def test_worst_case_half_width_depends_on_windows_per_class():
    assert round(worst_case_half_width([8, 7]), 3) == 0.254
    assert worst_case_half_width([60] * 4) < 0.1 < worst_case_half_width([6] * 4)


def test_small_test_set_warning_names_size_interval_and_fix():
    y = np.array([0] * 8 + [1] * 7)
    m = classification_metrics(y, np.eye(2)[y], 2)  # perfect on 15 windows
    w = small_test_set_warning(m, class_counts={"left": 8, "right": 7})
    assert w.startswith("small test set: 15 windows (left 8, right 7); student balanced accuracy 1.000")
    assert "95% CI [" in w and "off by up to ~0.25" in w and "cross-validation" in w
    y = np.repeat(np.arange(4), 60)
    assert small_test_set_warning(classification_metrics(y, np.eye(4)[y], 4)) is None  # 240 windows


def test_teacher_from_scratch_is_named_and_warned():
    scratch = {"arch": "labram", "source": "reused", **teacher_init(None)}
    assert teacher_label(scratch) == "labram, from scratch"
    assert "not a pretrained foundation model" in teacher_warning(scratch)
    pre = {"arch": "cbramod", "source": "finetuned", **teacher_init("/w/pretrained_weights.pth")}
    assert teacher_label(pre) == "cbramod, pretrained pretrained_weights.pth"
    assert teacher_warning(pre) is None
    assert teacher_label({"arch": "labram", "source": "/runs/x/teacher.pt"}) == "labram, file teacher.pt"
    assert teacher_label({}) == "fine-tuned FM"


def test_format_ci():
    assert format_ci({"balanced_accuracy_ci": [0.6234, 0.78]}) == "0.62-0.78"
    assert format_ci({}) is None
