"""`dlink cv CONFIG --folds K --run DIR`: every fold of a k-fold config end to end (teacher,
teacher gate, student, baselines; export on the folds asked for), a per-fold table and mean ± sd."""

from __future__ import annotations

import argparse


def _folds(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--export-folds takes fold numbers like 0,2, got {value!r}.") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="<config.yaml>",
                        help="a config whose data.splits is {by: kfold, ...}")
    parser.add_argument("--folds", metavar="K", type=int, required=True, help="number of folds (>= 2)")
    parser.add_argument("--run", required=True, metavar="<cv_dir>",
                        help="cross-validation directory: fold k runs in <cv_dir>/fold-k; metrics.json "
                             "and bench/report.{md,json} hold every fold and mean ± sd; rerunning "
                             "skips finished folds and resumes an interrupted one")
    parser.add_argument("--export-folds", metavar="<k1,k2>", type=_folds, default=[0],
                        help="folds whose student is exported to int8 and measured (default: 0; "
                             "'' for none)")
    parser.add_argument("--teacher", default=None, metavar="<teacher.pt>",
                        help="use this task-adapted teacher for every fold instead of fine-tuning one")
    parser.add_argument("--jobs", metavar="N", type=int, default=1,
                        help="folds trained at once, each in its own process (default: 1)")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                        help="config override, e.g. --set train.steps=400 (repeatable)")


def run(args: argparse.Namespace) -> int:
    import yaml

    from dlink.bench.cv import cv_tables, run_cv

    overrides = {}
    for pair in args.set:
        if "=" not in pair:
            raise ValueError(f"--set expects KEY=VALUE (e.g. train.steps=400), got {pair!r}.")
        key, value = pair.split("=", 1)
        overrides[key] = yaml.safe_load(value)
    cv = run_cv(args.config, args.run, folds=args.folds, export_folds=args.export_folds,
                teacher_path=args.teacher, overrides=overrides, jobs=args.jobs, verbose=args.verbose)
    print(cv_tables(cv))
    print(f"\nmetrics: {args.run}/metrics.json; report: {args.run}/bench/report.md")
    return 0
