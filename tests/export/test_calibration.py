"""Calibration windows for the int8 ranges (dlink.export.calibration): clipping rare samples."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.export.calibration import calibration_windows, clip_at_percentile


def _eeg_with_an_artefact(n: int, *, seed: int) -> np.ndarray:
    """Gaussian 'EEG' (sd 0.3, 100 uV units) on 8 channels; window 0 has a 10.0 (1 mV) spike."""
    x = np.random.default_rng(seed).normal(0.0, 0.3, size=(n, 8, 400)).astype(np.float32)
    x[0, 3, 100:104] = 10.0
    return x


def test_clipping_leaves_the_bulk_and_cuts_the_artefact():
    x = _eeg_with_an_artefact(12, seed=0)
    clipped, info = clip_at_percentile(x, 99.9)
    assert info["max_abs"] == pytest.approx(10.0) and info["clip_abs"] < 1.5
    assert 0.0 < info["clipped_fraction"] <= 0.0011
    assert float(np.max(np.abs(clipped))) == pytest.approx(info["clip_abs"])
    inside = np.abs(x) <= info["clip_abs"]
    np.testing.assert_array_equal(clipped[inside], x[inside])  # only the tails move
    same, off = clip_at_percentile(x, None)
    assert same is not None and np.array_equal(same, x) and off["clip_abs"] is None


def test_calibration_windows_are_stratified_and_clipped():
    x = _eeg_with_an_artefact(12, seed=1)
    y = np.arange(12) % 3
    out = calibration_windows(x, y, n=6, clip_percentile=99.9, seed=0)
    assert out["x"].shape == (6, 8, 400) and np.bincount(out["y"]).tolist() == [2, 2, 2]
    np.testing.assert_array_equal(out["y"], y[out["index"]])
    assert float(np.max(np.abs(out["x"]))) <= out["clip_abs"] + 1e-6
    with pytest.raises(ValueError, match=r"shape \(n, n_chans, n_times\)"):
        calibration_windows(x[0], y[:1], n=1, clip_percentile=None)


def test_clipped_calibration_keeps_int8_closer_to_float_on_new_windows(tmp_path):
    """One artefact in the calibration set widens min/max ranges (every sample loses
    resolution); the clipped calibration gives a smaller int8 error on windows it has not seen."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime.quantization")
    from dlink.export.onnx_export import export_onnx, ort_run, ort_session
    from dlink.export.quantize_ort import quantize_qdq

    class Linear(torch.nn.Module):  # every input sample reaches the logits: no averaging-out
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(8 * 400, 3)

        def forward(self, x):
            return self.fc(x.reshape(x.shape[0], 8 * 400))

    torch.manual_seed(0)
    model = Linear().eval()
    export_onnx(model, tmp_path / "f.onnx", n_chans=8, n_times=400, opset=17)
    calib = _eeg_with_an_artefact(64, seed=2)  # enough windows that the logits stay in range
    new = np.random.default_rng(3).normal(0.0, 0.3, size=(16, 8, 400)).astype(np.float32)
    ref = ort_run(ort_session(tmp_path / "f.onnx"), new)
    err = {}
    for name, pct in (("minmax", None), ("clipped", 99.9)):
        cal = calibration_windows(calib, np.zeros(64, np.int64), n=64, clip_percentile=pct)
        quantize_qdq(tmp_path / "f.onnx", tmp_path / f"{name}.onnx", cal["x"])
        q = ort_run(ort_session(tmp_path / f"{name}.onnx", int8_kernels=True), new)
        err[name] = float(np.sqrt(np.mean((q - ref) ** 2)) / np.sqrt(np.mean(ref ** 2)))
    assert err["clipped"] < 0.7 * err["minmax"], err
