"""On-disk cache of preprocessed splits: one uncompressed ``.npz`` per data config.

The key is a SHA-256 of the data config (every field that changes the windows) and of
:data:`CACHE_VERSION`, so editing the config or the preprocessing code (bump the version) never
reads stale windows. Files are written atomically; a corrupt cache file is ignored and rebuilt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from dlink.io import atomic_path

from .windows import EEGWindows, Splits

logger = logging.getLogger(__name__)

#: Bump when a loader's output changes for the same config (invalidates every cache file).
#: 2: run, session and trial of every window; 3: the meta holds the loader's notes (what it left
#: out) and, for recordings, the per-file counts.
CACHE_VERSION = 3
#: Fields of DataConfig that do not change the windows.
_NOT_IN_KEY = ("cache_dir",)


def default_cache_dir() -> Path:
    """``$DLINK_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/dlink/data`` (``~/.cache/dlink/data``)."""
    env = os.environ.get("DLINK_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dlink" / "data"


def config_key(cfg, *, replace: dict | None = None) -> str:
    """Hex digest (16 characters) identifying the windows a data config produces.

    ``replace`` overrides fields before hashing (the within-subject loaders key their cache on
    what they read, not on how it is split, so that every fold shares one file).
    """
    d = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)
    d.update(replace or {})
    for k in _NOT_IN_KEY:
        d.pop(k, None)
    if d.get("preprocessing", "zero_phase") == "zero_phase":
        # the causal section changes nothing then; keys of zero-phase configs stay as they were
        d.pop("preprocessing", None)
        d.pop("causal", None)
    if d.get("path"):
        d["path"] = str(Path(d["path"]).expanduser().resolve())
    if d.get("name") == "recordings":  # key on the files themselves: a re-recorded file rebuilds
        from .recordings import expand_recordings

        d["recordings"] = [(str(f.resolve()), r.subject, r.split, r.run, r.session, f.stat().st_size,
                            f.stat().st_mtime_ns) for f, r in expand_recordings(cfg)]
    if d.get("name") == "synthetic":  # key on the resolved options, so new defaults rebuild
        from .synthetic import GENERATOR_VERSION, SyntheticOptions

        d["synthetic"] = SyntheticOptions.from_dict(d.get("synthetic")).to_dict()
        if not d["synthetic"].get("continuous"):  # the windowed generator, keyed as before
            d["synthetic"].pop("continuous", None)
        if not d["synthetic"].get("timing"):  # timing options change nothing then
            from .synthetic import TIMING_OPTIONS

            for k in ("timing", *TIMING_OPTIONS):
                d["synthetic"].pop(k, None)
        d["generator_version"] = GENERATOR_VERSION
    blob = json.dumps({"v": CACHE_VERSION, "cfg": d}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_file(cfg, cache_dir: str | Path, *, replace: dict | None = None) -> Path:
    return Path(cache_dir) / f"{cfg.name}-{config_key(cfg, replace=replace)}.npz"


def save_splits(path: Path, splits: dict[str, EEGWindows]) -> Path:
    """Write all splits into one ``.npz`` (atomically)."""
    arrays: dict[str, np.ndarray] = {}
    meta = {}
    for name, w in splits.items():
        arrays[f"{name}.X"] = w.X
        arrays[f"{name}.y"] = w.y
        arrays[f"{name}.subject"] = w.subject
        arrays[f"{name}.run"] = w.run
        arrays[f"{name}.session"] = w.session
        arrays[f"{name}.trial"] = w.trial
        meta[name] = {"ch_names": w.ch_names, "sfreq": w.sfreq, "class_names": w.class_names}
    extra = {"notes": list(getattr(splits, "notes", []))}
    if getattr(splits, "recordings", None) is not None:
        extra["recordings"] = splits.recordings
    arrays["meta"] = np.frombuffer(json.dumps({"version": CACHE_VERSION, "splits": meta, **extra}).encode(),
                                   dtype=np.uint8)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache is shareable
    return path


def load_splits(path: Path) -> Splits | None:
    """Read a cache file; None when it is missing, from another version, or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            if meta.get("version") != CACHE_VERSION:
                return None
            return Splits({name: EEGWindows(z[f"{name}.X"], z[f"{name}.y"], z[f"{name}.subject"],
                                            m["ch_names"], m["sfreq"], m["class_names"],
                                            run=z[f"{name}.run"], session=z[f"{name}.session"],
                                            trial=z[f"{name}.trial"])
                           for name, m in meta["splits"].items()},
                          notes=meta.get("notes"), recordings=meta.get("recordings"))
    except Exception as e:  # a truncated or foreign file: rebuild it
        logger.warning("ignoring unreadable data cache %s (%s); rebuilding it", path, e)
        return None
