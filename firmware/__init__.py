"""Firmware stage: the int8 C runtime, boards, the app, and the Python that builds and flashes."""

from __future__ import annotations

from pathlib import Path

__all__ = ["RUNTIME_DIR", "BACKENDS", "runtime_sources"]

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
#: Kernel backends: folders under runtime/src/kernels/. "dsp" overrides some ref kernels.
BACKENDS = ("ref", "dsp")


def runtime_sources(backend: str = "ref") -> tuple[list[Path], list[Path]]:
    """C sources and include directories of the runtime for ``backend``.

    The shared sources (``runtime/src/*.c``) plus the backend's kernels. A backend folder other
    than ``ref`` replaces the ref kernel file of the same name and takes the rest from ``ref``,
    so every backend provides every kernel with identical signatures.

    Returns
    -------
    (c_files, include_dirs) : tuple[list[Path], list[Path]]
    """
    from dlink._check import check_option

    check_option("backend", backend, BACKENDS)
    src = RUNTIME_DIR / "src"
    kernels = {p.name: p for p in sorted((src / "kernels" / "ref").glob("*.c"))}
    if backend != "ref":
        backend_dir = src / "kernels" / backend
        overrides = sorted(backend_dir.glob("*.c"))
        if not overrides:
            raise FileNotFoundError(
                f"The kernel backend folder {str(backend_dir)!r} has no C files.")
        kernels.update({p.name: p for p in overrides})
    c_files = sorted(src.glob("*.c")) + [kernels[k] for k in sorted(kernels)]
    return c_files, [RUNTIME_DIR / "include"]
