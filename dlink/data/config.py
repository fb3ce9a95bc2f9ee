"""The ``data:`` section of a config (owned by the data stage)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DataConfig:
    #: Dataset name: synthetic | eegmmidb | bci2a | tuev | tuab
    name: str = field(default="synthetic",
                      metadata={"choices": ("synthetic", "eegmmidb", "bci2a", "tuev", "tuab")})
    #: Local data root (MNE data-folder layout for eegmmidb; TUH EDF tree for tuev/tuab).
    path: str | None = None
    #: Target sampling rate after resampling (the FMs use 200 Hz).
    sfreq_hz: float = 200.0
    #: Window length in whole seconds.
    window_s: int = 4
    #: Band-pass edges.
    l_freq_hz: float = 0.3
    h_freq_hz: float = 75.0
    #: Notch frequency (None: no notch).
    notch_hz: float | None = None
    #: Number of classes (eegmmidb: 4 or 2).
    n_classes: int = 4
    #: Subjects per split, e.g. {"train": [1, 70], "val": [71, 89], "test": [90, 109]} (inclusive ranges).
    splits: dict = field(default_factory=dict)
    #: Synthetic generator options (n_subjects, trials_per_class, noise, ...).
    synthetic: dict = field(default_factory=dict)
    #: On-disk cache of preprocessed windows (None: <run>/../.cache or ~/.cache/dlink).
    cache_dir: str | None = None
