"""Classification metrics as the EEG foundation-model papers report them."""

from __future__ import annotations

import numpy as np


def _probs(logits_or_probs: np.ndarray) -> np.ndarray:
    z = np.asarray(logits_or_probs, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits_or_probs must have shape (n, n_classes), got {z.shape}.")
    if np.all(z >= 0) and np.allclose(z.sum(1), 1.0, atol=1e-4):
        return z
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def classification_metrics(y_true, logits_or_probs, n_classes: int) -> dict:
    """Balanced accuracy, Cohen's kappa, weighted F1 and the confusion matrix; AUROC and AUC-PR
    (average precision) as well when ``n_classes == 2``.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
    logits_or_probs : array-like, shape (n, n_classes)
        Logits, or probabilities (rows summing to 1).
    n_classes : int

    Returns
    -------
    dict
        Floats (and ``confusion`` as a list of lists, rows = true class); ``n`` windows;
        ``balanced_accuracy_ci``: its 95 % interval (:func:`balanced_accuracy_ci`);
        ``predicted_counts`` (windows predicted per class) and ``collapsed`` (every window
        predicted as one class while the windows hold several: a failure, not a score).
    """
    from sklearn.metrics import (average_precision_score, balanced_accuracy_score,
                                 cohen_kappa_score, confusion_matrix, f1_score, roc_auc_score)

    y = np.asarray(y_true).astype(np.int64).ravel()
    p = _probs(logits_or_probs)
    if p.shape != (len(y), n_classes):
        raise ValueError(f"logits_or_probs must have shape ({len(y)}, {n_classes}), got {p.shape}.")
    if len(y) == 0:
        raise ValueError("classification_metrics: no windows (y_true is empty).")
    pred = p.argmax(1)
    labels = list(range(n_classes))
    out = {
        "n": int(len(y)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "kappa": float(cohen_kappa_score(y, pred, labels=labels)),
        "f1_weighted": float(f1_score(y, pred, labels=labels, average="weighted", zero_division=0)),
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
        "balanced_accuracy_ci": balanced_accuracy_ci(y, pred, n_classes),
        "predicted_counts": np.bincount(pred, minlength=n_classes).tolist(),
        "collapsed": is_collapsed(y, pred),
    }
    if n_classes == 2:
        if len(np.unique(y)) == 2:
            out["auroc"] = float(roc_auc_score(y, p[:, 1]))
            out["auc_pr"] = float(average_precision_score(y, p[:, 1]))
        else:
            out["auroc"] = out["auc_pr"] = float("nan")
    return out


def balanced_accuracy_ci(y_true, y_pred, n_classes: int, *, level: float = 0.95,
                         n_draws: int = 4000, seed: int = 0) -> list[float]:
    """Interval of the balanced accuracy: the mean of per-class recalls, each with a Jeffreys
    posterior ``Beta(k + 1/2, n - k + 1/2)`` (k of n windows of the class right), drawn
    ``n_draws`` times (seeded; numpy only); widened to contain the observed value.

    Unlike a bootstrap over windows, this stays wide for a model that predicts one class (every
    resample of a constant predictor has the same balanced accuracy, so a bootstrap interval
    shrinks to a point).

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
    n_classes : int
    level : float
        Coverage of the interval.

    Returns
    -------
    list of float
        ``[low, high]``.

    Examples
    --------
    >>> lo, hi = balanced_accuracy_ci([0] * 8 + [1] * 7, [0] * 8 + [1] * 6 + [0], 2)
    >>> lo < 0.933 < hi <= 1.0
    True
    """
    y = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if y.shape != p.shape or len(y) == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and of one length, got {y.shape} and {p.shape}.")
    rng = np.random.default_rng(seed)
    draws, recalls = [], []
    for c in range(n_classes):
        n = int(np.sum(y == c))
        if n == 0:
            continue
        k = int(np.sum((y == c) & (p == c)))
        recalls.append(k / n)
        draws.append(rng.beta(k + 0.5, n - k + 0.5, size=n_draws))
    bal = np.mean(draws, axis=0)
    est = float(np.mean(recalls))
    tail = (1.0 - level) / 2.0
    return [min(float(np.quantile(bal, tail)), est), max(float(np.quantile(bal, 1.0 - tail)), est)]


def is_collapsed(y_true, y_pred) -> bool:
    """True when every window is predicted as one class although the windows hold several.

    Examples
    --------
    >>> is_collapsed([0, 1, 1], [1, 1, 1]), is_collapsed([0, 1, 1], [0, 1, 1])
    (True, False)
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return bool(len(np.unique(y_true)) > 1 and len(np.unique(y_pred)) == 1)
