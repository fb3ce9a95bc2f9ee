"""`dlink check PATH`: the CI gate (a gate bundle's int8 QDQ student in onnxruntime against thresholds).

Runs with the base install (numpy, onnxruntime, PyYAML). Exit status: 0 when the gate passes, 1
when a threshold is not met or the check cannot run (missing or changed bundle file, malformed or
non-finite windows).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH",
                        help="a gate bundle folder (gate.json, student.int8.onnx, student.onnx, "
                             "windows.npz: what `dlink export` writes into RUN/export/gate/ for you to "
                             "commit), or a run directory whose export stage is up to date")
    parser.add_argument("--npz", metavar="<file.npz>", default=None,
                        help="windows X (n, n_chans, n_times) float and labels y (n,) int to check on, "
                             "instead of the bundle's windows (the export's test_vectors.npz works too); "
                             "windows with NaN or infinity are refused")
    parser.add_argument("--min-balanced-accuracy", metavar="X", type=float, default=None,
                        help="fail below this balanced accuracy of the int8 model (default: the "
                             "bundle's, from bench.min_balanced_accuracy; when that is null, chance "
                             "(1 / n_classes) + bench.min_above_chance, 0.1 by default)")
    parser.add_argument("--min-agreement", metavar="Y", type=float, default=None,
                        help="fail below this int8/float argmax agreement (default: the bundle's, "
                             "from bench.min_agreement, 0.95 by default)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from dlink.bench.check import format_check, run_check

    result = run_check(args.path, npz=args.npz, min_balanced_accuracy=args.min_balanced_accuracy,
                       min_agreement=args.min_agreement, verbose=args.verbose)
    print(format_check(result))
    print(json.dumps({"dlink_check": result}, sort_keys=True))
    if not result["passed"]:
        for f in result["failures"]:
            print(f"dlink check: FAILED: {f}", file=sys.stderr)
        return 1
    return 0
