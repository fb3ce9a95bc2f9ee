"""The real chain on the emulated cores: a small int8 .tflite -> generated C + int8 runtime ->
app on each QEMU board; every output byte must equal the TFLite-Micro interpreter's.

Uses the code generator (dlink.export.codegen), the runtime (dlink.firmware.runtime_sources) and
the tflite-micro interpreter; skipped where one of them or the toolchain is missing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dlink.firmware.boards import QEMU_BOARDS
from dlink.io import atomic_write_bytes
from dlink.rundir import RunDir
from tests.firmware.helpers import tflm_outputs
from tests.firmware.standin_app import write_test_vectors

MODEL = Path(__file__).resolve().parents[1] / "data" / "tflite" / "student_like.tflite"
N_VECTORS = 3

pytestmark = [
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="no arm-none-eabi-gcc"),
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="no qemu-system-arm"),
    pytest.mark.skipif(not MODEL.is_file(), reason=f"{MODEL} is absent"),
]


def _tflm_outputs(model: bytes, x: np.ndarray) -> np.ndarray:
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    return tflm_outputs(model, x)


@pytest.fixture(scope="module")
def exported_run(tmp_path_factory) -> RunDir:
    pytest.importorskip("dlink.export.codegen")
    model = MODEL.read_bytes()
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    shape = [int(s) for s in runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
             .get_input_details(0)["shape"]]
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, size=(N_VECTORS, int(np.prod(shape))), dtype=np.int64).astype(np.int8)
    y = _tflm_outputs(model, x)
    run = RunDir(tmp_path_factory.mktemp("generated") / "run").mkdir()
    run.export_dir.mkdir()
    atomic_write_bytes(run.export_dir / "student.int8.tflite", model)
    write_test_vectors(run.export_dir, x, y)
    run.write_stamp("export", inputs=[], outputs=[run.export_dir / n for n in
                                                  ("student.int8.tflite", "test_vectors.c",
                                                   "test_vectors.h")])
    return run


@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_generated_model_matches_tflite_micro_on_the_core(exported_run, board):
    from dlink.firmware.build import build_firmware
    from dlink.firmware.flash import flash

    out = build_firmware(exported_run.path, board)
    res = flash(exported_run.path, board, timeout_s=120)
    assert res["matched"] == res["total"] == N_VECTORS, res.get("first_mismatch_detail")
    assert res["macs"] == out["generated"]["macs"] > 0
    assert res["instructions_per_inference"] >= res["macs"]
    assert res["arena_bytes"] == out["generated"]["arena_bytes"]
    size = json.loads((exported_run.firmware_dir(board) / "size.json").read_text())
    assert size["flash_bytes"] == res["flash_bytes"]
    # the per-layer profile covers the inference: the counts add up to about the total
    prof = res["profile"]
    total = sum(r["count"] - prof["hook_overhead"] for r in prof["layers"])
    assert abs(total - res["instructions_per_inference"]) < 0.02 * res["instructions_per_inference"]
    model = json.loads((exported_run.firmware_dir(board) / "student_model.json").read_text())
    ran = {row["index"] for row in model["layers"] if row["folded_into"] is None}
    assert [r["index"] for r in prof["layers"]] == sorted(ran)
    # the arena lives in .bss: the static RAM holds at least the planned arena
    assert size["static_ram_bytes"] >= size["arena_bytes"]
