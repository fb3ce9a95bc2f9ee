"""PhysioNet EEG Motor Movement/Imagery (EEGMMIDB) through MNE's ``eegbci`` layout.

Imagery runs only: 4, 8, 12 (imagine opening/closing the left or right fist; T1 = left fist,
T2 = right fist) and 6, 10, 14 (imagine both fists or both feet; T1 = both fists, T2 = both
feet). One label set across runs: 0 left_fist, 1 right_fist, 2 both_fists, 3 both_feet
(``n_classes=2`` keeps runs 4/8/12 and the first two). Each T1/T2 cue opens a 4-s window
(the cue lasts ~4.1 s); T0 (rest) is not used. 64 channels at 160 Hz, renamed to standard
10-20 names ('Fc5.' -> 'FC5'), band-passed, optionally notch-filtered (60 Hz mains), resampled
to 200 Hz, in units of 100 uV. Cross-subject split by subject ranges, 1-70 / 71-89 / 90-109
by default. Subjects 88, 92, 100 (recorded at 128 Hz) and 104 (irregular run lengths) are
skipped by default, as is common practice (``data.exclude_subjects`` overrides the list).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dlink._check import check_option

from ._checks import DataFileError
from .config import DataConfig
from .preprocess import annotation_onsets, cut_windows, normalize_channels, preprocess_raw, read_raw
from .windows import EEGWindows

logger = logging.getLogger(__name__)

CLASS_NAMES = ["left_fist", "right_fist", "both_fists", "both_feet"]
HAND_RUNS = (4, 8, 12)  # T1 left fist, T2 right fist
FEET_RUNS = (6, 10, 14)  # T1 both fists, T2 both feet
DEFAULT_SPLITS = {"train": (1, 70), "val": (71, 89), "test": (90, 109)}
DEFAULT_EXCLUDE = (88, 92, 100, 104)
N_CHANNELS = 64
SFREQ_HZ = 160.0
_LAYOUT = ("MNE-eegbci-data", "files", "eegmmidb", "1.0.0")


def run_labels(run: int) -> dict[str, int]:
    """Annotation -> class index of an imagery run (one label set across runs)."""
    check_option("run", run, HAND_RUNS + FEET_RUNS,
                 fix="EEGMMIDB imagery runs are 4, 8, 12 (left/right fist) and 6, 10, 14 (fists/feet).")
    return {"T1": 0, "T2": 1} if run in HAND_RUNS else {"T1": 2, "T2": 3}


def run_file(root: str | Path, subject: int, run: int) -> Path:
    """Path of ``S{subject:03d}R{run:02d}.edf`` under an MNE data folder (or the eegmmidb folder)."""
    root = Path(root).expanduser()
    name = Path(f"S{subject:03d}") / f"S{subject:03d}R{run:02d}.edf"
    nested = root.joinpath(*_LAYOUT) / name
    return nested if nested.exists() or not (root / name).exists() else root / name


def read_run(file: str | Path, run: int, cfg: DataConfig, *, subject: int = 0) -> EEGWindows:
    """Windows of one EEGMMIDB imagery run.

    Parameters
    ----------
    file : str | Path
        The run's EDF file.
    run : int
        Its run number (decides the labels, see :func:`run_labels`).
    cfg : DataConfig
        Band-pass, notch, target rate and window length.
    subject : int
        Subject id stored with the windows.

    Returns
    -------
    EEGWindows
        One window per T1/T2 cue, with the 4-class labels of :data:`CLASS_NAMES`.
    """
    labels = run_labels(run)
    raw = read_raw(file, what="EEGMMIDB recording",
                   fix="Fetch it with mne.datasets.eegbci.load_data(subject, runs, path=...).")
    normalize_channels(raw, file)
    preprocess_raw(raw, file, sfreq_hz=cfg.sfreq_hz, l_freq_hz=cfg.l_freq_hz, h_freq_hz=cfg.h_freq_hz,
                   notch_hz=cfg.notch_hz, min_channels=N_CHANNELS)
    onsets, codes = annotation_onsets(raw, file, labels, what="EEGMMIDB imagery (T1/T2)")
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    X, kept = cut_windows(raw, onsets, n_times, file)
    y = codes[kept]
    return EEGWindows(X, y, np.full(len(y), subject), list(raw.ch_names), cfg.sfreq_hz, CLASS_NAMES)


def _runs(cfg: DataConfig) -> list[int]:
    check_option("data.n_classes", cfg.n_classes, (2, 4), fix="EEGMMIDB has 4 imagery classes (or 2: left/right).")
    if cfg.runs is not None:
        for r in cfg.runs:
            check_option("data.runs", r, HAND_RUNS + FEET_RUNS)
        runs = list(cfg.runs)
    else:
        runs = list(HAND_RUNS + FEET_RUNS)
    return [r for r in runs if r in HAND_RUNS] if cfg.n_classes == 2 else runs


def _files(cfg: DataConfig, subject: int, runs: list[int]) -> list[Path]:
    if cfg.path is not None:
        return [run_file(cfg.path, subject, r) for r in runs]
    import mne  # the fetcher (needs network unless MNE's data folder already has the files)

    try:
        return [Path(p) for p in mne.datasets.eegbci.load_data(subject, runs, update_path=False)]
    except Exception as e:
        raise DataFileError(f"EEGMMIDB subject {subject} runs {runs}: MNE's fetcher failed ({e}). "
                            "Set data.path to a local MNE data folder holding MNE-eegbci-data.") from e


def load_eegmmidb(cfg: DataConfig, *, verbose: bool = False) -> dict[str, EEGWindows]:
    """All splits of EEGMMIDB (cross-subject by the subject ranges of ``cfg.splits``).

    Returns
    -------
    dict of str to EEGWindows
        ``train``, ``val``, ``test``, ``pool`` (splits without a range hold 0 windows).
    """
    runs = _runs(cfg)
    ranges = cfg.split_ranges(DEFAULT_SPLITS)
    exclude = set(DEFAULT_EXCLUDE if cfg.exclude_subjects is None else cfg.exclude_subjects)
    class_names = CLASS_NAMES[: cfg.n_classes]
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    from tqdm import tqdm

    parts: dict[str, list[EEGWindows]] = {}
    for split in ("train", "val", "test", "pool"):
        first, last = ranges.get(split, (1, 0))
        subjects = [s for s in range(first, last + 1) if s not in exclude]
        parts[split] = []
        for s in tqdm(subjects, desc=f"eegmmidb {split}", disable=not verbose):
            for file, run in zip(_files(cfg, s, runs), runs):
                w = read_run(file, run, cfg, subject=s)
                w = w.subset(w.y < cfg.n_classes)
                parts[split].append(EEGWindows(w.X, w.y, w.subject, w.ch_names, w.sfreq, class_names))
    # empty splits take the channel names of the others
    names = next((p[0].ch_names for p in parts.values() if p), [f"ch{i}" for i in range(N_CHANNELS)])
    out = {k: EEGWindows.concat(v) if v else EEGWindows.empty(names, cfg.sfreq_hz, n_times, class_names)
           for k, v in parts.items()}
    for k, w in out.items():
        logger.info("eegmmidb %s: %d windows", k, len(w))
    return out
