"""The rows of the distillation benchmark and the training of one (row, teacher, seed) run.

Each row is one way to train a model; every row is trained once per (teacher seed, student seed),
with the same initial student weights and batch order for the same student seed, so the rows are
paired run by run. A run returns its validation metrics (what selection may look at) and its
predictions on the test windows, unshifted and time-shifted (what only the final tables read).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_OFF_SPECTRAL = {"w_spectral_mag": 0.0, "w_spectral_phase": 0.0, "w_antialias": 0.0}
_NO_TEACHER = {"w_kd": 0.0, "w_feature": 0.0, "w_router_probe": 0.0, **_OFF_SPECTRAL}


@dataclass(frozen=True)
class Row:
    """One way to train a model.

    ``kind``: "student" (the MiC student with the DistillConfig overrides ``over``), "oracle" (the
    student with cross-entropy on train + the pool's true labels), "baseline" (a braindecode
    model trained alone) or "classical" (CSP + LDA, when the project has it). ``student``:
    overrides of ``student.options`` (the mimic-width curve). ``table``: "main" or "curve".
    """

    key: str
    label: str
    kind: str
    over: dict = field(default_factory=dict)
    student: dict = field(default_factory=dict)
    table: str = "main"


def main_rows(n_layers: int) -> list[Row]:
    """The rows of the main table for a teacher with ``n_layers`` blocks."""
    rows = [
        Row("eegnet", "EEGNet alone (braindecode)", "baseline"),
        Row("shallow", "ShallowConvNet alone (braindecode)", "baseline"),
        Row("csp_lda", "CSP + LDA (fitted on train, components chosen on val)", "classical"),
        Row("student_alone", "MiC student alone", "student", {**_NO_TEACHER, "use_pool": False}),
        Row("oracle", "Oracle: MiC with the pool's true labels", "oracle",
            {**_NO_TEACHER, "use_pool": True}),
        Row("logit_kd", "Logit KD", "student", {"w_feature": 0.0, "w_router_probe": 0.0, **_OFF_SPECTRAL}),
    ]
    for k in range(1, n_layers + 1):
        last = " (last)" if k == n_layers else ""
        rows.append(Row(f"feature_block{k}", f"Feature KD, block {k}{last}", "student",
                        {"target": "block", "target_block": k, "w_router_probe": 0.0, **_OFF_SPECTRAL}))
    rows += [
        Row("feature_average", "Feature KD, average of blocks", "student",
            {"target": "average", "w_router_probe": 0.0, **_OFF_SPECTRAL}),
        Row("router_bias", "Feature KD, bias-only router (no input conditioning)", "student",
            {"target": "bias", **_OFF_SPECTRAL}),
        Row("dlink_no_spectral", "DLink without spectral terms (router)", "student",
            {"target": "router", **_OFF_SPECTRAL}),
        Row("dlink_mag", "DLink -spectral + magnitude", "student",
            {"target": "router", **_OFF_SPECTRAL, "w_spectral_mag": None}),
        Row("dlink_phase", "DLink -spectral + phase", "student",
            {"target": "router", **_OFF_SPECTRAL, "w_spectral_phase": None}),
        Row("dlink_antialias", "DLink -spectral + anti-aliasing", "student",
            {"target": "router", **_OFF_SPECTRAL, "w_antialias": None}),
        Row("dlink", "DLink (full)", "student", {"target": "router"}),
    ]
    return rows


def curve_rows(widths) -> list[Row]:
    """Full DLink at several mimic widths (features per EEG channel): the budget/mimic curve."""
    return [Row(f"dlink_mimic{w}", f"DLink, mimic width {w}", "student", {"target": "router"},
                {"mimic_width": int(w)}, table="curve") for w in widths]


def distill_overrides(row: Row, base) -> dict:
    """The row's DistillConfig overrides; ``None`` values take the config's own weight."""
    return {k: (getattr(base, k) if v is None else v) for k, v in row.over.items()}


def run_task(args: dict) -> dict:
    """Train one (row, teacher seed, student seed) in a worker process and evaluate it.

    ``args``: config, overrides, teacher_dir, row (Row), seed, shifts_samples, equal_steps,
    out (result file stem).
    """
    import torch

    from dlink.config import load_config
    from dlink.data import load_dataset
    from dlink.distill.losses import feature_r2
    from dlink.distill.metrics import classification_metrics
    from dlink.distill.pipeline import distill_student, router_weights, student_steps, train_baseline
    from dlink.distill.students import count_macs, count_params
    from dlink.distill.teacher_cache import load_teacher_cache
    from dlink.distill.train import plan_steps, predict

    torch.set_num_threads(1)
    row: Row = args["row"]
    cfg = load_config(args["config"], args["overrides"])
    if row.student:
        cfg.student.options = {**dict(cfg.student.options or {}), **row.student}
    splits = load_dataset(cfg.data)
    tr, n_classes = splits["train"], len(splits["train"].class_names)
    labelled_only = row.kind == "baseline" or (row.kind == "student" and not row.over.get("use_pool", True))
    # the students' step budget (train + pool); rows on the labelled split alone get as many steps
    # (--no-equal-steps: their own budget from train.epochs over the labelled windows)
    steps = None
    if labelled_only:
        steps = (student_steps(cfg, splits) if args["equal_steps"]
                 else plan_steps(cfg.train, n_labelled=len(tr), n_unlabelled=0).total_steps)
    teacher_dir = Path(args["teacher_dir"])
    ckpt = teacher_dir / "distill_benchmark" / f"{row.key}_seed{args['seed']}"
    t0 = time.perf_counter()
    c0 = time.process_time()
    out: dict = {"row": row.key, "teacher_seed": args["teacher_seed"], "seed": args["seed"]}
    objective = caches = None
    predict_fn = None
    if row.kind == "classical":  # CSP + LDA: no steps, no torch model
        from dlink.distill.csp_lda import csp_lda_probabilities

        model, hist = train_baseline(row.key, cfg, splits, seed=args["seed"], checkpoint_dir=None)

        def predict_fn(X):
            return csp_lda_probabilities(model, X, n_classes)
    elif row.kind == "baseline":
        model, hist = train_baseline(row.key, cfg, splits, seed=args["seed"], checkpoint_dir=ckpt,
                                     steps=steps)
    else:
        dcfg = dataclasses.replace(cfg.distill, **distill_overrides(row, cfg.distill))
        caches = {name: load_teacher_cache(teacher_dir / "cache" / f"teacher_{name}")
                  for name, ds in splits.items() if len(ds)}
        model, objective, hist = distill_student(
            cfg, dcfg, splits, caches, seed=args["seed"], checkpoint_dir=ckpt, desc=row.key,
            use_pool=True if row.kind == "oracle" else None, label_pool=row.kind == "oracle",
            steps=steps)
    out["train_s"] = hist["train_s"]
    if predict_fn is None:
        out["evaluations"] = len(hist["step"])
        out["best_step"] = hist["best_step"]
        out["max_steps"] = int(hist["total_steps"])
        out["steps_run"] = int(hist["steps"])
        out["params"] = count_params(model)
        out["macs"] = count_macs(model, tr.n_chans, tr.n_times)

        def predict_fn(X):
            return predict(model, X)
    else:  # fitted in closed form: no steps; parameters and MACs not counted
        out.update(evaluations=0, best_step=None, max_steps=0, steps_run=0, params=0, macs=0,
                   n_components=hist.get("n_components"))
    # validation: everything selection may use
    val_logits = predict_fn(splits["val"].X)
    out["val"] = {k: v for k, v in classification_metrics(splits["val"].y, val_logits, n_classes).items()
                  if k != "confusion"}
    # test: predictions for the final tables only (none in selection mode)
    names = ("val", "test") if args.get("test", True) else ("val",)
    preds = {}
    if "test" in names:
        te = splits["test"]
        preds["test"] = predict_fn(te.X).argmax(1).astype(np.int8)
        if row.kind not in ("baseline", "classical"):
            for shift in args["shifts_samples"]:
                preds[f"shift{shift}"] = predict_fn(np.roll(te.X, shift, axis=-1)).argmax(1).astype(np.int8)
    if objective is not None and objective.project is not None:
        out["feature_r2"] = {name: feature_r2(model, objective, splits[name].X, caches[name].hidden)
                             for name in names}
    if objective is not None and objective.router is not None and objective.router.trainable:
        out["router"] = {name: router_weights(objective, caches[name]) for name in names}
    out["cpu_s"] = time.process_time() - c0
    out["wall_s"] = time.perf_counter() - t0
    np.savez_compressed(str(args["out"]) + ".npz", **preds)
    return out
