"""The ``data:`` section of a config (owned by the data stage)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlink._check import did_you_mean

DATASETS = ("synthetic", "eegmmidb", "bci2a", "tuev", "tuab")
SPLIT_NAMES = ("train", "val", "test", "pool")


@dataclass
class DataConfig:
    #: Dataset name: synthetic | eegmmidb | bci2a | tuev | tuab
    name: str = field(default="synthetic", metadata={"choices": DATASETS})
    #: Local data root (MNE data-folder layout for eegmmidb, e.g. ../shared/data; folder of the
    #: A0xT.gdf/A0xE.gdf + A0xE.mat files for bci2a; TUH EDF tree for tuev/tuab). None: the
    #: MNE/MOABB fetchers (network) for eegmmidb/bci2a.
    path: str | None = None
    #: Target sampling rate after resampling (the FMs use 200 Hz).
    sfreq_hz: float = 200.0
    #: Window length in whole seconds (None: the dataset's default: 4 for motor imagery,
    #: 5 for TUEV, 10 for TUAB).
    window_s: int | None = 4
    #: Band-pass edges.
    l_freq_hz: float = 0.3
    h_freq_hz: float = 75.0
    #: Notch frequency (None: no notch; e.g. 60 for EEGMMIDB/TUH, 50 for BCI IV 2a).
    notch_hz: float | None = None
    #: Number of classes (eegmmidb/synthetic: 4 or 2 = left/right hand).
    n_classes: int = 4
    #: Subjects per split, inclusive id ranges, e.g. {"train": [1, 70], "val": [71, 89],
    #: "test": [90, 109]}; {} uses the dataset's default split. "pool" is optional.
    splits: dict = field(default_factory=dict)
    #: Synthetic generator options (see dlink.data.synthetic.SyntheticOptions: seed, subjects,
    #: trials_per_class, erd_depth, ...).
    synthetic: dict = field(default_factory=dict)
    #: TUH montage: "referential" (the 23 channels LaBraM keeps for TUAB/TUEV, 10-20 names) or
    #: "bipolar" (the 16-derivation double banana of BIOT/CBraMod, names like 'Fp1-F7').
    montage: str = field(default="referential", metadata={"choices": ("referential", "bipolar")})
    #: TUAB: keep at most this many windows per recording (None: all; the full corpus is large).
    max_windows_per_recording: int | None = None
    #: EEGMMIDB runs to read (None: imagery runs 4, 8, 12 (left/right fist) and, for 4 classes,
    #: 6, 10, 14 (both fists/both feet)).
    runs: list[int] | None = None
    #: Subjects to skip (None: the dataset's known-bad list, e.g. EEGMMIDB 88, 92, 100, 104).
    exclude_subjects: list[int] | None = None
    #: On-disk cache of preprocessed windows (None: $DLINK_CACHE_DIR or ~/.cache/dlink/data).
    cache_dir: str | None = None

    def validate(self) -> None:
        """Check values that the dataclass types alone cannot (called by the config loader)."""
        if self.sfreq_hz <= 0:
            raise ValueError(f"data.sfreq_hz must be > 0, got {self.sfreq_hz!r}.")
        if self.window_s is not None and self.window_s < 1:
            raise ValueError(f"data.window_s must be a whole number of seconds >= 1, got {self.window_s!r}.")
        if not 0 <= self.l_freq_hz < self.h_freq_hz:
            raise ValueError(f"data.l_freq_hz must be >= 0 and < data.h_freq_hz, got "
                             f"l_freq_hz={self.l_freq_hz!r}, h_freq_hz={self.h_freq_hz!r}.")
        if self.h_freq_hz > self.sfreq_hz / 2:
            raise ValueError(f"data.h_freq_hz={self.h_freq_hz!r} is above the Nyquist frequency of "
                             f"data.sfreq_hz={self.sfreq_hz!r}; use at most {self.sfreq_hz / 2:g}.")
        if self.n_classes < 2:
            raise ValueError(f"data.n_classes must be >= 2, got {self.n_classes!r}.")
        for split, rng in self.splits.items():
            if split not in SPLIT_NAMES:
                raise ValueError(f"data.splits: unknown split {split!r}; allowed: "
                                 f"{', '.join(SPLIT_NAMES)}.{did_you_mean(str(split), SPLIT_NAMES)}")
            ok = (isinstance(rng, (list, tuple)) and len(rng) == 2
                  and all(isinstance(v, int) and not isinstance(v, bool) for v in rng) and rng[0] <= rng[1])
            if not ok:
                raise ValueError(f"data.splits.{split} must be an inclusive subject range [first, last] "
                                 f"with first <= last, got {rng!r}.")
        if self.name == "synthetic":
            from .synthetic import SyntheticOptions

            if self.splits:
                raise ValueError(f"data.splits is not used by the synthetic dataset (got {self.splits}); "
                                 "set the number of subjects per split in data.synthetic.subjects.")

            SyntheticOptions.from_dict(self.synthetic)

    def resolved_window_s(self) -> int:
        """The window length in seconds (the dataset's default when ``window_s`` is None)."""
        if self.window_s is not None:
            return int(self.window_s)
        return {"tuev": 5, "tuab": 10}.get(self.name, 4)

    def split_ranges(self, default: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        """Subject ranges per split: ``splits`` if given, else ``default``; checked disjoint."""
        ranges = {k: (int(v[0]), int(v[1])) for k, v in (self.splits or default).items()}
        items = sorted(ranges.items(), key=lambda kv: kv[1])
        for (a, ra), (b, rb) in zip(items, items[1:]):
            if rb[0] <= ra[1]:
                raise ValueError(f"data.splits: the subject ranges of {a!r} {list(ra)} and {b!r} "
                                 f"{list(rb)} overlap; splits must be disjoint (cross-subject).")
        return ranges
