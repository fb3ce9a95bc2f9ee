"""The TFLite-Micro reference: run an int8 .tflite in the ``tflite-micro`` Python interpreter
and measure the tensor arena it needs.

The arena size is measured, not guessed: the interpreter is built with a generous arena, run
once, and its RecordingMicroAllocator prints the bytes it used ("Arena allocation total N
bytes", on the C++ side's stderr, which is captured here). The figure is then checked by
building a fresh interpreter with exactly that arena and running it; if that fails (alignment
of the arena start), the arena grows in 16-byte steps until it runs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np

from ._stdio import capture_fd2

logger = logging.getLogger(__name__)

_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")


def _interpreter(model: bytes, arena_bytes: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(bytes(model), arena_size=int(arena_bytes))


def io_details(model: bytes) -> dict[str, Any]:
    """Shape, dtype, scale and zero point of the input and output tensors (as TFLM sees them)."""
    it = _interpreter(model, 10 * len(model) + (1 << 20))

    def one(d: dict) -> dict[str, Any]:
        q = d["quantization_parameters"]
        return {"shape": [int(s) for s in d["shape"]], "dtype": np.dtype(d["dtype"]).name,
                "scale": float(q["scales"][0]) if len(q["scales"]) else None,
                "zero_point": int(q["zero_points"][0]) if len(q["zero_points"]) else None}

    return {"input": one(it.get_input_details(0)), "output": one(it.get_output_details(0))}


def run_tflm(model: bytes, x_int8: np.ndarray, *, arena_bytes: int | None = None) -> np.ndarray:
    """Run the model on each int8 input; return the int8 outputs.

    Parameters
    ----------
    model : bytes
        The int8 .tflite.
    x_int8 : ndarray of int8, shape (n, ...)
        One model input per row, any shape whose size matches the input tensor's.
    arena_bytes : int, optional
        Tensor arena; by default a generous one.

    Returns
    -------
    ndarray of int8, shape (n, *output_shape[1:])
    """
    it = _interpreter(model, arena_bytes or 10 * len(model) + (1 << 20))
    d_in, d_out = it.get_input_details(0), it.get_output_details(0)
    in_shape = [int(s) for s in d_in["shape"]]
    if x_int8.dtype != np.int8:
        raise TypeError(f"x_int8 must be int8, got {x_int8.dtype}.")
    per = int(np.prod(in_shape))
    if x_int8[0:1].size != per and len(x_int8):
        raise ValueError(f"each input must hold {per} values (shape {in_shape}), got "
                         f"{x_int8.shape[1:]}.")
    outs = []
    for row in x_int8:
        it.set_input(np.ascontiguousarray(row.reshape(in_shape)), 0)
        it.invoke()
        outs.append(np.array(it.get_output(0)).reshape(-1).copy())
    out_shape = [int(s) for s in d_out["shape"]][1:]
    return np.stack(outs).reshape(len(outs), *out_shape) if outs else \
        np.zeros((0, *out_shape), np.int8)


def _allocation_printout(model: bytes, arena_bytes: int, x: np.ndarray) -> str:
    it = _interpreter(model, arena_bytes)
    it.set_input(x, 0)
    it.invoke()
    with capture_fd2() as text:
        it.print_allocations()
    return text[0]


def _runs_with(model: bytes, arena_bytes: int, x: np.ndarray) -> bool:
    try:
        with capture_fd2():
            it = _interpreter(model, arena_bytes)
            it.set_input(x, 0)
            it.invoke()
        return True
    except (RuntimeError, ValueError):
        return False


def measure_arena(model: bytes) -> dict[str, Any]:
    """Measure the tensor arena the TFLite-Micro interpreter needs for ``model``.

    Returns
    -------
    dict
        ``arena_bytes`` (smallest arena verified to run), ``recorded_total_bytes``,
        ``recorded_head_bytes`` (non-persistent: activations and scratch), ``recorded_tail_bytes``
        (persistent: tensor structs, quantisation data), ``printout`` (the allocator's lines).
    """
    details = io_details(model)["input"]
    x = np.zeros(details["shape"], np.dtype(details["dtype"]))
    text = _allocation_printout(model, 10 * len(model) + (1 << 20), x)
    m = _TOTAL.search(text)
    if m is None:
        raise RuntimeError("The tflite-micro interpreter printed no 'Arena allocation total' line; "
                           f"its output was: {text[:500]!r}")
    total = int(m.group(1))
    arena = total
    while not _runs_with(model, arena, x):
        arena += 16
        if arena > total + 4096:
            raise RuntimeError(f"The model does not run in an arena of {total}..{arena} bytes although "
                               f"the interpreter recorded {total} bytes.")
    head, tail = _HEAD.search(text), _TAIL.search(text)
    logger.info("TFLite-Micro arena: recorded %d bytes, runs in %d bytes", total, arena)
    return {"arena_bytes": arena, "recorded_total_bytes": total,
            "recorded_head_bytes": int(head.group(1)) if head else None,
            "recorded_tail_bytes": int(tail.group(1)) if tail else None,
            "printout": [ln.strip() for ln in text.splitlines() if ln.strip()]}
