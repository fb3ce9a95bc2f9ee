"""Within-subject teacher benchmark: one subject's trials, stratified k-fold, teacher variants side by side.

    .venv/bin/python bench/within_subject_teacher.py configs/s001.yaml --run runs/s001_teacher \\
        --arm "scratch:teacher.checkpoint=null,teacher.layer_decay=1.0,teacher.head_init_scale=1.0" \\
        --arm "pretrained:teacher.checkpoint=runs/s001_pretrain/pretrained.pth"

For one subject of the config's dataset (EEGMMIDB: its imagery runs, ``data.runs``), the labelled
trials are split by stratified k-fold (``--folds``, repeated ``--repeats`` times with different
shuffles). In every fold each *arm* (a set of config overrides: from scratch, from a pretrained
checkpoint, ...) fine-tunes the teacher on the training trials, early-stopped on a stratified
quarter of them (never on the test fold), and is scored once on the test fold; CSP + LDA (MNE's
CSP, 8-30 Hz, 4 components; scikit-learn's LDA) runs on the same folds. Channels: ``--channels``
(default: the 22 of the BCI IV 2a montage, which the synthetic pretraining corpus has too).

Output: RUN/within_subject.json (every fold) and RUN/within_subject.md (mean ± sd per arm, chance).
Pretraining corpora for this comparison must exclude every evaluation trial (e.g. the subject's
rest periods only, ``pretrain.annotations: [T0]``, or synthetic subjects).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("within_subject_teacher")


def subject_windows(cfg, subject: int, channels: list[str]):
    """The subject's labelled imagery windows (EEGWindows), channels picked in ``channels`` order."""
    from dlink.data import EEGWindows
    from dlink.data.eegmmidb import _runs, read_run, run_file

    if cfg.data.name != "eegmmidb" or not cfg.data.path:
        raise ValueError("within_subject_teacher reads EEGMMIDB from data.path (data.name: eegmmidb).")
    runs = _runs(cfg.data)
    parts = [read_run(run_file(cfg.data.path, subject, r), r, cfg.data, subject=subject) for r in runs]
    w = EEGWindows.concat(parts)
    w = w.subset(w.y < cfg.data.n_classes)
    missing = [c for c in channels if c not in w.ch_names]
    if missing:
        raise ValueError(f"Subject {subject} has no channel(s) {missing}; it has {w.ch_names}.")
    idx = [w.ch_names.index(c) for c in channels]
    return EEGWindows(w.X[:, idx], w.y, w.subject, channels, w.sfreq, w.class_names[: cfg.data.n_classes])


def csp_lda(Xtr, ytr, Xte, sfreq: float) -> np.ndarray:
    """Predictions of CSP (4 components, log-variance) + LDA, on 8-30 Hz band-passed windows.

    The project's CSP and band-pass (:mod:`dlink.distill.csp_lda`) with a fixed number of
    components and scikit-learn's default LDA (no shrinkage), as issue 15's figures were measured;
    the ``csp_lda`` baseline of ``dlink distill`` chooses its components on val and shrinks."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline

    from dlink.distill.csp_lda import bandpass, make_csp

    clf = make_pipeline(make_csp(4), LinearDiscriminantAnalysis())
    clf.fit(bandpass(Xtr, sfreq), ytr)
    return clf.predict(bandpass(Xte, sfreq))


def run_fold(cfg, over: dict, windows, tr, te, *, seed: int, select: str = "inner") -> dict:
    """Fine-tune one arm on ``tr``, score ``te``.

    ``select="inner"``: early stopping on a stratified quarter of ``tr`` (trained on the rest);
    ``"last"``: trained on all of ``tr`` for ``teacher.finetune_epochs`` epochs, last epoch kept
    (with a handful of trials per class an inner split is too small to choose an epoch).
    """
    import dataclasses

    import torch
    from sklearn.model_selection import train_test_split

    from dlink.config import config_from_dict, config_to_dict
    from dlink.distill.finetune import finetune_teacher, split_metrics
    from dlink.distill.teachers import build_teacher

    data = config_to_dict(cfg)
    for k, v in over.items():
        node = data
        keys = k.split(".")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = v
    c = config_from_dict(data, file="<arm>")
    tcfg = dataclasses.replace(c.teacher)
    if select == "inner":
        fit, val = train_test_split(tr, test_size=0.25, stratify=windows.y[tr], random_state=seed)
    else:
        fit, val = tr, tr
        tcfg.patience = tcfg.finetune_epochs + 1
    torch.manual_seed(seed)
    teacher = build_teacher(c.teacher, n_chans=windows.n_chans, n_times=windows.n_times,
                            n_outputs=windows.n_classes, ch_names=windows.ch_names)
    t0 = time.perf_counter()
    teacher, hist = finetune_teacher(teacher, windows.subset(fit), windows.subset(val),
                                     cfg=tcfg, seed=seed, keep_last=select == "last")
    m = split_metrics(teacher, windows.subset(te))
    return {"balanced_accuracy": m["balanced_accuracy"], "kappa": m["kappa"],
            "best_epoch": hist["best_epoch"], "val_balanced_accuracy": hist["best_val_balanced_accuracy"],
            "train_s": time.perf_counter() - t0,
            "predicted_classes": int(np.count_nonzero(np.array(m["confusion"]).sum(0)))}


def main(argv: list[str] | None = None) -> int:
    from dlink.bench.arm_cli import parse_arm

    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="example: python bench/within_subject_teacher.py configs/s001.yaml --run "
               "runs/s001_teacher --arm 'scratch:teacher.checkpoint=null' --arm "
               "'pretrained:teacher.checkpoint=configs/weights/demo_labram_pretrained.pth'")
    p.add_argument("config", metavar="<config.yaml>")
    p.add_argument("--run", required=True, metavar="<run_dir>")
    p.add_argument("--subject", type=int, default=1, metavar="<id>")
    p.add_argument("--channels", default=None, metavar="<a,b,...>",
                   help="channels by 10-20 name (default: the BCI IV 2a montage's 22)")
    p.add_argument("--arm", action="append", default=[], metavar="NAME:key=value,...",
                   help="a teacher variant as config overrides (repeatable)")
    p.add_argument("--folds", type=int, default=5, metavar="<k>")
    p.add_argument("--repeats", type=int, default=3, metavar="<n>", help="k-fold repeats (shuffles)")
    p.add_argument("--select", choices=("inner", "last"), default="inner",
                   help="inner: early stopping on a stratified quarter of each training fold; "
                        "last: train on the whole training fold, keep the last epoch")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    import torch
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold

    from dlink.config import load_config
    from dlink.data.montage import BCI2A_CH_NAMES
    from dlink.io import atomic_write_json, atomic_write_text

    import mne

    mne.set_log_level("ERROR")
    torch.set_num_threads(1)
    cfg = load_config(args.config)
    channels = args.channels.split(",") if args.channels else list(BCI2A_CH_NAMES)
    arms = [parse_arm(a) for a in args.arm] or [("config", {})]
    w = subject_windows(cfg, args.subject, channels)
    t_start = time.perf_counter()
    folds = []
    for rep in range(args.repeats):
        skf = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=cfg.seed + rep)
        for k, (tr, te) in enumerate(skf.split(w.X, w.y)):
            row = {"repeat": rep, "fold": k, "n_train": int(len(tr)), "n_test": int(len(te)), "arms": {}}
            pred = csp_lda(w.X[tr], w.y[tr], w.X[te], w.sfreq)
            row["csp_lda"] = float(balanced_accuracy_score(w.y[te], pred))
            for name, over in arms:
                row["arms"][name] = run_fold(cfg, over, w, tr, te, seed=cfg.seed + 100 * rep + k,
                                             select=args.select)
                log.info("repeat %d fold %d %s: %.3f", rep, k, name, row["arms"][name]["balanced_accuracy"])
            folds.append(row)
    summary = {}
    for name in ["csp_lda"] + [a for a, _ in arms]:
        ba = np.array([f["csp_lda"] if name == "csp_lda" else f["arms"][name]["balanced_accuracy"]
                       for f in folds])
        summary[name] = {"mean": float(ba.mean()), "sd": float(ba.std(ddof=1)), "n": len(ba)}
    meta = {"config": args.config, "subject": args.subject, "channels": channels,
            "n_trials": len(w), "classes": w.class_names, "folds": args.folds, "repeats": args.repeats,
            "select": args.select,
            "arms": dict(arms), "wall_s": time.perf_counter() - t_start}
    run = Path(args.run)
    atomic_write_json(run / "within_subject.json", {"meta": meta, "summary": summary, "folds": folds})
    lines = [f"# Within-subject teacher: subject {args.subject}, {len(w)} trials, "
             f"{len(w.class_names)} classes (chance {1 / len(w.class_names):.3f})", "",
             f"{args.repeats} x stratified {args.folds}-fold; "
             + ("early stopping on a quarter of each training fold"
                if args.select == "inner" else "trained on each whole training fold, last epoch kept")
             + f"; {len(channels)} channels.", "",
             "| Model | Balanced acc. (mean ± sd over folds) |", "|---|---|"]
    for name, s in summary.items():
        label = "CSP + LDA" if name == "csp_lda" else f"teacher: {name}"
        lines.append(f"| {label} | {s['mean']:.3f} ± {s['sd']:.3f} |")
    one_class = {a: sum(f["arms"][a]["predicted_classes"] == 1 for f in folds) for a, _ in arms}
    lines.append(f"\nFolds where a teacher predicted a single class: {one_class}.")
    md = "\n".join(lines) + "\n"
    atomic_write_text(run / "within_subject.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
