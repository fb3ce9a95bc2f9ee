"""`dlink firmware build RUN --board B`: generate the model's C and build the app for a board."""

from __future__ import annotations

import argparse

from dlink.firmware.boards import BOARDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="<run>", help="run directory whose export stage has finished")
    parser.add_argument("--board", metavar="<board>", default=None,
                        help=f"one of {', '.join(BOARDS)} (default: the run's firmware.board, "
                             f"else mps2-an386)")


def run(args: argparse.Namespace) -> int:
    from dlink.firmware.build import build_firmware

    out = build_firmware(args.run, args.board)
    rep = out["size_report"]
    print(f"{out['board']} ({rep['core']}): {out['elf']}  flash {rep['flash_bytes']} B "
          f"({rep['flash_used_percent']}%), RAM {rep['ram_bytes']} B ({rep['ram_used_percent']}%; "
          f"arena {rep['arena_bytes']} B, stack {rep['stack']} B)")
    return 0
