"""The TFLite-Micro host interpreter (``tflite-micro`` wheel) as the bit-exact reference.

``tflm_invoke`` runs int8 windows through the interpreter; ``tflm_arena_bytes`` reads the
RecordingMicroAllocator's report (what a TFLite-Micro firmware would need for its tensor arena),
so the code generator's planned arena can be reported beside it.

The interpreter is C++ that trusts its model: a malformed flatbuffer can crash it (segmentation
fault) and take the calling process with it. ``tflm_invoke_isolated`` and
``tflm_arena_bytes_isolated`` run the same functions in a child Python process with a time-out,
so a crash or a hang becomes a :class:`TflmChildError` naming the model and the signal. The code
generator uses only these.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["tflm_invoke", "tflm_arena_bytes", "tflm_invoke_isolated", "tflm_arena_bytes_isolated",
           "TflmChildError"]


class TflmChildError(RuntimeError):
    """The TFLite-Micro interpreter failed, crashed or hung in its child process (the message
    names the model and what happened)."""

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


_CHILD = """
import json, sys
import numpy as np
from dlink.export.codegen import tflm
kind, model, io_dir = sys.argv[1:4]
if kind == "arena":
    with open(io_dir + "/out.json", "w") as f:
        json.dump(tflm.tflm_arena_bytes(model), f)
else:
    np.save(io_dir + "/y.npy", tflm.tflm_invoke(model, np.load(io_dir + "/x.npy")))
"""


def _run_child(kind: str, tflite_path: str | Path, x: np.ndarray | None, timeout_s: float):
    from dlink._check import check_file

    path = check_file(tflite_path, what="TFLite model")
    with tempfile.TemporaryDirectory(prefix="dlink-tflm-") as d:
        if x is not None:
            np.save(os.path.join(d, "x.npy"), np.asarray(x))
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path), d],
                                  capture_output=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise TflmChildError(f"the TFLite-Micro interpreter did not finish on {str(path)!r} "
                                 f"within {timeout_s:g} s (stopped).") from None
        if proc.returncode != 0:
            if proc.returncode < 0:
                try:
                    how = f"crashed ({signal.Signals(-proc.returncode).name})"
                except ValueError:
                    how = f"was killed by signal {-proc.returncode}"
            else:
                how = f"failed (exit {proc.returncode})"
            lines = [ln for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip()]
            last = f": {lines[-1].strip()}" if lines else ""
            raise TflmChildError(f"the TFLite-Micro interpreter {how} on {str(path)!r}{last}")
        if kind == "arena":
            with open(os.path.join(d, "out.json")) as f:
                return json.load(f)
        return np.load(os.path.join(d, "y.npy"))


def tflm_invoke_isolated(tflite_path: str | Path, x_int8: np.ndarray, *,
                         timeout_s: float = 300.0) -> np.ndarray:
    """:func:`tflm_invoke` in a child process: a crash or hang raises :class:`TflmChildError`."""
    return _run_child("invoke", tflite_path, np.asarray(x_int8), timeout_s)


def tflm_arena_bytes_isolated(tflite_path: str | Path, *, timeout_s: float = 120.0) -> dict:
    """:func:`tflm_arena_bytes` in a child process: a crash or hang raises
    :class:`TflmChildError`."""
    return _run_child("arena", tflite_path, None, timeout_s)
