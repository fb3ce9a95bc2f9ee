"""classification_metrics."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.distill.metrics import classification_metrics


def test_perfect_and_chance_multiclass():
    y = np.array([0, 1, 2, 3] * 5)
    m = classification_metrics(y, np.eye(4)[y] * 5.0, 4)
    assert m["balanced_accuracy"] == 1.0 and m["kappa"] == 1.0 and m["f1_weighted"] == 1.0
    assert np.trace(np.array(m["confusion"])) == len(y)
    assert "auroc" not in m
    const = classification_metrics(y, np.tile([1.0, 0, 0, 0], (len(y), 1)), 4)
    assert const["balanced_accuracy"] == pytest.approx(0.25)
    assert const["kappa"] == pytest.approx(0.0)


def test_binary_has_auroc_and_auc_pr():
    y = np.array([0, 0, 1, 1, 0, 1])
    p1 = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    m = classification_metrics(y, np.stack([1 - p1, p1], 1), 2)
    assert m["auroc"] == pytest.approx(8 / 9)
    assert 0 < m["auc_pr"] <= 1
    assert m["balanced_accuracy"] == pytest.approx((3 / 3 + 2 / 3) / 2)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"shape \(3, 4\)"):
        classification_metrics([0, 1, 2], np.zeros((3, 3)), 4)
    with pytest.raises(ValueError, match="shape"):
        classification_metrics([0, 1, 2], np.zeros(3), 4)
