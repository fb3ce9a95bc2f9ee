"""Atomic file writes: write to a temporary name in the same folder, then rename.

A reader never sees a half-written artifact, and an interrupted stage leaves the previous
version in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Use it for writers that want a file name (``onnx.save``, ``np.savez``, a converter):

    >>> with atomic_path("out.onnx") as tmp:          # doctest: +SKIP
    ...     onnx.save(model, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix,
                                    dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o644 & ~_umask())  # mkstemp makes 0600; artifacts are ordinary files
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[^.]+)*$")


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files :func:`atomic_path` left in ``folder`` when its writer was
    killed (kill -9 skips the clean-up); a stage calls it before it writes. Returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if p.is_file() and _TEMPORARY.match(p.name)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` ``obj`` atomically, with reproducible bytes.

    ``torch.save`` to a file name records that name (here a random temporary one) as the folder
    inside its zip; saved to a buffer, the folder is always "archive", so the same object gives
    the same bytes and a rerun does not make later stages stale."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def atomic_savez(path: str | Path, **arrays: Any) -> Path:
    """``np.savez`` atomically, with reproducible bytes (zip entries carry a fixed date, not the
    time of writing); ``np.load`` reads it as usual."""
    import io
    import zipfile

    import numpy as np

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(value), allow_pickle=False)
            zf.writestr(info, buf.getvalue())
    return Path(path)


class CheckpointReadError(ValueError):
    """A torch file (student.pt, teacher.pt, a training checkpoint) cannot be read: the message
    names the file and what to do."""


def load_torch_file(path: str | Path, *, what: str, fix: str, safe_globals: Sequence = ()) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, with errors that help.

    A truncated or corrupted file, or one holding objects other than tensors, plain containers
    and the classes in ``safe_globals`` (e.g. ``argparse.Namespace``, which LaBraM's released
    files pickle; passed to ``torch.serialization.safe_globals``), raises
    :class:`CheckpointReadError` naming the file, what it is and ``fix``.
    torch's own advice for a refused pickle (load it with ``weights_only=False``, i.e. run code
    from the file) is never relayed: dlink only reads weights.
    """
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The {what} {str(path)!r} does not exist. {fix}")
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            raise CheckpointReadError(
                f"The {what} {str(path)!r} holds Python objects other than tensors and plain "
                f"containers: dlink loads torch files with weights_only=True and never runs "
                f"code from a file. {fix}") from None
        raise CheckpointReadError(f"The {what} {str(path)!r} is corrupted ({first}). {fix}") from None
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError,
            IndexError, TypeError, AttributeError) as e:
        reason = " ".join(str(e).split()).split(". ")[0][:160] or type(e).__name__
        if "weights_only" in reason:  # torch's advice to load unsafely: not ours to give
            reason = type(e).__name__
        raise CheckpointReadError(
            f"The {what} {str(path)!r} is truncated or corrupted and cannot be read ({reason}). "
            f"{fix}") from None


def sha256_file(path: str | Path, *, chunk_bytes: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_bytes), b""):
            h.update(block)
    return h.hexdigest()


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays, Paths
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
