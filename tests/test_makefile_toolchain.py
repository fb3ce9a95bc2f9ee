"""`make toolchain`: installs the missing Debian packages, or says which ones and how.

The Debian tools are replaced by stand-ins on a PATH that holds nothing else, so the three
branches (all present; missing as root; missing without root or sudo) run on any machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "libstdc++-arm-none-eabi-newlib",
            "qemu-system-arm"]
MAKE = shutil.which("make")

pytestmark = pytest.mark.skipif(MAKE is None or shutil.which("grep") is None,
                                reason="needs make and grep")


def _fake_bin(tmp_path: Path, *, installed: bool, uid: int) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("grep"), bin_dir / "grep")
    status = "install ok installed" if installed else ""
    stubs = {
        "dpkg-query": f"#!/bin/sh\nprintf '%s' '{status}'\n",
        "id": f"#!/bin/sh\necho {uid}\n",
        "apt-get": f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'apt.log'}\n",
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def _make_toolchain(bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([MAKE, "-s", "-C", str(ROOT), "toolchain"], capture_output=True,
                          text=True, env={"PATH": str(bin_dir), "HOME": str(bin_dir)}, timeout=60)


def test_nothing_happens_when_every_package_is_installed(tmp_path):
    proc = _make_toolchain(_fake_bin(tmp_path, installed=True, uid=0))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and not (tmp_path / "apt.log").exists()


def test_root_installs_the_missing_packages_without_recommends(tmp_path):
    proc = _make_toolchain(_fake_bin(tmp_path, installed=False, uid=0))
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls[0] == "update -qq"
    assert calls[1].split() == ["install", "-y", "-qq", "--no-install-recommends", *PACKAGES]


def test_without_root_or_sudo_the_error_names_the_packages_and_the_command(tmp_path):
    proc = _make_toolchain(_fake_bin(tmp_path, installed=False, uid=1000))
    assert proc.returncode != 0
    assert "missing Debian packages: " + " ".join(PACKAGES) in proc.stdout
    assert "apt-get install --no-install-recommends " + " ".join(PACKAGES) in proc.stdout
    assert not (tmp_path / "apt.log").exists()
