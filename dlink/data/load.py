"""``load_dataset``: one entry point from a ``data:`` config to cached splits of EEGWindows.

Cross-subject configs are read split by split (the loaders know their subject ranges).
Within-subject configs (``data.splits.by``: run, session, kfold) read every window of the chosen
subjects once, cache that (one file for every fold and seed), and cut it with
:func:`dlink.data.splits.split_windows`. ``data.channels`` is applied last to every split, so a
loader that does not pick channels itself still gets them (the loaders here pick per recording,
so that a missing channel names its file).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from dlink._check import check_option, validate_type

from .cache import cache_file, default_cache_dir, load_splits, save_splits
from .config import DATASETS, DataConfig
from .montage import pick_windows
from .splits import split_windows
from .windows import EEGWindows, Splits

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test", "pool")


def load_dataset(cfg: DataConfig, cache_dir: str | Path | None = None, *,
                 verbose: bool = False, use_cache: bool = True) -> Splits:
    """Load (and cache) the windows of every split of a dataset.

    Parameters
    ----------
    cfg : DataConfig
        The ``data:`` section of a config.
    cache_dir : str | Path | None
        Folder of the on-disk cache; None uses ``cfg.cache_dir``, else
        :func:`dlink.data.cache.default_cache_dir`.
    verbose : bool
        Log progress at INFO level and show progress bars of the real-data loaders.
    use_cache : bool
        Read and write the cache (False always rebuilds and writes nothing).

    Returns
    -------
    Splits
        A dict with keys ``train``, ``val``, ``test``, ``pool`` (``pool`` may hold 0 windows) of
        EEGWindows, and ``notes``: what the loader left out, and windows shared between splits.

    Raises
    ------
    dlink.data.leakage.SharedWindowsError
        Test windows also occur in train, val or pool (unless ``data.allow_shared_windows``).

    Examples
    --------
    >>> ds = load_dataset(DataConfig(synthetic={"trials_per_class": 2}), use_cache=False)
    >>> sorted(ds), ds["train"].X.shape[1:]
    (['pool', 'test', 'train', 'val'], (22, 800))
    """
    validate_type("cfg", cfg, DataConfig)
    check_option("data.name", cfg.name, DATASETS)
    cache_dir = Path(cache_dir or cfg.cache_dir or default_cache_dir()).expanduser()
    spec = cfg.split_spec()
    if spec.within:
        read = _cached(cfg, cache_dir, lambda: _read_within(cfg, verbose=verbose), ("windows", "pool"),
                       replace={"splits": _read_plan(spec)}, use_cache=use_cache)
        splits = Splits(split_windows(read["windows"], spec, pool=read["pool"]), notes=read.notes,
                        recordings=read.recordings)
        for name, w in splits.items():
            logger.info("%s %s (%s): %d windows", cfg.name, name, spec.by, len(w))
    else:
        splits = _cached(cfg, cache_dir, lambda: _build(cfg, verbose=verbose), SPLITS,
                         use_cache=use_cache)
    if cfg.channels is not None:
        splits = Splits({name: pick_windows(w, cfg.channels, source=f"the {name} split of {cfg.name}")
                         for name, w in splits.items()}, notes=splits.notes, recordings=splits.recordings)
    from .leakage import check_shared_windows

    for note in check_shared_windows(splits, allow=cfg.allow_shared_windows, source=cfg.name):
        logger.warning("%s", note)
        splits.notes.append(note)
    return splits


def _read_plan(spec) -> dict:
    """What a within-subject split reads (the cache key): not the folds, seeds or assignments."""
    pool = spec.parts.get("pool")
    return {"within": True, "runs": sorted(spec.named_runs()), "sessions": sorted(spec.named_sessions()),
            "pool_subjects": list(pool.subjects) if pool is not None and pool.subjects else None}


def _cached(cfg: DataConfig, cache_dir: Path, build, names, *, replace: dict | None = None,
            use_cache: bool) -> Splits:
    path = cache_file(cfg, cache_dir, replace=replace)
    if use_cache:
        t0 = time.perf_counter()
        parts = load_splits(path)
        if parts is not None:
            logger.info("loaded %s from cache %s in %.2f s", cfg.name, path, time.perf_counter() - t0)
            for note in parts.notes:
                logger.info("%s (cached)", note)
            return parts
    t0 = time.perf_counter()
    parts = build()
    if not isinstance(parts, Splits):  # the loader's notes (what it left out) travel in the cache
        parts = Splits(parts)
    logger.info("built %s in %.1f s", cfg.name, time.perf_counter() - t0)
    missing = [s for s in names if s not in parts]
    if missing:  # loaders must return every split
        raise RuntimeError(f"loader for {cfg.name!r} returned no {missing} split(s)")
    if use_cache:
        try:
            save_splits(path, parts)
            logger.info("cached %s windows in %s", cfg.name, path)
        except OSError as e:
            logger.warning("could not write the data cache %s (%s); continuing without it", path, e)
    return parts


def _read_within(cfg: DataConfig, *, verbose: bool) -> dict[str, EEGWindows]:
    """Every window of the subjects of a within-subject split, and the pool that comes with it."""
    if cfg.name == "synthetic":
        from .synthetic import make_synthetic
        from .synthetic_recording import make_synthetic_recordings

        if cfg.preprocessing == "causal" or cfg.synthetic.get("continuous"):
            ds = make_synthetic_recordings(cfg, within=True)
        else:
            ds = make_synthetic(cfg.synthetic, sfreq_hz=cfg.sfreq_hz, window_s=cfg.resolved_window_s(),
                                n_classes=cfg.n_classes, l_freq_hz=cfg.l_freq_hz,
                                h_freq_hz=cfg.h_freq_hz, within=True)
        windows = EEGWindows.concat([ds[k] for k in ("train", "val", "test") if len(ds[k])])
        if cfg.subjects:
            unknown = sorted(set(cfg.subjects) - set(windows.subject.tolist()))
            if unknown:
                raise ValueError(f"data.subjects {unknown} are not labelled synthetic subjects; they are "
                                 f"{sorted(set(windows.subject.tolist()))} (data.synthetic.subjects).")
            windows = windows.subset(np.isin(windows.subject, cfg.subjects))
        return {"windows": windows, "pool": ds["pool"]}
    if cfg.name == "recordings":
        from .recordings import read_recordings_within

        return read_recordings_within(cfg, verbose=verbose)
    if cfg.name == "eegmmidb":
        from .eegmmidb import read_eegmmidb_within

        windows, pool = read_eegmmidb_within(cfg, verbose=verbose)
    elif cfg.name == "bci2a":
        from .bci2a import read_bci2a_within

        windows, pool = read_bci2a_within(cfg, verbose=verbose)
    else:
        from .tuh import read_tuh_within

        windows, pool = read_tuh_within(cfg, verbose=verbose)
    return {"windows": windows, "pool": pool}


def _build(cfg: DataConfig, *, verbose: bool) -> dict[str, EEGWindows]:
    if cfg.name == "synthetic" and (cfg.preprocessing == "causal" or cfg.synthetic.get("continuous")):
        from .synthetic_recording import make_synthetic_recordings

        return make_synthetic_recordings(cfg)
    if cfg.name == "synthetic":
        from .synthetic import make_synthetic

        return make_synthetic(cfg.synthetic, sfreq_hz=cfg.sfreq_hz, window_s=cfg.resolved_window_s(),
                              n_classes=cfg.n_classes, l_freq_hz=cfg.l_freq_hz,
                              h_freq_hz=cfg.h_freq_hz)
    if cfg.name == "eegmmidb":
        from .eegmmidb import load_eegmmidb

        return load_eegmmidb(cfg, verbose=verbose)
    if cfg.name == "recordings":
        from .recordings import load_recordings

        return load_recordings(cfg, verbose=verbose)
    if cfg.name == "bci2a":
        from .bci2a import load_bci2a

        return load_bci2a(cfg, verbose=verbose)
    from .tuh import load_tuh

    return load_tuh(cfg, verbose=verbose)
