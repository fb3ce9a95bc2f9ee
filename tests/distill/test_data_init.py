"""Data-driven initialisation of the student: CSP spatial filters, band-pass filter bank."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlink.distill.pipeline import init_spatial_stage
from dlink.distill.students import build_student
from dlink.distill.students.data_init import PEAK_PERCENTILE, csp_spatial_filters
from dlink.distill.students.mic import bandpass_bank

SFREQ = 200.0


def _mixed_windows(seed: int = 0, n_per_class: int = 20, n_chans: int = 6, n_times: int = 400):
    """Class 1 has 4x the 8-30 Hz power on one *mixture* of channels (no single channel)."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_per_class)
    mixing = rng.standard_normal((n_chans, n_chans))
    t = np.arange(n_times) / SFREQ
    src = rng.standard_normal((len(y), n_chans, n_times)) * 0.3
    src[:, 1:] *= rng.uniform(0.5, 2.0, (len(y), n_chans - 1, 1))  # interference varies by trial
    burst = np.sin(2 * np.pi * 12 * t[None, :] + rng.uniform(0, 2 * np.pi, (len(y), 1)))
    src[:, 0] += np.where(y[:, None] == 1, 0.4, 0.2) * burst
    return np.einsum("ij,njt->nit", mixing, src).astype(np.float32), y


def _log_var_separation(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per row: |difference of class means of log-variance| / pooled sd (a d')."""
    lv = np.log(Z.var(axis=2))
    a, b = lv[y == 0], lv[y == 1]
    return np.abs(a.mean(0) - b.mean(0)) / np.sqrt(0.5 * (a.var(0) + b.var(0)) + 1e-12)


def test_csp_filters_unmix_the_class_source_and_keep_the_input_scale():
    X, y = _mixed_windows()
    W = csp_spatial_filters(X, y, SFREQ)
    assert W.shape == (6, 6) and W.dtype == np.float32 and np.isfinite(W).all()
    filtered = np.einsum("ij,njt->nit", W, X)
    # the best CSP component separates the classes far better than the best raw channel
    assert _log_var_separation(filtered, y).max() > 2 * _log_var_separation(X, y).max()
    # every output has the mean channel peak of the input: one int8 range fits every stream
    flat = X.transpose(1, 0, 2).reshape(6, -1).astype(np.float64)
    flat = flat - flat.mean(1, keepdims=True)
    mean_peak = np.percentile(np.abs(flat), PEAK_PERCENTILE, axis=1).mean()
    out = np.percentile(np.abs(W.astype(np.float64) @ flat), PEAK_PERCENTILE, axis=1)
    np.testing.assert_allclose(out, mean_peak, rtol=1e-4)


def test_csp_filters_equalise_a_heavy_tailed_component():
    """An artefact-like component (rare large spikes) must not set the streams' common range."""
    X, y = _mixed_windows()
    rng = np.random.default_rng(1)
    spikes = (rng.random(X.shape[::2]) < 0.002) * rng.choice([-30.0, 30.0], X.shape[::2])
    X = X + spikes[:, None, :] * rng.standard_normal(6)[None, :, None].astype(np.float32)
    flat = X.transpose(1, 0, 2).reshape(6, -1).astype(np.float64)
    out = csp_spatial_filters(X, y, SFREQ).astype(np.float64) @ (flat - flat.mean(1, keepdims=True))
    peaks = np.percentile(np.abs(out), PEAK_PERCENTILE, axis=1)
    assert peaks.max() / peaks.min() < 1.001  # scaled to a common RMS instead: 6.5


def test_csp_filters_refuse_a_single_class():
    X, y = _mixed_windows()
    with pytest.raises(ValueError, match="at least 2 classes"):
        csp_spatial_filters(X[y == 0], y[y == 0], SFREQ)


class _Split:
    def __init__(self, X, y):
        self.X, self.y, self.sfreq = X, y, SFREQ

    def __len__(self):
        return len(self.X)


def test_spatial_init_csp_loads_the_filters_into_the_student():
    X, y = _mixed_windows(n_times=400)
    torch.manual_seed(0)
    student = build_student("mic", n_chans=6, n_times=400, n_outputs=2)
    eye = student.spatial.weight.detach().clone().view(6, 6)
    assert torch.equal(eye, torch.eye(6))
    init_spatial_stage(student, "identity", _Split(X, y))
    assert torch.equal(student.spatial.weight.view(6, 6), eye)
    init_spatial_stage(student, "csp", _Split(X, y))
    np.testing.assert_allclose(student.spatial.weight.detach().view(6, 6).numpy(),
                               csp_spatial_filters(X, y, SFREQ), rtol=1e-6)
    with pytest.raises(ValueError, match=r"expected \(6, 6\)"):
        student.set_spatial_filters(np.zeros((5, 6)))


def test_bandpass_bank_peaks_at_increasing_frequencies_in_the_mu_beta_range():
    taps = bandpass_bank(8, 13, 100.0).double().numpy()
    spectrum = np.abs(np.fft.rfft(taps, n=1024, axis=1))
    freqs = np.fft.rfftfreq(1024, d=1 / 100.0)
    peaks = freqs[spectrum.argmax(axis=1)]
    assert np.all(np.diff(peaks) >= 0) and peaks[-1] > peaks[0] + 10
    assert 3.0 <= peaks[0] <= 12.0 and peaks[-1] <= 40.0
    # and the student built with it starts from these taps on every channel
    m = build_student("mic", n_chans=3, n_times=800, n_outputs=2, filterbank_init="bandpass")
    w = m.filterbank[0].weight.detach().view(3, 8, 13)
    for c in range(3):
        torch.testing.assert_close(w[c], torch.as_tensor(taps, dtype=torch.float32))
    with pytest.raises(ValueError, match="filterbank_init"):
        build_student("mic", n_chans=3, n_times=800, n_outputs=2, filterbank_init="gabor")
