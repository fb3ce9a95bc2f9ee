"""`dlink teacher finetune`: task-adapt the config's teacher and write RUN/teacher.pt."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="<config.yaml>", help="the run's config (data + teacher)")
    parser.add_argument("--run", required=True, metavar="<run_dir>",
                        help="run directory; writes <run_dir>/teacher.pt (resumes an interrupted run)")
    parser.add_argument("--epochs", type=int, default=None, metavar="<n>",
                        help="override teacher.finetune_epochs")
    parser.add_argument("--checkpoint", default=None, metavar="<file>",
                        help="override teacher.checkpoint (official pretrained file)")
    parser.add_argument("--fresh", action="store_true",
                        help="start over instead of resuming an earlier fine-tuning checkpoint")


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from dlink.config import load_config
    from dlink.distill.finetune import finetune_run

    overrides = {}
    if args.epochs is not None:
        overrides["teacher.finetune_epochs"] = args.epochs
    if args.checkpoint is not None:
        overrides["teacher.checkpoint"] = args.checkpoint
    cfg = load_config(args.config, overrides)
    t0 = time.perf_counter()
    _, summary = finetune_run(cfg, args.run, config_path=args.config, verbose=args.verbose,
                              fresh=args.fresh)
    m, h = summary["metrics"], summary["history"]
    print(json.dumps({
        "teacher": summary["teacher"],
        "val_balanced_accuracy": m.get("val", {}).get("balanced_accuracy"),
        "test_balanced_accuracy": m.get("test", {}).get("balanced_accuracy"),
        "best_epoch": h.get("best_epoch"), "epochs_run": len(h.get("train_loss", [])),
        "stopped_early": h.get("stopped_early"), "wall_s": round(time.perf_counter() - t0, 1),
    }, indent=2))
    return 0
