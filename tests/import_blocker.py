"""Run `dlink` as if only some extras were installed: the other extras' modules cannot be imported.

    python -m tests.import_blocker --allow train -- export runs/demo

blocks the top-level modules of every extra in :data:`dlink.extras.EXTRAS` that the allowed extras
(here ``train`` and what it includes) do not provide; the base install's modules stay importable.
A blocked import raises ModuleNotFoundError as a missing package does, also for
``importlib.util.find_spec``. Cheaper than a virtual environment per extra; tests/test_base_install.py
checks the real base install once.

Prints one JSON line ``{"rc": ..., "blocked_attempts": [...]}`` on stdout at the end: the exit
status of the command and every blocked module something tried to import.
"""

from __future__ import annotations

import argparse
import importlib.abc
import json
import sys


class ImportBlocker(importlib.abc.MetaPathFinder):
    """A meta path finder that refuses a set of top-level modules and records the attempts."""

    def __init__(self, blocked: set[str]):
        self.blocked = set(blocked)
        self.attempts: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top in self.blocked:
            if top not in self.attempts:
                self.attempts.append(top)
            raise ModuleNotFoundError(f"No module named {top!r} (blocked by tests.import_blocker)", name=top)
        return None


def blocked_modules(allow: list[str]) -> set[str]:
    """Modules of every extra that the ``allow`` extras (and the base install) do not provide."""
    from dlink.extras import BASE, EXTRAS, extra_modules, import_name

    allowed = {import_name(d) for d in BASE}
    for extra in allow:
        allowed.update(extra_modules(extra))
    every = {m for extra in EXTRAS for m in extra_modules(extra)}
    return every - allowed


def install(allow: list[str]) -> ImportBlocker:
    blocker = ImportBlocker(blocked_modules(allow))
    already = sorted(m for m in blocker.blocked if m in sys.modules)
    if already:
        raise RuntimeError(f"modules to block are imported already: {already}")
    sys.meta_path.insert(0, blocker)
    return blocker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow", default="", help="comma-separated extras that stay importable")
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="-- then the dlink arguments")
    ns = parser.parse_args()
    argv = ns.argv[1:] if ns.argv[:1] == ["--"] else ns.argv
    blocker = install([e for e in ns.allow.split(",") if e])
    from dlink.cli import main as dlink_main

    try:
        rc = dlink_main(argv)
    except SystemExit as e:  # --help and argparse errors
        rc = e.code if isinstance(e.code, int) else 1
    sys.stdout.flush()
    print(json.dumps({"rc": rc, "blocked_attempts": blocker.attempts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
