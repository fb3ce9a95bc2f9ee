"""Calibration windows for the int8 ranges: which windows, and how their outliers are treated.

Both int8 paths (onnxruntime's QDQ quantizer and the TFLite converter) measure each tensor's
range as the min/max over the calibration windows, one range per tensor. On EEG that range is set
by a few artefact samples: on S001 (64 channels, 18 training windows per fold) the training
windows reached |x| = 7.4 (740 uV) where the windows of other trials stayed within about 4, so
the input and the first layers (decimation, spatial mixing) spent most of their 256 levels on
samples that almost never occur, and these layers alone made nearly all of the int8 error
(measured in docs/within-subject.md). :func:`calibration_windows` therefore clips the calibration
windows at a percentile of |x| before the ranges are measured: the ranges then fit the bulk of
the signal, and the rarer, larger samples saturate in int8 (as they would at an ADC's limits).
Only the ranges change; the model and the windows it is evaluated on are not clipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .testvectors import pick_windows


def clip_at_percentile(x: np.ndarray, percentile: float | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Clip ``x`` to ``[-t, t]``, ``t`` the ``percentile``-th percentile of ``|x|``.

    Parameters
    ----------
    x : ndarray
        Windows, any shape.
    percentile : float | None
        In (0, 100]; None or 100 returns ``x`` unchanged.

    Returns
    -------
    (ndarray, dict)
        The clipped copy (float32) and ``clip_percentile``, ``clip_abs`` (t, None when not
        clipped), ``max_abs`` (before clipping), ``clipped_fraction`` (samples beyond t).

    Examples
    --------
    >>> x = np.concatenate([np.linspace(-1, 1, 999), [50.0]]).reshape(1, 1, -1)
    >>> y, info = clip_at_percentile(x, 99.9)
    >>> y.shape, float(y.max()) < 2.0, info["clipped_fraction"] <= 0.001
    ((1, 1, 1000), True, True)
    """
    x = np.asarray(x, np.float32)
    max_abs = float(np.max(np.abs(x))) if x.size else 0.0
    if percentile is None or percentile >= 100.0 or x.size == 0:
        return x, {"clip_percentile": None, "clip_abs": None, "max_abs": max_abs, "clipped_fraction": 0.0}
    t = float(np.percentile(np.abs(x), percentile))
    if t <= 0.0:  # (nearly) all-zero windows: nothing to clip against
        return x, {"clip_percentile": float(percentile), "clip_abs": None, "max_abs": max_abs,
                   "clipped_fraction": 0.0}
    return np.clip(x, -t, t).astype(np.float32), {
        "clip_percentile": float(percentile), "clip_abs": t, "max_abs": max_abs,
        "clipped_fraction": float(np.mean(np.abs(x) > t))}


def calibration_windows(x: np.ndarray, y: np.ndarray, *, n: int, clip_percentile: float | None,
                        seed: int = 0) -> dict[str, Any]:
    """Up to ``n`` windows of ``x``, stratified by class, clipped by :func:`clip_at_percentile`.

    Returns
    -------
    dict
        ``x`` (the calibration windows, float32, C-contiguous), ``y``, ``index`` (into ``x``) and
        the clipping report of :func:`clip_at_percentile`.

    Shape
    -----
    ``x``: ``(n_windows, n_chans, n_times)`` -> ``out["x"]``: ``(min(n, n_windows), n_chans, n_times)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> out = calibration_windows(rng.normal(size=(10, 2, 50)), np.arange(10) % 2, n=4,
    ...                           clip_percentile=99.9)
    >>> out["x"].shape, out["y"].tolist()
    ((4, 2, 50), [0, 1, 0, 1])
    """
    if x.ndim != 3:
        raise ValueError(f"calibration windows must have shape (n, n_chans, n_times), got {x.shape}.")
    idx = pick_windows(y, n, seed=seed)
    clipped, info = clip_at_percentile(x[idx], clip_percentile)
    return {"x": np.ascontiguousarray(clipped, np.float32), "y": np.asarray(y[idx], np.int64),
            "index": idx, **info}
