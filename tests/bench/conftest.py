"""Stand-in runs for the bench tests, built once per session (see tests/bench/standin.py)."""

from __future__ import annotations

import pytest

from tests.bench.standin import make_standin_run, write_windows


@pytest.fixture(scope="session")
def good_run(tmp_path_factory):
    """A well-classifying stand-in run with ONNX, int8 QDQ and int8 TFLite exports."""
    import torch

    torch.set_num_threads(1)
    return make_standin_run(tmp_path_factory.mktemp("bench") / "good", good=True, tflite=True)


@pytest.fixture(scope="session")
def bad_run(tmp_path_factory):
    """A stand-in run whose model predicts the wrong class (ONNX exports only)."""
    return make_standin_run(tmp_path_factory.mktemp("bench") / "bad", good=False, tflite=False)


@pytest.fixture(scope="session")
def windows_npz(tmp_path_factory):
    """Labelled windows X, y for the stand-in task."""
    return write_windows(tmp_path_factory.mktemp("bench") / "windows.npz")
