"""Accuracy of one runtime's logits on labelled windows, and agreement between two runtimes."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from dlink._check import check_shape

logger = logging.getLogger(__name__)


def classification_metrics(y_true: np.ndarray, logits: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Balanced accuracy, kappa, weighted F1 and confusion matrix (AUROC/AUC-PR when binary).

    Uses :func:`dlink.distill.metrics.classification_metrics`, so bench and distill report the same
    numbers; falls back to the same definitions computed with scikit-learn while that module is not
    there.
    """
    y_true = np.asarray(y_true).astype(np.int64)
    logits = np.asarray(logits, dtype=np.float64)
    check_shape("logits", logits.shape, (len(y_true), n_classes))
    try:
        from dlink.distill.metrics import classification_metrics as _metrics
    except ImportError:
        _metrics = None
    if _metrics is not None:
        out = dict(_metrics(y_true, logits, n_classes))
    else:
        logger.info("dlink.distill.metrics is not available; computing metrics with scikit-learn")
        out = _sklearn_metrics(y_true, logits, n_classes)
    out["confusion"] = np.asarray(out["confusion"]).astype(int).tolist()
    out["n"] = int(len(y_true))
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in out.items()}


def _sklearn_metrics(y_true, logits, n_classes):
    from sklearn import metrics as skm

    pred = logits.argmax(1)
    labels = list(range(n_classes))
    out = {
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, pred)),
        "kappa": float(skm.cohen_kappa_score(y_true, pred, labels=labels)),
        "f1_weighted": float(skm.f1_score(y_true, pred, labels=labels, average="weighted",
                                          zero_division=0)),
        "confusion": skm.confusion_matrix(y_true, pred, labels=labels),
    }
    if n_classes == 2 and len(np.unique(y_true)) == 2:
        z = logits - logits.max(1, keepdims=True)
        p1 = np.exp(z)[:, 1] / np.exp(z).sum(1)
        out["auroc"] = float(skm.roc_auc_score(y_true, p1))
        out["auc_pr"] = float(skm.average_precision_score(y_true, p1))
    return out


def agreement(logits_a: np.ndarray, logits_b: np.ndarray) -> float:
    """Fraction of windows where the two runtimes predict the same class (argmax)."""
    a, b = np.asarray(logits_a), np.asarray(logits_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"agreement needs the same number of windows, got {a.shape[0]} and {b.shape[0]}.")
    return float(np.mean(a.argmax(1) == b.argmax(1)))
