"""Every install path the README names resolves against the pinned set (`pip install --dry-run`).

One resolution of the union of all extras (`.[all,moabb]`) stands for every path: any solution of
the union satisfies each subset of its requirements, so the base install, `.[all]` (what `make`
installs) and `.[moabb]` resolve too. The resolved versions must be the pins of pyproject.toml.
It asks the package index (the project machines' local index, and PyPI for what that lacks), so it
takes 25-60 s; it runs in the default suite because nothing else would notice an extra that no
longer installs (deselect it locally with `-m 'not resolve'`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dlink.extras import EXTRAS

REPO = Path(__file__).resolve().parents[1]


def _readme_extras() -> set[str]:
    """Extras named in the README's install commands (`dlink[x]`, `.[x]`, `.[x,y]`)."""
    text = (REPO / "README.md").read_text()
    found = set()
    for group in re.findall(r"(?:dlink|\.)\[([a-z_,]+)\]", text):
        found.update(group.split(","))
    return found


def test_readme_names_only_real_extras():
    named = _readme_extras()
    assert "moabb" in named and "all" in named
    assert named <= set(EXTRAS), named - set(EXTRAS)


@pytest.mark.resolve
def test_every_install_path_resolves_against_the_pins(tmp_path):
    from dlink.bench.install_footprint import copy_source

    src = copy_source(REPO, tmp_path / "src")  # resolving builds metadata: not in the working tree
    report = tmp_path / "report.json"
    extras = ",".join(sorted(set(EXTRAS)))
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                           "--quiet", "--disable-pip-version-check", "--report", str(report),
                           f"{src}[{extras}]"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"pip could not resolve .[{extras}]:\n{proc.stderr[-4000:]}"
    resolved = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
                for i in json.loads(report.read_text())["install"]}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = [r for reqs in [project["dependencies"], *project["optional-dependencies"].values()]
            for r in reqs if "==" in r]
    for pin in pins:
        name, version = pin.split("==")
        got = resolved.get(name.lower().replace("_", "-"))
        assert got is not None and got.split("+")[0] == version, f"{pin}: resolved {got}"
    assert resolved["numpy"] == "1.26.4"
