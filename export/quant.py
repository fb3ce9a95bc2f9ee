"""Affine int8 quantisation as TFLite does it (round half away from zero, saturate).

>>> quantize(np.array([0.5, -0.5, 1.26]), 0.5, 1).tolist()
[2, 0, 4]
>>> dequantize(np.array([2, 0], np.int8), 0.5, 1).tolist()
[0.5, -0.5]
"""

from __future__ import annotations

import numpy as np


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float -> int8: ``clamp(round(x / scale) + zero_point, -128, 127)``, ties away from zero."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}.")
    v = np.asarray(x, np.float64) / float(scale)
    r = np.sign(v) * np.floor(np.abs(v) + 0.5)
    return np.clip(r + int(zero_point), -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 -> float32: ``(q - zero_point) * scale``."""
    return ((np.asarray(q, np.int32) - int(zero_point)) * float(scale)).astype(np.float32)
