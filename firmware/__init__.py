"""Firmware stage: the int8 C runtime, boards, the app, and the Python that builds and flashes."""

from __future__ import annotations

from pathlib import Path

__all__ = ["RUNTIME_DIR", "BACKENDS", "BACKEND_BASE", "TARGET_ONLY_BACKENDS", "runtime_sources"]

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
#: Kernel backends: folders under runtime/src/kernels/. "dsp" overrides some ref kernels (SMLAD),
#: "mve" some dsp ones (Helium, Cortex-M55).
BACKENDS = ("ref", "dsp", "mve")
#: The backend each one takes its other kernels from.
BACKEND_BASE = {"dsp": "ref", "mve": "dsp"}
#: Backends that only compile for an Arm core with that extension (no host emulation).
TARGET_ONLY_BACKENDS = ("mve",)


def runtime_sources(backend: str = "ref") -> tuple[list[Path], list[Path]]:
    """C sources and include directories of the runtime for ``backend``.

    The shared sources (``runtime/src/*.c``) plus the backend's kernels. A backend folder other
    than ``ref`` replaces the kernel files of the same name of its base (``BACKEND_BASE``: mve
    builds on dsp, dsp on ref) and takes the rest from there, so every backend provides every
    kernel with identical signatures.

    Returns
    -------
    (c_files, include_dirs) : tuple[list[Path], list[Path]]
    """
    from dlink._check import check_option

    check_option("backend", backend, BACKENDS)
    src = RUNTIME_DIR / "src"
    chain = [backend]
    while chain[-1] in BACKEND_BASE:
        chain.append(BACKEND_BASE[chain[-1]])
    kernels: dict[str, Path] = {}
    for name in reversed(chain):
        folder = src / "kernels" / name
        files = sorted(folder.glob("*.c"))
        if not files:
            raise FileNotFoundError(f"The kernel backend folder {str(folder)!r} has no C files.")
        kernels.update({p.name: p for p in files})
    c_files = sorted(src.glob("*.c")) + [kernels[k] for k in sorted(kernels)]
    return c_files, [RUNTIME_DIR / "include"]
