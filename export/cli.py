"""`dlink export` (not built yet)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs="*", help="(not built yet)")


def run(args: argparse.Namespace) -> int:
    from dlink.cli import NotBuiltError

    raise NotBuiltError("this stage is not built yet (see the open issues).")
