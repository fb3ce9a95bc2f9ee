"""Size and time of dlink's install paths, each into a fresh virtual environment, measured one way.

    python -m dlink.bench.install_footprint --extras "" all --source . --out footprint.json

For each extra set: a new venv (``python -m venv``), pip upgraded to the Makefile's version, then
``pip install SOURCE[extras]`` timed: wall clock, with the machine's load average beside it, and the
CPU time (user + system) of pip and its children, which depends less on the load; the venv's size
on disk and its number of distributions. The source tree is copied first without
build outputs, virtual environments or runs (as a source distribution would hold it). Packages come
from the configured package index and cache, so repeat runs measure a warm cache.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Not part of a source distribution: virtual environments, runs, caches, build outputs.
IGNORE = shutil.ignore_patterns(".venv", ".git", "runs", ".cache", "build", "*.egg-info", "__pycache__",
                                ".pytest_cache", "tests")
PIP_VERSION = "24.3.1"  # what the Makefile installs


def copy_source(source: Path, dest: Path) -> Path:
    """Copy a dlink source tree without build outputs (installing it then leaves ``source`` clean)."""
    shutil.copytree(source, dest, ignore=IGNORE)
    return dest


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def measure(source: Path, extras: str, work: Path) -> dict:
    """Install ``source[extras]`` into a fresh venv under ``work``; time, size, distributions."""
    src = copy_source(source, work / "src")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    f"pip=={PIP_VERSION}"], check=True, capture_output=True)
    size_before = dir_bytes(venv)
    target = f"{src}[{extras}]" if extras else str(src)
    cpu0 = _children_cpu_s()
    t0 = time.perf_counter()
    proc = subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", target],
                          capture_output=True, text=True)
    install_s = time.perf_counter() - t0
    cpu_s = _children_cpu_s() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"pip install {target} failed:\n{proc.stderr[-3000:]}")
    dists = json.loads(subprocess.run([py, "-m", "pip", "list", "--format", "json",
                                       "--disable-pip-version-check"],
                                      capture_output=True, text=True, check=True).stdout)
    total = dir_bytes(venv)
    return {"source": str(source), "extras": extras or "(base)", "install_s": round(install_s, 1),
            "install_cpu_s": round(cpu_s, 1), "load_average_1min": round(os.getloadavg()[0], 2),
            "venv_bytes": total, "installed_bytes": total - size_before, "n_distributions": len(dists)}


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def format_table(rows: list[dict]) -> str:
    lines = ["| source | extras | pip install wall (s) | load avg | pip CPU (s) | venv size (MB) | "
             "added by the install (MB) | distributions |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['source']} | {r['extras']} | {r['install_s']:.1f} | {r['load_average_1min']:.1f} | "
                     f"{r['install_cpu_s']:.1f} | "
                     f"{r['venv_bytes'] / 1e6:,.0f} | {r['installed_bytes'] / 1e6:,.0f} | {r['n_distributions']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("."), help="a dlink source tree (default: .)")
    parser.add_argument("--extras", nargs="+", default=["", "all"],
                        help='extra sets to install, e.g. "" (base) all "export,firmware"')
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here too")
    args = parser.parse_args(argv)
    rows = []
    for extras in args.extras:
        with tempfile.TemporaryDirectory(prefix="dlink-footprint-") as tmp:
            rows.append(measure(args.source.resolve(), extras, Path(tmp)))
        print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    print(format_table(rows))
    print(json.dumps({"install_footprint": rows}))
    if args.out is not None:
        from dlink.io import atomic_write_json

        atomic_write_json(args.out, {"install_footprint": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
