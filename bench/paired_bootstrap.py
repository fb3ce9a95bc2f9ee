"""Paired bootstrap confidence intervals for differences in balanced accuracy between models.

A benchmark row is a set of runs (one per training seed) evaluated on the same test windows, which
come from a set of test subjects. Two sources of chance make a difference between two rows
uncertain: which subjects happened to be in the test set, and which seeds the runs had. The
bootstrap here resamples **both**, independently: each replicate draws test subjects with
replacement and runs (seed pairs) with replacement, recomputes each run's balanced accuracy on the
drawn subjects (from per-subject, per-class counts of correct predictions, so classes stay
weighted equally whatever the draw), averages over the drawn runs, and takes the difference
between the rows. Runs of two rows are *paired*: run ``i`` of both rows has the same training
seed and the same teacher, and both rows see the same subjects in every replicate, so what they
share cancels in the difference.

scipy's ``stats.bootstrap`` resamples one axis of independent observations; a two-way (subject x
seed) resampling is not in it, hence these few lines.
"""

from __future__ import annotations

import numpy as np


def class_counts(y: np.ndarray, pred: np.ndarray, subject: np.ndarray, subjects, n_classes: int):
    """Correct predictions and windows per (subject, class): two ``(S, K)`` integer arrays."""
    y, pred, subject = np.asarray(y), np.asarray(pred), np.asarray(subject)
    if not (len(y) == len(pred) == len(subject)):
        raise ValueError(f"class_counts: y, pred and subject differ in length "
                         f"({len(y)}, {len(pred)}, {len(subject)}).")
    s_index = {s: i for i, s in enumerate(subjects)}
    si = np.array([s_index[s] for s in subject])
    correct = np.zeros((len(subjects), n_classes), dtype=np.int64)
    total = np.zeros_like(correct)
    np.add.at(total, (si, y), 1)
    np.add.at(correct, (si, y), (pred == y).astype(np.int64))
    return correct, total


def balanced_accuracy(correct: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Balanced accuracy of each run from counts: ``correct`` ``(R, S, K)``, ``total`` ``(S, K)``
    -> ``(R,)`` (classes with no window are left out)."""
    return PairedBootstrap._ba(correct, total)


class PairedBootstrap:
    """Replicates shared by every comparison of one table (same draws for every row).

    Parameters
    ----------
    total : ndarray ``(S, K)``
        Test windows per subject and class.
    n_runs : int
        Runs per row (paired across rows).
    n_boot : int
        Replicates.
    seed : int
        Seed of the draws.
    """

    def __init__(self, total: np.ndarray, n_runs: int, *, n_boot: int = 2000, seed: int = 0):
        rng = np.random.default_rng(seed)
        n_subj = total.shape[0]
        # multiplicities of each subject and each run in each replicate
        self.w_subj = np.stack([np.bincount(rng.integers(0, n_subj, n_subj), minlength=n_subj)
                                for _ in range(n_boot)]).astype(np.float64)  # (B, S)
        self.w_run = np.stack([np.bincount(rng.integers(0, n_runs, n_runs), minlength=n_runs)
                               for _ in range(n_boot)]).astype(np.float64)  # (B, R)
        self.total = total.astype(np.float64)
        self.n_runs = n_runs

    def replicates(self, correct: np.ndarray) -> np.ndarray:
        """Mean balanced accuracy of a row in every replicate: ``correct`` ``(R, S, K)`` -> ``(B,)``."""
        if correct.shape[0] != self.n_runs or correct.shape[1:] != self.total.shape:
            raise ValueError(f"PairedBootstrap: expected counts of shape ({self.n_runs}, "
                             f"{self.total.shape[0]}, {self.total.shape[1]}), got {correct.shape}.")
        num = np.einsum("bs,rsk->brk", self.w_subj, correct.astype(np.float64))
        den = self.w_subj @ self.total  # (B, K)
        keep = self.total.sum(0) > 0
        ba = (num[:, :, keep] / np.maximum(den[:, None, keep], 1e-12)).mean(2)  # (B, R)
        return (ba * self.w_run).sum(1) / self.w_run.sum(1)

    def contrast(self, terms, *, level: float = 0.95) -> dict:
        """A linear combination of rows, ``sum(coef * mean balanced accuracy)``, and its CI.

        ``terms``: ``[(coef, correct (R, S, K)), ...]``; e.g. a difference of drops under time
        shift: ``[(1, a_shifted), (-1, a), (-1, b_shifted), (1, b)]``. Counts may be fractional
        (correct predictions averaged over several evaluations of the same windows).
        """
        tot = self.total
        point = float(sum(c * self._ba(x, tot).mean() for c, x in terms))
        d = sum(c * self.replicates(x) for c, x in terms)
        a = (1.0 - level) / 2.0
        lo, hi = np.quantile(d, [a, 1.0 - a])
        return {"diff": point, "lo": float(lo), "hi": float(hi), "p_a_better": float(np.mean(d > 0))}

    @staticmethod
    def _ba(correct: np.ndarray, total: np.ndarray) -> np.ndarray:
        tot = total.sum(0)
        keep = tot > 0
        return (correct.sum(1)[:, keep] / tot[keep]).mean(1)

    def difference(self, correct_a: np.ndarray, correct_b: np.ndarray, *,
                   level: float = 0.95) -> dict:
        """Mean difference A - B of balanced accuracy and its percentile CI.

        Returns ``{"diff", "lo", "hi", "p_a_better"}`` (the share of replicates where A > B).
        """
        return self.contrast([(1.0, correct_a), (-1.0, correct_b)], level=level)

    def interval(self, correct: np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
        """Percentile CI of a row's mean balanced accuracy."""
        a = (1.0 - level) / 2.0
        lo, hi = np.quantile(self.replicates(correct), [a, 1.0 - a])
        return float(lo), float(hi)
