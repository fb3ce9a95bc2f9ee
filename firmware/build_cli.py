"""`dlink firmware build RUN --board B`: generate the model's C and build the app for a board."""

from __future__ import annotations

import argparse

from dlink.firmware.boards import BOARDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="<run>", help="run directory whose export stage has finished")
    parser.add_argument("--board", metavar="<board>", default=None,
                        help=f"one of {', '.join(BOARDS)} (default: the run's firmware.board, "
                             f"else mps2-an386)")
    parser.add_argument("--backend", metavar="<backend>", default=None,
                        choices=("auto", "ref", "dsp", "mve"),
                        help="kernel backend: ref (portable C), dsp (SMLAD), mve (Helium, "
                             "Cortex-M55) or auto (the fastest the board runs); default: the "
                             "run's firmware.backend (auto)")
    parser.add_argument("--no-test-vectors", action="store_true",
                        help="the deployment build: embed no test vectors (they can take most of a "
                             "small board's flash); the app runs the model once on a zero input")


def run(args: argparse.Namespace) -> int:
    from dlink.firmware.build import build_firmware

    config = None
    over = {k: v for k, v in (("backend", args.backend),
                              ("test_vectors", False if args.no_test_vectors else None)) if v is not None}
    if over:
        import dataclasses

        from dlink.firmware.build import load_firmware_config
        from dlink.rundir import RunDir

        config = dataclasses.replace(load_firmware_config(RunDir(args.run)), **over)
        config.validate()
    out = build_firmware(args.run, args.board, config=config)
    rep = out["size_report"]
    tv = (f"; with the test vectors {rep['image_bytes']} B, {rep['flash_used_percent']}%"
          if rep.get("test_vectors_embedded", True) else "; deployment build: no test vectors")
    print(f"{out['board']} ({rep['core']}, {rep['backend']} kernels): {out['elf']}  flash {rep['flash_bytes']} B "
          f"({rep['flash_app_percent']}%{tv}), RAM {rep['ram_bytes']} B ({rep['ram_used_percent']}%; "
          f"arena {rep['arena_bytes']} B, stack {rep['stack']} B)")
    from dlink.firmware.fit import describe_fit

    print(f"fit on {out['board']}: {describe_fit(rep['fit'])}")
    for msg in rep["fit"]["messages"]:
        print(f"warning: {msg}")
    return 0
