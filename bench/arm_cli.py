"""The command-line frame shared by the bench scripts that compare arms (sets of config overrides).

``bench/student_selection.py``, ``bench/teacher_layers.py``, ``bench/label_efficiency.py`` and
``bench/teacher_recipe.py`` (and ``bench/within_subject_teacher.py``'s arms) take a config, an
output folder and repeatable ``NAME:key=value,...`` arms, log at INFO with ``-v``, and write
RUN/<stem>.json beside RUN/<stem>.md (printed too); the ones that train many runs save each run
under RUN/results/ and reuse it on a rerun. These helpers are that frame.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path


def parse_arm(text: str) -> tuple[str, dict]:
    """``"NAME:key=value,key=value"`` -> ``(NAME, {key: value})``, values read as YAML
    (``"scratch:teacher.checkpoint=null"`` -> ``("scratch", {"teacher.checkpoint": None})``)."""
    import yaml

    name, _, rest = text.partition(":")
    over = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        if "=" not in pair:
            raise ValueError(f"--arm {text!r}: expected NAME:key=value,key=value, got {pair!r}.")
        k, v = pair.split("=", 1)
        over[k.strip()] = yaml.safe_load(v)
    if not name:
        raise ValueError(f"--arm {text!r} needs a name before ':'.")
    return name, over


def arm_slug(name: str) -> str:
    """An arm's name as a file-name part: ``"lr 5e-4"`` -> ``"lr-5e-4"`` (results are saved per arm)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "arm"


def arm_parser(doc: str, example: str, *, config_help: str, run_help: str = "output folder",
               arm_flag: str = "--arm", arm_help: str, arm_required: bool = True) -> argparse.ArgumentParser:
    """A parser with the config positional, ``--run``, the repeatable arm flag and ``-v``.

    ``doc``: the script's module docstring (its first line is the description); ``example``: the
    command printed under ``--help``.
    """
    p = argparse.ArgumentParser(description=doc.split("\n")[0], epilog=f"example: {example}")
    p.add_argument("config", metavar="<config.yaml>", help=config_help)
    p.add_argument("--run", required=True, metavar="<dir>", help=run_help)
    p.add_argument(arm_flag, action="append", required=arm_required,
                   default=None if arm_required else [], metavar="NAME:key=value,...", help=arm_help)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    return p


def parse_arms(parser: argparse.ArgumentParser, texts: list[str], *,
               seeds: int | None = None) -> list[tuple[str, dict]]:
    """Every ``--arm`` parsed, names distinct, and ``--seeds`` (when given) at least 1; a bad
    one ends the command through ``parser.error`` with the offending text."""
    try:
        arms = [parse_arm(a) for a in texts]
    except ValueError as e:
        parser.error(str(e))
    if seeds is not None and seeds < 1:
        parser.error(f"--seeds must be >= 1, got {seeds}.")
    if len({n for n, _ in arms}) != len(arms):
        parser.error("--arm names must differ.")
    return arms


def saved_or_run(path: str | Path, key: dict, run) -> dict:
    """The result saved at ``path`` when it was made with this ``key``; else ``run()``'s result,
    with the key, written there atomically (how the arm scripts resume after an interruption)."""
    import json

    from dlink.io import atomic_write_json

    path = Path(path)
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return saved
    result = {"key": key, **run()}
    atomic_write_json(path, result)
    return result


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")


def write_report(run_dir: str | Path, stem: str, result: dict, markdown: str) -> Path:
    """RUN/<stem>.json and RUN/<stem>.md, each written atomically; the table is printed."""
    from dlink.io import atomic_write_json, atomic_write_text

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run / f"{stem}.json", result)
    atomic_write_text(run / f"{stem}.md", markdown)
    print(markdown)
    return run
