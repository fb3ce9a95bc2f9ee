"""`dlink teacher check`: compare a teacher with the official implementation's reference outputs."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", required=True, choices=("labram", "cbramod"), metavar="<arch>",
                        help="teacher architecture: labram or cbramod")
    parser.add_argument("--fixture", required=True, metavar="<prefix>",
                        help="fixture path prefix: <prefix>_state_dict.pt and <prefix>_io.pt")
    parser.add_argument("--tol", type=float, default=1e-6, metavar="<tol>",
                        help="absolute tolerance per stage (default 1e-6; the check runs in "
                             "float32 on one thread, where a correct implementation is exact)")


def run(args: argparse.Namespace) -> int:
    """Print the max absolute error per stage as JSON; 0 only when every stage is within --tol."""
    import json

    import torch

    from dlink.distill.teachers.reference import check_fixture

    torch.set_num_threads(1)  # the references were produced with one thread
    report = check_fixture(args.arch, args.fixture, tol=args.tol)
    summary = {"arch": report["arch"], "fixture": report["fixture"], "tolerance": report["tolerance"],
               "ok": report["ok"],
               "max_abs_error": {k: v["max_abs_error"] for k, v in report["stages"].items()}}
    if args.verbose:
        summary["stages"] = report["stages"]
    print(json.dumps(summary, indent=2))
    return 0 if report["ok"] else 1
