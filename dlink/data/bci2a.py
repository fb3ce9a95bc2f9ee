"""BCI Competition IV 2a (BNCI 2014-001): 9 subjects, 22 EEG channels, 4 motor-imagery classes.

Two sources:

- **local files** (``data.path``): ``A0<s>T.gdf`` (training session, cues 769-772 in the file) and
  ``A0<s>E.gdf`` (evaluation session, cue 783 "unknown") with the true labels of the evaluation
  session in ``A0<s>E.mat`` (variable ``classlabel``, 1-4), beside the GDF files or in a
  ``true_labels/`` subfolder;
- **MOABB** ``BNCI2014_001`` when ``data.path`` is None and ``moabb`` is importable (the optional
  extra ``moabb``: 1.2.0, the last MOABB release on numpy 1.x, see pyproject.toml).

The 3 EOG channels are dropped; the 22 EEG channels keep the montage's 10-20 names
(:data:`dlink.data.montage.BCI2A_CH_NAMES`). A trial starts at t = 0 (fixation cross), the cue
appears at t = 2 s and the imagery lasts until t = 6 s; each window covers t = 2-6 s of the trial,
i.e. the 4 s from the cue (``data.tmin_s`` shifts it) (in the GDF files the cue events mark t = 2 s; MOABB's events mark the
trial start, hence its interval [2, 6]). 250 Hz -> band-pass, optional notch (50 Hz mains),
200 Hz, units of 100 uV. Cross-subject split by subject ranges: 1-5 / 6-7 / 8-9 by default;
both sessions of a subject go to that subject's split. Within one subject (``data.subjects``),
every window carries its session ('T' training, 'E' evaluation), run (MOABB's run index; 0 for
the local files, which hold one session each) and trial (cue order), so that
``splits: {by: session, train: [T], test: [E]}`` and k-fold splits work.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ._checks import DataFileError
from .config import DataConfig
from .montage import BCI2A_CH_NAMES, pick_windows
from .preprocess import annotation_onsets, causal_design, cut_windows, preprocess_raw, read_raw
from .windows import EEGWindows

logger = logging.getLogger(__name__)

CLASS_NAMES = ["left_hand", "right_hand", "feet", "tongue"]
CUE_CODES = {"769": 0, "770": 1, "771": 2, "772": 3}  # GDF cue events of the training session
UNKNOWN_CUE = "783"  # evaluation session: labels come from the .mat file
DEFAULT_SPLITS = {"train": (1, 5), "val": (6, 7), "test": (8, 9)}
N_EEG = 22
N_CHANNELS = 25  # 22 EEG + 3 EOG in every GDF file
MAX_NAN_FRACTION = 0.01  # the GDF files mark a few saturated samples as NaN


def session_windows(raw, file: str | Path, cfg: DataConfig, *, subject: int,
                    true_labels: np.ndarray | None = None, session: str = "") -> EEGWindows:
    """Windows of one session read from a GDF file.

    Parameters
    ----------
    raw : mne.io.Raw
        The session, 25 channels in the GDF order (22 EEG then 3 EOG).
    file : str | Path
        Named in error messages.
    cfg : DataConfig
        Band-pass, notch, target rate and window length.
    subject : int
        Stored with the windows.
    true_labels : ndarray of int, optional
        Labels 1-4 of the cues in order (required for the evaluation session, whose cues are
        all 783).
    session : str
        Stored with the windows ('T' or 'E').
    """
    if len(raw.ch_names) != N_CHANNELS:
        raise DataFileError(f"{file}: too few channels for BCI IV 2a: expected {N_CHANNELS} "
                            f"(22 EEG + 3 EOG), got {len(raw.ch_names)}: {raw.ch_names}.")
    raw.pick(raw.ch_names[:N_EEG])  # drop the EOG channels
    raw.rename_channels(dict(zip(raw.ch_names, BCI2A_CH_NAMES)), verbose="error")
    raw.set_channel_types({c: "eeg" for c in raw.ch_names}, verbose="error")
    _fill_nan(raw, file)
    raw = preprocess_raw(raw, file, sfreq_hz=cfg.sfreq_hz, l_freq_hz=cfg.l_freq_hz,
                         h_freq_hz=cfg.h_freq_hz, notch_hz=cfg.notch_hz, required=BCI2A_CH_NAMES,
                         causal=causal_design(cfg))
    if true_labels is None:
        onsets, y = annotation_onsets(raw, file, CUE_CODES, what="BCI IV 2a cue (769-772)")
    else:
        onsets, _ = annotation_onsets(raw, file, {UNKNOWN_CUE: 0, **CUE_CODES},
                                      what="BCI IV 2a cue (783 or 769-772)")
        labels = np.asarray(true_labels).ravel().astype(np.int64)
        if len(labels) != len(onsets) or labels.min() < 1 or labels.max() > 4:
            raise DataFileError(f"{file}: the true-label file holds {len(labels)} labels in "
                                f"{sorted(set(labels.tolist()))}; expected one label in 1-4 per cue "
                                f"({len(onsets)} cues).")
        y = labels - 1
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    X, kept = cut_windows(raw, onsets + int(round(cfg.tmin_s * cfg.sfreq_hz)), n_times, file)
    y = y[kept]
    w = EEGWindows(X, y, np.full(len(y), subject), list(BCI2A_CH_NAMES), cfg.sfreq_hz, CLASS_NAMES,
                   run=np.zeros(len(y), np.int64), session=np.full(len(y), session),
                   trial=np.flatnonzero(kept))
    return pick_windows(w, cfg.channels, source=str(file))


def _fill_nan(raw, file) -> None:
    data = raw._data
    bad = ~np.isfinite(data)
    if not bad.any():
        return
    frac = bad.mean(axis=1)
    if frac.max() > MAX_NAN_FRACTION:
        names = [c for c, f in zip(raw.ch_names, frac) if f > MAX_NAN_FRACTION]
        raise DataFileError(f"{file}: channel(s) {names} hold more than {MAX_NAN_FRACTION:.0%} NaN "
                            f"samples; expected finite EEG.")
    t = np.arange(data.shape[1])
    for i in np.nonzero(bad.any(axis=1))[0]:
        ok = ~bad[i]
        data[i, ~ok] = np.interp(t[~ok], t[ok], data[i, ok])
    logger.info("%s: interpolated %d NaN samples", file, int(bad.sum()))


def _true_labels(root: Path, stem: str) -> np.ndarray:
    from scipy.io import loadmat

    candidates = [root / f"{stem}.mat", root / "true_labels" / f"{stem}.mat"]
    for path in candidates:
        if path.is_file():
            try:
                mat = loadmat(path)
            except Exception as e:
                raise DataFileError(f"{path}: not a readable MATLAB file ({e}); expected the "
                                    f"true labels of {stem}.gdf (variable 'classlabel').") from e
            if "classlabel" not in mat:
                raise DataFileError(f"{path}: no 'classlabel' variable; found "
                                    f"{sorted(k for k in mat if not k.startswith('__'))}.")
            return np.asarray(mat["classlabel"]).ravel()
    raise FileNotFoundError(f"The true labels of {stem}.gdf were not found: expected "
                            f"{' or '.join(str(c) for c in candidates)} (from the BCI Competition IV "
                            f"results page).")


def _local_subject(cfg: DataConfig, subject: int) -> list[EEGWindows]:
    root = Path(cfg.path).expanduser()
    parts = []
    for session in ("T", "E"):
        stem = f"A{subject:02d}{session}"
        file = root / f"{stem}.gdf"
        raw = read_raw(file, what="BCI IV 2a recording",
                       fix="Download A0xT.gdf/A0xE.gdf from the BCI Competition IV site.")
        labels = _true_labels(root, stem) if session == "E" else None
        parts.append(session_windows(raw, file, cfg, subject=subject, true_labels=labels,
                                     session=session))
    return parts


def moabb_session_name(name: str) -> str:
    """'T' or 'E' for MOABB's session keys ('0train'/'1test', or 'session_T'/'session_E')."""
    low = str(name).lower()
    if "test" in low:
        return "E"
    if "train" in low:
        return "T"
    if low.endswith(("_t", "_e")):
        return low[-1].upper()
    return str(name)


def _moabb_subject(cfg: DataConfig, subject: int) -> list[EEGWindows]:
    import mne
    from moabb.datasets import BNCI2014_001

    dataset = BNCI2014_001()
    codes = {v: CLASS_NAMES.index(k) for k, v in dataset.event_id.items()}
    parts = []
    for session, runs in dataset.get_data(subjects=[subject])[subject].items():
        for run, raw in runs.items():
            where = f"MOABB BNCI2014_001 subject {subject} session {session} run {run}"
            events = mne.find_events(raw, stim_channel="stim", verbose="error")
            keep = np.isin(events[:, 2], list(codes))
            # MOABB's events mark the trial start; the window is t = 2-6 s of the trial
            start_s = (events[keep, 0] - raw.first_samp) / raw.info["sfreq"] + 2.0 + cfg.tmin_s
            raw.pick(list(BCI2A_CH_NAMES))
            raw = preprocess_raw(raw, where, sfreq_hz=cfg.sfreq_hz, l_freq_hz=cfg.l_freq_hz,
                                 h_freq_hz=cfg.h_freq_hz, notch_hz=cfg.notch_hz,
                                 required=BCI2A_CH_NAMES, causal=causal_design(cfg))
            onsets = np.round(start_s * cfg.sfreq_hz).astype(np.int64)
            y = np.array([codes[c] for c in events[keep, 2]], dtype=np.int64)
            n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
            X, kept = cut_windows(raw, onsets, n_times, where)
            n = int(kept.sum())
            digits = "".join(ch for ch in str(run) if ch.isdigit())
            w = EEGWindows(X, y[kept], np.full(n, subject), list(BCI2A_CH_NAMES), cfg.sfreq_hz,
                           CLASS_NAMES, run=np.full(n, int(digits or 0)),
                           session=np.full(n, moabb_session_name(session)), trial=np.flatnonzero(kept))
            parts.append(pick_windows(w, cfg.channels, source=where))
    return parts


def _reader(cfg: DataConfig):
    if cfg.n_classes != 4:
        raise ValueError(f"data.n_classes must be 4 for bci2a, got {cfg.n_classes!r}.")
    if cfg.path is None:
        try:
            import moabb  # noqa: F401
        except ImportError:
            raise DataFileError("data.path is not set and MOABB is not installed: set data.path to the "
                                "folder of A0xT.gdf/A0xE.gdf and A0xE.mat, or install the 'moabb' "
                                "extra.") from None
        return _moabb_subject
    return _local_subject


def read_bci2a_within(cfg: DataConfig, *, verbose: bool = False) -> tuple[EEGWindows, EEGWindows]:
    """Both sessions of ``data.subjects`` (and of the pool's subjects) for within-subject splits.

    Returns ``(windows, pool)``; ``pool`` is empty (the split's selectors decide the pool).
    """
    read_subject = _reader(cfg)
    subjects = cfg.within_subject_ids()
    from tqdm import tqdm

    windows = EEGWindows.concat([w for s in tqdm(subjects, desc="bci2a", disable=not verbose)
                                 for w in read_subject(cfg, s)])
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    return windows, EEGWindows.empty(windows.ch_names, cfg.sfreq_hz, n_times, CLASS_NAMES)


def load_bci2a(cfg: DataConfig, *, verbose: bool = False) -> dict[str, EEGWindows]:
    """All splits of BCI IV 2a, cross-subject by the subject ranges of ``cfg.splits``."""
    read_subject = _reader(cfg)
    from tqdm import tqdm

    ranges = cfg.split_ranges(DEFAULT_SPLITS)
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    out = {}
    for split in ("train", "val", "test", "pool"):
        first, last = ranges.get(split, (1, 0))
        subjects = [s for s in range(first, last + 1) if s not in set(cfg.exclude_subjects or ())]
        parts = [w for s in tqdm(subjects, desc=f"bci2a {split}", disable=not verbose)
                 for w in read_subject(cfg, s)]
        out[split] = (EEGWindows.concat(parts) if parts else
                      EEGWindows.empty(cfg.channels or BCI2A_CH_NAMES, cfg.sfreq_hz, n_times, CLASS_NAMES))
        logger.info("bci2a %s: %d windows", split, len(out[split]))
    return out
