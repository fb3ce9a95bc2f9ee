"""Label efficiency of the teacher: fine-tuned from scratch vs from a pretrained checkpoint, with fewer and fewer labels.

    .venv/bin/python bench/label_efficiency.py configs/demo.yaml --run runs/label_efficiency \\
        --arm "from scratch:teacher.checkpoint=null,teacher.layer_decay=1.0" \\
        --arm "pretrained:" --sizes 40,160,all --seeds 3

Pretraining is meant to pay where labels are scarce. For every labelled-window budget in
``--sizes`` and every seed, a class-stratified random subset of that many windows is drawn from the
teacher's fine-tuning split (``teacher.finetune_split``; the draw depends on the seed and the size,
and is the **same for every arm**), each arm (a set of config overrides) fine-tunes its teacher on
it with the config's recipe, early-stopped on the full ``teacher.val_split`` as usual, and is scored
once on the test split. ``all`` is the whole fine-tuning split.

Reported per size: test balanced accuracy, mean ± sd over seeds, per arm; and for every arm
against the first one, the paired difference with a 95 % bootstrap interval that resamples test
subjects and seeds (:mod:`dlink.bench.paired_bootstrap`), and on how many seeds it is ahead. The
share of test windows given the most frequent class is kept too (near 1: a one-class predictor,
a failure and not a number). Each (arm, size, seed) is written to RUN/results/ as it finishes and
reused by a rerun (resume after interruption).

Every size gets the same number of optimiser steps as the whole split (epochs, patience and
warm-up scaled up for a subset; ``--no-equal-steps`` keeps the config's epochs), so that a small
subset measures fewer labels and not a shorter training. Output: RUN/label_efficiency.json and
RUN/label_efficiency.md.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("label_efficiency")


def parse_sizes(text: str) -> list[int | None]:
    """``"40,160,all"`` -> ``[40, 160, None]`` (None: the whole split)."""
    out: list[int | None] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part == "all":
            out.append(None)
        elif part.isdigit() and int(part) > 0:
            out.append(int(part))
        else:
            raise ValueError(f"--sizes: expected positive window counts or 'all' separated by "
                             f"commas (e.g. 40,160,all), got {part!r}.")
    if not out:
        raise ValueError("--sizes is empty; give e.g. 40,160,all.")
    return out


def stratified_subset(y: np.ndarray, n: int | None, *, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` windows with the classes as equal as ``y`` allows (all when None).

    Every class gets ``n // K`` windows (the remainder goes to classes in a seeded order); a
    class with fewer windows gives all it has and the others make up the difference. Raises when ``n`` is below the number of
    classes (a fine-tuning set must show every class).
    """
    y = np.asarray(y)
    classes = np.unique(y)
    if n is None or n >= len(y):
        return np.arange(len(y))
    if n < len(classes):
        raise ValueError(f"--sizes: {n} windows cannot hold one window of each of the "
                         f"{len(classes)} classes; use at least {len(classes)}.")
    rng = np.random.default_rng(seed)
    have = np.array([np.sum(y == c) for c in classes])
    per = np.zeros(len(classes), dtype=int)
    order = rng.permutation(len(classes))  # who gets the remainder
    for _ in range(n):  # one window at a time to the emptiest class that has windows left
        i = min((i for i in order if per[i] < have[i]), key=lambda i: per[i])
        per[i] += 1
    picks = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, per)]
    return np.sort(np.concatenate(picks))


def equal_step_budget(tcfg, n_fit: int, n_all: int):
    """``tcfg`` with epochs and patience scaled so that ``n_fit`` windows get as many optimiser
    steps as the whole split (``n_all``) gets with the config's epochs (a small subset would
    otherwise stop after a few dozen steps and measure the budget, not the labels)."""
    import dataclasses
    import math

    per_epoch = math.ceil(n_fit / tcfg.batch_size)
    steps = tcfg.finetune_epochs * math.ceil(n_all / tcfg.batch_size)
    factor = max(1, math.ceil(steps / (tcfg.finetune_epochs * per_epoch)))
    return dataclasses.replace(tcfg, finetune_epochs=tcfg.finetune_epochs * factor,
                               patience=tcfg.patience * factor,
                               warmup_epochs=tcfg.warmup_epochs * factor)


def one_run(config: str, name: str, overrides: dict, size: int | None, seed: int, splits: dict,
            *, equal_steps: bool = True) -> dict:
    """Fine-tune one arm's teacher on one seeded subset and score it on test."""
    import torch

    from dlink.config import load_config
    from dlink.distill.finetune import finetune_teacher, initial_teacher, predict_logits, select_split

    cfg = load_config(config, {**overrides, "seed": seed})
    fit_all = select_split(splits, cfg.teacher.finetune_split)
    idx = stratified_subset(fit_all.y, size, seed=seed * 7919 + (size or 0))
    fit = fit_all.subset(idx)
    torch.set_num_threads(int(cfg.teacher.num_threads or 1))
    t0 = time.perf_counter()
    teacher = initial_teacher(cfg, fit_all)
    tcfg = equal_step_budget(cfg.teacher, len(fit), len(fit_all)) if equal_steps else cfg.teacher
    teacher, history = finetune_teacher(teacher, fit, splits[cfg.teacher.val_split],
                                        cfg=tcfg, seed=seed)
    test = splits["test"]
    pred = predict_logits(teacher, test.X).numpy().argmax(1)
    return {"arm": name, "size": len(idx), "size_arg": size, "seed": seed,
            "subset_sha": _sha(idx), "pred": pred.astype(int).tolist(),
            "epochs": tcfg.finetune_epochs, "best_epoch": history.get("best_epoch"),
            "val_balanced_accuracy": history.get("best_val_balanced_accuracy"),
            "train_s": time.perf_counter() - t0}


def _sha(idx: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.asarray(idx, dtype=np.int64).tobytes()).hexdigest()[:12]


def summarise(results: list[dict], arms: list[str], test, n_classes: int, *, n_boot: int = 2000) -> list[dict]:
    """Per size: every arm's mean ± sd and, against the first arm, paired bootstrap differences."""
    from dlink.bench.paired_bootstrap import PairedBootstrap, balanced_accuracy, class_counts

    subjects = sorted(set(np.asarray(test.subject).tolist()))
    y, subj = np.asarray(test.y), np.asarray(test.subject)
    total = class_counts(y, y, subj, subjects, n_classes)[1]
    out = []
    for size in sorted({r["size"] for r in results}):
        seeds = sorted({r["seed"] for r in results if r["size"] == size})
        by = {(r["arm"], r["seed"]): r for r in results if r["size"] == size}
        present = [a for a in arms if all((a, s) in by for s in seeds)]
        if not present:
            continue
        correct = {a: np.stack([class_counts(y, np.asarray(by[(a, s)]["pred"]), subj, subjects,
                                             n_classes)[0] for s in seeds]) for a in present}
        boot = PairedBootstrap(total, len(seeds), n_boot=n_boot, seed=size)
        row = {"size": size, "seeds": seeds, "arms": {}}
        for a in present:
            ba = balanced_accuracy(correct[a], total)
            top = [np.bincount(by[(a, s)]["pred"], minlength=n_classes).max() / len(y) for s in seeds]
            row["arms"][a] = {"balanced_accuracy": ba.tolist(), "mean": float(ba.mean()),
                              "sd": float(ba.std(ddof=1)) if len(ba) > 1 else 0.0,
                              "top_class_share": float(max(top)),
                              "val_balanced_accuracy": [by[(a, s)]["val_balanced_accuracy"] for s in seeds]}
            if a != present[0]:
                d = boot.difference(correct[a], correct[present[0]])
                wins = int(np.sum(ba > balanced_accuracy(correct[present[0]], total)))
                row["arms"][a]["vs_first"] = {**d, "ahead_on_seeds": wins}
        out.append(row)
    return out


def to_markdown(table: list[dict], arms: list[str], meta: dict) -> str:
    chance = 1.0 / meta["n_classes"]
    first = arms[0]
    budget = (" with as many optimiser steps as the whole split gets (epochs, patience and "
              "warm-up scaled)" if meta.get("equal_steps") else " for the config's epochs")
    lines = [f"# Teacher label efficiency: {meta['config']}", "",
             f"Teacher fine-tuned on a class-stratified subset of its fine-tuning split "
             f"({meta['fit_windows']} windows in all; the same subset for every arm at a given "
             f"size and seed){budget}, early-stopped on val ({meta['val_windows']} windows), scored once "
             f"on test ({meta['test_windows']} windows, {meta['test_subjects']} subjects). "
             f"Balanced accuracy, mean ± sd over seeds; chance {chance:.3f}. Δ: paired difference "
             f"to '{first}' with a 95 % bootstrap CI over test subjects and seeds; 'ahead' counts "
             "seeds. ⚠: some seed gives more than 60 % of the test windows one class.", "",
             "| labelled windows | " + " | ".join(arms) + " | " +
             " | ".join(f"Δ {a} − {first}" for a in arms[1:]) + " |",
             "|---" * (2 * len(arms)) + "|"]
    for row in table:
        cells = []
        for a in arms:
            r = row["arms"].get(a)
            cells.append("—" if r is None else
                         f"{r['mean']:.3f} ± {r['sd']:.3f}{' ⚠' if r['top_class_share'] > 0.6 else ''}")
        for a in arms[1:]:
            r = row["arms"].get(a, {}).get("vs_first")
            cells.append("—" if r is None else f"{r['diff']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}], "
                         f"ahead {r['ahead_on_seeds']}/{len(row['seeds'])}")
        lines.append(f"| {row['size']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from tqdm.auto import tqdm

    from dlink.bench.arm_cli import (arm_parser, arm_slug, configure_logging, parse_arms,
                                     saved_or_run, write_report)
    from dlink.config import load_config
    from dlink.data import load_dataset
    from dlink.distill.finetune import select_split

    p = arm_parser(__doc__, "python bench/label_efficiency.py configs/demo.yaml --run "
                   "runs/label_efficiency --arm 'from scratch:teacher.checkpoint=null,"
                   "teacher.layer_decay=1.0' --arm 'pretrained:' --sizes 40,160,all --seeds 3",
                   config_help="a config with fine-tuning, val and test splits",
                   run_help="output folder (reruns resume)",
                   arm_help="a teacher recipe as config overrides (repeatable; the first is the "
                            "reference)")
    p.add_argument("--sizes", default="40,160,all", metavar="<n1,n2,all>",
                   help="labelled fine-tuning windows per run (default 40,160,all)")
    p.add_argument("--seeds", type=int, default=3, metavar="<n>", help="seeds 0..n-1 (default 3)")
    p.add_argument("--no-equal-steps", action="store_true",
                   help="keep the config's epochs for every size (default: scale epochs, patience "
                        "and warm-up so every size gets the whole split's number of steps)")
    p.add_argument("--n-boot", type=int, default=2000, metavar="<n>", help="bootstrap replicates")
    args = p.parse_args(argv)
    configure_logging(args.verbose)
    arms = parse_arms(p, args.arm, seeds=args.seeds)
    try:
        sizes = parse_sizes(args.sizes)
    except ValueError as e:
        p.error(str(e))
    cfg = load_config(args.config, arms[0][1])
    splits = load_dataset(cfg.data)
    if "test" not in splits or len(splits["test"]) == 0:
        raise ValueError(f"{args.config}: label_efficiency scores on the test split, which is "
                         "missing or empty.")
    fit_all = select_split(splits, cfg.teacher.finetune_split)
    n_classes = len(fit_all.class_names)
    for s in sizes:  # refuse a bad size before any training
        stratified_subset(fit_all.y, s, seed=0)
    run = Path(args.run)
    (run / "results").mkdir(parents=True, exist_ok=True)
    jobs = [(name, over, size, seed) for size in sizes for seed in range(args.seeds)
            for name, over in arms]
    results = []
    for name, over, size, seed in tqdm(jobs, desc="teacher fine-tunes", unit="run",
                                       disable=not args.verbose):
        path = run / "results" / f"{arm_slug(name)}-{size or 'all'}-seed{seed}.json"
        key = {"config": str(args.config), "overrides": over, "size": size, "seed": seed,
               "equal_steps": not args.no_equal_steps}
        results.append(saved_or_run(path, key, lambda: one_run(
            args.config, name, over, size, seed, splits, equal_steps=not args.no_equal_steps)))
    names = [n for n, _ in arms]
    table = summarise(results, names, splits["test"], n_classes, n_boot=args.n_boot)
    meta = {"config": str(args.config), "n_classes": n_classes, "fit_windows": len(fit_all),
            "val_windows": len(splits[cfg.teacher.val_split]), "test_windows": len(splits["test"]),
            "test_subjects": len(set(np.asarray(splits["test"].subject).tolist())),
            "arms": {n: o for n, o in arms}, "seeds": args.seeds,
            "equal_steps": not args.no_equal_steps}
    write_report(run, "label_efficiency",
                 {"meta": meta, "table": table,
                  "runs": [{k: v for k, v in r.items() if k != "pred"} for r in results]},
                 to_markdown(table, names, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
