"""The unlabelled pretraining corpus: recordings and synthetic subjects as memory-mapped windows.

A corpus is a list of *sources*: recording files (EDF, BDF, GDF, FIF; folders are searched
recursively) and synthetic subjects. Each source is preprocessed once, on its own, and its windows
are written to one ``.npy`` shard in the cache (``$DLINK_CACHE_DIR/pretrain/``), keyed by the
file (path, size, modification time) or the generator's options, and by every preprocessing
setting. Training reads windows from the shards through memory maps, so only one recording is
ever in memory while the corpus is built, and the corpus may be much larger than RAM (the
operating system pages windows in and out as batches ask for them).

Preprocessing is the one the labelled loaders use (``dlink.data.preprocess``): EEG channels under
10-20 names, optional notch, band-pass, resampling to 200 Hz, units of 100 uV; then consecutive
windows (or windows inside chosen annotations only, e.g. the rest periods of a motor-imagery run).
No labels are read.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlink.io import atomic_path

log = logging.getLogger(__name__)

#: Bump when the windows of a source change for the same settings (invalidates the shards).
SHARD_VERSION = 1
RECORDING_SUFFIXES = (".edf", ".bdf", ".gdf", ".fif")
#: Memory maps kept open at once (each holds a file descriptor).
_OPEN_SHARDS = 64


@dataclass(frozen=True)
class Source:
    """One recording file (``kind="file"``) or one synthetic subject (``kind="synthetic"``)."""

    kind: str
    ref: str

    @property
    def name(self) -> str:
        return self.ref if self.kind == "file" else f"synthetic subject {self.ref}"


@dataclass(frozen=True)
class Preprocessing:
    """Everything that decides a source's windows besides the source itself."""

    ch_names: tuple[str, ...]
    sfreq_hz: float
    n_times: int
    stride_samples: int
    l_freq_hz: float
    h_freq_hz: float
    notch_hz: float | None
    annotations: tuple[str, ...] | None
    max_windows: int | None
    synthetic: dict
    n_classes: int


# -- listing ---------------------------------------------------------------------------------
def list_recordings(paths: list[str]) -> list[Path]:
    """Recording files under ``paths`` (folders searched recursively), sorted, each once."""
    out: list[Path] = []
    for p in paths:
        path = Path(p).expanduser()
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file()
                           and f.suffix.lower() in RECORDING_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"pretrain.corpus: the folder {str(path)!r} holds no "
                                        f"{'/'.join(s[1:].upper() for s in RECORDING_SUFFIXES)} "
                                        f"recordings.")
            out.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in RECORDING_SUFFIXES:
                raise ValueError(f"pretrain.corpus: {str(path)!r} is not a recording; expected "
                                 f"one of {', '.join(RECORDING_SUFFIXES)} or a folder.")
            out.append(path)
        else:
            raise FileNotFoundError(f"pretrain.corpus: {str(path)!r} does not exist. Give "
                                    f"folders or files of EDF/BDF/GDF/FIF recordings.")
    seen, unique = set(), []
    for f in out:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def list_sources(pcfg, data_cfg) -> list[Source]:
    """The recordings of ``pretrain.corpus``, then ``pretrain.synthetic_subjects`` subjects."""
    from dlink.data.synthetic import pretraining_subject_ids

    sources = [Source("file", str(f.resolve())) for f in list_recordings(list(pcfg.corpus))]
    if pcfg.synthetic_subjects:
        syn = data_cfg.synthetic if data_cfg.name == "synthetic" else {}
        sources += [Source("synthetic", str(s))
                    for s in pretraining_subject_ids(syn, pcfg.synthetic_subjects)]
    if not sources:
        raise ValueError("pretrain needs data: set pretrain.corpus (folders or files of EDF/BDF/"
                         "GDF/FIF recordings) and/or pretrain.synthetic_subjects (> 0).")
    return sources


def _file_channels(path: Path) -> list[str]:
    from dlink.data.preprocess import normalize_channels, read_raw

    raw = read_raw(path, what="pretraining recording", preload=False)
    return list(normalize_channels(raw, path).ch_names)


def resolve_channels(pcfg, sources: list[Source]) -> list[str]:
    """``pretrain.channels``, or the channels every source has (in the first source's order)."""
    from dlink.data.montage import BCI2A_CH_NAMES, normalize_ch_name

    if pcfg.channels:
        names = [normalize_ch_name(c) for c in pcfg.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"pretrain.channels repeats a channel: {pcfg.channels}.")
        if any(s.kind == "synthetic" for s in sources):
            missing = [c for c in names if c not in BCI2A_CH_NAMES]
            if missing:
                raise ValueError(f"pretrain.channels {missing} are not in the synthetic montage "
                                 f"{list(BCI2A_CH_NAMES)}; the synthetic subjects cannot supply them.")
        return names
    common: list[str] | None = None
    for s in sources:
        chans = list(BCI2A_CH_NAMES) if s.kind == "synthetic" else _file_channels(Path(s.ref))
        common = chans if common is None else [c for c in common if c in set(chans)]
    if not common:
        raise ValueError("The pretraining sources share no channel; set pretrain.channels to the "
                         "10-20 names to use (recordings lacking one are skipped).")
    return common


# -- one source -> windows ---------------------------------------------------------------------
def _starts(n_samples: int, n_times: int, stride: int, lo: int = 0) -> np.ndarray:
    if n_samples < n_times:
        return np.zeros(0, np.int64)
    return lo + np.arange(0, n_samples - n_times + 1, stride, dtype=np.int64)


def recording_windows(path: Path, prep: Preprocessing) -> np.ndarray:
    """Windows (n, n_chans, n_times) float32 in 100 uV of one recording, or raise DataFileError."""
    from dlink.data.preprocess import normalize_channels, preprocess_raw, read_raw
    from dlink.data.windows import UNIT_V

    raw = read_raw(path, what="pretraining recording")
    normalize_channels(raw, path)
    preprocess_raw(raw, path, sfreq_hz=prep.sfreq_hz, l_freq_hz=prep.l_freq_hz,
                   h_freq_hz=prep.h_freq_hz, notch_hz=prep.notch_hz, required=prep.ch_names)
    data = raw.get_data()
    n_samples = data.shape[1]
    if prep.annotations is None:
        starts = _starts(n_samples, prep.n_times, prep.stride_samples)
    else:
        wanted = set(prep.annotations)
        parts = []
        for a in raw.annotations:
            if a["description"] not in wanted:
                continue
            lo = int(round((a["onset"] - raw.first_time) * prep.sfreq_hz))
            hi = min(n_samples, lo + int(round(a["duration"] * prep.sfreq_hz)))
            lo = max(lo, 0)
            parts.append(_starts(hi - lo, prep.n_times, prep.stride_samples, lo))
        starts = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    if prep.max_windows is not None:
        starts = starts[: prep.max_windows]
    idx = starts[:, None] + np.arange(prep.n_times)[None, :]
    return (data[:, idx].transpose(1, 0, 2) / UNIT_V).astype(np.float32)


def synthetic_windows(subject: int, prep: Preprocessing) -> np.ndarray:
    """The windows of one synthetic subject (labels dropped), channels picked as ``prep`` says."""
    from dlink.data.montage import BCI2A_CH_NAMES
    from dlink.data.synthetic import unlabelled_windows

    X = unlabelled_windows(prep.synthetic, subject, sfreq_hz=prep.sfreq_hz,
                           window_s=prep.n_times / prep.sfreq_hz, n_classes=prep.n_classes,
                           l_freq_hz=prep.l_freq_hz, h_freq_hz=prep.h_freq_hz)
    order = [list(BCI2A_CH_NAMES).index(c) for c in prep.ch_names]
    X = X[:, order]
    return X[: prep.max_windows] if prep.max_windows is not None else X


def shard_key(source: Source, prep: Preprocessing) -> str:
    """Hash of the source (file path, size, mtime; or generator options) and of ``prep``."""
    from dataclasses import asdict

    ident: dict = {"kind": source.kind, "ref": source.ref, "version": SHARD_VERSION}
    if source.kind == "file":
        st = Path(source.ref).stat()
        ident.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
        p = {k: v for k, v in asdict(prep).items() if k not in ("synthetic", "n_classes")}
    else:
        from dlink.data.synthetic import GENERATOR_VERSION

        ident["generator"] = GENERATOR_VERSION
        p = asdict(prep)
    blob = json.dumps({**ident, **p}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


# -- the corpus --------------------------------------------------------------------------------
class Corpus:
    """Windows of many shards, addressed by one global index; read through memory maps.

    Parameters
    ----------
    shards : list of (Path, int, str)
        ``.npy`` files of shape (n_i, n_chans, n_times), their window counts and source names.
    ch_names : list of str
        The channels of every window.
    sfreq_hz : float
        Sampling rate (200 Hz for the teachers).

    Shape
    -----
    ``corpus.windows(idx)`` -> (len(idx), n_chans, n_times) float32.
    """

    def __init__(self, shards: list[tuple[Path, int, str]], ch_names: list[str], sfreq_hz: float,
                 n_times: int):
        self.shards = [(Path(p), int(n), str(name)) for p, n, name in shards if n > 0]
        self.ch_names, self.sfreq_hz, self.n_times = list(ch_names), float(sfreq_hz), int(n_times)
        self.offsets = np.cumsum([0] + [n for _, n, _ in self.shards])
        self._open: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def n_chans(self) -> int:
        return len(self.ch_names)

    @property
    def n_sources(self) -> int:
        return len(self.shards)

    def source_of(self, idx: np.ndarray) -> np.ndarray:
        """Shard (source) number of each global window index."""
        return np.searchsorted(self.offsets, np.asarray(idx), side="right") - 1

    def _shard(self, i: int) -> np.ndarray:
        arr = self._open.pop(i, None)
        if arr is None:
            arr = np.load(self.shards[i][0], mmap_mode="r")
            if len(self._open) >= _OPEN_SHARDS:
                self._open.popitem(last=False)
        self._open[i] = arr
        return arr

    def windows(self, idx) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"window index out of range [0, {len(self)}): {idx.min()}..{idx.max()}")
        out = np.empty((len(idx), self.n_chans, self.n_times), np.float32)
        src = self.source_of(idx)
        for i in np.unique(src):
            sel = np.nonzero(src == i)[0]
            out[sel] = self._shard(int(i))[idx[sel] - self.offsets[i]]
        return out

    def summary(self) -> dict:
        return {"windows": len(self), "sources": self.n_sources, "n_chans": self.n_chans,
                "channels": self.ch_names, "window_samples": self.n_times, "sfreq_hz": self.sfreq_hz,
                "hours": round(len(self) * self.n_times / self.sfreq_hz / 3600.0, 3)}


def preprocessing(pcfg, data_cfg, ch_names: list[str]) -> Preprocessing:
    window_s = pcfg.window_s or data_cfg.resolved_window_s()
    n_times = int(round(window_s * data_cfg.sfreq_hz))
    stride = n_times if pcfg.stride_s is None else int(round(pcfg.stride_s * data_cfg.sfreq_hz))
    return Preprocessing(
        ch_names=tuple(ch_names), sfreq_hz=float(data_cfg.sfreq_hz), n_times=n_times,
        stride_samples=max(1, stride), l_freq_hz=float(data_cfg.l_freq_hz),
        h_freq_hz=float(data_cfg.h_freq_hz), notch_hz=data_cfg.notch_hz,
        annotations=tuple(pcfg.annotations) if pcfg.annotations is not None else None,
        max_windows=pcfg.max_windows_per_recording,
        synthetic=dict(data_cfg.synthetic) if data_cfg.name == "synthetic" else {},
        n_classes=int(data_cfg.n_classes) if data_cfg.n_classes in (2, 4) else 4)


def build_corpus(pcfg, data_cfg, *, cache_dir: str | Path | None = None, build: bool = True,
                 verbose: bool = False) -> Corpus:
    """Preprocess every source that has no shard yet (one at a time) and open the corpus.

    Parameters
    ----------
    pcfg : PretrainConfig
        ``corpus``, ``synthetic_subjects``, ``channels``, ``window_s``, ``stride_s``,
        ``annotations``, ``max_windows_per_recording``.
    data_cfg : DataConfig
        Sampling rate, band-pass and notch (the fine-tuning data's preprocessing) and the
        synthetic generator's options.
    cache_dir : str | Path | None
        Where the shards go (``<cache_dir>/pretrain``); None: ``data.cache_dir`` or the data
        cache (``$DLINK_CACHE_DIR``).
    build : bool
        Write missing shards (False: a missing shard is an error; the other processes of a
        torchrun job open what local rank 0 built).

    Returns
    -------
    Corpus
    """
    from tqdm.auto import tqdm

    from dlink.data._checks import DataFileError
    from dlink.data.cache import default_cache_dir

    if abs(data_cfg.sfreq_hz - 200.0) > 1e-6:
        raise ValueError(f"The teachers take 200 Hz EEG; data.sfreq_hz is {data_cfg.sfreq_hz}. "
                         f"Set data.sfreq_hz: 200.")
    sources = list_sources(pcfg, data_cfg)
    ch_names = resolve_channels(pcfg, sources)
    prep = preprocessing(pcfg, data_cfg, ch_names)
    root = Path(cache_dir or data_cfg.cache_dir or default_cache_dir()).expanduser() / "pretrain"
    root.mkdir(parents=True, exist_ok=True)
    shards, skipped = [], []
    for s in tqdm(sources, desc="pretraining corpus", unit="source", disable=not verbose):
        path = root / f"{shard_key(s, prep)}.npy"
        if not path.is_file():
            if not build:
                raise FileNotFoundError(f"Corpus shard {path} for {s.name} is missing (local rank 0 "
                                        f"builds it; is the cache folder shared?).")
            try:
                X = (recording_windows(Path(s.ref), prep) if s.kind == "file"
                     else synthetic_windows(int(s.ref), prep))
            except (DataFileError, ValueError) as e:  # a bad recording must not stop an archive
                log.warning("pretraining corpus: skipping %s: %s", s.name, e)
                skipped.append({"source": s.name, "why": str(e)})
                X = np.zeros((0, len(ch_names), prep.n_times), np.float32)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, X)
            del X
        n = int(np.load(path, mmap_mode="r").shape[0])
        shards.append((path, n, s.name))
    corpus = Corpus(shards, ch_names, prep.sfreq_hz, prep.n_times)
    corpus.skipped = skipped
    corpus.n_listed = len(sources)
    if len(corpus) == 0:
        raise ValueError(f"The pretraining corpus has no window: {len(sources)} source(s), none "
                         f"with {prep.n_times / prep.sfreq_hz:g}-s windows of channels {ch_names}"
                         + (f" inside annotations {list(prep.annotations)}" if prep.annotations else "")
                         + ". Check pretrain.channels, window_s and annotations.")
    log.info("pretraining corpus: %d windows from %d of %d sources", len(corpus), corpus.n_sources,
             len(sources))
    return corpus


def split_corpus(corpus: Corpus, *, val_fraction: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Global indices of the training and validation windows, and what was held out.

    Whole sources are held out (``"sources"``) when ``val_fraction`` of the sources is at least
    one, so the validation loss is measured on recordings (subjects) never trained on; otherwise
    a fraction of the windows (``"windows"``; they may overlap training windows of the same
    recording).
    """
    rng = np.random.default_rng([seed, 7])
    n = len(corpus)
    if val_fraction <= 0:
        return np.arange(n), np.zeros(0, np.int64), "none"
    n_val_sources = int(round(val_fraction * corpus.n_sources))
    if n_val_sources >= 1 and corpus.n_sources - n_val_sources >= 1:
        val_src = rng.permutation(corpus.n_sources)[:n_val_sources]
        is_val = np.isin(corpus.source_of(np.arange(n)), val_src)
        unit = "sources"
    else:
        is_val = np.zeros(n, bool)
        is_val[rng.permutation(n)[: max(1, int(round(val_fraction * n)))]] = True
        unit = "windows"
    return np.nonzero(~is_val)[0], np.nonzero(is_val)[0], unit
