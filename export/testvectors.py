"""Test vectors: test windows quantised to the int8 model input, with the int8 outputs of the
TFLite-Micro interpreter, as ``test_vectors.npz`` and C arrays; and the model as a C array.

``test_vectors.npz`` keys: ``x_float`` (n, n_chans, n_times) float32; ``x_int8`` (n, *input
shape without the batch axis) int8, the exact bytes of the .tflite input; ``y_true`` (n,) int64;
``y_expected_int8`` (n, n_outputs) int8; ``input_scale``, ``input_zero_point``, ``output_scale``,
``output_zero_point``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_savez, atomic_write_text

from .c_arrays import c_model_data, c_test_vectors
from .quant import quantize
from .tflm_reference import io_details, run_tflm


def pick_windows(y: np.ndarray, n: int, *, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` windows, stratified by class (round robin over classes, random within).

    >>> pick_windows(np.array([0, 0, 0, 1, 1, 2]), 4).shape
    (4,)
    """
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(y == c)).tolist() for c in np.unique(y)]
    out: list[int] = []
    while len(out) < min(n, len(y)):
        for idx in by_class:
            if idx and len(out) < n:
                out.append(idx.pop())
    return np.sort(np.asarray(out, np.int64))


def write_test_vectors(export_dir: str | Path, model: bytes, model_sha256: str, x: np.ndarray,
                       y: np.ndarray) -> dict[str, Any]:
    """Write test_vectors.npz/.h/.c and model_data.h/.c into ``export_dir``.

    Parameters
    ----------
    export_dir : str | Path
        Output folder.
    model : bytes
        The int8 .tflite.
    model_sha256 : str
        Its SHA-256 (in the C banners).
    x : ndarray, shape (n, n_chans, n_times)
        Float windows (100 uV units).
    y : ndarray, shape (n,)
        Their labels.

    Returns
    -------
    dict
        ``files`` (written paths), ``n``, ``input_bytes``, ``output_bytes``.
    """
    export_dir = Path(export_dir)
    io = io_details(model)
    qi, qo = io["input"], io["output"]
    in_shape = qi["shape"][1:]
    x_int8 = quantize(x, qi["scale"], qi["zero_point"]).reshape(len(x), *in_shape)
    expected = run_tflm(model, x_int8)
    quant = {"input_scale": qi["scale"], "input_zero_point": qi["zero_point"],
             "output_scale": qo["scale"], "output_zero_point": qo["zero_point"]}
    npz = export_dir / "test_vectors.npz"
    atomic_savez(npz, x_float=x.astype(np.float32), x_int8=x_int8, y_true=y.astype(np.int64),
                 y_expected_int8=expected.reshape(len(x), -1),
                 input_scale=np.float32(qi["scale"]), input_zero_point=np.int32(qi["zero_point"]),
                 output_scale=np.float32(qo["scale"]),
                 output_zero_point=np.int32(qo["zero_point"]))
    h, c = c_test_vectors(x_int8.reshape(len(x), -1), expected.reshape(len(x), -1),
                             y.astype(np.int64), sha256=model_sha256, quant=quant)
    mh, mc = c_model_data(model, model_sha256)
    files = [npz]
    for name, text in (("test_vectors.h", h), ("test_vectors.c", c),
                       ("model_data.h", mh), ("model_data.c", mc)):
        files.append(atomic_write_text(export_dir / name, text))
    return {"files": files, "n": int(len(x)), "input_bytes": int(np.prod(in_shape)),
            "output_bytes": int(expected[0:1].size) if len(x) else 0}
