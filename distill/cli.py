"""`dlink distill`: fine-tune (or load) the teacher, then distill the MiC student with DLink."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="<config.yaml>", help="the run's config")
    parser.add_argument("--run", required=True, metavar="<run_dir>",
                        help="run directory: writes config.yaml, teacher.pt, student.pt, "
                             "metrics.json; rerunning resumes an interrupted run")
    parser.add_argument("--teacher", default=None, metavar="<teacher.pt>",
                        help="use this task-adapted teacher file instead of fine-tuning one")
    parser.add_argument("--epochs", type=int, default=None, metavar="<n>",
                        help="override train.epochs (the budget is at least train.min_steps steps)")
    parser.add_argument("--fresh", action="store_true",
                        help="start the trainings over (student, baselines, an unfinished "
                             "teacher fine-tuning) instead of resuming them; the fix for a "
                             "truncated or corrupted training checkpoint")


def run(args: argparse.Namespace) -> int:
    import json

    from dlink.config import load_config
    from dlink.rundir import RunDir

    from .pipeline import clear_checkpoints, distill_run

    overrides = {"train.epochs": args.epochs} if args.epochs is not None else {}
    cfg = load_config(args.config, overrides)
    if args.fresh:
        clear_checkpoints(RunDir(args.run))
    m = distill_run(cfg, args.run, teacher_path=args.teacher, verbose=args.verbose,
                    config_file=str(args.config))
    s, t = m["student"], m["teacher"]
    summary = {
        "student": {k: s.get(k) for k in ("balanced_accuracy", "kappa", "f1_weighted", "params", "macs")},
        "teacher": {k: t.get(k) for k in ("balanced_accuracy", "kappa", "params", "init")},
        "student_alone": (m.get("student_alone") or {}).get("balanced_accuracy"),
        "teacher_gate": {k: m["teacher_gate"].get(k) for k in ("decision", "kept", "reason")
                         if m["teacher_gate"].get(k) is not None},
        "baselines": {n: b.get("balanced_accuracy") for n, b in m["baselines"].items()},
        "student_balanced_accuracy_ci": [round(v, 3) for v in s.get("balanced_accuracy_ci") or []],
        "test_windows": s.get("n"),
        "router_layer_weights": [round(w, 3) for w in m["router"].get("layer_weights_mean", [])],
        "timing_s": {k: round(v, 1) for k, v in m["timing"].items()},
        "run": str(args.run),
    }
    print(json.dumps(summary, indent=2))
    import sys

    for w in m.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    return 0
