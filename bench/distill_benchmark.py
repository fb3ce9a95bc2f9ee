"""Distillation benchmark: what each part of DLink is worth, with paired confidence intervals.

    .venv/bin/python bench/distill_benchmark.py configs/distill_benchmark.yaml --run runs/distill_bench

Several teachers (one fine-tuned per teacher seed, ``--teacher-seeds``) and several students per
teacher (``--seeds-per-teacher``); every row (:mod:`dlink.bench.distill_rows`) is trained for
every (teacher, student seed), so rows are paired run by run. Rows: the fine-tuned teacher;
EEGNet and ShallowConvNet alone; the MiC student alone; an oracle MiC trained with the pool's
true labels; logit KD; feature KD on each fixed teacher block and on their average; feature KD
with a bias-only router (learned layer weights, no input conditioning); DLink without spectral
terms (the input-conditioned router + probe); that plus the spectral magnitude, the phase, or the
anti-aliasing term alone; full DLink. Labelled-only rows get at least the optimisation steps of
the rows that also see the pool. ``--mimic-widths`` adds a curve of full DLink over the mimic
width (parameters, MACs, feature R^2 against accuracy).

The rule, followed here: anything chosen (early-stopping epoch, the probe's L2 strength, the
"best fixed block" of the comparisons, the mimic width) is chosen on the validation subjects; the
test subjects are read once, by the final tables, after every run has finished. Workers return
validation metrics and test *predictions*; only :func:`dlink.bench.distill_tables.build` turns
the predictions into numbers.

Differences between rows come with 95 % paired bootstrap intervals over test subjects and runs
(:mod:`dlink.bench.paired_bootstrap`). Jitter robustness: every student is also evaluated on the
test windows rolled in time by each of ``--shifts-s``.

Every training writes per-epoch checkpoints and every finished run its result file, so an
interrupted benchmark resumes where it stopped. Output: RUN/distill_benchmark.md and
RUN/distill_benchmark.json (+ RUN/distill_benchmark_predictions.npz).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

log = logging.getLogger("distill_benchmark")


def _overrides(pairs: list[str]) -> dict:
    import yaml

    out = {}
    for p in pairs:
        if "=" not in p:
            raise ValueError(f"--set expects KEY=VALUE (e.g. train.epochs=10), got {p!r}.")
        k, v = p.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_teacher_seed(args: dict) -> dict:
    """Fine-tune (or reuse) the teacher of one seed, cache its states, and describe it (in a
    worker process, one torch thread: several threads per process on a shared machine spin)."""
    import copy

    import torch

    from dlink.config import load_config, save_config
    from dlink.data import load_dataset
    from dlink.distill.finetune import predict_logits
    from dlink.distill.layer_probe import layer_similarity, linear_probe, rank_ceiling
    from dlink.distill.metrics import classification_metrics
    from dlink.distill.pipeline import build_caches, prepare_teacher
    from dlink.distill.students import count_macs, count_params
    from dlink.rundir import RunDir

    cfg = load_config(args["config"], args["overrides"])
    teacher_seed, shifts_samples, verbose = args["teacher_seed"], args["shifts_samples"], False
    splits = load_dataset(cfg.data)
    torch.set_num_threads(1)
    tcfg = copy.deepcopy(cfg)
    tcfg.seed = int(teacher_seed)
    tcfg.teacher.num_threads = 1
    run_root = Path(args["run_root"])
    run = RunDir(run_root / f"teacher{teacher_seed}").mkdir()
    save_config(tcfg, run.config)
    t0 = time.perf_counter()
    teacher, info = prepare_teacher(tcfg, run, verbose=verbose)
    torch.set_num_threads(1)
    caches = build_caches(teacher, splits, cache_root=run.path / "cache", verbose=verbose)
    tr = splits["train"]
    n_classes = len(tr.class_names)
    val = classification_metrics(splits["val"].y, caches["val"].logits, n_classes)
    preds = {}
    names = ["train", "val"]
    if args.get("test", True):  # test predictions for the final tables (none in selection mode)
        te = splits["test"]
        names.append("test")
        preds["test"] = caches["test"].logits.argmax(1).astype(np.int8)
        for s in shifts_samples:
            preds[f"shift{s}"] = predict_logits(teacher, np.roll(te.X, s, axis=-1)).numpy().argmax(1).astype(np.int8)
    layers = {"probe": linear_probe({k: caches[k].hidden for k in names},
                                    {k: splits[k].y for k in names}),
              **layer_similarity(caches["val"].hidden),
              "rank_ceiling": rank_ceiling(caches["val"].hidden)}
    return {"teacher_seed": int(teacher_seed), "dir": str(run.path),
            "val": {k: v for k, v in val.items() if k != "confusion"}, "preds": preds,
            "params": count_params(teacher), "macs": count_macs(teacher, tr.n_chans, tr.n_times),
            "source": info.get("source"), "train_s": _teacher_train_s(run, info),
            "n_layers": caches["train"].n_layers, "layers": layers,
            "prepare_s": time.perf_counter() - t0}


def _teacher_train_s(run, info: dict) -> float:
    """The teacher's fine-tuning time: from this call, or (a reused teacher) from its stamp, where
    wall-clock times live (teacher.pt keeps none, so that its bytes are reproducible)."""
    s = info.get("history", {}).get("train_s") or info.get("finetune_s")
    if s is None:
        s = ((run.read_stamp("teacher") or {}).get("extra") or {}).get("train_s")
    return float("nan") if s is None else float(s)


def val_markdown(rows, results: list[dict]) -> str:
    """Validation-only table (``--val-only``): what a choice of config may look at."""
    lines = ["| Row | Val bal. acc. (mean ± sd) | Feature R² val | Runs |", "|---|---|---|---|"]
    for row in rows:
        rs = [r for r in results if r["row"] == row.key]
        if not rs:
            continue
        v = np.array([r["val"]["balanced_accuracy"] for r in rs])
        r2 = [r["feature_r2"]["val"] for r in rs if "feature_r2" in r]
        lines.append(f"| {row.label} | {v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} | "
                     f"{np.mean(r2):.3f} | {len(rs)} |" if r2 else
                     f"| {row.label} | {v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} | — | {len(rs)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="example: python bench/distill_benchmark.py configs/distill_benchmark.yaml "
               "--run runs/distill_bench --teacher-seeds 5 --mimic-widths 4,8,16,32,48 --jobs 2")
    p.add_argument("config", nargs="?", default="configs/distill_benchmark.yaml", metavar="<config.yaml>")
    p.add_argument("--run", default="runs/distill_bench", metavar="<run_dir>")
    p.add_argument("--teacher-seeds", type=int, default=5, metavar="<n>",
                   help="teachers fine-tuned with seeds 0..n-1 (default 5)")
    p.add_argument("--seeds-per-teacher", type=int, default=1, metavar="<n>",
                   help="student seeds per teacher (default 1: 5 paired runs per row, each with "
                        "its own teacher, so the intervals include the teacher's variance)")
    p.add_argument("--jobs", type=int, default=2, metavar="<n>", help="parallel trainings")
    p.add_argument("--rows", default=None, metavar="<a,b>", help="only these rows (keys)")
    p.add_argument("--mimic-widths", default="", metavar="<w1,w2>",
                   help="add the mimic-width curve: full DLink at these widths (e.g. 4,8,16,32)")
    p.add_argument("--curve-teachers", type=int, default=2, metavar="<n>",
                   help="train the curve's rows with the first n teachers only (default 2)")
    p.add_argument("--shifts-s", default="-0.5,-0.25,0.25,0.5", metavar="<s1,s2>",
                   help="time shifts (s) of the test windows for the jitter-robustness table")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set train.epochs=10 (repeatable)")
    p.add_argument("--no-equal-steps", dest="equal_steps", action="store_false",
                   help="give labelled-only rows their own step budget (train: over the "
                        "labelled windows) instead of the students' budget over train + pool")
    p.add_argument("--n-boot", type=int, default=2000, metavar="<n>", help="bootstrap replicates")
    p.add_argument("--val-only", action="store_true",
                   help="selection mode: train the rows and report validation metrics only (no "
                        "test number is computed); use it to choose a config before the real run")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    import multiprocessing

    from tqdm.auto import tqdm

    from dlink.bench.distill_rows import curve_rows, main_rows, run_task
    from dlink.bench.distill_tables import build, markdown
    from dlink.config import config_to_dict, load_config
    from dlink.data import load_dataset
    from dlink.io import atomic_write_json, atomic_write_text

    t_start = time.perf_counter()
    overrides = _overrides(args.set)
    cfg = load_config(args.config, overrides)
    run_root = Path(args.run)
    (run_root / "results").mkdir(parents=True, exist_ok=True)
    splits = load_dataset(cfg.data)
    sfreq = splits["train"].sfreq
    shifts = [int(round(float(s) * sfreq)) for s in args.shifts_s.split(",") if s.strip()]

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as ex:
        futures = [ex.submit(prepare_teacher_seed, {"config": args.config, "overrides": overrides,
                                                    "run_root": str(run_root), "teacher_seed": t,
                                                    "shifts_samples": shifts,
                                                    "test": not args.val_only})
                   for t in range(args.teacher_seeds)]
        teachers = [f.result() for f in tqdm(futures, desc="teachers", unit="teacher")]
    n_layers = teachers[0]["n_layers"]
    rows = main_rows(n_layers)
    widths = [int(w) for w in args.mimic_widths.split(",") if w.strip()]
    rows += curve_rows(widths)
    if args.rows:
        wanted = set(args.rows.split(","))
        unknown = wanted - {r.key for r in rows}
        if unknown:
            raise SystemExit(f"--rows: unknown row(s) {sorted(unknown)}; known: "
                             f"{', '.join(r.key for r in rows)}")
        rows = [r for r in rows if r.key in wanted]

    cfg_key = _key({"cfg": config_to_dict(cfg), "shifts": shifts, "equal": args.equal_steps})
    tasks, results = [], []
    for teacher in teachers:
        for j in range(args.seeds_per_teacher):
            seed = teacher["teacher_seed"] * args.seeds_per_teacher + j
            for row in rows:
                if row.table == "curve" and teacher["teacher_seed"] >= args.curve_teachers:
                    continue
                stem = run_root / "results" / (f"{row.key}_t{teacher['teacher_seed']}_s{seed}"
                                               + ("_val" if args.val_only else ""))
                key = _key({"cfg": cfg_key, "row": repr(row), "seed": seed, "test": not args.val_only})
                done = Path(str(stem) + ".json")
                if done.is_file() and Path(str(stem) + ".npz").is_file():
                    res = json.loads(done.read_text())
                    if res.get("key") == key:
                        results.append(res)
                        continue
                tasks.append({"config": args.config, "overrides": overrides, "row": row,
                              "teacher_dir": teacher["dir"], "teacher_seed": teacher["teacher_seed"],
                              "seed": seed, "shifts_samples": shifts, "equal_steps": args.equal_steps,
                              "out": str(stem), "key": key, "test": not args.val_only})
    log.info("%d runs to train, %d reused", len(tasks), len(results))
    # teacher by teacher (an interrupted benchmark leaves whole teachers' rows finished, which a
    # rerun with fewer --teacher-seeds tabulates at once), the longest rows (baselines) first within
    # a teacher to keep both workers busy, the mimic-width curve last
    tasks.sort(key=lambda a: (a["row"].table == "curve", a["teacher_seed"], a["seed"],
                              a["row"].kind != "baseline"))
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as ex:
        futures = {ex.submit(run_task, a): a for a in tasks}
        for fut in tqdm(as_completed(futures), total=len(futures), desc="benchmark", unit="run"):
            a = futures[fut]
            r = fut.result()
            r["key"] = a["key"]
            atomic_write_json(a["out"] + ".json", r)
            log.info("%s t%d s%d: val bal. acc %.3f (%.0f s)", r["row"], r["teacher_seed"],
                     r["seed"], r["val"]["balanced_accuracy"], r["train_s"])
            results.append(r)

    if args.val_only:
        md = val_markdown(rows, results)
        atomic_write_text(run_root / "distill_benchmark_val.md", md)
        print(md)
        return 0
    preds = {}
    for r in results:
        with np.load(run_root / "results" / f"{r['row']}_t{r['teacher_seed']}_s{r['seed']}.npz") as z:
            preds[(r["row"], r["teacher_seed"], r["seed"])] = {k: z[k] for k in z.files}
    load = os.getloadavg()
    meta = {"config": str(args.config), "overrides": overrides, "teacher_seeds": args.teacher_seeds,
            "seeds_per_teacher": args.seeds_per_teacher, "equal_steps": args.equal_steps,
            "shifts_samples": shifts, "sfreq": sfreq, "n_boot": args.n_boot,
            "subjects": {k: int(len(np.unique(v.subject))) for k, v in splits.items()},
            "windows": {k: len(v) for k, v in splits.items()},
            "n_classes": len(splits["train"].class_names), "epochs": cfg.train.epochs,
            "max_params": cfg.student.max_params, "max_macs": cfg.student.max_macs,
            "wall_s": time.perf_counter() - t_start, "load_average": [round(x, 1) for x in load],
            "jobs": args.jobs}
    tables = build(rows, teachers, results, preds, splits["test"], meta)  # the one test read
    md = markdown(tables, meta)
    atomic_write_json(run_root / "distill_benchmark.json",
                      {"meta": meta, **tables,
                       "teachers": [{k: v for k, v in t.items() if k != "preds"} for t in teachers],
                       "runs": results})
    atomic_write_text(run_root / "distill_benchmark.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
