"""Hand-worked kernel cases in C (tests/firmware/c/test_kernels_hand.c), for every backend."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.firmware.helpers import STRICT_FLAGS

C_TEST = Path(__file__).resolve().parent / "c" / "test_kernels_hand.c"


@pytest.mark.parametrize("backend", ["ref", "dsp"])
def test_hand_written_kernel_cases(backend, tmp_path):
    from dlink.firmware import runtime_sources

    c_files, inc = runtime_sources(backend)
    exe = tmp_path / "hand"
    build = subprocess.run(["gcc", *STRICT_FLAGS, "-O1", f"-I{inc[0]}", str(C_TEST),
                            *map(str, c_files), "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    assert "0 failures" in run.stdout
