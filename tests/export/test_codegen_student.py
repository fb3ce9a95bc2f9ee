"""Whole-student checks: the generated C on the host equals TFLite-Micro on every window.

``student_like`` is a committed stand-in with the exported student's operator mix (RESHAPE,
temporal CONV_2D, spatial DEPTHWISE_CONV_2D with depth multiplier, AVERAGE_POOL_2D, residual
ADD, MEAN, FULLY_CONNECTED). The demo test runs on ``runs/demo/export`` when the demo has been
exported (``make demo`` / ``dlink export runs/demo``) and is skipped otherwise.
``mic_student`` is the exporter's output for a small MiC student (see tests/data/make_models.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.firmware.helpers import REPO, generate_and_build, model_path, random_windows

DEMO_EXPORT = REPO / "runs" / "demo" / "export"


def test_student_like_bit_exact_on_many_windows(tmp_path):
    from dlink.export.codegen.tflm import tflm_arena_bytes, tflm_invoke

    path = model_path("student_like")
    result, host = generate_and_build(path, tmp_path / "gen", tmp_path / "build")
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "ADD", "MEAN",
            "FULLY_CONNECTED", "RESHAPE"} <= set(result["ops"])
    x = random_windows(path, 64, seed=3)
    np.testing.assert_array_equal(host.run(x), tflm_invoke(path, x))
    assert result["arena_bytes"] <= tflm_arena_bytes(path)["head"]


@pytest.mark.parametrize("backend", ["ref", "dsp"])
def test_exported_mic_student_bit_exact(backend, tmp_path):
    """The exporter's own MiC student (TRANSPOSE, PAD, depthwise/pointwise convs, MEAN, FC)."""
    from dlink.export.codegen.tflm import tflm_arena_bytes, tflm_invoke

    path = model_path("mic_student")
    result, host = generate_and_build(path, tmp_path / "gen", tmp_path / "build", backend=backend)
    assert {"TRANSPOSE", "PAD", "DEPTHWISE_CONV_2D", "CONV_2D", "MEAN",
            "FULLY_CONNECTED"} <= set(result["ops"])
    assert result["folded_pads"], "the exporter's PADs feed convolutions: they should fold"
    x = random_windows(path, 6, seed=5)
    np.testing.assert_array_equal(host.run(x), tflm_invoke(path, x))
    assert result["arena_bytes"] < tflm_arena_bytes(path)["head"]


@pytest.mark.skipif(not (DEMO_EXPORT / "student.int8.tflite").is_file(),
                    reason="runs/demo has not been exported")
def test_demo_student_host_outputs_equal_tflm_on_every_test_window(tmp_path):
    from dlink.export.codegen.tflm import tflm_arena_bytes, tflm_invoke

    tflite = DEMO_EXPORT / "student.int8.tflite"
    vectors = np.load(DEMO_EXPORT / "test_vectors.npz")
    x, expected = vectors["x_int8"], vectors["y_expected_int8"]
    result, host = generate_and_build(tflite, tmp_path / "gen", tmp_path / "build")
    got = host.run(x.reshape(len(x), -1))
    np.testing.assert_array_equal(got, expected.reshape(len(x), -1))
    np.testing.assert_array_equal(got, tflm_invoke(tflite, x))
    tflm = tflm_arena_bytes(tflite)
    assert result["arena_bytes"] <= tflm["head"]
    stored = DEMO_EXPORT / "tflm.json"
    if stored.is_file():
        assert result["arena_bytes"] <= json.loads(stored.read_text())["arena_bytes"]
