"""A fresh virtual environment with only dlink's base install (numpy, onnxruntime, PyYAML).

Used by the ``base_venv`` fixture (tests/conftest.py). The source tree is copied without its build
outputs and installed with pip from the package index (the project machines' local index and cache),
as ``pip install dlink`` would from a registry.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dlink.bench.install_footprint import copy_source

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class BaseVenv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def dlink(self) -> Path:
        return self.root / "bin" / "dlink"

    def installed(self) -> dict[str, str]:
        """Installed distributions, lower-case name -> version."""
        out = subprocess.run(_pip(self) + ["list", "--format", "json"], capture_output=True, text=True,
                             check=True)
        return {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(out.stdout)}

    def run_dlink(self, *args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.dlink), *args], capture_output=True, text=True, cwd=cwd,
                              timeout=300)


def _pip(venv: BaseVenv) -> list[str]:
    """This interpreter's pip, acting on ``venv`` (the venv itself needs no pip of its own)."""
    return [sys.executable, "-m", "pip", "--python", str(venv.python), "--disable-pip-version-check"]


def make_base_venv(root: Path, *, source: Path = REPO) -> BaseVenv:
    """Create a venv at ``root`` and install dlink from ``source`` without extras."""
    src = copy_source(source, root.parent / f"{root.name}-src")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True,
                   capture_output=True)
    venv = BaseVenv(root)
    proc = subprocess.run(_pip(venv) + ["install", "--quiet", str(src)],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install of the base dlink failed:\n{proc.stderr[-4000:]}")
    shutil.rmtree(src)
    return venv
