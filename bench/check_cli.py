"""`dlink check RUN`: the CI gate (int8 QDQ student in onnxruntime against thresholds).

Exit status: 0 when the gate passes, 1 when a threshold is not met or the check cannot run.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN", help="run directory whose export stage is up to date")
    parser.add_argument("--npz", metavar="<file.npz>", default=None,
                        help="windows X (n, n_chans, n_times) and labels y (n,) to check on, instead of "
                             "the run's test split (the export's test_vectors.npz works too)")
    parser.add_argument("--min-balanced-accuracy", metavar="X", type=float, default=None,
                        help="fail below this balanced accuracy of the int8 model "
                             "(default: bench.min_balanced_accuracy of the run's config)")
    parser.add_argument("--min-agreement", metavar="Y", type=float, default=None,
                        help="fail below this int8/float argmax agreement "
                             "(default: bench.min_agreement of the run's config)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from dlink.bench.check import format_check, run_check

    result = run_check(args.run_dir, npz=args.npz, min_balanced_accuracy=args.min_balanced_accuracy,
                       min_agreement=args.min_agreement, verbose=args.verbose)
    print(format_check(result))
    print(json.dumps({"dlink_check": result}, sort_keys=True))
    if not result["passed"]:
        for f in result["failures"]:
            print(f"dlink check: FAILED: {f}", file=sys.stderr)
        return 1
    return 0
