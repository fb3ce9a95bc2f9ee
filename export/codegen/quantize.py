"""TFLite's requantisation parameters, computed in Python exactly as TFLite-Micro's Prepare does.

Each function mirrors one of TFLite's helpers (QuantizeMultiplier,
CalculateActivationRangeQuantized,
PreprocessSoftmaxScaling, ...), including where TFLite computes in float32 rather than double, so
that the (multiplier, shift) pairs emitted as const data equal those the interpreter uses.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "QuantizationRangeError", "MAX_SHIFT", "quantize_multiplier", "activation_range", "round_half_away", "softmax_params",
    "mean_params", "add_params", "quantize_float",
]

INT8_MIN, INT8_MAX = -128, 127
#: Largest left shift a (multiplier, shift) pair may carry into the kernels (dlk_mbqm shifts the
#: int32 input left by it before the high multiply; 31 or more overflows). TFLite's own
#: QuantizeMultiplier saturates at 30 as well.
MAX_SHIFT = 30


class QuantizationRangeError(ValueError):
    """A requantisation multiplier outside what the int8 kernels can apply (non-finite, or a
    left shift above :data:`MAX_SHIFT`): the model's scales are implausible."""


def round_half_away(x: float) -> int:
    """std::round: halves away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float, *, max_shift: int = MAX_SHIFT) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: ``real ~= m * 2**(shift - 31)``, ``m`` in [2**30, 2**31).

    Raises :class:`QuantizationRangeError` when ``real`` is not finite or needs a shift above
    ``max_shift`` (tiny multipliers flush to (0, 0) as in TFLite).

    >>> quantize_multiplier(0.5)
    (1073741824, 0)
    """
    if not math.isfinite(real):
        raise QuantizationRangeError(f"requantisation multiplier {real!r} is not finite")
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * float(1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if shift > max_shift:
        raise QuantizationRangeError(
            f"requantisation multiplier {real:.6g} needs a left shift of {shift} bits; the int8 "
            f"kernels allow at most {max_shift}")
    return int(q_fixed), int(shift)


def quantize_float(value: float, scale: float, zero_point: int) -> int:
    """``zero_point + round(value / scale)`` with the division in float32, as TFLite's lambda."""
    return zero_point + round_half_away(float(np.float32(value) / np.float32(scale)))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs. ``activation`` is the schema name."""
    if activation == "NONE":
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, quantize_float(0.0, scale, zero_point)), INT8_MAX
    if activation == "RELU6":
        return (max(INT8_MIN, quantize_float(0.0, scale, zero_point)),
                min(INT8_MAX, quantize_float(6.0, scale, zero_point)))
    if activation == "RELU_N1_TO_1":
        return (max(INT8_MIN, quantize_float(-1.0, scale, zero_point)),
                min(INT8_MAX, quantize_float(1.0, scale, zero_point)))
    raise ValueError(f"activation {activation!r} has no int8 clamp range")


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) as TFLite's int8 softmax Prepare."""
    integer_bits = 5
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) *
               float(1 << (31 - integer_bits)), float((1 << 31) - 1))
    multiplier, left_shift = quantize_multiplier(real, max_shift=31)  # real <= 2^31 - 1
    if left_shift < 0:
        raise QuantizationRangeError(
            f"softmax beta {beta} x input scale {input_scale} gives a negative left shift")
    radius = math.floor(
        1.0 * ((1 << integer_bits) - 1) * float(1 << (31 - integer_bits)) / float(1 << left_shift)
    )
    return multiplier, left_shift, int(-1.0 * radius)


def mean_params(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """Multiplier/shift of QuantizedMeanOrSum with the 1/count factor folded in."""
    multiplier, shift = quantize_multiplier(float(np.float32(input_scale)) /
                                            float(np.float32(output_scale)))
    bits = count.bit_length() - 1  # 63 - CountLeadingZeros(count)
    bits = min(bits, 32, 31 + shift)
    multiplier = (multiplier << bits) // count
    return int(multiplier), int(shift - bits)


def add_params(scale1: float, scale2: float, scale_out: float) -> dict[str, int]:
    """Input/output multipliers of TFLite's int8 ADD (left_shift 20)."""
    left_shift = 20
    s1, s2, so = (float(np.float32(s)) for s in (scale1, scale2, scale_out))
    twice_max = 2.0 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max)
    m2, sh2 = quantize_multiplier(s2 / twice_max)
    mo, sho = quantize_multiplier(twice_max / (float(1 << left_shift) * so))
    return {"left_shift": left_shift, "input1_multiplier": m1, "input1_shift": sh1,
            "input2_multiplier": m2, "input2_shift": sh2, "output_multiplier": mo,
            "output_shift": sho}
