"""`make` passes paths with spaces and quotes to dlink as single arguments.

A stand-in venv whose `dlink` records its arguments (and writes the stamp a real stage would)
replaces the real one, so the stage chain of `make check` runs in a second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")

pytestmark = pytest.mark.skipif(MAKE is None, reason="needs make")

_STUB = r"""#!/bin/sh
for a in "$@"; do printf '[%s]' "$a" >> "$DLINK_ARGS_LOG"; done
echo >> "$DLINK_ARGS_LOG"
case "$1" in distill) run="$4";; *) run="$2";; esac
mkdir -p "$run/.stamps" && touch "$run/.stamps/$1.json"
"""


def _venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "dlink").write_text(_STUB)
    (venv / "bin" / "dlink").chmod(0o755)
    (venv / ".dlink-installed").touch()  # newer than pyproject.toml: no install
    return venv


def _make(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    log = tmp_path / "args.log"
    env = {**os.environ, "DLINK_ARGS_LOG": str(log)}
    for k in ("RUN", "CONFIG", "BOARD", "VENV", "MAKEFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    proc = subprocess.run([MAKE, "-s", "-C", str(ROOT), *args], capture_output=True, text=True,
                          env=env, timeout=60)
    return proc, log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("leaf", ["sp ace/x", "it's \"quoted\" ü€/x"])
def test_make_check_passes_the_run_path_as_one_argument(tmp_path, leaf):
    venv = _venv(tmp_path)
    run = tmp_path / "runs" / leaf
    config = tmp_path / "my config.yaml"
    proc, calls = _make(tmp_path, "check", f"RUN={run}", f"VENV={venv}", f"CONFIG={config}")
    assert proc.returncode == 0, proc.stderr
    # the chain: check needs export, which needs distill (each run first, once)
    assert calls == [f"[distill][{config}][--run][{run}]", f"[export][{run}]", f"[check][{run}]"]
    assert (run / ".stamps" / "export.json").is_file()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [leaf.split("/")[0]]


def test_clean_run_removes_only_the_spaced_folder(tmp_path):
    keep = tmp_path / "runs" / "sp"
    keep.mkdir(parents=True)
    run = tmp_path / "runs" / "sp ace"
    run.mkdir()
    proc, _ = _make(tmp_path, "clean-run", f"RUN={run}", f"VENV={_venv(tmp_path)}")
    assert proc.returncode == 0, proc.stderr
    assert keep.is_dir() and not run.exists()


def test_a_venv_path_with_a_space_is_refused_with_a_message(tmp_path):
    proc, calls = _make(tmp_path, "check", f"VENV={tmp_path / 'my venv'}")
    assert proc.returncode != 0 and calls == []
    assert "may not contain spaces" in proc.stderr
