"""The ``data:`` section of a config (owned by the data stage)."""

from __future__ import annotations

from dataclasses import dataclass, field

DATASETS = ("synthetic", "eegmmidb", "bci2a", "tuev", "tuab", "recordings")
#: data.preprocessing: MNE's zero-phase FIR filters (offline) or the causal front end (streamable).
PREPROCESSING = ("zero_phase", "causal")
#: Sampling rate of each dataset's recordings (what a board's ADC would deliver); None: mixed.
NATIVE_SFREQ_HZ = {"synthetic": 250.0, "eegmmidb": 160.0, "bci2a": 250.0, "tuev": None, "tuab": None,
                   "recordings": None}


@dataclass
class CausalConfig:
    """The ``data.causal`` section: the streaming front end that training and firmware share.

    Per channel, in float32, running forward in time with its state carried across the whole
    recording: an optional notch (``scipy.signal.iirnotch`` at ``data.notch_hz``), a Butterworth
    band-pass ``data.l_freq_hz``-``data.h_freq_hz`` as second-order sections
    (``scipy.signal.butter(..., output="sos")``), then a polyphase rational resampler from the
    ADC rate to ``data.sfreq_hz`` (the anti-aliasing FIR that ``scipy.signal.resample_poly``
    designs, applied causally). See :mod:`dlink.data.causal`.
    """

    #: The board's ADC rate, which every recording must have (Hz). None: the dataset's native
    #: rate (eegmmidb 160, bci2a 250, synthetic 250). Training recordings at another rate are
    #: first brought to it with MNE (offline, as if they had been recorded at that rate).
    input_sfreq_hz: float | None = None
    #: Butterworth order of the band-pass (a band-pass of order N is N biquad sections).
    bandpass_order: int = 4
    #: Quality factor of the notch (bandwidth = notch_hz / notch_q).
    notch_q: float = 30.0
    #: Resampler FIR length: 2 * resample_half_width * max(up, down) taps (resample_poly's 10).
    resample_half_width: int = 10

    def validate(self) -> None:
        if self.input_sfreq_hz is not None and self.input_sfreq_hz <= 0:
            raise ValueError(f"data.causal.input_sfreq_hz must be > 0 (or null for the dataset's "
                             f"native rate), got {self.input_sfreq_hz!r}.")
        if not 1 <= self.bandpass_order <= 8:
            raise ValueError(f"data.causal.bandpass_order must be in 1..8, got {self.bandpass_order!r}.")
        if self.notch_q <= 0:
            raise ValueError(f"data.causal.notch_q must be > 0, got {self.notch_q!r}.")
        if not 1 <= self.resample_half_width <= 64:
            raise ValueError(f"data.causal.resample_half_width must be in 1..64, got "
                             f"{self.resample_half_width!r}.")


@dataclass
class DataConfig:
    #: Dataset name: synthetic | eegmmidb | bci2a | tuev | tuab | recordings (your own files, see
    #: ``recordings`` and ``events``; docs/own-headset.md)
    name: str = field(default="synthetic", metadata={"choices": DATASETS})
    #: Local data root (MNE data-folder layout for eegmmidb, e.g. ../shared/data; folder of the
    #: A0xT.gdf/A0xE.gdf + A0xE.mat files for bci2a; TUH EDF tree for tuev/tuab). None: the
    #: MNE/MOABB fetchers (network) for eegmmidb/bci2a. A relative path is relative to the config
    #: file (config.yaml records it resolved).
    path: str | None = field(default=None, metadata={"path": True})
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
    #: Which windows go to which split (see dlink.data.splits). Cross-subject: inclusive subject
    #: ranges, e.g. {"train": [1, 70], "val": [71, 89], "test": [90, 109]}; {} uses the dataset's
    #: default split. Within-subject: {"by": "run", "train": [4, 8], "test": [12]},
    #: {"by": "session", "train": ["T"], "test": ["E"]} or {"by": "kfold", "folds": 5, "fold": 0,
    #: "seed": 0}. "pool" (the teacher's extra windows) is optional in every form.
    splits: dict = field(default_factory=dict)
    #: Within-subject splits: the subjects whose recordings are read (e.g. [1]); None: every
    #: labelled subject of the synthetic set (required for the real datasets).
    subjects: list[int] | None = None
    #: Channels the model takes, in this order (a board's channel set, e.g. an 8-channel headset
    #: [FC3, FC4, C3, Cz, C4, CP3, CP4, Pz]); None: every EEG channel of the dataset. Names are
    #: matched by their 10-20 spelling; a channel missing from a recording is an error naming it.
    channels: list[str] | None = None
    #: Synthetic generator options (see dlink.data.synthetic.SyntheticOptions: seed, subjects,
    #: trials_per_class, erd_depth, timing (ERD onset, beta rebound and trial-to-trial timing
    #: variability inside the window), ...).
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
    #: recordings: the files to read, any format MNE reads (.edf .bdf .gdf .fif .vhdr .set ...).
    #: Each entry is a path (a glob pattern is expanded, sorted) or a mapping
    #: {file: PATH, subject: INT, split: train|val|test|pool, events: {...}} (events: this file's
    #: own event map, when its cues mean other classes); relative paths are relative to the
    #: working directory. See dlink.data.recordings.
    recordings: list = field(default_factory=list)
    #: recordings: the event map, annotation description (e.g. "T1", "left") or integer event code
    #: of a stim channel (e.g. 769) -> class name. Several codes may map to one class; the class
    #: order is the order of first appearance. Events not in the map are counted and ignored.
    events: dict = field(default_factory=dict)
    #: Start of each window relative to its cue, in seconds (negative: before the cue); the window
    #: lasts ``window_s`` (so it ends at tmin_s + window_s). recordings, eegmmidb and bci2a.
    tmin_s: float = 0.0
    #: recordings: the stim channel holding integer event codes (None: the file's annotations,
    #: else MNE's default stim channel).
    stim_channel: str | None = None
    #: recordings: file channel label -> standard 10-20 name, for headsets that store their own
    #: labels (e.g. {EXG1: C3}); every channel must end up with a 10-05 name (the teachers place
    #: channels by name).
    rename_channels: dict = field(default_factory=dict)
    #: Windows of the test split that also occur (byte for byte) in train, val or pool are a
    #: leak and refused; true accepts them (the count is still reported).
    allow_shared_windows: bool = False
    #: On-disk cache of preprocessed windows (None: $DLINK_CACHE_DIR or ~/.cache/dlink/data).
    cache_dir: str | None = field(default=None, metadata={"path": True})
    #: "zero_phase": MNE's zero-phase FIR notch/band-pass and resampling (offline only).
    #: "causal": the streaming front end of data.causal (what the board computes), applied to the
    #: continuous recording before windowing; the firmware's generated front end does the same.
    preprocessing: str = field(default="zero_phase", metadata={"choices": PREPROCESSING})
    #: Parameters of the causal front end (used when preprocessing is "causal").
    causal: CausalConfig = field(default_factory=CausalConfig)

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
        if self.notch_hz is not None and not 0 < self.notch_hz < self.sfreq_hz / 2:
            raise ValueError(f"data.notch_hz must be between 0 and the Nyquist frequency "
                             f"{self.sfreq_hz / 2:g} Hz (or null), got {self.notch_hz!r}.")
        if self.max_windows_per_recording is not None and self.max_windows_per_recording < 1:
            raise ValueError(f"data.max_windows_per_recording must be >= 1 or null, got "
                             f"{self.max_windows_per_recording!r}.")
        spec = self.split_spec()
        if self.subjects is not None and (not spec.within or not self.subjects):
            raise ValueError(f"data.subjects={self.subjects!r} is for within-subject splits (data.splits "
                             f"with by: run, session or kfold) and must list at least one subject; "
                             f"cross-subject splits take subject ranges in data.splits.")
        if self.channels is not None:
            from .montage import normalize_ch_name

            if not self.channels or not all(isinstance(c, str) and c.strip() for c in self.channels):
                raise ValueError(f"data.channels must be a non-empty list of channel names (e.g. [C3, Cz, "
                                 f"C4]) or null, got {self.channels!r}.")
            names = [normalize_ch_name(c) for c in self.channels]
            repeated = sorted({c for c in names if names.count(c) > 1})
            if repeated:
                raise ValueError(f"data.channels names {repeated} more than once; each channel once.")
            self.channels = names
        if self.preprocessing == "causal":
            rate = self.adc_sfreq_hz()
            if rate is not None and self.h_freq_hz >= rate / 2:
                raise ValueError(f"data.h_freq_hz={self.h_freq_hz!r} must be below the Nyquist frequency "
                                 f"{rate / 2:g} Hz of the ADC rate data.causal.input_sfreq_hz={rate:g}.")
            if rate is not None and self.notch_hz is not None and self.notch_hz >= rate / 2:
                raise ValueError(f"data.notch_hz={self.notch_hz!r} must be below the Nyquist frequency "
                                 f"{rate / 2:g} Hz of the ADC rate data.causal.input_sfreq_hz={rate:g}.")
        import math

        if not math.isfinite(self.tmin_s):
            raise ValueError(f"data.tmin_s must be a finite number of seconds, got {self.tmin_s!r}.")
        if self.tmin_s != 0 and self.name not in ("recordings", "eegmmidb", "bci2a"):
            raise ValueError(f"data.tmin_s={self.tmin_s!r} is not used by the {self.name!r} dataset "
                             f"(its windows are not cut at cues); remove it.")
        if self.name == "eegmmidb":
            from .eegmmidb import check_runs

            check_runs(self.runs, self.n_classes)
            if spec.within:
                check_runs(sorted(spec.named_runs()), self.n_classes,
                           what="data.splits (the runs it names)")
        if self.name == "recordings":
            from .recordings import check_recordings_config

            check_recordings_config(self)
        else:
            for key in ("recordings", "events", "rename_channels"):
                if getattr(self, key):
                    raise ValueError(f"data.{key} is only read by data.name: recordings (the dataset "
                                     f"is {self.name!r}); remove it or set data.name: recordings.")
        if self.name == "synthetic":
            from .synthetic import SyntheticOptions

            if self.splits and not spec.within:
                raise ValueError(f"data.splits is not used by the synthetic dataset's cross-subject split "
                                 f"(got {self.splits}): set the number of subjects per split in "
                                 f"data.synthetic.subjects; within-subject splits take by: run or kfold.")

            opts = SyntheticOptions.from_dict(self.synthetic)
            if not spec.within and opts.subjects["test"] < 1:
                raise ValueError(f"data.synthetic.subjects needs test >= 1 for a cross-subject split, got "
                                 f"{opts.subjects} (within-subject splits need only train >= 1).")

    def adc_sfreq_hz(self) -> float | None:
        """The ADC rate of the causal front end: ``causal.input_sfreq_hz`` or the dataset's native
        rate (None for datasets of mixed rates: TUH)."""
        if self.causal.input_sfreq_hz is not None:
            return float(self.causal.input_sfreq_hz)
        return NATIVE_SFREQ_HZ.get(self.name)

    def resolved_window_s(self) -> int:
        """The window length in seconds (the dataset's default when ``window_s`` is None)."""
        if self.window_s is not None:
            return int(self.window_s)
        return {"tuev": 5, "tuab": 10}.get(self.name, 4)

    def split_spec(self):
        """``splits`` parsed (a :class:`dlink.data.splits.SplitSpec`)."""
        from .splits import SplitSpec

        return SplitSpec.from_config(self.splits)

    def within_subject_ids(self) -> list[int]:
        """The subjects a within-subject split reads: ``subjects`` in order, then the subjects of a
        ``pool: {subjects: [a, b]}`` selector that are not among them."""
        spec = self.split_spec()
        if not self.subjects:
            raise ValueError(f"data.subjects must list the subject(s) to read for within-subject splits "
                             f"(data.splits.by = {spec.by!r}), e.g. subjects: [1].")
        subjects = list(dict.fromkeys(self.subjects))
        pool_sel = spec.parts.get("pool")
        if pool_sel is not None and pool_sel.subjects is not None:
            first, last = pool_sel.subjects
            subjects += [s for s in range(first, last + 1) if s not in subjects]
        return subjects

    def split_ranges(self, default: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        """Subject ranges per split (cross-subject): ``splits`` if given, else ``default``;
        checked disjoint."""
        from .splits import SplitSpec

        spec = SplitSpec.from_config(self.splits or {k: list(v) for k, v in default.items()})
        if spec.within:
            raise ValueError(f"data.splits.by = {spec.by!r}: subject ranges are only for cross-subject "
                             f"splits.")
        return {k: sel.subjects for k, sel in spec.parts.items()}
