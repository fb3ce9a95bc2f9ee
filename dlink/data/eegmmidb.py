"""PhysioNet EEG Motor Movement/Imagery (EEGMMIDB) through MNE's ``eegbci`` layout.

Imagery runs 4, 8, 12 (imagine opening/closing the left or right fist; T1 = left fist,
T2 = right fist) and 6, 10, 14 (imagine both fists or both feet; T1 = both fists, T2 = both
feet), read by default; the executed-movement runs 3, 7, 11 (left/right fist) and 5, 9, 13
(both fists/both feet) on request (``data.runs``, or a split that names them, e.g. as the
teacher's pool: ``splits: {by: kfold, pool: {runs: [3, 7, 11]}}``). One label set across runs:
0 left_fist, 1 right_fist, 2 both_fists, 3 both_feet (``n_classes=2`` keeps the fist runs and
the first two). Each T1/T2 cue opens a 4-s window
(the cue lasts ~4.1 s); T0 (rest) is not used. 64 channels at 160 Hz, renamed to standard
10-20 names ('Fc5.' -> 'FC5'), band-passed, optionally notch-filtered (60 Hz mains), resampled
to 200 Hz, in units of 100 uV. Cross-subject split by subject ranges, 1-70 / 71-89 / 90-109
by default, or within one subject (``data.subjects`` and ``data.splits.by``: run or kfold; each
window carries its run number and its trial index within the run). Subjects 88, 92, 100 (recorded at 128 Hz) and 104 (irregular run lengths) are
skipped by default, as is common practice (``data.exclude_subjects`` overrides the list).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dlink._check import check_option

from ._checks import DataFileError
from .config import DataConfig
from .montage import pick_windows
from .preprocess import (annotation_onsets, causal_design, cut_windows, normalize_channels,
                         preprocess_raw, read_raw)
from .windows import EEGWindows

logger = logging.getLogger(__name__)

CLASS_NAMES = ["left_fist", "right_fist", "both_fists", "both_feet"]
HAND_RUNS = (4, 8, 12)  # imagery; T1 left fist, T2 right fist
FEET_RUNS = (6, 10, 14)  # imagery; T1 both fists, T2 both feet
EXEC_HAND_RUNS = (3, 7, 11)  # executed movement; T1 left fist, T2 right fist
EXEC_FEET_RUNS = (5, 9, 13)  # executed movement; T1 both fists, T2 both feet
ALL_RUNS = tuple(sorted(HAND_RUNS + FEET_RUNS + EXEC_HAND_RUNS + EXEC_FEET_RUNS))
DEFAULT_SPLITS = {"train": (1, 70), "val": (71, 89), "test": (90, 109)}
DEFAULT_EXCLUDE = (88, 92, 100, 104)
N_CHANNELS = 64
SFREQ_HZ = 160.0
_LAYOUT = ("MNE-eegbci-data", "files", "eegmmidb", "1.0.0")


def run_labels(run: int) -> dict[str, int]:
    """Annotation -> class index of a movement run (one label set across runs)."""
    check_option("run", run, ALL_RUNS, fix=_RUNS_FIX)
    return {"T1": 0, "T2": 1} if run in HAND_RUNS + EXEC_HAND_RUNS else {"T1": 2, "T2": 3}


_RUNS_FIX = ("EEGMMIDB's labelled runs are 4, 8, 12 (imagined left/right fist), 6, 10, 14 (imagined "
             "fists/feet), 3, 7, 11 (executed left/right fist) and 5, 9, 13 (executed fists/feet); "
             "runs 1 and 2 are baselines without cues.")


def run_file(root: str | Path, subject: int, run: int) -> Path:
    """Path of ``S{subject:03d}R{run:02d}.edf`` under an MNE data folder (or the eegmmidb folder)."""
    root = Path(root).expanduser()
    name = Path(f"S{subject:03d}") / f"S{subject:03d}R{run:02d}.edf"
    nested = root.joinpath(*_LAYOUT) / name
    return nested if nested.exists() or not (root / name).exists() else root / name


def read_run(file: str | Path, run: int, cfg: DataConfig, *, subject: int = 0) -> EEGWindows:
    """Windows of one EEGMMIDB run (imagery or executed movement).

    Parameters
    ----------
    file : str | Path
        The run's EDF file.
    run : int
        Its run number (decides the labels, see :func:`run_labels`).
    cfg : DataConfig
        Band-pass, notch, target rate, window length and ``channels`` (picked in that order;
        a channel missing from the file is an error naming it).
    subject : int
        Subject id stored with the windows.

    Returns
    -------
    EEGWindows
        One window per T1/T2 cue, with the 4-class labels of :data:`CLASS_NAMES`, the run number
        and the trial index (cue order) within the run.
    """
    labels = run_labels(run)
    raw = read_raw(file, what="EEGMMIDB recording",
                   fix="Fetch it with mne.datasets.eegbci.load_data(subject, runs, path=...).")
    normalize_channels(raw, file)
    raw = preprocess_raw(raw, file, sfreq_hz=cfg.sfreq_hz, l_freq_hz=cfg.l_freq_hz,
                         h_freq_hz=cfg.h_freq_hz, notch_hz=cfg.notch_hz, min_channels=N_CHANNELS,
                         causal=causal_design(cfg))
    kind = "imagery" if run in HAND_RUNS + FEET_RUNS else "executed-movement"
    onsets, codes = annotation_onsets(raw, file, labels, what=f"EEGMMIDB {kind} (T1/T2)")
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    X, kept = cut_windows(raw, onsets + int(round(cfg.tmin_s * cfg.sfreq_hz)), n_times, file)
    y = codes[kept]
    w = EEGWindows(X, y, np.full(len(y), subject), list(raw.ch_names), cfg.sfreq_hz, CLASS_NAMES,
                   run=np.full(len(y), run), trial=np.flatnonzero(kept))
    return pick_windows(w, cfg.channels, source=str(file))


def check_runs(runs: list[int] | None, n_classes: int, *, what: str = "data.runs") -> None:
    """Check runs against ``data.n_classes`` when the config is loaded (no file read).

    With ``n_classes: 2`` (left/right fist) only the fist runs (4, 8, 12 and executed 3, 7, 11)
    carry those classes; a run of both fists/both feet would be dropped, so it is an error.
    """
    check_option("data.n_classes", n_classes, (2, 4),
                 fix="EEGMMIDB has 4 imagery classes (or 2: left/right fist).")
    for r in runs or ():
        check_option(what, r, ALL_RUNS, fix=_RUNS_FIX)
    if n_classes == 2 and runs is not None:
        feet = [r for r in runs if r in FEET_RUNS + EXEC_FEET_RUNS]
        if feet:
            keep = [r for r in runs if r not in feet] or list(HAND_RUNS)
            raise ValueError(
                f"{what}={list(runs)} with data.n_classes=2: run(s) {feet} hold both fists/both "
                f"feet, not the 2 classes left/right fist, and would give no windows. Remove them "
                f"(e.g. runs: {keep}) or set data.n_classes: 4.")


def _runs(cfg: DataConfig, extra=()) -> list[int]:
    check_runs(cfg.runs, cfg.n_classes)
    check_runs(sorted(extra), cfg.n_classes, what="data.splits (the runs it names)")
    runs = list(cfg.runs) if cfg.runs is not None else list(HAND_RUNS + FEET_RUNS)
    for r in sorted(extra):
        if r not in runs:
            runs.append(r)
    return [r for r in runs if r in HAND_RUNS + EXEC_HAND_RUNS] if cfg.n_classes == 2 else runs


def _read_subjects(cfg: DataConfig, subjects, runs: list[int], *, desc: str,
                   verbose: bool) -> list[EEGWindows]:
    from tqdm import tqdm

    class_names = CLASS_NAMES[: cfg.n_classes]
    parts = []
    for s in tqdm(subjects, desc=desc, disable=not verbose):
        for file, run in zip(_files(cfg, s, runs), runs):
            w = read_run(file, run, cfg, subject=s)
            parts.append(w.subset(w.y < cfg.n_classes).with_classes(class_names))
    return parts


def read_eegmmidb_within(cfg: DataConfig, *, verbose: bool = False) -> tuple[EEGWindows, EEGWindows]:
    """Every window of ``data.subjects`` (and of the pool's subjects) for within-subject splits.

    Reads the runs of ``data.runs`` (default: the imagery runs) plus every run that
    ``data.splits`` names (e.g. the executed-movement runs of the pool). Returns
    ``(windows, pool)``; ``pool`` is empty (the split's selectors decide the pool).
    """
    spec = cfg.split_spec()
    subjects = cfg.within_subject_ids()
    runs = _runs(cfg, spec.named_runs())
    parts = _read_subjects(cfg, subjects, runs, desc="eegmmidb", verbose=verbose)
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    windows = EEGWindows.concat(parts)
    return windows, EEGWindows.empty(windows.ch_names, cfg.sfreq_hz, n_times, windows.class_names)


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
    parts: dict[str, list[EEGWindows]] = {}
    for split in ("train", "val", "test", "pool"):
        first, last = ranges.get(split, (1, 0))
        subjects = [s for s in range(first, last + 1) if s not in exclude]
        parts[split] = _read_subjects(cfg, subjects, runs, desc=f"eegmmidb {split}", verbose=verbose)
    # empty splits take the channel names of the others
    names = next((p[0].ch_names for p in parts.values() if p),
                 list(cfg.channels or [f"ch{i}" for i in range(N_CHANNELS)]))
    out = {k: EEGWindows.concat(v) if v else EEGWindows.empty(names, cfg.sfreq_hz, n_times, class_names)
           for k, v in parts.items()}
    for k, w in out.items():
        logger.info("eegmmidb %s: %d windows", k, len(w))
    return out
