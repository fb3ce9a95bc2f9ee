"""EEGWindows: the one dataset type the toolchain passes around (windows, labels, subjects)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Unit of ``EEGWindows.X``: the EEG foundation models take signals in units of 100 uV.
UNIT_V = 1e-4


@dataclass
class EEGWindows:
    """Fixed-length EEG windows of one split.

    Parameters
    ----------
    X : ndarray of float32, shape (n, n_chans, n_times)
        Signals in units of 100 uV (a value of 1.0 is 100 uV).
    y : ndarray of int64, shape (n,)
        Class index of each window, in ``range(len(class_names))``.
    subject : ndarray of int64, shape (n,)
        Subject id of each window.
    ch_names : list of str
        Standard 10-20 names (or bipolar 'Fp1-F7' derivations), one per channel.
    sfreq : float
        Sampling rate in Hz.
    class_names : list of str
        Name of each class.
    run : ndarray of int64, shape (n,), optional
        Recording run of each window (EEGMMIDB's run number, a MOABB run index; -1: unknown).
    session : ndarray of str, shape (n,), optional
        Recording session of each window (BCI IV 2a 'T' or 'E'; '': unknown).
    trial : ndarray of int64, shape (n,), optional
        Trial (cue) index within the window's subject, session and run; windows cut from one
        trial share it, so that splits keep them together (-1: every window is its own trial).

    Examples
    --------
    >>> w = EEGWindows.empty(['C3', 'C4'], 200.0, 800, ['left', 'right'])
    >>> len(w), w.n_chans, w.n_times
    (0, 2, 800)
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    ch_names: list[str]
    sfreq: float
    class_names: list[str] = field(default_factory=list)
    run: np.ndarray | None = None
    session: np.ndarray | None = None
    trial: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.X = np.ascontiguousarray(self.X, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.subject = np.asarray(self.subject, dtype=np.int64)
        n = self.X.shape[0] if self.X.ndim else 0
        self.run = np.full(n, -1, np.int64) if self.run is None else np.asarray(self.run, np.int64)
        self.session = (np.full(n, "", dtype="<U1") if self.session is None
                        else np.asarray(self.session).astype(str))
        self.trial = np.full(n, -1, np.int64) if self.trial is None else np.asarray(self.trial, np.int64)
        self.ch_names = [str(c) for c in self.ch_names]
        self.class_names = [str(c) for c in self.class_names]
        self.sfreq = float(self.sfreq)
        if self.X.ndim != 3:
            raise ValueError(f"EEGWindows.X must have shape (n, n_chans, n_times), got {self.X.shape}.")
        n = self.X.shape[0]
        for name, arr in (("y", self.y), ("subject", self.subject), ("run", self.run),
                          ("session", self.session), ("trial", self.trial)):
            if arr.shape != (n,):
                raise ValueError(f"EEGWindows.{name} must have shape ({n},) to match X {self.X.shape}, "
                                 f"got {arr.shape}.")
        if len(self.ch_names) != self.X.shape[1]:
            raise ValueError(f"EEGWindows.ch_names has {len(self.ch_names)} names but X has "
                             f"{self.X.shape[1]} channels.")
        if n and self.class_names and (self.y.min() < 0 or self.y.max() >= len(self.class_names)):
            raise ValueError(f"EEGWindows.y must lie in [0, {len(self.class_names) - 1}] "
                             f"(class_names={self.class_names}), got values {np.unique(self.y).tolist()}.")

    @property
    def n_chans(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_times(self) -> int:
        return int(self.X.shape[2])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        return (f"EEGWindows(n={len(self)}, n_chans={self.n_chans}, n_times={self.n_times}, "
                f"sfreq={self.sfreq:g}, classes={self.class_names}, "
                f"subjects={np.unique(self.subject).tolist()})")

    @classmethod
    def empty(cls, ch_names, sfreq: float, n_times: int, class_names) -> EEGWindows:
        """A split with no windows (e.g. ``pool`` of a real dataset without one)."""
        return cls(np.zeros((0, len(ch_names), n_times), np.float32), np.zeros(0, np.int64),
                   np.zeros(0, np.int64), list(ch_names), sfreq, list(class_names))

    def subset(self, index) -> EEGWindows:
        """Windows selected by a boolean mask or an index array (copies)."""
        return EEGWindows(self.X[index], self.y[index], self.subject[index], list(self.ch_names),
                          self.sfreq, list(self.class_names), run=self.run[index],
                          session=self.session[index], trial=self.trial[index])

    def pick_channels(self, index, ch_names) -> EEGWindows:
        """The same windows with the channels ``index`` (in that order), named ``ch_names``."""
        return EEGWindows(self.X[:, index], self.y, self.subject, list(ch_names), self.sfreq,
                          list(self.class_names), run=self.run, session=self.session,
                          trial=self.trial)

    def with_classes(self, class_names) -> EEGWindows:
        """The same windows with another list of class names (e.g. the first ``n`` classes)."""
        return EEGWindows(self.X, self.y, self.subject, list(self.ch_names), self.sfreq,
                          list(class_names), run=self.run, session=self.session, trial=self.trial)

    @classmethod
    def concat(cls, parts: list[EEGWindows]) -> EEGWindows:
        """Concatenate splits that share channels, sampling rate, length and classes."""
        if not parts:
            raise ValueError("EEGWindows.concat needs at least one EEGWindows, got an empty list.")
        ref = parts[0]
        for p in parts[1:]:
            same = (p.ch_names == ref.ch_names and p.sfreq == ref.sfreq and p.n_times == ref.n_times
                    and p.class_names == ref.class_names)
            if not same:
                raise ValueError(f"Cannot concatenate {p!r} with {ref!r}: channels, sfreq, n_times and "
                                 "class_names must match.")
        return cls(np.concatenate([p.X for p in parts]), np.concatenate([p.y for p in parts]),
                   np.concatenate([p.subject for p in parts]), list(ref.ch_names), ref.sfreq,
                   list(ref.class_names), run=np.concatenate([p.run for p in parts]),
                   session=np.concatenate([p.session for p in parts]),
                   trial=np.concatenate([p.trial for p in parts]))

    def class_counts(self) -> dict[str, int]:
        """Number of windows per class name (classes without windows count 0)."""
        counts = np.bincount(self.y, minlength=len(self.class_names)) if len(self) else \
            np.zeros(len(self.class_names), np.int64)
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def summary(self) -> dict:
        """JSON-ready description: windows, classes with counts, channels, sfreq, samples, subjects."""
        return {
            "windows": len(self),
            "classes": self.class_counts(),
            "n_chans": self.n_chans,
            "channels": list(self.ch_names),
            "sfreq_hz": self.sfreq,
            "window_samples": self.n_times,
            "subjects": sorted(int(s) for s in np.unique(self.subject)),
            "runs": sorted(int(r) for r in np.unique(self.run) if r >= 0),
            "sessions": sorted(str(s) for s in np.unique(self.session) if s),
        }


class Splits(dict):
    """Split name -> :class:`EEGWindows`, plus ``notes``: what the loader left out and why.

    A plain dict otherwise (``splits["train"]``, ``sorted(splits)``), so every caller of
    :func:`dlink.data.load_dataset` keeps working; the notes travel into the cache, metrics.json,
    the bench report and the model card, so that nothing is dropped silently.

    Examples
    --------
    >>> s = Splits({"train": EEGWindows.empty(["C3"], 200.0, 800, ["a", "b"])}, notes=["x.edf: ..."])
    >>> sorted(s), s.notes
    (['train'], ['x.edf: ...'])
    """

    def __init__(self, splits=(), *, notes: list[str] | None = None,
                 recordings: list[dict] | None = None):
        super().__init__(splits)
        self.notes: list[str] = list(notes or [])
        #: Per-file counts of the ``recordings`` loader (None for the other datasets).
        self.recordings = recordings
