"""`dlink teacher pretrain`: self-supervised pretraining of the config's teacher."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="<config.yaml>",
                        help="the run's config: teacher: (architecture, size), pretrain: (corpus, "
                             "optimisation), data: (filters; synthetic generator options)")
    parser.add_argument("--run", "--run-dir", dest="run", required=True, metavar="<run_dir>",
                        help="run directory; writes <run_dir>/pretrained.pth in the official layout "
                             "(resumes an interrupted run). Under torchrun write --run-dir: "
                             "torchrun's own parser takes --run for its --run-path")
    parser.add_argument("--corpus", action="append", default=None, metavar="<path>",
                        help="override pretrain.corpus: a folder or file of EDF/BDF/GDF/FIF "
                             "recordings (repeatable)")
    parser.add_argument("--synthetic-subjects", type=int, default=None, metavar="<n>",
                        help="override pretrain.synthetic_subjects")
    parser.add_argument("--epochs", type=int, default=None, metavar="<n>",
                        help="override pretrain.epochs")
    parser.add_argument("--from", dest="init_checkpoint", default=None, metavar="<file>",
                        help="continue pretraining from an official-layout file (labram-base.pth, "
                             "pretrained_weights.pth or an earlier pretrained.pth)")
    parser.add_argument("--fresh", action="store_true",
                        help="start over instead of resuming an earlier pretraining checkpoint")


def run(args: argparse.Namespace) -> int:
    import json
    import os

    from dlink.config import load_config
    from dlink.distill.pretrain.train import pretrain_run

    def here(p: str) -> str:  # paths on the command line are relative to the working directory
        return os.path.abspath(os.path.expanduser(p))

    overrides = {}
    if args.corpus is not None:
        overrides["pretrain.corpus"] = [here(p) for p in args.corpus]
    if args.synthetic_subjects is not None:
        overrides["pretrain.synthetic_subjects"] = args.synthetic_subjects
    if args.epochs is not None:
        overrides["pretrain.epochs"] = args.epochs
    if args.init_checkpoint is not None:
        overrides["pretrain.init_checkpoint"] = here(args.init_checkpoint)
    cfg = load_config(args.config, overrides)
    summary = pretrain_run(cfg, args.run, config_path=args.config, verbose=args.verbose,
                           fresh=args.fresh)
    if summary.get("output"):  # rank 0 of a torchrun job, or the only process
        corpus = summary["corpus"]
        print(json.dumps({
            "pretrained": summary["output"], "arch": summary["arch"], "params": summary["params"],
            "windows": corpus["windows"], "sources": corpus["sources"],
            "skipped_sources": len(corpus["skipped"]), "steps": summary["steps"],
            "world_size": summary["world_size"], "device": summary["device"],
            "final_train_loss": summary["final_train_loss"],
            "final_val_loss": summary["final_val_loss"],
            "windows_per_s": round(summary["history"]["windows_per_s"], 1),
            "wall_s": round(summary["wall_s_this_call"], 1),
        }, indent=2))
    return 0
