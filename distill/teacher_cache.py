"""Teacher cache: the teacher's per-layer hidden states and logits, computed once per window.

Distillation needs the hidden states of every teacher block for every training window at every
epoch; recomputing them would make the teacher's forward passes dominate training on a 2-core
machine. They are computed once (teacher in eval mode, no augmentation) and kept as float16
arrays of shape ``(n, L, n_chans, n_patches, width)`` (blocks 1..L; the patch embedding, index 0
of ``hidden_states``, is not routed over), with float32 logits ``(n, n_outputs)``.

``path=None`` keeps them in memory; with a path (``RUN/cache/teacher_<split>``) they are written
as ``.npy`` files and memory-mapped, and a rerun with the same teacher and windows reuses them
(a ``meta.json`` holds the fingerprint of both).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlink.io import atomic_path, atomic_write_json

log = logging.getLogger(__name__)


@dataclass
class TeacherCache:
    """Cached teacher outputs for one split.

    Attributes
    ----------
    hidden : np.ndarray
        ``(n, L, n_chans, n_patches, width)`` float16 (possibly memory-mapped).
    logits : np.ndarray
        ``(n, n_outputs)`` float32.
    """

    hidden: np.ndarray
    logits: np.ndarray
    #: Hash of the teacher's weights and the windows (empty when unknown).
    fingerprint: str = ""

    def __len__(self) -> int:
        return len(self.logits)

    @property
    def n_layers(self) -> int:
        return int(self.hidden.shape[1])

    @property
    def width(self) -> int:
        return int(self.hidden.shape[-1])


def load_teacher_cache(path: str | Path) -> TeacherCache:
    """Open a cache written by :func:`build_teacher_cache` (memory-mapped hidden states)."""
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"No complete teacher cache in {str(path)!r} (meta.json missing).")
    return TeacherCache(np.load(path / "hidden.npy", mmap_mode="r"), np.load(path / "logits.npy"),
                        json.loads(meta_path.read_text())["fingerprint"])


def fingerprint(teacher, X: np.ndarray) -> str:
    """Hash of the teacher's weights and the windows (decides whether a disk cache is reusable)."""
    h = hashlib.sha256()
    for k, v in teacher.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(str(X.shape).encode())
    return h.hexdigest()[:24]


def build_teacher_cache(teacher, X: np.ndarray, *, path: str | Path | None = None,
                        batch_size: int = 64, verbose: bool = False,
                        desc: str = "teacher cache") -> TeacherCache:
    """Run ``teacher`` once over windows ``X`` and cache its hidden states and logits.

    Parameters
    ----------
    teacher : torch.nn.Module
        Returns a ``TeacherOutput`` with ``hidden_states`` (L + 1 tensors ``(B, C, P, D)``).
    X : np.ndarray
        ``(n, n_chans, n_times)`` float32, 100 uV.
    path : str | Path | None
        Folder for the ``.npy`` files (reused when the fingerprint matches); None: memory.
    batch_size : int
        Windows per teacher forward.
    verbose : bool
        Show a progress bar.
    """
    import torch
    from tqdm.auto import tqdm

    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise ValueError(f"build_teacher_cache: X must be (n, n_chans, n_times), got {X.shape}.")
    fp = fingerprint(teacher, X)
    if path is not None:
        path = Path(path)
        meta_path = path / "meta.json"
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if meta.get("fingerprint") == fp:
                log.info("reusing the teacher cache in %s", path)
                return TeacherCache(np.load(path / "hidden.npy", mmap_mode="r"),
                                    np.load(path / "logits.npy"), fp)
            log.info("teacher cache in %s is stale (other teacher or windows); rebuilding", path)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    was_training = teacher.training
    teacher.eval()
    n = len(X)
    hidden = logits = None
    try:
        with torch.no_grad():
            for start in tqdm(range(0, n, batch_size), desc=desc, unit="batch",
                              disable=not verbose, leave=False):
                out = teacher(torch.from_numpy(X[start:start + batch_size]))
                hs = torch.stack(list(out.hidden_states[1:]), dim=1)  # (B, L, C, P, D)
                if hidden is None:
                    shape = (n, *hs.shape[1:])
                    if path is None:
                        hidden = np.empty(shape, dtype=np.float16)
                    else:
                        hidden = np.lib.format.open_memmap(path / "hidden.tmp.npy", mode="w+",
                                                           dtype=np.float16, shape=shape)
                    logits = np.empty((n, out.logits.shape[1]), dtype=np.float32)
                hidden[start:start + len(hs)] = hs.numpy().astype(np.float16)
                logits[start:start + len(hs)] = out.logits.numpy()
    finally:
        teacher.train(was_training)
    if hidden is None:
        raise ValueError("build_teacher_cache: X holds no windows.")
    if path is not None:
        hidden.flush()
        del hidden
        (path / "hidden.tmp.npy").replace(path / "hidden.npy")
        with atomic_path(path / "logits.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, logits)
        atomic_write_json(path / "meta.json", {"fingerprint": fp, "n": n})
        hidden = np.load(path / "hidden.npy", mmap_mode="r")
    return TeacherCache(hidden, logits, fp)
