"""Causal preprocessing: the streaming front end that training and the firmware share.

One definition, two realisations. The definition is the ``data:`` section of the config
(``l_freq_hz``, ``h_freq_hz``, ``notch_hz``, ``sfreq_hz`` and ``causal``: see
:class:`dlink.data.config.CausalConfig`); :func:`design_causal` turns it into coefficients with
scipy's filter design. This module applies them in Python to continuous recordings before
windowing (``data.preprocessing: causal``); ``dlink.export.codegen.frontend`` emits the same
coefficients as C for the board, whose streaming front end computes the same numbers.

Per channel, at the ADC rate ``f_in`` and then at the model rate ``f_out``:

1. optional notch at ``notch_hz`` (``scipy.signal.iirnotch``, one biquad);
2. Butterworth band-pass ``l_freq_hz``-``h_freq_hz`` (``scipy.signal.butter(..., output="sos")``;
   a low-pass when ``l_freq_hz`` is 0);
3. rational resampling by ``up/down = f_out/f_in`` with a polyphase FIR: the Kaiser-window
   anti-aliasing filter ``scipy.signal.resample_poly`` designs (``2 * half_width * max(up, down)``
   taps, cut-off at the lower Nyquist frequency, gain ``up``), applied causally.

Arithmetic: float32 everywhere, IEEE round-to-nearest, no fused multiply-add, and the state (biquad
delays, resampler history and phase) is carried across the recording, never reset per window. The
biquads are transposed direct form II in the operation order of ``scipy.signal.sosfilt`` (which
this module calls with float32 arrays)::

    y  = b0*x + z0
    z0 = (b1*x - a1*y) + z1
    z1 = b2*x - a2*y

Output sample ``m`` of the resampler is due when input sample ``n0 = (m*down) // up`` arrives; with
``p = (m*down) % up`` and ``T`` taps per phase it is ``acc = 0; acc = acc + fir[p + up*i] *
x[n0 - i]`` for ``i = 0 .. T-1`` (inputs before the first are 0). The C front end evaluates the
same expressions in the same order, so given the same input floats both give the same bits
(checked by the tests on the host and under QEMU).

>>> d = design_causal(input_sfreq_hz=160, output_sfreq_hz=200, l_freq_hz=0.3, h_freq_hz=75)
>>> d.up, d.down, d.sos.shape, d.taps_per_phase
(5, 4, (4, 6), 20)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

logger = logging.getLogger(__name__)

#: Kaiser window beta of the resampler's FIR (the value scipy.signal.resample_poly uses).
KAISER_BETA = 5.0
#: Largest up or down factor of the rational resampler.
MAX_RESAMPLE_FACTOR = 64


@dataclass(frozen=True)
class CausalDesign:
    """Coefficients of the causal front end for one ADC rate (all float32).

    Attributes
    ----------
    input_sfreq_hz, output_sfreq_hz : float
        ADC rate and model rate.
    sos : ndarray of float32, shape (n_sections, 6)
        ``[b0, b1, b2, 1, a1, a2]`` per biquad, in order: the notch (if any), then the band-pass.
    up, down : int
        ``output_sfreq_hz / input_sfreq_hz == up / down`` (coprime).
    fir : ndarray of float32, shape (up * taps_per_phase,)
        The resampler's FIR at the rate ``up * input_sfreq_hz``, gain ``up`` included.
    """

    input_sfreq_hz: float
    output_sfreq_hz: float
    sos: np.ndarray
    up: int
    down: int
    fir: np.ndarray
    l_freq_hz: float
    h_freq_hz: float
    notch_hz: float | None
    bandpass_order: int
    notch_q: float

    @property
    def n_sections(self) -> int:
        return int(self.sos.shape[0])

    @property
    def taps_per_phase(self) -> int:
        return int(len(self.fir) // self.up)

    def phases(self) -> np.ndarray:
        """The FIR as ``(up, taps_per_phase)``: ``phases[p, i] = fir[p + up * i]``."""
        return np.ascontiguousarray(self.fir.reshape(self.taps_per_phase, self.up).T)

    def max_outputs_per_input(self) -> int:
        """Most model-rate samples one ADC frame can produce (``ceil(up / down)``)."""
        return -(-self.up // self.down)

    def delay_s(self) -> float:
        """The resampler FIR's group delay in seconds (linear phase; the biquads' delay depends on
        frequency and is not included)."""
        return (len(self.fir) - 1) / 2 / (self.up * self.input_sfreq_hz)

    def summary(self) -> dict:
        """JSON-ready description (coefficients as float lists)."""
        return {"input_sfreq_hz": self.input_sfreq_hz, "output_sfreq_hz": self.output_sfreq_hz,
                "up": self.up, "down": self.down, "n_sections": self.n_sections,
                "taps_per_phase": self.taps_per_phase, "notch_hz": self.notch_hz,
                "notch_q": self.notch_q, "l_freq_hz": self.l_freq_hz, "h_freq_hz": self.h_freq_hz,
                "bandpass_order": self.bandpass_order, "resampler_delay_s": self.delay_s(),
                "sos": self.sos.astype(float).tolist(), "fir": self.fir.astype(float).tolist()}


def rational_ratio(input_sfreq_hz: float, output_sfreq_hz: float) -> tuple[int, int]:
    """``(up, down)``, coprime, with ``output / input == up / down`` exactly.

    >>> rational_ratio(160, 200), rational_ratio(250, 200), rational_ratio(1000, 200)
    ((5, 4), (4, 5), (1, 5))
    """
    ratio = Fraction(float(output_sfreq_hz) / float(input_sfreq_hz)).limit_denominator(MAX_RESAMPLE_FACTOR)
    up, down = ratio.numerator, ratio.denominator
    if abs(input_sfreq_hz * up / down - output_sfreq_hz) > 1e-9 * output_sfreq_hz or \
            max(up, down) > MAX_RESAMPLE_FACTOR:
        raise ValueError(f"The causal resampler needs a ratio of small integers between the ADC rate "
                         f"{input_sfreq_hz:g} Hz and data.sfreq_hz={output_sfreq_hz:g} Hz (up and down "
                         f"at most {MAX_RESAMPLE_FACTOR}); choose rates such as 160, 250, 500 or "
                         f"1000 Hz for a 200-Hz model.")
    return up, down


def design_causal(*, input_sfreq_hz: float, output_sfreq_hz: float, l_freq_hz: float,
                  h_freq_hz: float, notch_hz: float | None = None, bandpass_order: int = 4,
                  notch_q: float = 30.0, resample_half_width: int = 10) -> CausalDesign:
    """Design the causal front end with scipy (see the module docstring).

    Parameters
    ----------
    input_sfreq_hz : float
        The ADC rate (the recording's rate).
    output_sfreq_hz : float
        The model's rate (``data.sfreq_hz``).
    l_freq_hz, h_freq_hz : float
        Band-pass edges; ``l_freq_hz = 0`` gives a low-pass.
    notch_hz : float | None
        Notch frequency (None: no notch).
    bandpass_order, notch_q, resample_half_width
        See :class:`dlink.data.config.CausalConfig`.

    Returns
    -------
    CausalDesign
    """
    from scipy import signal

    f_in, f_out = float(input_sfreq_hz), float(output_sfreq_hz)
    nyq = f_in / 2
    if not 0 <= l_freq_hz < h_freq_hz < nyq:
        raise ValueError(f"The causal band-pass needs 0 <= data.l_freq_hz < data.h_freq_hz < {nyq:g} Hz "
                         f"(the Nyquist frequency of the ADC rate {f_in:g} Hz), got l_freq_hz="
                         f"{l_freq_hz:g}, h_freq_hz={h_freq_hz:g}.")
    sections = []
    if notch_hz is not None:
        if not 0 < notch_hz < nyq:
            raise ValueError(f"data.notch_hz={notch_hz:g} must lie between 0 and the Nyquist frequency "
                             f"{nyq:g} Hz of the ADC rate {f_in:g} Hz.")
        b, a = signal.iirnotch(notch_hz, notch_q, fs=f_in)
        sections.append(np.concatenate([b / a[0], a / a[0]])[None, :])
    if l_freq_hz > 0:
        band = signal.butter(bandpass_order, [l_freq_hz, h_freq_hz], btype="bandpass", fs=f_in,
                             output="sos")
    else:
        band = signal.butter(bandpass_order, h_freq_hz, btype="lowpass", fs=f_in, output="sos")
    sections.append(band)
    sos = np.concatenate(sections).astype(np.float32)
    up, down = rational_ratio(f_in, f_out)
    if up == down == 1:
        fir = np.ones(1, np.float32)
    else:
        n_taps = 2 * resample_half_width * max(up, down)
        n_taps = -(-n_taps // up) * up  # whole taps per phase
        fir = signal.firwin(n_taps, 1.0 / max(up, down), window=("kaiser", KAISER_BETA)) * up
        fir = fir.astype(np.float32)
    return CausalDesign(f_in, f_out, sos, up, down, fir, float(l_freq_hz), float(h_freq_hz),
                        None if notch_hz is None else float(notch_hz), int(bandpass_order),
                        float(notch_q))


def design_from_config(cfg, input_sfreq_hz: float | None = None) -> CausalDesign:
    """:func:`design_causal` for a ``data:`` config (a :class:`~dlink.data.config.DataConfig`).

    ``input_sfreq_hz`` defaults to the config's ADC rate (``cfg.adc_sfreq_hz()``).
    """
    rate = input_sfreq_hz if input_sfreq_hz is not None else cfg.adc_sfreq_hz()
    if rate is None:
        raise ValueError(f"data.causal.input_sfreq_hz must be set for the {cfg.name!r} dataset (its "
                         f"recordings have mixed rates): set the board's ADC rate, e.g. 250.")
    c = cfg.causal
    return design_causal(input_sfreq_hz=rate, output_sfreq_hz=cfg.sfreq_hz, l_freq_hz=cfg.l_freq_hz,
                         h_freq_hz=cfg.h_freq_hz, notch_hz=cfg.notch_hz,
                         bandpass_order=c.bandpass_order, notch_q=c.notch_q,
                         resample_half_width=c.resample_half_width)


class CausalFrontEnd:
    """The causal front end with its state: :meth:`process` on consecutive chunks of a recording
    gives bit for bit what one call on the whole recording gives.

    Parameters
    ----------
    design : CausalDesign
    n_chans : int

    Examples
    --------
    >>> d = design_causal(input_sfreq_hz=250, output_sfreq_hz=200, l_freq_hz=1, h_freq_hz=40)
    >>> fe = CausalFrontEnd(d, n_chans=2)
    >>> fe.process(np.zeros((2, 250), np.float32)).shape
    (2, 200)
    """

    def __init__(self, design: CausalDesign, n_chans: int):
        self.design = design
        self.n_chans = int(n_chans)
        self._sos = np.ascontiguousarray(design.sos, np.float32)
        self._phases = design.phases()
        taps = design.taps_per_phase
        self.zi = np.zeros((design.n_sections, self.n_chans, 2), np.float32)
        self.history = np.zeros((self.n_chans, taps - 1), np.float32)
        self.n_in = 0  # ADC samples consumed
        self.m_next = 0  # index of the next model-rate sample

    def filter(self, x: np.ndarray) -> np.ndarray:
        """Notch + band-pass of ``x`` (n_chans, n) float32 at the ADC rate, state carried."""
        from scipy import signal

        x = self._check(x)
        y, self.zi = signal.sosfilt(self._sos, x, axis=-1, zi=self.zi)
        if y.dtype != np.float32:  # sosfilt keeps float32 for float32 inputs; never silently widen
            raise RuntimeError(f"scipy.signal.sosfilt returned {y.dtype} for float32 inputs.")
        return y

    def resample(self, xf: np.ndarray) -> np.ndarray:
        """The polyphase resampler on filtered samples ``xf`` (n_chans, n); state carried."""
        xf = self._check(xf)
        d = self.design
        taps = d.taps_per_phase
        n_end = self.n_in + xf.shape[1]
        m_stop = -(-n_end * d.up // d.down)  # first m whose input n0 is not here yet
        m = np.arange(self.m_next, m_stop, dtype=np.int64)
        u = m * d.down
        n0, p = u // d.up, u % d.up
        xh = np.concatenate([self.history, xf], axis=1)  # xh[:, j] is input n_in - (taps-1) + j
        base = n0 - self.n_in + (taps - 1)
        acc = np.zeros((self.n_chans, len(m)), np.float32)
        for i in range(taps):
            acc = acc + self._phases[p, i][None, :] * xh[:, base - i]
        if taps > 1:
            self.history = np.ascontiguousarray(xh[:, xh.shape[1] - (taps - 1):])
        self.n_in, self.m_next = n_end, int(m_stop)
        return acc

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter then resample ``x`` (n_chans, n) float32 at the ADC rate -> model rate."""
        return self.resample(self.filter(x))

    def _check(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[0] != self.n_chans:
            raise ValueError(f"The causal front end takes float32 signals of shape ({self.n_chans}, "
                             f"n_times), got {getattr(x, 'shape', type(x).__name__)}.")
        if x.dtype != np.float32:
            raise ValueError(f"The causal front end computes in float32 (as the board does); got "
                             f"{x.dtype}. Convert with x.astype(np.float32).")
        return x


def apply_causal(x: np.ndarray, design: CausalDesign) -> np.ndarray:
    """The causal front end over a whole recording ``x`` (n_chans, n) float32, from zero state.

    Returns float32 ``(n_chans, ceil(n * up / down))`` at the model rate.
    """
    return CausalFrontEnd(design, x.shape[0]).process(x)


def causal_raw(raw, design: CausalDesign, file):
    """A new MNE Raw at the model rate holding the causal front end's output for ``raw``.

    The signals go through the front end in units of 100 uV and float32 (as on the board) and come
    back in volts; annotations keep their times, so cue onsets map to the new rate as for MNE's own
    resampling (sample ``m`` of the output is time ``m / output_sfreq_hz``).
    """
    import mne

    from .windows import UNIT_V

    sfreq = float(raw.info["sfreq"])
    if abs(sfreq - design.input_sfreq_hz) > 1e-6:
        raise ValueError(f"{file}: the causal front end was designed for {design.input_sfreq_hz:g} Hz, "
                         f"the recording is at {sfreq:g} Hz.")
    x = (raw.get_data() / UNIT_V).astype(np.float32)
    y = apply_causal(x, design)
    info = mne.create_info(list(raw.ch_names), design.output_sfreq_hz, ch_types="eeg")
    first = int(round(raw.first_samp * design.up / design.down))
    out = mne.io.RawArray(y.astype(np.float64) * UNIT_V, info, first_samp=first, verbose="error")
    out.set_meas_date(raw.info["meas_date"])
    out.set_annotations(raw.annotations)
    logger.debug("%s: causal front end %g -> %g Hz, %d sections, %d taps per phase", file, sfreq,
                 design.output_sfreq_hz, design.n_sections, design.taps_per_phase)
    return out
