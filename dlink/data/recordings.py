"""Your own recordings: any file MNE reads, an event map to classes, windows relative to the cue.

The ``recordings`` dataset reads the files listed in ``data.recordings`` (EDF, BDF, GDF, FIF,
BrainVision, EEGLAB, ... : whatever ``mne.io.read_raw`` reads), finds the cues named in
``data.events`` (annotation descriptions such as ``T1``, or integer codes of a stim channel such
as ``769``; an entry may bring its own map, for a run whose cues mean other classes), and cuts one window per cue from ``tmin_s`` to ``tmin_s + window_s`` seconds after
it. Every recording goes through the same preprocessing as the benchmark datasets
(:func:`dlink.data.preprocess.preprocess_raw`: band-pass, optional notch, resampling from the
file's own rate to ``data.sfreq_hz``, units of 100 uV). Channels are matched by their standard
10-20 name (after ``data.rename_channels`` and the usual clean-up of labels such as ``'C3..'`` or
``'EEG C3-REF'``), and ``data.channels`` picks and orders them.

The config is checked when it is loaded (:func:`check_recordings_config`), before any file is
read. Nothing is dropped silently: channels left out, events not in the map, cues whose window
falls outside the recording or overlaps a ``BAD`` annotation are counted, logged and returned
as notes (``Splits.notes``), which ``dlink data summary``, ``metrics.json`` and the model card
carry.

Splits, in either of two ways:

- within-subject (``data.splits.by``: run, session or kfold, :mod:`dlink.data.splits`): every
  recording is a run (numbered 1, 2, ... in the order of ``data.recordings``, or its ``run:``)
  of its ``session:``, every cue a trial; e.g. ``{by: kfold, folds: 5, fold: 0}`` for stratified
  folds over the trials of all recordings, or ``{by: run, train: [1, 2], test: [3]}``;
- by recording: each entry's ``split`` (train, val, test or pool), or, for entries without one,
  the subject ranges of ``data.splits`` applied to the entry's ``subject``.
"""

from __future__ import annotations

import glob
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlink._check import did_you_mean

from ._checks import DataFileError
from .config import DataConfig
from .splits import SPLIT_NAMES
from .windows import EEGWindows, Splits

logger = logging.getLogger(__name__)

_ENTRY_KEYS = ("file", "subject", "split", "events", "run", "session")


@dataclass(frozen=True)
class Recording:
    """One entry of ``data.recordings``: a file (or glob pattern), its subject and split, and
    its own event map when its cues mean other classes than ``data.events`` says (e.g. a run of
    another paradigm that reuses the same annotation names)."""

    file: str
    subject: int = 1
    split: str | None = None
    events: dict | None = None
    run: int | None = None
    session: str = ""


def parse_recordings(entries) -> list[Recording]:
    """``data.recordings`` as :class:`Recording` entries; checks their form (reads no file).

    Examples
    --------
    >>> parse_recordings(["a.edf", {"file": "b.edf", "subject": 2, "split": "test"}])[1]
    Recording(file='b.edf', subject=2, split='test', events=None, run=None, session='')
    """
    if not isinstance(entries, (list, tuple)) or not entries:
        raise ValueError("data.recordings must be a non-empty list of files (or {file, subject, "
                         f"split}} mappings) for data.name: recordings, got {entries!r}.")
    out = []
    for i, e in enumerate(entries):
        where = f"data.recordings[{i}]"
        if isinstance(e, str):
            e = {"file": e}
        if not isinstance(e, dict):
            raise ValueError(f"{where} must be a path or a mapping with keys {', '.join(_ENTRY_KEYS)}, "
                             f"got {e!r}.")
        for k in e:
            if k not in _ENTRY_KEYS:
                raise ValueError(f"{where}: unknown key {k!r}; allowed: {', '.join(_ENTRY_KEYS)}."
                                 f"{did_you_mean(str(k), _ENTRY_KEYS)}")
        file, subject, split, events = e.get("file"), e.get("subject", 1), e.get("split"), e.get("events")
        if not isinstance(file, str) or not file.strip():
            raise ValueError(f"{where}.file must be a path (a string), got {file!r}.")
        if not isinstance(subject, int) or isinstance(subject, bool) or subject < 0:
            raise ValueError(f"{where}.subject must be an integer >= 0, got {subject!r}.")
        if split is not None and split not in SPLIT_NAMES:
            raise ValueError(f"{where}.split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}."
                             f"{did_you_mean(str(split), SPLIT_NAMES)}")
        if events is not None:
            event_classes(events, where=f"{where}.events")
        run, session = e.get("run"), e.get("session", "")
        if run is not None and (not isinstance(run, int) or isinstance(run, bool) or run < 0):
            raise ValueError(f"{where}.run must be an integer >= 0, got {run!r}.")
        if run is not None and glob.has_magic(file):
            raise ValueError(f"{where}: run: {run} names one recording, but {file!r} is a pattern that "
                             "may match several; list the files one by one.")
        if not isinstance(session, (str, int)) or isinstance(session, bool):
            raise ValueError(f"{where}.session must be a name such as 'T' or 'day2', got {session!r}.")
        out.append(Recording(file, subject, split, events, run, str(session)))
    return out


def event_classes(events, *, names: list[str] | None = None, where: str = "data.events"
                  ) -> tuple[list[str], dict[str, int]]:
    """Class names (order of first appearance, after ``names``) and event key (as a string) ->
    class index.

    Examples
    --------
    >>> event_classes({"T1": "left", "T2": "right", 769: "left"})
    (['left', 'right'], {'T1': 0, 'T2': 1, '769': 0})
    >>> event_classes({"T1": "feet"}, names=["left", "right"])
    (['left', 'right', 'feet'], {'T1': 2})
    """
    if not isinstance(events, dict) or not events:
        raise ValueError(f"{where} must map annotation descriptions or integer event codes to "
                         "class names, e.g. {T1: left_fist, T2: right_fist} or {769: left, 770: right}; "
                         f"got {events!r}.")
    names = list(names or [])
    code_of: dict[str, int] = {}
    for key, name in events.items():
        if isinstance(key, bool) or not isinstance(key, (str, int)) or str(key).strip() == "":
            raise ValueError(f"{where}: key {key!r} must be an annotation description (text) "
                             "or an integer event code.")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}[{key!r}] must be a class name (text), got {name!r}.")
        if str(key) in code_of:
            raise ValueError(f"{where}: the event {key!r} is listed twice (as {str(key)!r}).")
        if name not in names:
            names.append(name)
        code_of[str(key)] = names.index(name)
    return names, code_of


def class_names(cfg: DataConfig) -> list[str]:
    """Every class of a recordings config: ``data.events``, then the entries' own maps."""
    names: list[str] = []
    maps = ([cfg.events] if cfg.events else []) + [r.events for r in parse_recordings(cfg.recordings)
                                                   if r.events]
    if not maps:
        event_classes(cfg.events)  # raises: no event map at all
    for m in maps:
        names, _ = event_classes(m, names=names)
    if len(names) < 2:
        raise ValueError(f"data.events maps every event to the one class {names[0]!r}; a classifier "
                         "needs at least 2 classes.")
    return names


def file_events(cfg: DataConfig, rec: Recording | None) -> dict[str, int]:
    """Event key -> class index (into :func:`class_names`) for one recording."""
    events = rec.events if rec is not None and rec.events else cfg.events
    if not events:
        raise ValueError(f"data.recordings: {rec.file if rec else 'a recording'} has no event map: set "
                         "data.events (or events: on the entry).")
    _, code_of = event_classes(events, names=class_names(cfg))
    return code_of


def check_recordings_config(cfg: DataConfig) -> None:
    """Everything about a ``recordings`` config that can be checked without reading a file.

    Called by :meth:`DataConfig.validate` (so by the config loader): the entries' form, the
    event map and the number of classes, channel names, and that train, val and test each get a
    recording (from its ``split`` or from the ``data.splits`` subject ranges).
    """
    recs = parse_recordings(cfg.recordings)
    names = class_names(cfg)
    for r in recs:
        file_events(cfg, r)  # every entry has a map
    if cfg.n_classes != len(names):
        raise ValueError(f"data.n_classes={cfg.n_classes} but data.events maps to {len(names)} "
                         f"classes {names}; set data.n_classes: {len(names)}.")
    from .montage import check_standard_names

    if not isinstance(cfg.rename_channels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in cfg.rename_channels.items()):
        raise ValueError(f"data.rename_channels must map file labels to 10-20 names (text to text), "
                         f"got {cfg.rename_channels!r}.")
    check_standard_names(list(cfg.rename_channels.values()), what="data.rename_channels targets")
    if cfg.channels:
        check_standard_names(list(cfg.channels), what="data.channels")
    keys = [k for m in [cfg.events, *(r.events or {} for r in recs)] for k in m]
    if cfg.stim_channel is not None and not all(str(k).lstrip("-").isdigit() for k in keys):
        raise ValueError(f"data.stim_channel={cfg.stim_channel!r} reads integer event codes, but "
                         f"the event maps have text keys {[k for k in keys if not str(k).isdigit()]}; "
                         "use integer codes or remove data.stim_channel (annotations).")
    if cfg.preprocessing == "causal" and cfg.causal.input_sfreq_hz is None:
        raise ValueError("data.preprocessing: causal needs data.causal.input_sfreq_hz for recordings: "
                         "the rate of your board's ADC (e.g. 250 for an ADS1299 at 250 SPS); files at "
                         "other rates are first brought to it.")
    spec = cfg.split_spec()
    if spec.within:
        given = [r.file for r in recs if r.split is not None]
        if given:
            raise ValueError(f"data.recordings: {given} have a split: entry, but data.splits.by = "
                             f"{spec.by!r} decides the splits; remove split: from the entries (or "
                             f"data.splits.by, to assign the recordings yourself).")
        subjects = {r.subject for r in recs}
        unknown = sorted(set(cfg.subjects or ()) - subjects)
        if unknown:
            raise ValueError(f"data.subjects {unknown} match no entry of data.recordings (their "
                             f"subjects are {sorted(subjects)}).")
        runs = [r.run if r.run is not None else i + 1 for i, r in enumerate(recs)]
        if len(set(zip(runs, (r.session for r in recs), (r.subject for r in recs)))) < len(recs):
            raise ValueError(f"data.recordings: two entries share subject, session and run ({runs}); "
                             "give each its own run: number.")
        return
    ranges = _ranges(cfg)
    splits = {_split_of(r, ranges) for r in recs}
    no_split = [r.file for r in recs if _split_of(r, ranges) is None]
    if no_split:
        raise ValueError(f"data.recordings: {no_split} have no split: give each entry a split "
                         f"(train, val, test or pool), subject ranges in data.splits that contain "
                         f"its subject, or a within-subject split (data.splits: {{by: kfold}}).")
    missing = [s for s in ("train", "val", "test") if s not in splits]
    if missing:
        raise ValueError(f"data.recordings: no recording goes to the {missing} split(s); every run "
                         f"needs train, val and test recordings (set split: on the entries, or "
                         f"data.splits: {{by: kfold}} to cut folds over the trials).")


def _ranges(cfg: DataConfig) -> dict[str, tuple[int, int]]:
    """Subject ranges of a cross-subject ``data.splits`` (empty when none is given)."""
    return cfg.split_ranges({}) if cfg.splits else {}


def _split_of(rec: Recording, ranges: dict) -> str | None:
    if rec.split is not None:
        return rec.split
    for name, (first, last) in (ranges or {}).items():
        if first <= rec.subject <= last:
            return name
    return None


def expand_recordings(cfg: DataConfig) -> list[tuple[Path, Recording]]:
    """Every file of ``data.recordings`` (globs expanded, sorted), checked to exist, unread.

    Raises
    ------
    FileNotFoundError
        Naming every entry that matches no file.
    """
    out, missing = [], []
    for rec in parse_recordings(cfg.recordings):
        pattern = str(Path(rec.file).expanduser())
        if glob.has_magic(pattern):
            files = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        else:
            files = [Path(pattern)] if Path(pattern).is_file() else []
        if not files:
            missing.append(rec.file)
        out += [(f, rec) for f in files]
    if missing:
        raise FileNotFoundError(f"data.recordings: no file matches {missing} (working directory "
                                f"{Path.cwd()}); fix the paths in the config.")
    return out


def find_events(raw, file: str | Path, cfg: DataConfig, code_of: dict[str, int]
                ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Cue onsets (seconds from the first sample), class indices and what was ignored.

    Annotations are used when any of their descriptions is a key of ``code_of`` (the file's event
    map, :func:`file_events`) and no ``data.stim_channel`` is set; otherwise integer codes of the
    stim channel.

    Returns
    -------
    onsets_s : ndarray of float, shape (n_events,)
    y : ndarray of int64, shape (n_events,)
    info : dict
        ``source`` ("annotations" or "stim channel NAME"), ``ignored`` (event -> count of events
        not in the map), ``bad_spans_s`` (onset, end) of BAD annotations.
    """
    import mne

    sfreq = float(raw.info["sfreq"])
    ann = raw.annotations
    bad = [(float(o), float(o + d)) for o, d, s in zip(ann.onset - raw.first_time, ann.duration,
                                                        ann.description) if s.upper().startswith("BAD")]
    descs = Counter(str(d) for d in ann.description)
    if cfg.stim_channel is None and set(descs) & set(code_of):
        keys = [d for d in code_of if d in descs]
        events, _ = mne.events_from_annotations(raw, event_id={d: j + 1 for j, d in enumerate(keys)},
                                                verbose="error")
        onsets_s = (events[:, 0] - raw.first_samp) / sfreq
        y = np.array([code_of[keys[c - 1]] for c in events[:, 2]], np.int64)
        ignored = {d: n for d, n in descs.items() if d not in code_of and not d.upper().startswith("BAD")}
        return onsets_s, y, {"source": "annotations", "ignored": ignored, "bad_spans_s": bad}
    stim = ([cfg.stim_channel] if cfg.stim_channel is not None else
            [raw.ch_names[i] for i in mne.pick_types(raw.info, stim=True)])
    missing_stim = [s for s in stim if s not in raw.ch_names]
    if missing_stim:
        raise DataFileError(f"{file}: data.stim_channel {missing_stim[0]!r} is not a channel of the "
                            f"file; it has {raw.ch_names}.")
    events = (mne.find_events(raw, stim_channel=stim, shortest_event=1, verbose="error")
              if stim else np.zeros((0, 3), np.int64))
    codes = Counter(str(int(c)) for c in events[:, 2])
    if not set(codes) & set(code_of):
        raise DataFileError(
            f"{file}: none of the events of data.events ({sorted(code_of)}) occurs: the file's "
            f"annotations are {dict(descs) or 'none'}"
            f"{f', its stim channel {stim} codes {dict(codes)}' if stim else ', it has no stim channel'}. "
            "Map the events it has in data.events.")
    keep = np.array([str(int(c)) in code_of for c in events[:, 2]], bool)
    onsets_s = (events[keep, 0] - raw.first_samp) / sfreq
    y = np.array([code_of[str(int(c))] for c in events[keep, 2]], np.int64)
    ignored = {f"code {c}": n for c, n in codes.items() if c not in code_of}
    return onsets_s, y, {"source": f"stim channel {','.join(stim)}", "ignored": ignored,
                         "bad_spans_s": bad}


def read_recording(file: str | Path, cfg: DataConfig, *, subject: int = 1,
                   channels: list[str] | None = None, rec: Recording | None = None,
                   run: int = -1) -> tuple[EEGWindows, dict]:
    """Windows of one recording, and a count of everything left out.

    Parameters
    ----------
    file : str | Path
        Any recording MNE reads.
    cfg : DataConfig
        ``events``, ``tmin_s``, ``window_s``, the preprocessing and the target rate.
    subject : int
        Subject id stored with the windows.
    channels : list of str | None
        10-20 names to keep, in this order (None: every EEG channel of the file).
    rec : Recording | None
        The file's entry (its own event map and session, when it has them).
    run : int
        Run number stored with the windows (each cue is a trial of that run).

    Returns
    -------
    windows : EEGWindows
        One window per cue, ``(n, n_chans, round(window_s * sfreq_hz))``, in 100 uV.
    info : dict
        ``file``, ``source_sfreq_hz``, ``events`` (class -> count found), ``windows``,
        ``ignored_events``, ``outside_recording``, ``overlapping_bad``, ``channels_dropped``.

    Examples
    --------
    >>> w, info = read_recording("my.edf", cfg)       # doctest: +SKIP
    >>> w.X.shape, info["channels_dropped"]           # doctest: +SKIP
    ((30, 8, 800), ['EOG'])
    """
    import mne

    from .preprocess import causal_design, cut_windows, normalize_channels, preprocess_raw, read_raw

    names = class_names(cfg)
    raw = read_raw(file, what="recording", fix="Check data.recordings in the config.")
    source_sfreq = float(raw.info["sfreq"])
    onsets_s, y, ev = find_events(raw, file, cfg, file_events(cfg, rec))
    if cfg.rename_channels:
        present = {k: v for k, v in cfg.rename_channels.items() if k in raw.ch_names}
        raw.rename_channels(present, verbose="error")
        raw.set_channel_types({v: "eeg" for v in present.values()}, verbose="error")
    eeg = set(mne.pick_types(raw.info, eeg=True, exclude=()))
    not_eeg = [c for i, c in enumerate(raw.ch_names) if i not in eeg]
    normalize_channels(raw, file)
    keep = list(channels) if channels else list(raw.ch_names)
    extra = [c for c in raw.ch_names if c not in keep]
    raw = preprocess_raw(raw, file, sfreq_hz=cfg.sfreq_hz, l_freq_hz=cfg.l_freq_hz,
                         h_freq_hz=cfg.h_freq_hz, notch_hz=cfg.notch_hz, required=keep,
                         causal=causal_design(cfg))
    try:  # positions by name (standard 10-05); the teachers place channels by name too
        raw.set_montage("standard_1005", on_missing="ignore", verbose="error")
    except Exception as e:  # pragma: no cover - names were checked against the same list
        logger.info("%s: no standard positions (%s)", file, e)
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    start_s = onsets_s + cfg.tmin_s
    in_bad = np.array([any(s < b1 and s + n_times / cfg.sfreq_hz > b0 for b0, b1 in ev["bad_spans_s"])
                       for s in start_s], bool)
    onsets = np.round(start_s * cfg.sfreq_hz).astype(np.int64)
    onsets[in_bad] = -1  # dropped with the windows outside the recording, counted apart below
    X, kept = cut_windows(raw, onsets, n_times, file)
    info = {
        "file": str(file), "subject": int(subject), "source_sfreq_hz": source_sfreq,
        "events_source": ev["source"],
        "events": {n: int(np.sum(y == i)) for i, n in enumerate(names)},
        "windows": int(kept.sum()),
        "ignored_events": ev["ignored"],
        "outside_recording": int((~kept & ~in_bad).sum()),
        "overlapping_bad": int(in_bad.sum()),
        "channels_dropped": extra + not_eeg,
    }
    n = int(kept.sum())
    session = rec.session if rec is not None else ""
    w = EEGWindows(X, y[kept], np.full(n, subject), keep, cfg.sfreq_hz, names, run=np.full(n, run),
                   session=np.full(n, session), trial=np.flatnonzero(kept))
    info["run"], info["session"] = int(run), session
    return w, info


def describe(info: dict) -> str | None:
    """One line saying what a recording left out (None when nothing was)."""
    parts = []
    if info["ignored_events"]:
        parts.append("events not in data.events (ignored): "
                     + ", ".join(f"{k} x{n}" for k, n in info["ignored_events"].items()))
    if info["outside_recording"]:
        parts.append(f"{info['outside_recording']} cue(s) whose window falls outside the recording")
    if info["overlapping_bad"]:
        parts.append(f"{info['overlapping_bad']} cue(s) whose window overlaps a BAD annotation")
    if info["channels_dropped"]:
        parts.append(f"{len(info['channels_dropped'])} channel(s) not used: {info['channels_dropped']}")
    if not parts:
        return None
    return f"{Path(info['file']).name}: " + "; ".join(parts)


def _read_all(cfg: DataConfig, files, *, verbose: bool):
    """Read every file: ``(file, entry, windows, info)`` each, the notes on what was left out, and
    the channels (``data.channels``, else the first recording's)."""
    from tqdm import tqdm

    channels = list(cfg.channels or []) or None
    out, notes = [], []
    for i, (file, rec) in enumerate(tqdm(files, desc="recordings", disable=not verbose)):
        run = rec.run if rec.run is not None else i + 1
        w, info = read_recording(file, cfg, subject=rec.subject, channels=channels, rec=rec, run=run)
        if channels is None:  # the first recording fixes the channels of the others
            channels = list(w.ch_names)
        logger.info("%s (run %d): %d windows %s", file, run, info["windows"], info["events"])
        if (line := describe(info)) is not None:
            logger.warning("%s", line)
            notes.append(line)
        if len(w) == 0:
            line = f"{file.name}: no window left (all {sum(info['events'].values())} cues dropped)"
            logger.warning("%s", line)
            notes.append(line)
        out.append((file, rec, w, info))
    rates = sorted({info["source_sfreq_hz"] for *_, info in out})
    logger.info("recordings: %d files at %s Hz resampled to %g Hz", len(out), rates, cfg.sfreq_hz)
    return out, notes, channels


def read_recordings_within(cfg: DataConfig, *, verbose: bool = False) -> Splits:
    """Every window of the recordings (of ``data.subjects``, when given), for a within-subject
    split (:func:`dlink.data.splits.split_windows` cuts it).

    Returns
    -------
    Splits
        ``windows`` (run: the recording's run number, trial: its cue index) and an empty ``pool``
        (a ``pool`` selector of ``data.splits`` picks the teacher's windows), with the loader's
        ``notes`` and per-file ``recordings``.
    """
    files = [(f, r) for f, r in expand_recordings(cfg) if not cfg.subjects or r.subject in cfg.subjects]
    parts, notes, channels = _read_all(cfg, files, verbose=verbose)
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    windows = EEGWindows.concat([w for _, _, w, _ in parts])
    return Splits({"windows": windows,
                   "pool": EEGWindows.empty(channels, cfg.sfreq_hz, n_times, windows.class_names)},
                  notes=notes, recordings=[info for *_, info in parts])


def load_recordings(cfg: DataConfig, *, verbose: bool = False) -> Splits:
    """Every split of a ``recordings`` config whose recordings carry their split (their
    ``split:``, or the subject ranges of ``data.splits``).

    Returns
    -------
    Splits
        ``train``, ``val``, ``test``, ``pool`` (empty where no recording goes), with ``notes``
        (what was left out, per recording) and ``recordings`` (per-file counts).
    """
    files = expand_recordings(cfg)  # every file checked to exist before the first is read
    names = class_names(cfg)
    n_times = int(round(cfg.resolved_window_s() * cfg.sfreq_hz))
    parts, notes, channels = _read_all(cfg, files, verbose=verbose)
    by_split: dict[str, list[EEGWindows]] = {s: [] for s in SPLIT_NAMES}
    ranges = _ranges(cfg)
    for _, rec, w, info in parts:
        info["split"] = _split_of(rec, ranges)
        by_split[info["split"]].append(w)
    out = Splits({s: EEGWindows.concat(p) if p else EEGWindows.empty(channels, cfg.sfreq_hz, n_times, names)
                  for s, p in by_split.items()}, notes=notes, recordings=[info for *_, info in parts])
    logger.info("recordings: windows per split %s", {k: len(v) for k, v in out.items()})
    return out
