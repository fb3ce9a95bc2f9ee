"""`dlink flash RUN --board B`: run the app (QEMU for emulated boards, pyOCD + serial for real ones)."""

from __future__ import annotations

import argparse

from dlink.firmware.boards import BOARDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="<run>", help="run directory with a built app "
                        "(dlink firmware build)")
    parser.add_argument("--board", metavar="<board>", default=None,
                        help=f"one of {', '.join(BOARDS)} (default: the run's firmware.board, "
                             f"else mps2-an386)")
    parser.add_argument("--serial", metavar="<port>", default=None,
                        help="real boards: the serial port of the board's UART, e.g. /dev/ttyACM0")
    parser.add_argument("--timeout", metavar="<seconds>", type=float, default=None,
                        help="time-out for QEMU or for the result line over serial "
                             "(default: firmware.qemu_timeout_s / firmware.serial_timeout_s)")


def run(args: argparse.Namespace) -> int:
    from dlink.firmware.flash import flash

    res = flash(args.run, args.board, serial=args.serial, timeout_s=args.timeout)
    unit = res["counter"]
    print(f"{res['board']} ({res['core']}): matched {res['matched']}/{res['total']} test vectors, "
          f"{res[f'{unit}_per_inference']} {unit}/inference, stack peak {res['stack_peak_bytes']} B, "
          f"arena {res['arena_bytes']} B, flash {res['flash_bytes']} B, RAM {res['ram_bytes']} B")
    if res["matched"] != res["total"] or res.get("invoke_errors"):
        detail = res.get("first_mismatch_detail") or f"first mismatch: vector {res['first_mismatch']}"
        print(f"dlink flash: {res['total'] - res['matched']} of {res['total']} test vectors did not "
              f"match the expected int8 outputs ({detail}).")
        return 1
    return 0
