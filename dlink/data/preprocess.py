"""Reading and preprocessing one recording with MNE (shared by the benchmark loaders).

``read_raw`` checks the file (exists, EDF header complete) and reads it; ``preprocess_raw`` keeps
the EEG channels under standard 10-20 names, checks the sampling rate and the signals (NaN, flat),
then notch-filters (optional), band-passes and resamples to the target rate: with MNE's zero-phase
filters, or, for ``data.preprocessing: causal``, with the causal front end of
:mod:`dlink.data.causal` run over the whole continuous recording (what the board computes);
``cut_windows`` cuts windows at event onsets in units of 100 uV.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dlink._check import check_file

from ._checks import DataFileError, check_channels, check_edf_header, check_sfreq, check_signals
from .montage import normalize_ch_name
from .windows import UNIT_V

logger = logging.getLogger(__name__)

_READERS = {".edf": "read_raw_edf", ".bdf": "read_raw_bdf", ".gdf": "read_raw_gdf"}


def _suffix(path: Path) -> str:
    """The format suffix of a recording, lower case ('.edf', '.vhdr', '.fif.gz', ...)."""
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def read_raw(path: str | Path, *, what: str = "EEG recording", fix: str = "", preload: bool = True):
    """Read a recording with MNE, after checking it exists and is complete.

    EDF/BDF/GDF go through MNE's readers for those formats (EDF/BDF after a check of the fixed
    header against the file's size); every other format MNE reads (FIF, BrainVision .vhdr,
    EEGLAB .set, ...) through ``mne.io.read_raw``. ``preload=False`` reads the header only
    (channel names, rate, annotations; the samples are read on demand).

    Raises
    ------
    FileNotFoundError
        The file does not exist (the message names it and ``fix``).
    DataFileError
        The file is truncated, corrupt or not a supported format.
    """
    import mne

    path = check_file(path, what=what, fix=fix)
    suffix = _suffix(path)
    if suffix not in _READERS and suffix not in supported_formats():
        raise DataFileError(f"{path}: unsupported recording format {suffix!r}; expected one of "
                            f"{', '.join(supported_formats())} (the formats MNE reads).")
    if suffix in (".edf", ".bdf"):
        check_edf_header(path)
    reader = getattr(mne.io, _READERS[suffix]) if suffix in _READERS else mne.io.read_raw
    fmt = suffix[1:].upper()
    try:
        return reader(path, preload=preload, verbose="error")
    except Exception as e:  # MNE raises many types for broken files; name the file once
        raise DataFileError(f"{path}: cannot be read as {fmt} ({type(e).__name__}: {e}). "
                            f"Expected a valid {fmt} recording.") from e


def supported_formats() -> tuple[str, ...]:
    """File suffixes MNE's ``read_raw`` reads (EDF, BDF, GDF, FIF, BrainVision, EEGLAB, ...)."""
    try:
        from mne.io._read_raw import _get_supported

        return tuple(sorted(set(_get_supported()) | set(_READERS)))
    except ImportError:  # a private helper of MNE; fall back to the common formats
        return (".bdf", ".edf", ".fif", ".fif.gz", ".gdf", ".set", ".vhdr")


def normalize_channels(raw, file: str | Path, *, eeg_only: bool = True):
    """Keep EEG channels (when ``eeg_only``) and rename them to standard 10-20 names, in place."""
    if eeg_only:
        raw.pick("eeg", exclude=())
    mapping, seen, dropped = {}, set(), []
    for c in raw.ch_names:
        name = normalize_ch_name(c)
        if name in seen:
            dropped.append(c)
        else:
            mapping[c] = name
            seen.add(name)
    if dropped:  # e.g. two labels of one electrode; the first one is kept
        logger.warning("%s: dropping channel(s) %s whose 10-20 names repeat earlier ones", file, dropped)
        raw.drop_channels(dropped)
    raw.rename_channels(mapping, verbose="error")
    return raw


def causal_design(cfg):
    """The causal front end's design for a ``data:`` config, or None in zero-phase mode."""
    if getattr(cfg, "preprocessing", "zero_phase") != "causal":
        return None
    from .causal import design_from_config

    return design_from_config(cfg)


def preprocess_raw(raw, file: str | Path, *, sfreq_hz: float, l_freq_hz: float, h_freq_hz: float,
                   notch_hz: float | None = None, required: tuple[str, ...] | list[str] = (),
                   min_channels: int = 1, causal=None):
    """Check and filter a Raw; returns it at ``sfreq_hz`` with only the channels kept.

    Zero-phase mode filters ``raw`` in place and returns it; with ``causal`` the returned Raw is a
    new one (use the return value).

    Parameters
    ----------
    raw : mne.io.Raw
        Channels already named by :func:`normalize_channels`.
    file : str | Path
        Named in error messages.
    sfreq_hz, l_freq_hz, h_freq_hz, notch_hz : float
        Target rate, band-pass edges and notch frequency (None: none).
    required : sequence of str
        Channels that must be present; when given, exactly these are kept, in this order.
    min_channels : int
        Fewest channels accepted.
    causal : dlink.data.causal.CausalDesign | None
        Run this causal front end (notch, band-pass, resampler; its own coefficients) instead of
        MNE's zero-phase filters (see :func:`causal_design`). A recording at another rate than the
        design's ADC rate is first brought to it with MNE's resampling (offline, as if it had been
        recorded at that rate).
    """
    check_channels(file, raw.ch_names, required, min_channels=min_channels)
    if required:
        raw.pick(list(required))
    sfreq = float(raw.info["sfreq"])
    check_sfreq(file, sfreq, h_freq_hz)
    check_signals(file, raw.get_data(), raw.ch_names)
    if causal is not None:
        from .causal import causal_raw

        if abs(sfreq - causal.input_sfreq_hz) > 1e-6:
            logger.info("%s: resampling %g -> %g Hz (the ADC rate of data.causal) before the causal "
                        "front end", file, sfreq, causal.input_sfreq_hz)
            raw.resample(causal.input_sfreq_hz, verbose="error")
        return causal_raw(raw, causal, file)
    if notch_hz is not None:
        if notch_hz >= sfreq / 2:
            raise DataFileError(f"{file}: data.notch_hz={notch_hz:g} is above the Nyquist frequency "
                                f"{sfreq / 2:g} Hz of the recording.")
        raw.notch_filter(notch_hz, verbose="error")
    raw.filter(l_freq_hz or None, h_freq_hz, verbose="error")
    if abs(sfreq - sfreq_hz) > 1e-6:
        raw.resample(sfreq_hz, verbose="error")
    return raw


def cut_windows(raw, onsets_samples: np.ndarray, n_times: int, file: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``n_times`` samples starting at each onset (data indices), in units of 100 uV.

    Returns
    -------
    X : ndarray, shape (n_kept, n_chans, n_times), float32
    kept : ndarray of bool, shape (n_onsets,)
        False for windows that would start before the recording or run past its end (logged).
    """
    data = raw.get_data()
    onsets = np.asarray(onsets_samples, dtype=np.int64)
    kept = (onsets >= 0) & (onsets + n_times <= data.shape[1])
    if (~kept).any():
        logger.warning("%s: %d of %d window(s) fall outside the recording (before its start or "
                       "past its end) and are dropped", file, int((~kept).sum()), len(kept))
    if not kept.any():
        return np.zeros((0, data.shape[0], n_times), np.float32), kept
    idx = onsets[kept][:, None] + np.arange(n_times)[None, :]
    X = data[:, idx].transpose(1, 0, 2) / UNIT_V
    return X.astype(np.float32), kept


def fixed_windows(raw, n_times: int) -> np.ndarray:
    """Consecutive non-overlapping windows of ``n_times`` samples over the whole recording (100 uV)."""
    data = raw.get_data()
    n = data.shape[1] // n_times
    X = data[:, : n * n_times].reshape(data.shape[0], n, n_times).transpose(1, 0, 2) / UNIT_V
    return X.astype(np.float32)


def annotation_onsets(raw, file: str | Path, mapping: dict[str, int], *, what: str):
    """Data-sample onsets and codes of the annotations in ``mapping`` (description -> code).

    Raises
    ------
    DataFileError
        When none of the expected annotations is present (the message lists what the file has).
    """
    import mne

    found = sorted(set(raw.annotations.description))
    if not set(mapping) & set(found):
        raise DataFileError(f"{file}: no {what} annotations: expected some of {sorted(mapping)}, "
                            f"the file has {found or 'no annotations'}.")
    events, _ = mne.events_from_annotations(raw, event_id=mapping, verbose="error")
    return events[:, 0] - raw.first_samp, events[:, 2]


def describe_preprocessing(cfg) -> dict:
    """What the preprocessing of a ``data:`` config does to a recording, as plain JSON (for the
    model card: the device must feed the model windows prepared the same way).

    Examples
    --------
    >>> from dlink.data.config import DataConfig
    >>> describe_preprocessing(DataConfig())["band_pass_hz"]
    [0.3, 75.0]
    """
    out = {
        "mode": getattr(cfg, "preprocessing", "zero_phase"),
        "channels": "EEG channels only, under standard 10-20 names, in the model's channel order",
        "notch_hz": cfg.notch_hz,
        "band_pass_hz": [cfg.l_freq_hz, cfg.h_freq_hz],
        "filter": "zero-phase FIR (MNE Raw.filter, firwin design), applied offline to the whole "
                  "recording before windowing",
        "resample": f"to {cfg.sfreq_hz:g} Hz from the recording's own rate (MNE Raw.resample)",
        "reference": "as recorded (no re-referencing)",
        "units": "100 uV (a value of 1.0 is 100 uV; volts / 1e-4)",
        "unit_volts": UNIT_V,
    }
    if out["mode"] == "causal":  # the streaming front end of data.causal (dlink.data.causal)
        c = cfg.causal
        rate = cfg.adc_sfreq_hz()
        notch = f"an IIR notch (Q {c.notch_q:g}), then " if cfg.notch_hz is not None else ""
        out.update(
            filter=f"causal, float32, state carried across the recording: {notch}a Butterworth "
                   f"band-pass of order {c.bandpass_order} as biquads (scipy.signal.butter, sos); the "
                   "board's generated front end computes the same",
            resample=f"to {cfg.sfreq_hz:g} Hz from the ADC rate "
                     f"{'of the recording' if rate is None else f'{rate:g} Hz'} by a causal polyphase "
                     f"FIR (resample_poly's design, half-width {c.resample_half_width})",
            adc_sfreq_hz=rate)
    return out
