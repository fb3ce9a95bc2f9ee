"""Kernel selection and constant preparation for the runtime's fast paths.

The generator, not the runtime, decides which kernel runs a layer: it knows every shape and
constant ahead of time, so it can pick a kernel made for the shape and prepare the constants in
the order the kernel's inner loop reads them. The runtime stays a set of small pure functions
(``firmware/runtime/include/dlink/kernels.h`` documents each layout), implemented by every
backend (ref, dsp, mve), and every fast path has a fallback: a layer the predicates below
refuse is lowered to the generic kernel of its operator (:mod:`.ops`).

Fast paths
----------
``dlk_dw1d_s8``
    DEPTHWISE_CONV_2D with a 1 x k filter and dilation 1 (every temporal filter of the student
    family: any depth multiplier, kernel size, stride and padding), computed as per-channel 1-D
    filters over a zero-padded staging row. Weights int16, paired per tap as SMLAD reads them.
    A folded TRANSPOSE (:func:`.fuse.fold_transposes`) becomes input strides.
``dlk_dw1d_chain_s8``
    Two such layers in a row (:func:`.fuse.fuse_dw_chains`), channel by channel, so that the
    first one's output never exists in the arena.
``dlk_pointwise_s8``
    CONV_2D 1x1 (stride 1, one group) as a matrix product; weights int16 in the order SXTB16
    splits four int8 inputs, K padded to a multiple of 4, the input zero point folded into the
    bias (bias - zx * sum(w)).

Requantisation: every fast path takes right shifts of 1 to 24 bits only (a real multiplier in
[2^-25, 0.5), what convolutions have); a channel whose multiplier is 0 gets shift -1 (its output
is the zero point either way). A layer with another multiplier keeps the generic kernel.
"""

from __future__ import annotations

import numpy as np

from .quantize import quantize_multiplier

__all__ = ["dw1d_row_len", "pw_scratch_len", "prepare_dw1d_weights", "dw1d_weight_index", "prepare_pw_weights", "channel_quant",
           "fold_input_zero_point", "fast_requant_ok", "dw1d_geometry", "per_channel_pairs"]

#: DLK_DW1D_CHAIN_BLOCK in kernels.h: rows of the second layer a chain keeps at once.
CHAIN_BLOCK = 4


def dw1d_row_len(out_w: int, stride: int, n_taps: int) -> int:
    """DLK_DW1D_ROW_LEN of kernels.h: int16 elements of one staged row."""
    return ((out_w - 1) * stride + (n_taps + 15) // 16 * 16 + 47) // 8 * 8


def pw_scratch_len(in_c: int) -> int:
    """DLK_PW_SCRATCH_LEN of kernels.h: int16 elements of the pointwise scratch."""
    return 2 * ((in_c + 3) // 4) * 4 + 8


def per_channel_pairs(in_scale: float, w, out_scale: float, n: int) -> list[tuple[int, int]]:
    """(multiplier, shift) per output channel, as TFLite-Micro's Prepare computes them."""
    scales = w.scales if w.scales.size > 1 else np.repeat(w.scales, n)
    return [quantize_multiplier(float(np.float32(in_scale)) * float(np.float32(s)) /
                                float(np.float32(out_scale))) for s in scales]


def fast_requant_ok(pairs: list[tuple[int, int]]) -> bool:
    """True when every channel can take the fast requantisation: a right shift of 1 to 24 bits
    (kernels.h), or a zero multiplier."""
    return all(m == 0 or -24 <= s <= -1 for m, s in pairs)


def channel_quant(bias: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """int32 [n, 3]: (bias, multiplier, shift) per channel (dlk_channel_quant_t), with the
    shift of a zero multiplier set to -1 (same outputs, and the fast path applies)."""
    rows = [(int(b), int(m), int(s) if m != 0 else -1) for b, (m, s) in zip(bias, pairs)]
    out = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    if (out < -2**31).any() or (out >= 2**31).any():
        raise ValueError("a folded bias does not fit in int32")
    return out.astype(np.int32)


def fold_input_zero_point(bias: np.ndarray, weights_2d: np.ndarray, zero_point: int) -> np.ndarray:
    """bias - zx * sum(w) per output channel (int64; the caller checks the int32 range)."""
    return (np.asarray(bias, np.int64) -
            int(zero_point) * np.asarray(weights_2d, np.int64).sum(axis=1))


def prepare_dw1d_weights(w_taps: np.ndarray, in_c: int, depth_multiplier: int) -> np.ndarray:
    """int16 weights of dlk_dw1d_s8 from DEPTHWISE_CONV_2D weights [1, 1, k, in_c * dm].

    Per input channel, its multipliers in blocks of 4 (the last block may be smaller, nb), and
    within a block [pair j][nb][2]: taps 2j and 2j+1 of each filter side by side (a zero after
    an odd last tap), so one pass of the kernel reads a block's words in order.

    >>> w = np.arange(6, dtype=np.int8).reshape(1, 1, 3, 2)   # 3 taps, 2 channels, dm 1
    >>> prepare_dw1d_weights(w, 2, 1).reshape(2, -1).tolist()
    [[0, 2, 4, 0], [1, 3, 5, 0]]
    """
    _, kh, k, oc = w_taps.shape
    dm = depth_multiplier
    if kh != 1 or oc != in_c * dm:
        raise ValueError(f"expected weights [1, 1, k, {in_c * dm}], got {w_taps.shape}")
    n_pairs = (k + 1) // 2
    taps = np.zeros((2 * n_pairs, oc), np.int16)
    taps[:k] = w_taps.reshape(k, oc)
    t = taps.reshape(n_pairs, 2, in_c, dm)  # [pair, tap in pair, c, m]
    out = []
    for c in range(in_c):
        for m0 in range(0, dm, 4):
            block = t[:, :, c, m0:m0 + 4]  # [pair, 2, nb]
            out.append(block.transpose(0, 2, 1).reshape(-1))  # [pair][nb][2]
    return np.ascontiguousarray(np.concatenate(out)).astype(np.int16)


def dw1d_weight_index(c: int, m: int, k: int, *, n_taps: int, depth_multiplier: int) -> int:
    """Index of tap k of filter m of input channel c in :func:`prepare_dw1d_weights`' output."""
    n_pairs, dm = (n_taps + 1) // 2, depth_multiplier
    nb = min(4, dm - m // 4 * 4)
    return (c * n_pairs * dm * 2 + (m // 4) * 4 * n_pairs * 2 + (k // 2) * nb * 2
            + (m % 4) * 2 + (k & 1))


def prepare_pw_weights(w_2d: np.ndarray) -> np.ndarray:
    """int16 [out_c][k4] in SXTB16 order (w0, w2, w1, w3) per group of 4, zeros past in_c.

    >>> prepare_pw_weights(np.arange(1, 6, dtype=np.int8).reshape(1, 5)).tolist()
    [1, 3, 2, 4, 5, 0, 0, 0]
    """
    oc, ic = w_2d.shape
    k4 = (ic + 3) // 4 * 4
    padded = np.zeros((oc, k4), np.int16)
    padded[:, :ic] = w_2d
    return np.ascontiguousarray(padded.reshape(oc, k4 // 4, 4)[:, :, [0, 2, 1, 3]]).reshape(-1)


def dw1d_geometry(in_shape, out_shape, kh: int, kw: int, stride_h: int, stride_w: int,
                  dilation_w: int, pad_h: int) -> bool:
    """True when a depthwise layer is rows of 1-D filters along W (the dw1d fast path): a
    1 x k filter, dilation 1 along W, and every output row reads exactly its own input row."""
    if len(in_shape) != 4 or len(out_shape) != 4 or kh != 1 or dilation_w != 1:
        return False
    n, in_h, _, _ = in_shape
    return (out_shape[0] == n and out_shape[1] == in_h and pad_h == 0
            and (stride_h == 1 or in_h == 1) and stride_w >= 1 and kw >= 1)
