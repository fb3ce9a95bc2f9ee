"""Runtime adapters on the stand-in run: same predictions across runtimes, int8 layout resolved."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.bench.runtimes import Int8IO, OrtRuntime, TFLiteRuntime, TflmRuntime, TorchRuntime
from tests.bench.standin import make_windows, torch_model


@pytest.fixture(scope="module")
def windows():
    return make_windows(24, seed=5)


@pytest.fixture(scope="module")
def io(good_run):
    exp = good_run.export_dir
    return Int8IO.from_tflite(exp / "student.int8.tflite").resolve_layout(
        4, 32, test_vectors=exp / "test_vectors.npz")


def test_torch_and_onnx_float_agree(good_run, windows):
    x, _ = windows
    ref = TorchRuntime(torch_model(True)).predict(x)
    ort = OrtRuntime(good_run.export_dir / "student.onnx").predict(x)
    assert ort.shape == ref.shape == (len(x), 3)
    np.testing.assert_allclose(ort, ref, rtol=1e-4, atol=1e-5)


def test_int8_layout_is_found_from_test_vectors(io):
    # the stand-in .tflite takes (1, 1, n_times, n_chans): the windows must be transposed
    assert io.input_shape == (1, 1, 32, 4)
    assert io.transpose is True


def test_int8_layout_from_shape_without_test_vectors(good_run):
    io = Int8IO.from_tflite(good_run.export_dir / "student.int8.tflite").resolve_layout(4, 32)
    assert io.transpose is True


def test_tflite_and_tflm_match_the_expected_vectors(good_run, io):
    tv = np.load(good_run.export_dir / "test_vectors.npz")
    tflm = TflmRuntime(good_run.export_dir / "student.int8.tflite", io)
    lite = TFLiteRuntime(good_run.export_dir / "student.int8.tflite", io)
    q = io.quantize(tv["x_float"])
    np.testing.assert_array_equal(q, tv["x_int8"])
    out_tflm = np.concatenate([tflm.run_int8(q[i:i + 1]) for i in range(len(q))]).reshape(len(q), -1)
    np.testing.assert_array_equal(out_tflm, tv["y_expected_int8"])
    out_lite = np.concatenate([lite.run_int8(q[i:i + 1]) for i in range(len(q))]).reshape(len(q), -1)
    assert np.abs(out_lite.astype(int) - out_tflm.astype(int)).max() <= 1


def test_int8_runtimes_agree_with_float(good_run, io, windows):
    x, y = windows
    ref = OrtRuntime(good_run.export_dir / "student.onnx").predict(x).argmax(1)
    for rt in (OrtRuntime(good_run.export_dir / "student.int8.onnx", name="ort_int8"),
               TflmRuntime(good_run.export_dir / "student.int8.tflite", io)):
        pred = rt.predict(x).argmax(1)
        assert np.mean(pred == ref) >= 0.9, rt.name


def test_int8_io_rejects_wrong_window_size(io):
    with pytest.raises(ValueError, match=r"takes 128 values per window"):
        io.quantize(np.zeros((2, 4, 16), np.float32))


def test_runtime_rejects_wrong_rank(good_run):
    rt = OrtRuntime(good_run.export_dir / "student.onnx")
    with pytest.raises(ValueError, match=r"shape \(n, n_chans, n_times\)"):
        rt.predict(np.zeros((4, 32), np.float32))


def test_missing_model_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dlink export"):
        OrtRuntime(tmp_path / "student.onnx")
