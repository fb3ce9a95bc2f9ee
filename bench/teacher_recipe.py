"""Teacher fine-tuning recipes compared by leave-subjects-out folds over the fine-tuning subjects; test is never read.

    .venv/bin/python bench/teacher_recipe.py configs/demo.yaml --run runs/teacher_recipe \\
        --arm "shipped:" --arm "lr 5e-4:teacher.lr=0.0005" --folds 5 --seeds 1

Why: a recipe chosen on the val split alone follows those few subjects. On the demo, 3 val
subjects preferred 40 epochs with patience 12 (val 0.92 vs 0.90) and 5 test subjects then
disagreed (0.62 vs 0.72, docs/pretraining.md). The fine-tuning split itself (``pool+train`` on the
demo: 22 subjects) holds far more subjects; this script scores every recipe on all of them.

For every fold ``k`` of ``--folds`` subject-disjoint folds of ``teacher.finetune_split`` (subjects
shuffled with ``--fold-seed``, dealt round-robin, the same folds for every arm), each arm (a set of
config overrides) fine-tunes its teacher, exactly as ``dlink teacher finetune`` would, on the other
folds' windows, early-stopped on ``teacher.val_split`` as usual, and predicts the held-out fold's
subjects. Every window of the fine-tuning split is thus predicted once per (arm, seed) by a teacher
that never saw its subject. Reported per arm: held-out balanced accuracy over all those subjects
(mean ± sd over seeds), the spread over folds, the early-stopping val accuracy beside it (what a
val-only choice would have looked at), and against the first arm the paired difference with a 95 %
bootstrap interval resampling held-out subjects and seeds (:mod:`dlink.bench.paired_bootstrap`)
and on how many subjects it is ahead. The top-class share flags a one-class predictor.

The test split is dropped right after the data are loaded, so nothing here can look at it: a
recipe picked from this table is then measured once on test (``bench/distill_benchmark.py``).
Each (arm, fold, seed) is written to RUN/results/ as it finishes and reused by a rerun; output
RUN/teacher_recipe.json and RUN/teacher_recipe.md.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("teacher_recipe")


def subject_folds(subjects, n_folds: int, *, seed: int) -> list[list[int]]:
    """``n_folds`` disjoint, non-empty lists of subjects covering ``subjects`` (seeded shuffle,
    dealt round-robin: fold sizes differ by at most one)."""
    uniq = np.unique(np.asarray(subjects))
    if n_folds < 2 or n_folds > len(uniq):
        raise ValueError(f"--folds must lie in 2..{len(uniq)} (the fine-tuning split has "
                         f"{len(uniq)} subjects), got {n_folds}.")
    order = np.random.default_rng(seed).permutation(uniq)
    return [sorted(int(s) for s in order[k::n_folds]) for k in range(n_folds)]


def one_fold(config: str, overrides: dict, fit_all, val, held_out: list[int], seed: int,
             *, num_threads: int | None = None) -> dict:
    """Fine-tune one arm on every subject of ``fit_all`` outside ``held_out``; predict ``held_out``."""
    import torch

    from dlink.config import load_config
    from dlink.distill.finetune import finetune_teacher, initial_teacher, predict_logits

    cfg = load_config(config, {**overrides, "seed": seed})
    out = np.isin(fit_all.subject, held_out)
    train, test = fit_all.subset(np.flatnonzero(~out)), fit_all.subset(np.flatnonzero(out))
    torch.set_num_threads(int(num_threads or cfg.teacher.num_threads or 1))
    t0 = time.perf_counter()
    teacher = initial_teacher(cfg, fit_all)
    teacher, history = finetune_teacher(teacher, train, val, cfg=cfg.teacher, seed=seed)
    pred = predict_logits(teacher, test.X).numpy().argmax(1)
    return {"held_out_subjects": held_out, "index": np.flatnonzero(out).tolist(),
            "pred": pred.astype(int).tolist(), "best_epoch": history.get("best_epoch"),
            "val_balanced_accuracy": history.get("best_val_balanced_accuracy"),
            "train_windows": int((~out).sum()), "train_s": time.perf_counter() - t0}


def _subject_accuracy(correct: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Each subject's balanced accuracy, mean over runs: ``correct`` ``(R, S, K)``, ``total``
    ``(S, K)`` -> ``(S,)`` (a subject's classes without windows left out)."""
    recall = np.where(total > 0, correct / np.maximum(total, 1), np.nan)  # (R, S, K)
    return np.nanmean(recall, axis=2).mean(0)


def summarise(results: list[dict], arms: list[str], fit_all, folds: list[list[int]],
              n_classes: int, *, n_boot: int = 2000) -> dict:
    """Per arm: held-out balanced accuracy over seeds and folds; paired differences to the first arm."""
    from dlink.bench.paired_bootstrap import PairedBootstrap, balanced_accuracy, class_counts

    y, subj = np.asarray(fit_all.y), np.asarray(fit_all.subject)
    subjects = sorted(set(subj.tolist()))
    total = class_counts(y, y, subj, subjects, n_classes)[1]
    seeds = sorted({r["seed"] for r in results})
    by = {(r["arm"], r["fold"], r["seed"]): r for r in results}
    present = [a for a in arms if all((a, k, s) in by for k in range(len(folds)) for s in seeds)]
    if not present:
        return {"seeds": seeds, "arms": {}}
    s_index = {s: i for i, s in enumerate(subjects)}
    fold_rows = [[s_index[s] for s in f] for f in folds]
    pred, val = {}, {}
    for a in present:
        pred[a] = np.full((len(seeds), len(y)), -1, dtype=np.int64)
        for j, s in enumerate(seeds):
            for k in range(len(folds)):
                pred[a][j, by[(a, k, s)]["index"]] = by[(a, k, s)]["pred"]
        if (pred[a] < 0).any():
            raise RuntimeError(f"teacher_recipe: arm {a!r} left windows unpredicted; the folds do "
                               "not cover the fine-tuning split (rerun with a fresh --run).")
        val[a] = [by[(a, k, s)]["val_balanced_accuracy"] for s in seeds for k in range(len(folds))]
    correct = {a: np.stack([class_counts(y, p, subj, subjects, n_classes)[0] for p in pred[a]])
               for a in present}  # (seeds, subjects, classes)
    boot = PairedBootstrap(total, len(seeds), n_boot=n_boot, seed=len(subjects))
    out = {"seeds": seeds, "subjects": subjects, "arms": {}}
    ref = present[0]
    for a in present:
        ba = balanced_accuracy(correct[a], total)
        fold_ba = [float(balanced_accuracy(c[rows][None], total[rows])[0])
                   for c in correct[a] for rows in fold_rows]
        top = max(np.bincount(p, minlength=n_classes).max() / len(y) for p in pred[a])
        row = {"balanced_accuracy": ba.tolist(), "mean": float(ba.mean()),
               "sd_over_seeds": float(ba.std(ddof=1)) if len(ba) > 1 else 0.0,
               "fold_balanced_accuracy": fold_ba,
               "sd_over_folds": float(np.std(fold_ba, ddof=1)),
               "interval": boot.interval(correct[a]),
               "val_balanced_accuracy_mean": float(np.mean([v for v in val[a] if v is not None]
                                                           or [np.nan])),
               "top_class_share": float(top)}
        if a != ref:
            ahead = int(np.sum(_subject_accuracy(correct[a], total)
                               > _subject_accuracy(correct[ref], total)))
            row["vs_first"] = {**boot.difference(correct[a], correct[ref]),
                               "subjects_ahead": ahead}
        out["arms"][a] = row
    return out


def to_markdown(table: dict, arms: list[str], meta: dict) -> str:
    chance = 1.0 / meta["n_classes"]
    first = next(iter(table["arms"]), arms[0])
    n_subj = len(table.get("subjects", []))
    lines = [f"# Teacher recipes by subject folds: {meta['config']}", "",
             f"Fine-tuning split `{meta['finetune_split']}`: {meta['fit_windows']} windows, "
             f"{n_subj} subjects in {meta['folds']} subject-disjoint folds (the same for every "
             f"arm). Each arm fine-tuned on the other folds, early-stopped on `{meta['val_split']}` "
             f"({meta['val_windows']} windows), predicting the held-out fold: every subject is "
             f"scored by a teacher that never saw it. The test split was not loaded. Balanced "
             f"accuracy over all held-out subjects, mean ± sd over {len(table['seeds'])} seed(s); "
             f"sd over folds beside it; chance {chance:.3f}. Val: the early-stopping split's "
             f"accuracy (what a val-only choice sees). Δ: paired difference to '{first}' with a "
             f"95 % bootstrap CI over held-out subjects and seeds; 'ahead' counts subjects. ⚠: "
             "more than 60 % of the windows given one class.", "",
             f"| Recipe | Held-out{' (mean ± sd seeds)' if len(table['seeds']) > 1 else ''} | "
             "95 % CI | sd over folds | Val | "
             f"Δ vs {first} [95 % CI] | ahead | Top class |",
             "|---|---|---|---|---|---|---|---|"]
    for a in arms:
        r = table["arms"].get(a)
        if r is None:
            lines.append(f"| {a} | — | | | | | | |")
            continue
        d = r.get("vs_first")
        delta = "—" if d is None else f"{d['diff']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"
        ahead = "—" if d is None else f"{d['subjects_ahead']}/{n_subj}"
        warn = " ⚠" if r["top_class_share"] > 0.6 else ""
        spread = f" ± {r['sd_over_seeds']:.3f}" if len(table["seeds"]) > 1 else ""
        lines.append(f"| {a} | {r['mean']:.3f}{spread}{warn} | "
                     f"[{r['interval'][0]:.3f}, {r['interval'][1]:.3f}] | {r['sd_over_folds']:.3f} | "
                     f"{r['val_balanced_accuracy_mean']:.3f} | {delta} | {ahead} | "
                     f"{r['top_class_share']:.2f} |")
    lines += ["", "Arms: " + "; ".join(f"**{n}**: `{o or 'config as is'}`"
                                      for n, o in meta["arms"].items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from tqdm.auto import tqdm

    from dlink.bench.arm_cli import (arm_parser, arm_slug, configure_logging, parse_arms,
                                     saved_or_run, write_report)
    from dlink.config import load_config
    from dlink.data import load_dataset
    from dlink.distill.finetune import select_split

    p = arm_parser(__doc__, "python bench/teacher_recipe.py configs/demo.yaml --run "
                   "runs/teacher_recipe --arm 'shipped:' --arm 'lr 5e-4:teacher.lr=0.0005' "
                   "--folds 5",
                   config_help="a config whose teacher.finetune_split holds several subjects",
                   run_help="output folder (reruns resume)",
                   arm_help="a teacher recipe as config overrides (repeatable; the first is the "
                            "reference)")
    p.add_argument("--folds", type=int, default=5, metavar="<k>",
                   help="subject-disjoint folds of the fine-tuning split (default 5)")
    p.add_argument("--seeds", type=int, default=1, metavar="<n>", help="seeds 0..n-1 (default 1)")
    p.add_argument("--fold-seed", type=int, default=0, metavar="<n>",
                   help="seed of the subject shuffle that makes the folds (default 0)")
    p.add_argument("--n-boot", type=int, default=2000, metavar="<n>", help="bootstrap replicates")
    p.add_argument("--num-threads", type=int, default=None, metavar="<n>",
                   help="torch threads per fine-tune (default teacher.num_threads; e.g. 1 to run "
                        "two of these side by side on 2 cores into the same --run)")
    args = p.parse_args(argv)
    configure_logging(args.verbose)
    arms = parse_arms(p, args.arm, seeds=args.seeds)
    cfg = load_config(args.config, arms[0][1])
    splits = load_dataset(cfg.data)
    splits.pop("test", None)  # never looked at: the choice made here is measured on test later
    for name, over in arms:
        tc = load_config(args.config, over).teacher
        if (tc.finetune_split, tc.val_split) != (cfg.teacher.finetune_split, cfg.teacher.val_split):
            p.error(f"--arm {name!r} changes teacher.finetune_split or teacher.val_split; the arms "
                    "must be scored on the same subjects.")
    if "test" in cfg.teacher.finetune_split.split("+") or cfg.teacher.val_split == "test":
        raise ValueError(f"{args.config}: teacher.finetune_split = {cfg.teacher.finetune_split!r}"
                         f" / val_split = {cfg.teacher.val_split!r} name the test split; recipes "
                         "are chosen without it.")
    fit_all = select_split(splits, cfg.teacher.finetune_split)
    val = splits[cfg.teacher.val_split]
    try:
        folds = subject_folds(fit_all.subject, args.folds, seed=args.fold_seed)
    except ValueError as e:
        p.error(f"{args.config}: {e}")
    n_classes = len(fit_all.class_names)
    run = Path(args.run)
    (run / "results").mkdir(parents=True, exist_ok=True)
    jobs = [(name, over, k, seed) for seed in range(args.seeds) for k in range(len(folds))
            for name, over in arms]
    results = []
    for name, over, k, seed in tqdm(jobs, desc="teacher fine-tunes", unit="run",
                                    disable=not args.verbose):
        path = run / "results" / f"{arm_slug(name)}-fold{k}-seed{seed}.json"
        key = {"config": str(args.config), "overrides": over, "held_out": folds[k], "seed": seed}
        r = saved_or_run(path, key, lambda: {
            "arm": name, "fold": k, "seed": seed,
            **one_fold(args.config, over, fit_all, val, folds[k], seed, num_threads=args.num_threads)})
        log.info("%s fold %d seed %d: val %.3f, %.0f s", name, k, seed,
                 r["val_balanced_accuracy"] or float("nan"), r["train_s"])
        results.append(r)
    names = [n for n, _ in arms]
    table = summarise(results, names, fit_all, folds, n_classes, n_boot=args.n_boot)
    meta = {"config": str(args.config), "n_classes": n_classes, "fit_windows": len(fit_all),
            "finetune_split": cfg.teacher.finetune_split, "val_split": cfg.teacher.val_split,
            "val_windows": len(val), "folds": len(folds), "fold_subjects": folds,
            "arms": {n: o for n, o in arms}, "seeds": args.seeds}
    write_report(run, "teacher_recipe",
                 {"meta": meta, "table": table,
                  "runs": [{k: v for k, v in r.items() if k not in ("pred", "index")}
                           for r in results]},
                 to_markdown(table, names, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
