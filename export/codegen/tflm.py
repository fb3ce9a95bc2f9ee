"""The TFLite-Micro host interpreter (``tflite-micro`` wheel) as the bit-exact reference.

``tflm_invoke`` runs int8 windows through the interpreter; ``tflm_arena_bytes`` reads the
RecordingMicroAllocator's report (what a TFLite-Micro firmware would need for its tensor arena),
so the code generator's planned arena can be reported beside it.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["tflm_invoke", "tflm_arena_bytes"]

_DEFAULT_ARENA_BYTES = 4 * 1024 * 1024


def _interpreter(tflite_path: str | Path, arena_size: int = _DEFAULT_ARENA_BYTES):
    from tflite_micro.python.tflite_micro import runtime

    from dlink._check import check_file

    path = check_file(tflite_path, what="TFLite model")
    return runtime.Interpreter.from_file(str(path), arena_size=arena_size)


def tflm_invoke(tflite_path: str | Path, x_int8: np.ndarray) -> np.ndarray:
    """Outputs of the TFLite-Micro interpreter for each window of ``x_int8`` ([n, ...] int8).

    Returns int8 [n, output elements].
    """
    interp = _interpreter(tflite_path)
    shape = tuple(interp.get_input_details(0)["shape"])
    x = np.asarray(x_int8)
    if x.dtype != np.int8:
        raise TypeError(f"x_int8 must have dtype int8, got {x.dtype}.")
    n = x.shape[0]
    if x.reshape(n, -1).shape[1] != int(np.prod(shape)):
        raise ValueError(f"x_int8: each window must have {int(np.prod(shape))} values "
                         f"(model input {shape}), got shape {x.shape}.")
    out = []
    for i in range(n):
        interp.set_input(x[i].reshape(shape), 0)
        interp.invoke()
        out.append(np.asarray(interp.get_output(0)).reshape(-1).copy())
    return np.stack(out).astype(np.int8)


def _flush_c_stdout() -> None:
    """The interpreter prints through C stdio: flush its buffers into the redirected fd."""
    import ctypes

    ctypes.CDLL(None).fflush(None)


def tflm_arena_bytes(tflite_path: str | Path) -> dict[str, int]:
    """The TFLite-Micro arena use for the model: {"total", "head", "tail"} in bytes.

    ``head`` is the non-persistent part (planned activations and scratch buffers: what our
    planner's arena corresponds to); ``tail`` holds the interpreter's persistent structures.
    """
    interp = _interpreter(tflite_path)
    sys.stderr.flush()
    saved = os.dup(2)  # MicroPrintf writes to stderr
    with tempfile.TemporaryFile() as f:
        try:
            os.dup2(f.fileno(), 2)
            interp.print_allocations()
            _flush_c_stdout()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read().decode(errors="replace")
    result = {}
    for key in ("total", "head", "tail"):
        m = re.search(rf"Arena allocation {key} (\d+) bytes", text)
        if m is None:
            raise RuntimeError(f"Could not read the TFLite-Micro arena {key} from:\n{text[:500]}")
        result[key] = int(m.group(1))
    return result
