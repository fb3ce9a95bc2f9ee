"""Windows shared between splits: hashed, a test leak refused, the rest reported."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.data.leakage import SharedWindowsError, check_shared_windows, shared_windows, window_hashes
from dlink.data.windows import EEGWindows


def _w(X):
    return EEGWindows(X, np.zeros(len(X), np.int64), np.zeros(len(X), np.int64), ["C3", "C4"], 200.0, ["a"])


def _splits(rng, *, test_from_train=0, val_from_train=0, repeat_in_train=0):
    train = rng.standard_normal((10, 2, 16)).astype(np.float32)
    if repeat_in_train:
        train[-repeat_in_train:] = train[:repeat_in_train]
    val = rng.standard_normal((5, 2, 16)).astype(np.float32)
    val[:val_from_train] = train[:val_from_train]
    test = rng.standard_normal((6, 2, 16)).astype(np.float32)
    test[:test_from_train] = train[2:2 + test_from_train]
    return {"train": _w(train), "val": _w(val), "test": _w(test), "pool": _w(np.zeros((0, 2, 16), np.float32))}


def test_hashes_are_equal_exactly_for_equal_windows():
    x = np.random.default_rng(0).standard_normal((3, 2, 8)).astype(np.float32)
    x[2] = x[0]
    y = x.copy()
    y[1, 0, 0] = np.nextafter(y[1, 0, 0], np.float32(10))  # one ulp apart
    h, g = window_hashes(x), window_hashes(y)
    assert h[0] == h[2] and h[0] != h[1] and h[1] != g[1] and h[0] == g[0]


def test_disjoint_splits_pass_without_notes():
    assert check_shared_windows(_splits(np.random.default_rng(1))) == []


def test_test_windows_seen_in_training_are_refused_with_counts():
    splits = _splits(np.random.default_rng(2), test_from_train=3)
    assert shared_windows(splits) == {"test&train": 3}
    with pytest.raises(SharedWindowsError, match=r"train/test leak: 3 of the 6 test windows also occur "
                                                 r"in train .*data.allow_shared_windows: true"):
        check_shared_windows(splits, source="recordings")
    notes = check_shared_windows(splits, allow=True)
    assert notes == ["shared windows: 3 of the 6 test windows also occur in train "
                     "(allowed by data.allow_shared_windows)"]


def test_val_overlap_and_repeats_are_notes_not_errors():
    splits = _splits(np.random.default_rng(3), val_from_train=2, repeat_in_train=1)
    notes = check_shared_windows(splits)
    assert "shared windows: 2 of the 5 val windows also occur in train" in notes
    assert "shared windows: 1 train window(s) occur more than once in that split" in notes
