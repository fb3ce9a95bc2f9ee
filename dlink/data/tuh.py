"""TUH EEG corpus tasks from local EDF trees: TUAB (normal/abnormal) and TUEV (6 event classes).

Preprocessing follows LaBraM's TUAB/TUEV pipelines: the 23 referential channels
(:data:`dlink.data.montage.TUH_REFERENTIAL`; ``data.montage: bipolar`` gives instead the 16
bipolar derivations BIOT and CBraMod use), band-pass (LaBraM: 0.1-75 Hz), optional notch
(LaBraM used 50 Hz; TUH is US data with 60 Hz mains), 200 Hz, units of 100 uV.

- **TUAB** (``data.name: tuab``): ``<path>/[edf/]{train,eval}/{normal,abnormal}/**.edf``; label
  from the folder (0 normal, 1 abnormal); consecutive non-overlapping 10-s windows over each
  recording (``data.window_s: 10``).
- **TUEV** (``data.name: tuev``): ``<path>/[edf/]{train,eval}/<subject>/*.edf``, each with a
  ``.rec`` file of events ``channel,start_s,end_s,label`` (label 1-6: spsw, gped, pled, eyem,
  artf, bckg); one 5-s window centred on each event (an event of 1 s gets 2 s either side,
  ``data.window_s: 5``).

Splits follow the corpus: ``eval`` -> ``test``; the ``train`` folder is split by subject into
``train`` (80 %) and ``val`` (20 %, seeded, as LaBraM does); ``pool`` is empty. Within-subject
splits (``data.subjects``, ids numbered 1.. in the sorted order of the subject tokens of both
folders) read every recording of those subjects; windows carry the session and take number of
their file name (``..._s002_t001.edf``: session 's002', run 1), and TUAB windows of one recording
form one trial (they share its label), so that a recording never straddles two splits.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ._checks import DataFileError
from .config import DataConfig
from .montage import TCP_BIPOLAR, TUH_REFERENTIAL
from .preprocess import (causal_design, cut_windows, fixed_windows, normalize_channels, preprocess_raw,
                         read_raw)
from .windows import EEGWindows

logger = logging.getLogger(__name__)

TUAB_CLASSES = ["normal", "abnormal"]
TUEV_CLASSES = ["spsw", "gped", "pled", "eyem", "artf", "bckg"]
PAPER_WINDOW_S = {"tuab": 10, "tuev": 5}
VAL_FRACTION = 0.2
SPLIT_SEED = 0


def montage_names(montage: str) -> list[str]:
    """Channel names of the windows for a montage ('referential' or 'bipolar')."""
    if montage == "bipolar":
        return [f"{a}-{b}" for a, b in TCP_BIPOLAR]
    return list(TUH_REFERENTIAL)


def _to_montage(X: np.ndarray, montage: str) -> np.ndarray:
    if montage != "bipolar":
        return X
    idx = {c: i for i, c in enumerate(TUH_REFERENTIAL)}
    a = [idx[p] for p, _ in TCP_BIPOLAR]
    b = [idx[q] for _, q in TCP_BIPOLAR]
    return (X[:, a] - X[:, b]).astype(np.float32)


def _read(file: Path, cfg: DataConfig):
    raw = read_raw(file, what="TUH recording")
    normalize_channels(raw, file, eeg_only=False)  # TUH types every channel as EEG
    return preprocess_raw(raw, file, sfreq_hz=cfg.sfreq_hz, l_freq_hz=cfg.l_freq_hz,
                          h_freq_hz=cfg.h_freq_hz, notch_hz=cfg.notch_hz, required=TUH_REFERENTIAL,
                          causal=causal_design(cfg))


def read_tuab_recording(file: str | Path, label: int, cfg: DataConfig, *, subject: int = 0) -> EEGWindows:
    """Consecutive non-overlapping windows of one TUAB recording, all with ``label``."""
    file = Path(file)
    raw = _read(file, cfg)
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    X = fixed_windows(raw, n_times)
    if len(X) == 0:
        raise DataFileError(f"{file}: recording of {raw.n_times / cfg.sfreq_hz:.1f} s is shorter than "
                            f"one {cfg.resolved_window_s()}-s window.")
    if cfg.max_windows_per_recording is not None:
        X = X[: cfg.max_windows_per_recording]
    X = _to_montage(X, cfg.montage)
    return EEGWindows(X, np.full(len(X), label), np.full(len(X), subject), montage_names(cfg.montage),
                      cfg.sfreq_hz, TUAB_CLASSES)


def read_rec(path: str | Path) -> np.ndarray:
    """Events of a TUEV ``.rec`` file as rows ``(channel, start_s, end_s, label)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The TUEV event file {str(path)!r} does not exist; every .edf needs its "
                                f".rec file of events (channel,start_s,end_s,label).")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            ch, t0, t1, lab = (float(v) for v in line.split(","))
        except ValueError:
            raise DataFileError(f"{path}:{n}: expected 'channel,start_s,end_s,label', got {line!r}.") from None
        if not 1 <= lab <= 6 or t1 <= t0:
            raise DataFileError(f"{path}:{n}: expected a label in 1-6 and end > start, got {line!r}.")
        rows.append((ch, t0, t1, lab))
    if not rows:
        raise DataFileError(f"{path}: no events; expected lines 'channel,start_s,end_s,label'.")
    return np.array(rows)


def read_tuev_recording(file: str | Path, cfg: DataConfig, *, subject: int = 0) -> EEGWindows:
    """One window centred on each event of the recording's ``.rec`` file."""
    file = Path(file)
    events = read_rec(file.with_suffix(".rec"))
    raw = _read(file, cfg)
    window_s = cfg.resolved_window_s()
    mid_s = (events[:, 1] + events[:, 2]) / 2
    onsets = np.round((mid_s - window_s / 2) * cfg.sfreq_hz).astype(np.int64)
    X, kept = cut_windows(raw, onsets, int(round(window_s * cfg.sfreq_hz)), file)
    y = events[kept, 3].astype(np.int64) - 1
    return EEGWindows(_to_montage(X, cfg.montage), y, np.full(len(y), subject),
                      montage_names(cfg.montage), cfg.sfreq_hz, TUEV_CLASSES)


def _edf_root(cfg: DataConfig) -> Path:
    if cfg.path is None:
        raise ValueError(f"data.path must point to the local TUH {cfg.name.upper()} tree (the folder "
                         "holding train/ and eval/, or its parent edf/); TUH has no public fetcher.")
    root = Path(cfg.path).expanduser()
    if (root / "edf").is_dir():
        root = root / "edf"
    for part in ("train", "eval"):
        if not (root / part).is_dir():
            raise FileNotFoundError(f"data.path={cfg.path!r}: expected a TUH tree with the folders "
                                    f"train/ and eval/ (optionally under edf/); {root / part} is missing.")
    return root


def _recordings(cfg: DataConfig, root: Path) -> list[tuple[str, Path, int]]:
    """(corpus part, file, label) for every recording (label -1 for TUEV: read from .rec)."""
    out = []
    for part in ("train", "eval"):
        for f in sorted((root / part).rglob("*.edf")):
            if cfg.name == "tuab":
                rel = [p.lower() for p in f.relative_to(root / part).parts]
                labels = [TUAB_CLASSES.index(p) for p in rel if p in TUAB_CLASSES]
                if not labels:
                    raise DataFileError(f"{f}: TUAB recordings must lie under a normal/ or abnormal/ "
                                        f"folder, got {f.relative_to(root)}.")
                out.append((part, f, labels[0]))
            else:
                out.append((part, f, -1))
    if not out:
        raise FileNotFoundError(f"No .edf recordings under {root}/train or {root}/eval.")
    return out


def _subject_token(cfg: DataConfig, file: Path) -> str:
    return file.name.split("_")[0] if cfg.name == "tuab" else file.parent.name


def _session_run(file: Path) -> tuple[str, int]:
    session, run = "", -1
    for token in file.stem.split("_"):
        if len(token) > 1 and token[0] == "s" and token[1:].isdigit():
            session = token
        elif len(token) > 1 and token[0] == "t" and token[1:].isdigit():
            run = int(token[1:])
    return session, run


def read_tuh_within(cfg: DataConfig, *, verbose: bool = False) -> tuple[EEGWindows, EEGWindows]:
    """Every recording of ``data.subjects`` for within-subject splits; returns ``(windows, pool)``."""
    classes = TUAB_CLASSES if cfg.name == "tuab" else TUEV_CLASSES
    if not cfg.subjects:
        raise ValueError("data.subjects must list the subject(s) to read for within-subject splits, "
                         "e.g. subjects: [1] (TUH subjects are numbered 1.. in sorted token order).")
    root = _edf_root(cfg)
    recs = _recordings(cfg, root)
    tokens = sorted({_subject_token(cfg, f) for _, f, _ in recs})
    ids = {t: i + 1 for i, t in enumerate(tokens)}
    parts = []
    for k, (_, f, label) in enumerate(recs):
        sid = ids[_subject_token(cfg, f)]
        if sid not in cfg.subjects:
            continue
        w = (read_tuab_recording(f, label, cfg, subject=sid) if cfg.name == "tuab"
             else read_tuev_recording(f, cfg, subject=sid))
        session, run = _session_run(f)
        trial = np.full(len(w), k) if cfg.name == "tuab" else np.arange(len(w)) + 100_000 * k
        parts.append(EEGWindows(w.X, w.y, w.subject, w.ch_names, w.sfreq, w.class_names,
                                run=np.full(len(w), run), session=np.full(len(w), session), trial=trial))
    if not parts:
        raise ValueError(f"data.subjects {cfg.subjects} select no recording; TUH subjects here are "
                         f"1-{len(tokens)}.")
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    return EEGWindows.concat(parts), EEGWindows.empty(montage_names(cfg.montage), cfg.sfreq_hz, n_times,
                                                      classes)


def load_tuh(cfg: DataConfig, *, verbose: bool = False) -> dict[str, EEGWindows]:
    """All splits of TUAB or TUEV (see the module doc for the layout and the split)."""
    if cfg.splits:
        raise ValueError(f"data.splits is not used for {cfg.name}: its split follows the corpus "
                         f"(eval -> test, train -> train/val by subject); remove it (got {cfg.splits}).")
    classes = TUAB_CLASSES if cfg.name == "tuab" else TUEV_CLASSES
    if cfg.n_classes != len(classes):
        raise ValueError(f"data.n_classes must be {len(classes)} for {cfg.name}, got {cfg.n_classes!r}.")
    if cfg.resolved_window_s() != PAPER_WINDOW_S[cfg.name]:
        logger.warning("%s: %d-s windows; the FM papers use %d s (set data.window_s: %d or null)",
                       cfg.name, cfg.resolved_window_s(), PAPER_WINDOW_S[cfg.name], PAPER_WINDOW_S[cfg.name])
    root = _edf_root(cfg)
    recs = _recordings(cfg, root)
    tokens = sorted({_subject_token(cfg, f) for _, f, _ in recs})
    ids = {t: i + 1 for i, t in enumerate(tokens)}
    train_tokens = sorted({_subject_token(cfg, f) for part, f, _ in recs if part == "train"})
    rng = np.random.default_rng(SPLIT_SEED)
    shuffled = list(rng.permutation(train_tokens))
    n_val = int(round(len(shuffled) * VAL_FRACTION)) if len(shuffled) > 1 else 0
    val_tokens = set(shuffled[:n_val])

    from tqdm import tqdm

    parts: dict[str, list[EEGWindows]] = {"train": [], "val": [], "test": [], "pool": []}
    for part, f, label in tqdm(recs, desc=cfg.name, disable=not verbose):
        token = _subject_token(cfg, f)
        split = "test" if part == "eval" else ("val" if token in val_tokens else "train")
        if cfg.name == "tuab":
            parts[split].append(read_tuab_recording(f, label, cfg, subject=ids[token]))
        else:
            parts[split].append(read_tuev_recording(f, cfg, subject=ids[token]))
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    names = montage_names(cfg.montage)
    return {k: EEGWindows.concat(v) if v else EEGWindows.empty(names, cfg.sfreq_hz, n_times, classes)
            for k, v in parts.items()}
