"""Shared helpers for the runtime / code-generator tests (tiny committed .tflite models)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent.parent / "data" / "tflite"
REPO = Path(__file__).resolve().parents[2]
STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Wdouble-promotion", "-Werror"]
HAS_ARM_GCC = shutil.which("arm-none-eabi-gcc") is not None


def model_path(name: str) -> Path:
    return MODEL_DIR / f"{name}.tflite"


def random_windows(tflite_path: Path, n: int, *, seed: int = 0) -> np.ndarray:
    """n random int8 windows for the model's input, plus the two extreme constant windows."""
    from dlink.export.codegen import read_tflite

    graph = read_tflite(tflite_path)
    shape = graph.tensors[graph.inputs[0]].shape
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(n, *shape), dtype=np.int8)
    extremes = np.stack([np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)])
    return np.concatenate([x, extremes])


def tflm_outputs(model: bytes, x: np.ndarray) -> np.ndarray:
    """The TFLite-Micro interpreter's int8 outputs for each row of x (a model as bytes)."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    shape = [int(s) for s in it.get_input_details(0)["shape"]]
    out = []
    for row in x:
        it.set_input(row.reshape(shape), 0)
        it.invoke()
        out.append(np.array(it.get_output(0)).reshape(-1).copy())
    return np.stack(out).astype(np.int8)


def generate_and_build(tflite_path: Path, out_dir: Path, build_dir: Path, *, backend="ref",
                       name="student"):
    from dlink.export.codegen import generate_c
    from dlink.firmware.host import HostModel

    result = generate_c(tflite_path, out_dir, name=name)
    return result, HostModel.build(result, build_dir, backend=backend)
