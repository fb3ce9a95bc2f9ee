"""Initialising a student's spatial stage from the calibration data (CSP filters).

On a few dozen within-subject trials a network has to learn its spatial filters from the same
handful of windows it is classified on; CSP + LDA gets them in closed form. With
``student.spatial_init: csp`` the student starts where CSP ends: its C x C spatial layer holds
the CSP filters of the training windows (MNE's :class:`mne.decoding.CSP` on the 8-30 Hz band,
Ledoit-Wolf covariances, components ordered by mutual information with the class), and training
refines them. The deployed graph does not change (a 1x1 convolution either way).

Each filter is rescaled so that the peak of its broadband output (the 99.9th percentile of
|output| over the training windows) is the peak of an average input channel. Peaks, not RMS:
the int8 model quantises the spatial layer's output with one range for all streams, and CSP
components that capture artefacts (blinks, electrode pops) are heavy-tailed (scaled to a common
RMS, up to 4x the median stream's peak on S001). What limits the int8 fidelity of a CSP-started
student on S001 is, measured, not this range but the layer's conditioning: see
``docs/within-subject.md``.
"""

from __future__ import annotations

import numpy as np

#: Percentile of |signal| taken as its peak when the filters are scaled.
PEAK_PERCENTILE = 99.9


def csp_spatial_filters(X: np.ndarray, y: np.ndarray, sfreq: float, *,
                        band_hz: tuple[float, float] = (8.0, 30.0)) -> np.ndarray:
    """All ``C`` CSP filters of the windows ``X`` ``(n, C, T)`` with labels ``y``, as rows.

    Returns
    -------
    np.ndarray
        ``(C, C)`` float32: row ``k`` is component ``k`` (MNE's order), scaled so that
        the peak of ``W @ x`` (:data:`PEAK_PERCENTILE` of its magnitude over ``X``) is the same
        for every row and equal to the mean channel peak of ``X``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 4, 400)); y = np.repeat([0, 1], 20)
    >>> csp_spatial_filters(X, y, 200.0).shape
    (4, 4)
    """
    from ..csp_lda import bandpass, fit_quietly, make_csp

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 3:
        raise ValueError(f"csp_spatial_filters: X must be (n_windows, n_chans, n_times), got "
                         f"shape {X.shape}.")
    if len(np.unique(y)) < 2:
        raise ValueError(f"student.spatial_init 'csp' needs training windows of at least 2 "
                         f"classes, got labels {np.unique(y).tolist()}; use spatial_init: identity.")
    n_chans = X.shape[1]
    csp = fit_quietly(make_csp(n_chans), bandpass(X, sfreq, band_hz), y)
    W = np.asarray(csp.filters_[:n_chans], dtype=np.float64)
    flat = X.transpose(1, 0, 2).reshape(n_chans, -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    target_peak = float(np.percentile(np.abs(flat), PEAK_PERCENTILE, axis=1).mean())
    out_peak = np.percentile(np.abs(W @ flat), PEAK_PERCENTILE, axis=1)
    W = W * (target_peak / np.maximum(out_peak, 1e-12))[:, None]
    if not np.isfinite(W).all():
        raise ValueError("csp_spatial_filters: the CSP filters are not finite (constant or "
                         "NaN channels in the training windows?); use spatial_init: identity.")
    return W.astype(np.float32)
