"""The Python model of the generated front end's arithmetic (``<name>_frontend.c``), bit for bit.

Given the ADC counts of a recording (frames x channels) it computes what the board computes: the
counts scaled to model units in float32, the causal preprocessing of :mod:`dlink.data.causal` (the
same function that preprocesses the training recordings), the int8 quantisation of the model input
(``dlk_quantize_input_f32``: multiply by the float32 reciprocal of the scale, round half away from
zero, add the zero point, saturate) and the sliding window: decision ``k`` falls after
``c_k = hop * (ceil(n_times / hop) + k)`` model-rate samples, on the window of samples
``[c_k - n_times, c_k)``, during the ADC frame that produced sample ``c_k - 1``.

Checksums (:func:`checksum32`) let the app and this model compare every window and every float
output without printing them: the firmware prints one per hop.

>>> checksum32(np.array([1, 2, 3], np.uint8))
14
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["StreamTrace", "run_frontend", "quantize_input", "checksum32", "softmax_from_int8"]


def checksum32(values: np.ndarray) -> int:
    """``sum(w_i * (2 i + 1)) mod 2**32`` over the unsigned words ``w_i`` of ``values`` (uint8 bytes
    or uint32 words, in order). Any single changed word changes it (odd weights are invertible
    modulo 2**32); ``dlk_checksum32_*`` in the stream app computes the same."""
    w = np.asarray(values).reshape(-1)
    if w.dtype not in (np.uint8, np.uint32):
        raise TypeError(f"checksum32 takes uint8 or uint32 words, got {w.dtype}.")
    weights = (2 * np.arange(len(w), dtype=np.uint64) + 1) & np.uint64(0xFFFFFFFF)
    terms = (w.astype(np.uint64) * weights) & np.uint64(0xFFFFFFFF)
    return int(terms.sum(dtype=np.uint64) & np.uint64(0xFFFFFFFF))


def quantize_input(y: np.ndarray, inv_scale: np.float32, zero_point: int) -> np.ndarray:
    """``dlk_quantize_input_f32`` on float32 ``y``: the same clamps, rounding and saturation."""
    v = (np.asarray(y, np.float32) * np.float32(inv_scale)).astype(np.float32)
    v = np.where(np.isnan(v), np.float32(0), np.clip(v, np.float32(-1024), np.float32(1024)))
    t = np.trunc(v)
    frac = (v - t).astype(np.float32)
    q = t.astype(np.int32) + (frac >= 0.5).astype(np.int32) - (frac <= -0.5).astype(np.int32)
    return np.clip(q + int(zero_point), -128, 127).astype(np.int8)


def softmax_from_int8(q: np.ndarray, scale: float, zero_point: int, *, is_probability: bool) -> np.ndarray:
    """Class probabilities from the model's int8 output (dequantised, softmax unless it is one)."""
    x = (np.asarray(q, np.float64) - zero_point) * scale
    if is_probability:
        return x
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class StreamTrace:
    """What the front end produced over a recording.

    Attributes
    ----------
    outputs : ndarray of float32, shape (n_chans, n_samples)
        Model-rate samples before quantisation.
    samples : ndarray of int8, shape (n_chans, n_samples)
        The same quantised to the model's input.
    decision_samples : ndarray of int64, shape (n_decisions,)
        ``c_k``: model-rate samples received at each decision.
    decision_frames : ndarray of int64, shape (n_decisions,)
        The ADC frame (0-based) during which each decision falls.
    """

    spec: object
    outputs: np.ndarray
    samples: np.ndarray
    decision_samples: np.ndarray
    decision_frames: np.ndarray

    @property
    def n_decisions(self) -> int:
        return int(len(self.decision_samples))

    def window(self, k: int) -> np.ndarray:
        """The int8 model input of decision ``k``, flat, in the model's layout."""
        c = int(self.decision_samples[k])
        w = self.samples[:, c - self.spec.n_times:c]
        if self.spec.layout == "time_channels":
            w = w.T
        return np.ascontiguousarray(w).reshape(-1)

    def windows(self) -> np.ndarray:
        """Every decision's window, (n_decisions, n_chans * n_times) int8."""
        if not self.n_decisions:
            return np.zeros((0, self.spec.n_chans * self.spec.n_times), np.int8)
        return np.stack([self.window(k) for k in range(self.n_decisions)])

    def window_checksums(self) -> list[int]:
        return [checksum32(self.window(k).view(np.uint8)) for k in range(self.n_decisions)]

    def output_checksums(self) -> list[int]:
        """Per decision, the checksum of the float32 outputs since the previous decision (sample
        by sample, channels in order: the order the firmware produces them)."""
        out, start = [], 0
        for c in self.decision_samples:
            block = np.ascontiguousarray(self.outputs[:, start:int(c)].T)
            out.append(checksum32(block.view(np.uint32)))
            start = int(c)
        return out


def run_frontend(spec, counts: np.ndarray) -> StreamTrace:
    """The front end of ``spec`` (a :class:`~.frontend.FrontEndSpec`) over ADC ``counts``.

    Parameters
    ----------
    counts : ndarray of int, shape (n_frames, n_chans)
        Raw ADC counts, one frame per row, channels in ``spec.ch_names`` order.

    Returns
    -------
    StreamTrace
    """
    from dlink.data.causal import CausalFrontEnd

    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != spec.n_chans:
        raise ValueError(f"counts must have shape (n_frames, {spec.n_chans}), got {counts.shape}.")
    if not np.issubdtype(counts.dtype, np.integer):
        raise ValueError(f"counts must be integer ADC counts, got {counts.dtype}.")
    x = (counts.T.astype(np.float32) * spec.adc_scale[:, None]).astype(np.float32)
    y = CausalFrontEnd(spec.design, spec.n_chans).process(np.ascontiguousarray(x))
    q = quantize_input(y, spec.inv_input_scale, spec.input_zero_point)
    first, hop = spec.first_decision_samples(), spec.hop_samples
    c = np.arange(first, y.shape[1] + 1, hop, dtype=np.int64)
    d = spec.design
    frames = ((c - 1) * d.down) // d.up
    return StreamTrace(spec, y, q, c, frames)
