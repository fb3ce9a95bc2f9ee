"""Distillation benchmark: what each part of DLink is worth (a script, not a test).

    .venv/bin/python bench/distill_benchmark.py configs/demo.yaml --run runs/distill_bench --seeds 3

Rows, each trained for every seed with the config's ``train:`` section: the fine-tuned teacher;
EEGNet and ShallowConvNet alone (braindecode); the MiC student alone (CE on "train"); logit KD;
last-layer feature KD; average-layer feature KD; DLink without its spectral terms; full DLink.
A second table describes the teacher's layers (linear probe per block, similarity to the last
block): whether routing among them can matter at all.
Every row but "alone" ones also uses the unlabelled "pool" windows with teacher targets. The
ablation ladder (each row adds one thing to the one above it):

    student alone     CE                                      (labelled "train" only)
    logit KD          CE + KD(T)                              (+ pool windows)
    feature KD last   CE + KD + feature(last block)
    feature KD avg    CE + KD + feature(uniform average)
    DLink -spectral   CE + KD + feature(router) + router probe
    DLink             CE + KD + feature(router) + probe + spectral mag/phase + anti-aliasing

One teacher is fine-tuned (or reused from RUN/teacher.pt) and cached once; rows run in
``--jobs`` processes (1 torch thread each). Every training writes per-epoch checkpoints under
RUN/distill_benchmark/, so an interrupted benchmark resumes. Output: RUN/distill_benchmark.md
and RUN/distill_benchmark.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

log = logging.getLogger("distill_benchmark")

_OFF_SPECTRAL = {"w_spectral_mag": 0.0, "w_spectral_phase": 0.0, "w_antialias": 0.0}
_ONLY_CE = {"w_kd": 0.0, "w_feature": 0.0, "w_router_probe": 0.0, "use_pool": False, **_OFF_SPECTRAL}

#: (key, label, kind, DistillConfig overrides)
ROWS: list[tuple[str, str, str, dict]] = [
    ("teacher", "Teacher (fine-tuned)", "teacher", {}),
    ("eegnet", "EEGNet alone (braindecode)", "baseline", {}),
    ("shallow", "ShallowConvNet alone (braindecode)", "baseline", {}),
    ("student_alone", "MiC student alone", "student", _ONLY_CE),
    ("logit_kd", "Logit KD", "student",
     {"w_feature": 0.0, "w_router_probe": 0.0, **_OFF_SPECTRAL}),
    ("feature_last", "Last-layer feature KD", "student",
     {"target": "last", "w_router_probe": 0.0, **_OFF_SPECTRAL}),
    ("feature_average", "Average-layer feature KD", "student",
     {"target": "average", "w_router_probe": 0.0, **_OFF_SPECTRAL}),
    ("dlink_no_spectral", "DLink without spectral terms", "student",
     {"target": "router", **_OFF_SPECTRAL}),
    ("dlink", "DLink (full)", "student", {"target": "router"}),
]


def _overrides(pairs: list[str]) -> dict:
    import yaml

    out = {}
    for p in pairs:
        if "=" not in p:
            raise ValueError(f"--set expects KEY=VALUE (e.g. train.epochs=10), got {p!r}.")
        k, v = p.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def _load_caches(run_dir: Path, splits: dict) -> dict:
    from dlink.distill.teacher_cache import load_teacher_cache

    return {name: load_teacher_cache(run_dir / "cache" / f"teacher_{name}")
            for name, ds in splits.items() if len(ds)}


def _task(args: tuple) -> dict:
    """One (row, seed) training in a worker process."""
    config, overrides, run_dir, key, kind, row_over, seed, equal_steps = args
    import math

    import torch

    from dlink.config import load_config
    from dlink.data import load_dataset
    from dlink.distill.pipeline import distill_student, evaluate, router_weights, train_baseline

    torch.set_num_threads(1)
    cfg = load_config(config, overrides)
    splits = load_dataset(cfg.data)
    labelled_only = kind == "baseline" or not row_over.get("use_pool", True)
    if equal_steps and labelled_only and len(splits.get("pool", [])):
        # as many optimisation steps as the rows that also see the pool windows
        scale = (len(splits["train"]) + len(splits["pool"])) / len(splits["train"])
        cfg.train.epochs = math.ceil(cfg.train.epochs * scale)
        cfg.train.patience = math.ceil(cfg.train.patience * scale)
        cfg.train.baseline_epochs = None
    run_dir = Path(run_dir)
    ckpt = run_dir / "distill_benchmark" / f"{key}_seed{seed}"
    t0 = time.perf_counter()
    out: dict = {"row": key, "seed": seed}
    if kind == "baseline":
        model, hist = train_baseline(key, cfg, splits, seed=seed, checkpoint_dir=ckpt)
    else:
        dcfg = dataclasses.replace(cfg.distill, **row_over)
        caches = _load_caches(run_dir, splits)
        model, objective, hist = distill_student(cfg, dcfg, splits, caches, seed=seed,
                                                 checkpoint_dir=ckpt, desc=key)
        out["router"] = router_weights(objective, caches.get("test"))
    out["metrics"] = {k: v for k, v in evaluate(model, splits).items() if k != "confusion"}
    out["train_s"] = hist["train_s"]
    out["epochs"] = len(hist["train_loss"])
    out["best_epoch"] = hist["best_epoch"]
    out["wall_s"] = time.perf_counter() - t0
    return out


def _fmt(mean: float, sd: float) -> str:
    return f"{mean:.3f} ± {sd:.3f}"


def summarise(results: list[dict], teacher: dict) -> list[dict]:
    rows = []
    for key, label, kind, _ in ROWS:
        if kind == "teacher":
            rows.append({"row": key, "label": label, "n_seeds": 1,
                         "balanced_accuracy_mean": teacher["balanced_accuracy"],
                         "balanced_accuracy_sd": 0.0, "kappa_mean": teacher["kappa"],
                         "kappa_sd": 0.0, "params": teacher["params"], "macs": teacher["macs"],
                         "train_s": teacher.get("train_s", float("nan"))})
            continue
        rs = [r for r in results if r["row"] == key]
        if not rs:
            continue
        ba = np.array([r["metrics"]["balanced_accuracy"] for r in rs])
        ka = np.array([r["metrics"]["kappa"] for r in rs])
        row = {"row": key, "label": label, "n_seeds": len(rs),
               "balanced_accuracy_mean": float(ba.mean()), "balanced_accuracy_sd": float(ba.std(ddof=1)) if len(rs) > 1 else 0.0,
               "kappa_mean": float(ka.mean()), "kappa_sd": float(ka.std(ddof=1)) if len(rs) > 1 else 0.0,
               "params": rs[0]["metrics"]["params"], "macs": rs[0]["metrics"]["macs"],
               "train_s": float(np.mean([r["train_s"] for r in rs])),
               "epochs_run": [r["epochs"] for r in rs],
               "balanced_accuracy_per_seed": ba.tolist()}
        routers = [r["router"] for r in rs if r.get("router", {}).get("mode") == "router"]
        if routers:
            row["router_layer_weights_mean"] = np.mean([r["layer_weights_mean"] for r in routers], 0).tolist()
            row["router_layer_weights_std"] = np.mean([r["layer_weights_std"] for r in routers], 0).tolist()
        rows.append(row)
    return rows


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"# Distillation benchmark: {meta['config']}", "",
             f"Seeds: {meta['seeds']}; test split: {meta['n_test']} windows "
             f"({meta['n_classes']} classes, chance balanced accuracy {1 / meta['n_classes']:.3f}); "
             f"labelled train: {meta['n_train']}, unlabelled pool: {meta['n_pool']}; "
             f"epochs (max): {meta['epochs']} over train + pool"
             + (" (labelled-only rows: the same number of steps over train)" if meta.get("equal_steps") else "")
             + f"; total wall time {meta['wall_s'] / 60:.1f} min.", "",
             "| Model | Balanced acc. (mean ± sd) | Kappa (mean ± sd) | Params | MACs / window | Train time (s) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {_fmt(r['balanced_accuracy_mean'], r['balanced_accuracy_sd'])} | "
                     f"{_fmt(r['kappa_mean'], r['kappa_sd'])} | {r['params']:,} | {r['macs']:,} | "
                     f"{r['train_s']:.0f} |")
    for r in rows:
        if "router_layer_weights_mean" in r:
            w = ", ".join(f"{m:.3f}±{s:.3f}" for m, s in zip(r["router_layer_weights_mean"],
                                                             r["router_layer_weights_std"]))
            lines.append(f"\nRouter layer weights ({r['label']}, test windows, blocks 1..L): {w}")
    lines.append("\nTeacher: one fine-tuned teacher shared by all rows (sd 0: one run); its MACs "
                 "count linear/conv layers only. Train time: per run, on one thread "
                 "(runs shared the machine's cores).")
    return "\n".join(lines) + "\n"


def teacher_layers(caches: dict, splits: dict) -> dict:
    """Per-block linear probes and inter-block similarity of the cached teacher states: whether
    the layers differ enough for routing among them to matter (see dlink.distill.layer_probe)."""
    from dlink.distill.layer_probe import layer_similarity, linear_probe

    names = [k for k in ("train", "val", "test") if k in caches]
    probe = linear_probe({k: caches[k].hidden for k in names}, {k: splits[k].y for k in names})
    sim = layer_similarity(caches["test" if "test" in caches else "val"].hidden)
    return {"probe": probe, **sim}


def layers_markdown(layers: dict) -> str:
    last = len(layers["probe"]) - 1
    lines = ["", "## Teacher layers", "",
             "Linear probe on each block's per-channel token means (fitted on train, L2 chosen on "
             "val) and similarity of each block to the last one (linear CKA, mean token cosine).", "",
             "| Block | Probe bal. acc. val | Probe bal. acc. test | CKA to last | Cosine to last |",
             "|---|---|---|---|---|"]
    for r in layers["probe"]:
        i = r["block"] - 1
        test = "n/a" if r["test_balanced_accuracy"] is None else f"{r['test_balanced_accuracy']:.3f}"
        lines.append(f"| {r['block']} | {r['val_balanced_accuracy']:.3f} | {test} | "
                     f"{layers['cka'][i][last]:.3f} | {layers['cosine'][i][last]:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("config", nargs="?", default="configs/demo.yaml", metavar="<config.yaml>")
    p.add_argument("--run", default="runs/distill_bench", metavar="<run_dir>")
    p.add_argument("--seeds", type=int, default=3, metavar="<n>")
    p.add_argument("--jobs", type=int, default=2, metavar="<n>", help="parallel trainings")
    p.add_argument("--rows", default=None, metavar="<a,b>", help="only these rows (keys)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set train.epochs=10 (repeatable)")
    p.add_argument("--no-equal-steps", dest="equal_steps", action="store_false",
                   help="train the labelled-only rows (baselines, student alone) for train.epochs "
                        "instead of as many optimisation steps as the rows that also see the pool")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    import torch
    from tqdm.auto import tqdm

    from dlink.config import load_config, save_config
    from dlink.data import load_dataset
    from dlink.distill.pipeline import build_caches, evaluate, prepare_teacher
    from dlink.distill.students import count_macs, count_params
    from dlink.io import atomic_write_json, atomic_write_text
    from dlink.rundir import RunDir

    t_start = time.perf_counter()
    overrides = _overrides(args.set)
    cfg = load_config(args.config, overrides)
    run = RunDir(args.run).mkdir()
    save_config(cfg, run.config)
    torch.set_num_threads(cfg.train.num_threads)
    splits = load_dataset(cfg.data)
    tr = splits["train"]
    t0 = time.perf_counter()
    teacher, info = prepare_teacher(cfg, run, verbose=args.verbose)
    teacher_s = float(info.get("history", {}).get("train_s") or info.get("finetune_s") or float("nan"))
    caches = build_caches(teacher, splits, cache_root=run.path / "cache", verbose=args.verbose)
    log.info("teacher ready in %.0f s", time.perf_counter() - t0)
    tmet = evaluate(None, splits, logits={k: c.logits for k, c in caches.items()})
    tmet.update(params=count_params(teacher), macs=count_macs(teacher, tr.n_chans, tr.n_times),
                train_s=teacher_s)
    layers = teacher_layers(caches, splits)
    del teacher, caches

    wanted = set(args.rows.split(",")) if args.rows else None
    tasks = [(args.config, overrides, str(run.path), key, kind, over, seed, args.equal_steps)
             for key, _, kind, over in ROWS if kind != "teacher" and (wanted is None or key in wanted)
             for seed in range(args.seeds)]
    results = []
    import multiprocessing

    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
        for r in tqdm(ex.map(_task, tasks), total=len(tasks), desc="benchmark", unit="run"):
            log.info("%s seed %d: bal. acc %.3f (%.0f s)", r["row"], r["seed"],
                     r["metrics"]["balanced_accuracy"], r["train_s"])
            results.append(r)
    rows = summarise(results, tmet)
    meta = {"config": str(args.config), "overrides": overrides, "seeds": args.seeds,
            "equal_steps": args.equal_steps,
            "n_train": len(tr), "n_pool": len(splits.get("pool", [])), "n_test": len(splits["test"]),
            "n_classes": len(tr.class_names), "epochs": cfg.train.epochs,
            "wall_s": time.perf_counter() - t_start}
    atomic_write_json(run.path / "distill_benchmark.json",
                      {"meta": meta, "rows": rows, "teacher": tmet, "teacher_layers": layers,
                       "runs": results})
    md = markdown(rows, meta) + layers_markdown(layers)
    atomic_write_text(run.path / "distill_benchmark.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
