"""Every runtime kernel, bit-exact against the TFLite-Micro interpreter.

Each tiny model in tests/data/tflite (made by tests/data/make_models.py from one Keras layer,
full-int8, per-channel) is compiled to C, built with the host gcc and run on random int8
windows plus the two extreme windows; every output byte must equal the interpreter's.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.firmware.helpers import generate_and_build, model_path, random_windows

# model file -> operator it must contain (so a converter change cannot silently drop coverage)
CASES = {
    "conv_same_relu": "CONV_2D",
    "conv_valid_s2": "CONV_2D",
    "conv_same_s2_relu6": "CONV_2D",
    "conv_nobias_1xk": "CONV_2D",
    "conv_dilated": "CONV_2D",
    "conv_grouped": "CONV_2D",
    "dwconv_same": "DEPTHWISE_CONV_2D",
    "dwconv_mult2_s2": "DEPTHWISE_CONV_2D",
    "fc": "FULLY_CONNECTED",
    "fc_relu_2d": "FULLY_CONNECTED",
    "avgpool_valid": "AVERAGE_POOL_2D",
    "avgpool_same_s2": "AVERAGE_POOL_2D",
    "maxpool_valid": "MAX_POOL_2D",
    "maxpool_same": "MAX_POOL_2D",
    "add": "ADD",
    "mul": "MUL",
    "mean_hw": "MEAN",
    "mean_keepdims": "MEAN",
    "softmax": "SOFTMAX",
    "relu": "RELU",
    "relu6": "RELU6",
    "reshape_pad": "PAD",
    "transpose": "TRANSPOSE",
}


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("host_build")


@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_bit_exact_vs_tflm(case, build_dir, tmp_path):
    from dlink.export.codegen.tflm import tflm_invoke

    path = model_path(case)
    result, host = generate_and_build(path, tmp_path / "gen", build_dir)
    assert CASES[case] in result["ops"]
    x = random_windows(path, 24, seed=len(case))
    expected = tflm_invoke(path, x)
    got = host.run(x)
    assert got.shape == expected.shape
    mismatches = int(np.count_nonzero(got != expected))
    assert mismatches == 0, f"{case}: {mismatches} of {got.size} bytes differ from TFLite-Micro"
    # The outputs are not degenerate (the comparison means something).
    assert len(np.unique(got)) > 1


DSP_CASES = ["conv_same_relu", "conv_valid_s2", "conv_nobias_1xk", "conv_dilated", "conv_grouped",
             "dwconv_same", "dwconv_mult2_s2", "fc", "fc_relu_2d", "softmax", "student_like"]


@pytest.mark.parametrize("case", DSP_CASES)
def test_dsp_backend_bit_exact_vs_tflm(case, build_dir, tmp_path):
    """The SMLAD backend (emulated on the host) gives the same bytes as TFLite-Micro."""
    from dlink.export.codegen.tflm import tflm_invoke

    path = model_path(case)
    _, host = generate_and_build(path, tmp_path / "gen", build_dir, backend="dsp")
    assert host.backend == "dsp"
    x = random_windows(path, 16, seed=7)
    np.testing.assert_array_equal(host.run(x), tflm_invoke(path, x))
