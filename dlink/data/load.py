"""``load_dataset``: one entry point from a ``data:`` config to cached splits of EEGWindows."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from dlink._check import check_option, validate_type

from .cache import cache_file, default_cache_dir, load_splits, save_splits
from .config import DATASETS, DataConfig
from .windows import EEGWindows

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test", "pool")


def load_dataset(cfg: DataConfig, cache_dir: str | Path | None = None, *,
                 verbose: bool = False, use_cache: bool = True) -> dict[str, EEGWindows]:
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
    dict of str to EEGWindows
        Keys ``train``, ``val``, ``test``, ``pool`` (``pool`` may hold 0 windows).

    Examples
    --------
    >>> ds = load_dataset(DataConfig(synthetic={"trials_per_class": 2}), use_cache=False)
    >>> sorted(ds), ds["train"].X.shape[1:]
    (['pool', 'test', 'train', 'val'], (22, 800))
    """
    validate_type("cfg", cfg, DataConfig)
    check_option("data.name", cfg.name, DATASETS)
    cache_dir = Path(cache_dir or cfg.cache_dir or default_cache_dir()).expanduser()
    path = cache_file(cfg, cache_dir)
    if use_cache:
        t0 = time.perf_counter()
        splits = load_splits(path)
        if splits is not None:
            logger.info("loaded %s from cache %s in %.2f s", cfg.name, path, time.perf_counter() - t0)
            return splits
    t0 = time.perf_counter()
    splits = _build(cfg, verbose=verbose)
    logger.info("built %s in %.1f s", cfg.name, time.perf_counter() - t0)
    missing = [s for s in SPLITS if s not in splits]
    if missing:  # loaders must return every split
        raise RuntimeError(f"loader for {cfg.name!r} returned no {missing} split(s)")
    if use_cache:
        try:
            save_splits(path, splits)
            logger.info("cached %s windows in %s", cfg.name, path)
        except OSError as e:
            logger.warning("could not write the data cache %s (%s); continuing without it", path, e)
    return splits


def _build(cfg: DataConfig, *, verbose: bool) -> dict[str, EEGWindows]:
    if cfg.name == "synthetic":
        from .synthetic import make_synthetic

        return make_synthetic(cfg.synthetic, sfreq_hz=cfg.sfreq_hz, window_s=cfg.resolved_window_s(),
                              n_classes=cfg.n_classes, l_freq_hz=cfg.l_freq_hz,
                              h_freq_hz=cfg.h_freq_hz)
    if cfg.name == "eegmmidb":
        from .eegmmidb import load_eegmmidb

        return load_eegmmidb(cfg, verbose=verbose)
    if cfg.name == "bci2a":
        from .bci2a import load_bci2a

        return load_bci2a(cfg, verbose=verbose)
    from .tuh import load_tuh

    return load_tuh(cfg, verbose=verbose)
