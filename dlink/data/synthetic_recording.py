"""Continuous synthetic recordings: the synthetic trials of a subject joined into one recording at
the board's ADC rate, then preprocessed like a real recording (zero-phase or causal).

The windowed generator (:mod:`dlink.data.synthetic`) makes band-limited windows directly at the
model's rate, which no streaming front end could see. Here each trial is generated at the ADC rate
(``data.adc_sfreq_hz()``, 250 Hz by default) with the full band (DC to Nyquist: offsets, drifts and
mains-free broadband content the filters must remove), ``fade_s`` longer on each side than the
window. Consecutive trials overlap by ``fade_s`` with an equal-power raised-cosine cross-fade
(sin/cos ramps: the trials are independent, so the variance stays constant and there is no step
between trials); the cue window of each trial is its middle part, untouched by the fades. The
recording of a subject is then an MNE Raw with one annotation per cue, and goes through
:func:`dlink.data.preprocess.preprocess_raw`, so zero-phase and causal preprocessing see the same
signal and differ only in the filters (``data.synthetic.continuous: true`` with
``data.preprocessing: zero_phase`` gives the zero-phase side of that comparison).
"""

from __future__ import annotations

import logging

import numpy as np

from .config import DataConfig
from .montage import BCI2A_CH_NAMES
from .synthetic import CLASS_NAMES, SyntheticOptions, _subject_windows, subject_ids
from .windows import UNIT_V, EEGWindows

logger = logging.getLogger(__name__)

#: Cross-fade between consecutive trials, seconds (outside the cue windows).
FADE_S = 1.0


def subject_recording(options: SyntheticOptions, subject: int, classes: list[str], *,
                      sfreq_hz: float, window_s: float, fade_s: float = FADE_S
                      ) -> tuple[np.ndarray, np.ndarray, EEGWindows]:
    """One subject's trials as a continuous recording.

    Returns
    -------
    data : ndarray of float32, shape (22, n_samples)
        In units of 100 uV, at ``sfreq_hz``.
    onsets : ndarray of int64, shape (n_trials,)
        Sample of each cue (the start of its window).
    trials : EEGWindows
        The generated trials (their labels ``y``, ``run`` and ``trial`` numbers, in order).
    """
    n_win = int(round(window_s * sfreq_hz))
    n_fade = int(round(fade_s * sfreq_hz))
    seg = _subject_windows(options, subject, classes, sfreq_hz, n_win + 2 * n_fade, 0.0, sfreq_hz / 2)
    n, n_ch, n_seg = seg.X.shape
    stride = n_win + n_fade
    ramp = np.sin(0.5 * np.pi * (np.arange(n_fade) + 0.5) / n_fade) if n_fade else np.zeros(0)
    data = np.zeros((n_ch, n * stride + n_fade), np.float64)
    for k in range(n):
        x = seg.X[k].astype(np.float64)
        if k > 0:
            x[:, :n_fade] *= ramp
        if k < n - 1:
            x[:, n_seg - n_fade:] *= ramp[::-1]
        data[:, k * stride:k * stride + n_seg] += x
    onsets = np.arange(n, dtype=np.int64) * stride + n_fade
    return data.astype(np.float32), onsets, seg


def subject_raw(options: SyntheticOptions, subject: int, classes: list[str], *, sfreq_hz: float,
                window_s: float):
    """:func:`subject_recording` as an MNE Raw (volts) with one annotation per cue (class names),
    and the trials (labels, runs, trial numbers)."""
    import mne

    data, onsets, trials = subject_recording(options, subject, classes, sfreq_hz=sfreq_hz,
                                             window_s=window_s)
    y = trials.y
    info = mne.create_info(list(BCI2A_CH_NAMES), sfreq_hz, ch_types="eeg")
    raw = mne.io.RawArray(data.astype(np.float64) * UNIT_V, info, verbose="error")
    raw.set_annotations(mne.Annotations(onsets / sfreq_hz, [float(window_s)] * len(y),
                                        [classes[c] for c in y]))
    return raw, trials


def make_synthetic_recordings(cfg: DataConfig, *, within: bool = False) -> dict[str, EEGWindows]:
    """All splits of the synthetic dataset through continuous recordings (see the module docstring).

    ``within``: the caller splits the labelled subjects' trials itself (no test subject needed).

    Examples
    --------
    >>> cfg = DataConfig(preprocessing="causal", synthetic={"trials_per_class": 1,
    ...                  "subjects": {"train": 1, "val": 0, "test": 1, "pool": 0}})
    >>> make_synthetic_recordings(cfg)["train"].X.shape
    (4, 22, 800)
    """
    from .preprocess import annotation_onsets, causal_design, cut_windows, preprocess_raw

    options = SyntheticOptions.from_dict(cfg.synthetic)
    if not within and options.subjects["test"] < 1:
        raise ValueError(f"data.synthetic.subjects needs test >= 1 for a cross-subject split, got "
                         f"{options.subjects} (within-subject splits need only train >= 1).")
    if cfg.n_classes not in CLASS_NAMES:
        raise ValueError(f"data.n_classes must be one of {sorted(CLASS_NAMES)} for the synthetic "
                         f"dataset, got {cfg.n_classes!r}.")
    classes = CLASS_NAMES[cfg.n_classes]
    rate = cfg.adc_sfreq_hz()
    window_s = cfg.resolved_window_s()
    n_times = int(round(window_s * cfg.sfreq_hz))
    design = causal_design(cfg)
    out = {}
    for split, ids in subject_ids(options).items():
        parts = []
        for s in ids:
            where = f"synthetic subject {s} (continuous, {rate:g} Hz)"
            raw, trials = subject_raw(options, s, classes, sfreq_hz=rate, window_s=window_s)
            raw = preprocess_raw(raw, where, sfreq_hz=cfg.sfreq_hz, l_freq_hz=cfg.l_freq_hz,
                                 h_freq_hz=cfg.h_freq_hz, notch_hz=cfg.notch_hz, causal=design)
            onsets, y = annotation_onsets(raw, where, {c: i for i, c in enumerate(classes)},
                                          what="synthetic cue")
            X, kept = cut_windows(raw, onsets, n_times, where)
            parts.append(EEGWindows(X, y[kept], np.full(int(kept.sum()), s), list(raw.ch_names),
                                    cfg.sfreq_hz, classes, run=trials.run[kept], trial=trials.trial[kept]))
        out[split] = (EEGWindows.concat(parts) if parts else
                      EEGWindows.empty(BCI2A_CH_NAMES, cfg.sfreq_hz, n_times, classes))
        logger.info("synthetic (continuous, %s) %s: %d windows", cfg.preprocessing, split, len(out[split]))
    return out
