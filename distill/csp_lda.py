"""CSP + LDA: the classical motor-imagery decoder every BCI user knows, as a baseline row.

MNE's :class:`mne.decoding.CSP` (log-variance of the spatially filtered signals; several classes
through approximate joint diagonalisation, components ordered by mutual information) followed by
scikit-learn's LDA with Ledoit-Wolf shrinkage (stable with a few dozen trials), on the windows
band-passed to 8-30 Hz (the mu and beta bands) with MNE's FIR filter. Nothing is hand-written but
the glue.

The number of CSP components is the one hyper-parameter; it is chosen on the validation split
among :data:`N_COMPONENTS` (balanced accuracy, ties to the lower validation log-loss, then to
fewer components), then the decoder fitted on the training split is kept. The covariance
estimates are regularised (Ledoit-Wolf), as with 64 channels and a calibration set the sample
covariance is poorly conditioned.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

log = logging.getLogger(__name__)

#: Band of the CSP features (Hz).
BAND_HZ = (8.0, 30.0)
#: Candidate numbers of CSP components (chosen on validation).
N_COMPONENTS = (2, 4, 6, 8)


def _quiet():
    import mne

    return mne.utils.use_log_level("error")


def make_csp(n_components: int):
    """MNE's CSP with this project's settings: log-variance features, Ledoit-Wolf covariances
    (stable with a few dozen trials), no trace normalisation."""
    from mne.decoding import CSP

    return CSP(n_components=n_components, reg="ledoit_wolf", log=True, norm_trace=False)


def fit_quietly(estimator, X: np.ndarray, y: np.ndarray):
    """``estimator.fit(X, y)`` without MNE's log lines and the warnings of small-sample fits."""
    with warnings.catch_warnings(), _quiet():
        warnings.simplefilter("ignore")
        return estimator.fit(X, y)


def bandpass(X: np.ndarray, sfreq: float, band_hz: tuple[float, float] = BAND_HZ) -> np.ndarray:
    """Zero-phase FIR band-pass of windows ``(n, n_chans, n_times)`` (float64)."""
    import mne

    return mne.filter.filter_data(np.asarray(X, dtype=np.float64), sfreq, band_hz[0], band_hz[1],
                                  verbose="error")


class CSPLDA:
    """CSP + shrinkage LDA with the number of components chosen on validation.

    Parameters
    ----------
    sfreq : float
        Sampling rate of the windows (Hz).
    n_components : sequence of int
        Candidates, chosen on validation by :meth:`fit`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 4, 400)); y = np.repeat([0, 1], 20)
    >>> X[y == 1, 0] *= 3  # class 1: more power on channel 0
    >>> m = CSPLDA(200.0).fit(X[::2], y[::2], X[1::2], y[1::2])
    >>> m.predict_proba(X[1::2]).shape
    (20, 2)
    """

    def __init__(self, sfreq: float, *, n_components=N_COMPONENTS):
        self.sfreq = float(sfreq)
        self.candidates = tuple(int(n) for n in n_components)
        self.n_components: int | None = None
        self.pipeline = None
        self.selection: list[dict] = []

    def _make(self, n: int):
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.pipeline import make_pipeline

        return make_pipeline(make_csp(n),
                             LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))

    def fit(self, X, y, X_val, y_val) -> CSPLDA:
        """Fit on ``(X, y)`` for every candidate, keep the best on ``(X_val, y_val)``."""
        from sklearn.metrics import balanced_accuracy_score, log_loss

        Xf, Xv = bandpass(X, self.sfreq), bandpass(X_val, self.sfreq)
        y, y_val = np.asarray(y), np.asarray(y_val)
        labels = np.unique(y)
        best = None
        for n in self.candidates:
            if n > X.shape[1]:
                continue
            pipe = fit_quietly(self._make(n), Xf, y)
            with _quiet():
                proba = pipe.predict_proba(Xv)
            ba = float(balanced_accuracy_score(y_val, labels[proba.argmax(1)]))
            ll = float(log_loss(y_val, proba, labels=labels))
            self.selection.append({"n_components": n, "val_balanced_accuracy": ba, "val_log_loss": ll})
            key = (ba, -ll, -n)
            if best is None or key > best[0]:
                best = (key, n, pipe)
        if best is None:
            raise ValueError(f"CSP + LDA: no candidate number of components {self.candidates} fits "
                             f"{X.shape[1]} channels.")
        _, self.n_components, self.pipeline = best
        self.classes_ = labels
        log.info("CSP + LDA: %d components chosen on validation (%s)", self.n_components, self.selection)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes_seen_in_training)``."""
        with _quiet():
            return self.pipeline.predict_proba(bandpass(X, self.sfreq))

    def n_params(self, n_chans: int) -> int:
        """Spatial filters plus the LDA's weights and biases."""
        k = len(self.classes_)
        return int(self.n_components * n_chans + (self.n_components + 1) * (1 if k == 2 else k))


def csp_lda_probabilities(model: CSPLDA, X: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over all ``n_classes`` (classes absent from training get 0)."""
    p = model.predict_proba(X)
    out = np.zeros((len(X), n_classes))
    out[:, model.classes_] = p
    return out
