"""Causal vs zero-phase preprocessing: what streaming-compatible preprocessing costs in accuracy
(a script, not a test).

    .venv/bin/python bench/causal_benchmark.py configs/demo.yaml --run runs/causal_bench --seeds 3
    .venv/bin/python bench/causal_benchmark.py configs/s001-causal.yaml --run runs/causal_s001 \
        --folds 5 --seeds 1

For each preprocessing (``zero_phase``: MNE's zero-phase FIR filters and resampling; ``causal``: the
front end of ``data.causal`` that the board runs), every seed and every fold (``--folds K`` needs a
config with ``data.splits: {by: kfold}``), two decoders are trained on the same windows:

- the MiC student alone (cross-entropy on "train", early stopping on "val"; the config's ``train:``
  recipe, nothing tuned on test);
- CSP + LDA (MNE's CSP, 6 components, on the band the config keeps; scikit-learn's LDA with
  shrinkage), fitted on "train".

The synthetic dataset is read as continuous recordings in both modes
(``data.synthetic.continuous``), so the two see the same signal and differ only in the filters.
Reported: balanced accuracy on val and test (mean ± sd over seeds x folds) per mode and decoder,
and the paired difference causal - zero-phase with a bootstrap 95% interval over the pairs.
Every result is written to RUN/causal_benchmark/<task>.json as it finishes, so an interrupted
benchmark resumes. Output: RUN/causal_benchmark.md and .json. ``--pool RUN1 RUN2 ...`` summarises
the results of several runs together (e.g. one per ``data.synthetic.seed``; pairs stay within
their run):

    .venv/bin/python bench/causal_benchmark.py --pool runs/causal_synth runs/causal_synth_d1 \
        runs/causal_synth_d2 --run runs/causal_synth_pooled
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("causal_benchmark")

MODES = ("zero_phase", "causal")
DECODERS = ("student_alone", "csp_lda")


def mode_config(config: str, overrides: dict, mode: str, fold: int | None):
    """The config of one mode (and fold)."""
    from dlink.config import load_config

    over = dict(overrides)
    over["data.preprocessing"] = mode
    cfg = load_config(config, over)
    if cfg.data.name == "synthetic":
        cfg.data.synthetic = {**cfg.data.synthetic, "continuous": True}
    if fold is not None:
        if cfg.data.splits.get("by") != "kfold":
            raise ValueError(f"--folds needs data.splits: {{by: kfold, ...}} in {config}, got "
                             f"{cfg.data.splits}.")
        cfg.data.splits = {**cfg.data.splits, "fold": int(fold)}
    return cfg


def csp_lda(splits: dict, *, l_freq_hz: float, h_freq_hz: float, n_components: int = 6) -> dict:
    """CSP + LDA fitted on "train": balanced accuracy on val and test."""
    from mne.decoding import CSP
    from scipy import signal
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline

    tr = splits["train"]
    lo, hi = max(l_freq_hz, 8.0), min(h_freq_hz, 30.0)  # the motor-imagery band within the kept one
    sos = signal.butter(4, [lo, hi], btype="bandpass", fs=tr.sfreq, output="sos")
    filt = {k: signal.sosfiltfilt(sos, v.X.astype(np.float64), axis=-1) for k, v in splits.items() if len(v)}
    n_comp = min(n_components, tr.n_chans)
    clf = make_pipeline(CSP(n_components=n_comp, reg="ledoit_wolf", log=True),
                        LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))
    clf.fit(filt["train"], tr.y)
    return {k: float(balanced_accuracy_score(splits[k].y, clf.predict(filt[k])))
            for k in ("val", "test") if k in filt}


def run_task(config: str, overrides: dict, run_dir: Path, mode: str, decoder: str, seed: int,
             fold: int | None) -> dict:
    """One (mode, decoder, seed, fold) result, from its JSON when it already ran."""
    name = f"{mode}_{decoder}_seed{seed}" + (f"_fold{fold}" if fold is not None else "")
    out = run_dir / "causal_benchmark" / f"{name}.json"
    if out.is_file():
        return json.loads(out.read_text())
    import torch

    from dlink.data import load_dataset
    from dlink.distill.pipeline import distill_student, evaluate
    from dlink.io import atomic_write_json

    from dlink.bench.distill_benchmark import _ONLY_CE

    cfg = mode_config(config, overrides, mode, fold)
    torch.set_num_threads(cfg.train.num_threads)
    splits = load_dataset(cfg.data)
    t0 = time.perf_counter()
    res = {"mode": mode, "decoder": decoder, "seed": seed, "fold": fold,
           "n": {k: len(v) for k, v in splits.items()}}
    if decoder == "csp_lda":
        ba = csp_lda(splits, l_freq_hz=cfg.data.l_freq_hz, h_freq_hz=cfg.data.h_freq_hz)
        res.update(val_balanced_accuracy=ba.get("val"), test_balanced_accuracy=ba["test"])
    else:
        dcfg = dataclasses.replace(cfg.distill, **_ONLY_CE)
        model, _, hist = distill_student(cfg, dcfg, splits, None, seed=seed, desc=name,
                                         checkpoint_dir=run_dir / "causal_benchmark" / "ckpt" / name)
        m = evaluate(model, splits)
        pred = np.bincount(np.asarray(_predict(model, splits["test"].X)), minlength=len(splits["test"].class_names))
        res.update(val_balanced_accuracy=m["val"]["balanced_accuracy"],
                   test_balanced_accuracy=m["balanced_accuracy"], epochs=len(hist["train_loss"]),
                   best_epoch=hist["best_epoch"], test_predictions_per_class=pred.tolist())
    res["wall_s"] = time.perf_counter() - t0
    atomic_write_json(out, res)
    return res


def _predict(model, X):
    from dlink.distill.train import predict

    return predict(model, X).argmax(1)


def _stats(values: list[float]) -> dict:
    v = np.asarray(values, np.float64)
    return {"n": int(len(v)), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0}


def _bootstrap_ci(diffs: np.ndarray, *, n_boot: int = 10000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = rng.choice(diffs, size=(n_boot, len(diffs)), replace=True).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summarise(results: list[dict]) -> dict:
    rows, paired = [], []
    for decoder in DECODERS:
        by_mode = {m: [r for r in results if r["decoder"] == decoder and r["mode"] == m] for m in MODES}
        for mode, rs in by_mode.items():
            if rs:
                rows.append({"decoder": decoder, "mode": mode,
                             "val": _stats([r["val_balanced_accuracy"] for r in rs if r["val_balanced_accuracy"] is not None]),
                             "test": _stats([r["test_balanced_accuracy"] for r in rs]),
                             "collapsed_runs": sum(1 for r in rs if r.get("test_predictions_per_class")
                                                   and max(r["test_predictions_per_class"]) == sum(r["test_predictions_per_class"]))})
        pair_key = lambda r: (r.get("source"), r["seed"], r["fold"])  # noqa: E731
        key = {pair_key(r): r for r in by_mode["zero_phase"]}
        pairs = [(key[pair_key(r)], r) for r in by_mode["causal"] if pair_key(r) in key]
        if pairs:
            d = np.array([c["test_balanced_accuracy"] - z["test_balanced_accuracy"] for z, c in pairs])
            dv = np.array([c["val_balanced_accuracy"] - z["val_balanced_accuracy"] for z, c in pairs
                           if c["val_balanced_accuracy"] is not None and z["val_balanced_accuracy"] is not None])
            lo, hi = _bootstrap_ci(d) if len(d) > 1 else (float(d[0]), float(d[0]))
            paired.append({"decoder": decoder, "pairs": len(d), "test_diff": _stats(d.tolist()),
                           "test_diff_ci95": [lo, hi],
                           "val_diff": _stats(dv.tolist()) if len(dv) else None})
    return {"rows": rows, "paired": paired}


def markdown(summary: dict, meta: dict) -> str:
    f = lambda s: f"{s['mean']:.3f} ± {s['sd']:.3f} (n={s['n']})" if s and s.get("n") else "n/a"  # noqa: E731
    lines = [f"# Causal vs zero-phase preprocessing: {meta['config']}", "",
             f"Seeds: {meta['seeds']}; folds: {meta['folds'] or 'fixed split'}; test windows per "
             f"split: {meta['n_test']}; {meta['n_classes']} classes (chance balanced accuracy "
             f"{1 / meta['n_classes']:.3f}); wall time {meta['wall_s'] / 60:.1f} min (load average "
             f"{meta['load_average']}).", "",
             "| decoder | preprocessing | val bal. acc. (mean ± sd) | test bal. acc. (mean ± sd) | one-class runs |",
             "|---|---|---|---|---|"]
    for r in summary["rows"]:
        lines.append(f"| {r['decoder']} | {r['mode']} | {f(r['val'])} | {f(r['test'])} | {r['collapsed_runs']} |")
    lines += ["", "Paired difference causal - zero-phase (same seed and fold; bootstrap 95% interval "
              "over the pairs):", "", "| decoder | pairs | test diff (mean ± sd) | 95% CI | val diff |",
              "|---|---|---|---|---|"]
    for p in summary["paired"]:
        lo, hi = p["test_diff_ci95"]
        lines.append(f"| {p['decoder']} | {p['pairs']} | {f(p['test_diff'])} | [{lo:+.3f}, {hi:+.3f}] | "
                     f"{f(p['val_diff'])} |")
    return "\n".join(lines) + "\n"


def pool(run_dirs: list[str], out_dir: Path) -> int:
    """Summarise several finished benchmarks together (each run's pairs stay within it)."""
    import os

    from dlink.io import atomic_write_json, atomic_write_text

    results, metas = [], []
    for d in run_dirs:
        j = json.loads((Path(d) / "causal_benchmark.json").read_text())
        metas.append(j["meta"])
        results += [{**r, "source": str(d)} for r in j["runs"]]
    summary = summarise(results)
    meta = {"config": ", ".join(sorted({m["config"] for m in metas})), "pooled_runs": run_dirs,
            "overrides": [m["overrides"] for m in metas], "seeds": "/".join(str(m["seeds"]) for m in metas),
            "folds": metas[0]["folds"], "n_test": metas[0]["n_test"], "n_classes": metas[0]["n_classes"],
            "wall_s": sum(m["wall_s"] for m in metas),
            "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / "causal_benchmark.json", {"meta": meta, **summary, "runs": results})
    md = markdown(summary, meta) + f"\nPooled from: {', '.join(run_dirs)}.\n"
    atomic_write_text(out_dir / "causal_benchmark.md", md)
    print(md)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("config", nargs="?", default=None, metavar="<config.yaml>")
    p.add_argument("--run", default="runs/causal_bench", metavar="<run_dir>")
    p.add_argument("--seeds", type=int, default=3, metavar="<n>")
    p.add_argument("--folds", type=int, default=None, metavar="<k>",
                   help="run every fold 0..k-1 of a data.splits: {by: kfold} config")
    p.add_argument("--decoders", default=",".join(DECODERS), metavar="<a,b>")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set train.epochs=10 (repeatable)")
    p.add_argument("--pool", nargs="+", default=None, metavar="<run_dir>",
                   help="summarise the finished benchmarks of these runs together (no training)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.pool:
        return pool(args.pool, Path(args.run))
    if args.config is None:
        p.error("a config is needed (or --pool RUN ...)")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    import os

    from tqdm.auto import tqdm

    from dlink.bench.distill_benchmark import _overrides
    from dlink.data import load_dataset
    from dlink.io import atomic_write_json, atomic_write_text

    t_start = time.perf_counter()
    overrides = _overrides(args.set)
    run_dir = Path(args.run)
    (run_dir / "causal_benchmark").mkdir(parents=True, exist_ok=True)
    folds = list(range(args.folds)) if args.folds else [None]
    decoders = args.decoders.split(",")
    tasks = [(mode, dec, seed, fold) for fold in folds for mode in MODES for dec in decoders
             for seed in (range(args.seeds) if dec == "student_alone" else [0])]
    results = []
    for mode, dec, seed, fold in tqdm(tasks, desc="causal benchmark", unit="run"):
        r = run_task(args.config, overrides, run_dir, mode, dec, seed, fold)
        log.info("%s %s seed %d fold %s: test %.3f", mode, dec, seed, fold, r["test_balanced_accuracy"])
        results.append(r)
    cfg0 = mode_config(args.config, overrides, "causal", folds[0])
    splits = load_dataset(cfg0.data)
    summary = summarise(results)
    meta = {"config": args.config, "overrides": overrides, "seeds": args.seeds, "folds": args.folds,
            "n_test": len(splits["test"]), "n_classes": len(splits["train"].class_names),
            "wall_s": time.perf_counter() - t_start,
            "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    atomic_write_json(run_dir / "causal_benchmark.json", {"meta": meta, **summary, "runs": results})
    md = markdown(summary, meta)
    atomic_write_text(run_dir / "causal_benchmark.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
