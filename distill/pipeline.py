"""The ``distill`` stage as library functions (the CLI and the benchmark call these).

:func:`distill_run` does the whole stage: resolved config -> teacher (fine-tuned on the config's
split through :func:`dlink.distill.finetune.finetune_run`, or RUN/teacher.pt when it is up to
date, or a user file) -> teacher cache for every split -> the student distilled on "train"
(labelled) + "pool" (unlabelled: teacher targets only) -> early-stopped on "val" -> student.pt,
metrics.json and the "distill" stamp.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_torch_save, atomic_write_json, sha256_file

log = logging.getLogger(__name__)


# -- teacher ---------------------------------------------------------------------------------
def teacher_key(cfg) -> str:
    """What decides the fine-tuned teacher: data, teacher section, seed, and the content of the
    pretrained checkpoint it starts from (a re-pretrained file at the same path is a new teacher)."""
    from dataclasses import asdict

    ckpt = cfg.teacher.checkpoint
    ckpt_hash = sha256_file(ckpt) if ckpt and Path(ckpt).is_file() else None
    blob = json.dumps({"data": asdict(cfg.data), "teacher": asdict(cfg.teacher), "seed": cfg.seed,
                       "checkpoint_sha256": ckpt_hash}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def prepare_teacher(cfg, run, *, teacher_path: str | Path | None = None, verbose: bool = False):
    """Return the task-adapted teacher (eval mode) and how it was obtained.

    ``teacher_path`` (a teacher.pt-format file) is used as is and copied to RUN/teacher.pt.
    Otherwise RUN/teacher.pt is reused when it was fine-tuned here for the same data, teacher
    config and seed (``RUN/cache/teacher_key.json``), else the teacher is fine-tuned (resuming
    an interrupted fine-tuning).
    """
    from .finetune import finetune_run
    from .honesty import teacher_init
    from .teachers import load_teacher_file

    key_file = run.path / "cache" / "teacher_key.json"
    if teacher_path is not None:
        teacher = load_teacher_file(teacher_path)
        if Path(teacher_path).resolve() != run.teacher.resolve():
            with open(teacher_path, "rb") as f:
                from dlink.io import atomic_write_bytes

                atomic_write_bytes(run.teacher, f.read())
        return teacher, {"source": str(teacher_path), **_init_of(teacher)}
    key = teacher_key(cfg)
    if run.teacher.is_file() and key_file.is_file():
        saved = json.loads(key_file.read_text())
        if saved.get("key") == key and saved.get("sha256") == sha256_file(run.teacher):
            log.info("reusing %s (fine-tuned for this data/teacher config)", run.teacher)
            from dlink.io import load_torch_file

            history = load_torch_file(run.teacher, what="teacher file", fix=(
                "Delete it and rerun the command to fine-tune the teacher again.")).get("history", {})
            teacher = load_teacher_file(run.teacher)
            return teacher, {"source": "reused", "key": key, "history": history,
                             **(_init_of(teacher) or teacher_init(cfg.teacher.checkpoint))}
    t0 = time.perf_counter()
    teacher, summary = finetune_run(cfg, run.path, config_path=run.config, verbose=verbose)
    atomic_write_json(key_file, {"key": key, "sha256": sha256_file(run.teacher)})
    return teacher.eval(), {"source": "finetuned", "key": key, "finetune_s": time.perf_counter() - t0,
                            "history": summary.get("history", {}), **teacher_init(cfg.teacher.checkpoint)}


def _init_of(teacher) -> dict:
    """How a teacher file's teacher was initialised, from its metrics (empty when not recorded)."""
    init = (getattr(teacher, "metrics", None) or {}).get("init")
    return dict(init) if isinstance(init, dict) else {}


def build_caches(teacher, splits: dict, *, cache_root: Path | None, verbose: bool = False) -> dict:
    """Teacher caches for every non-empty split (``cache_root=None``: in memory)."""
    from .teacher_cache import build_teacher_cache

    return {name: build_teacher_cache(teacher, ds.X,
                                      path=None if cache_root is None else cache_root / f"teacher_{name}",
                                      verbose=verbose, desc=f"teacher cache ({name})")
            for name, ds in splits.items() if len(ds) > 0}


# -- training rows ---------------------------------------------------------------------------
def make_train_data(splits: dict, caches: dict | None, *, use_pool: bool, label_pool: bool = False):
    """Sources: labelled "train" (+ "pool" when ``use_pool``: unlabelled, or with its true labels
    when ``label_pool``, for an oracle), validation on "val"."""
    from .train import Source, TrainData, unlabelled

    def src(name: str, labelled: bool) -> Source:
        ds = splits[name]
        c = (caches or {}).get(name)
        return Source(ds.X, ds.y if labelled else unlabelled(ds.y),
                      None if c is None else c.hidden, None if c is None else c.logits)

    sources = [src("train", True)]
    if use_pool and "pool" in splits and len(splits["pool"]) > 0:
        sources.append(src("pool", label_pool))
    return TrainData(sources, splits["val"].X, np.asarray(splits["val"].y), sfreq=splits["train"].sfreq)


def distill_student(cfg, dcfg, splits: dict, caches: dict | None, *, seed: int,
                    checkpoint_dir: Path | None, verbose: bool = False, desc: str = "distill",
                    use_pool: bool | None = None, steps: int | None = None, label_pool: bool = False):
    """Build the student and train it with the objective ``dcfg`` (a DistillConfig).

    ``use_pool`` overrides ``dcfg.use_pool``; ``label_pool`` gives the pool windows their true
    labels (an oracle for the benchmark: what the pool is worth with labels).

    Returns ``(student, objective, history)``.
    """
    import torch

    from .losses import DLinkObjective
    from .students import build_student
    from .train import train_model

    tr = splits["train"]
    n_outputs = len(tr.class_names)
    torch.manual_seed(seed)
    student = build_student(cfg.student, n_chans=tr.n_chans, n_times=tr.n_times,
                            n_outputs=n_outputs, sfreq=tr.sfreq)
    init_spatial_stage(student, cfg.student.spatial_init, tr)
    any_cache = next(iter((caches or {}).values()), None)
    objective = DLinkObjective(
        dcfg, n_outputs=n_outputs, mimic_channels=getattr(student, "mimic_channels", None),
        n_chans=tr.n_chans, n_layers=None if any_cache is None else any_cache.n_layers,
        width=None if any_cache is None else any_cache.width,
        steps_per_token=getattr(student, "steps_per_token", 1),
        n_tokens=getattr(student, "n_tokens", None))
    uses_teacher = dcfg.w_kd > 0 or objective.uses_teacher_states
    pool = dcfg.use_pool and uses_teacher if use_pool is None else use_pool
    data = make_train_data(splits, caches if uses_teacher else None, use_pool=pool,
                           label_pool=label_pool)
    if objective.needs_features:
        objective.fit_position_mean([s.hidden for s in data.sources])
    # a checkpoint is resumed only for the same teacher (and windows), not just the same config
    teacher_fp = sorted((k, c.fingerprint) for k, c in (caches or {}).items()) if uses_teacher else []
    student, history = train_model(student, objective, data, train_cfg=cfg.train, seed=seed,
                                   checkpoint_dir=checkpoint_dir, verbose=verbose, desc=desc,
                                   steps=steps,
                                   fingerprint_extra={"teacher": teacher_fp, "use_pool": pool,
                                                      **({"label_pool": True} if label_pool else {})})
    return student, objective, history


def init_spatial_stage(student, spatial_init: str, train_split) -> None:
    """``student.spatial_init``: load the CSP filters of the training windows into the student's
    spatial layer ("csp"), or leave its own initialisation ("identity")."""
    if spatial_init == "identity":
        return
    if not hasattr(student, "set_spatial_filters"):
        raise ValueError(f"student.spatial_init: {spatial_init!r} needs a student with a spatial "
                         f"layer; {type(student).__name__} has none. Use spatial_init: identity.")
    from .students.data_init import csp_spatial_filters

    student.set_spatial_filters(csp_spatial_filters(train_split.X, np.asarray(train_split.y),
                                                    train_split.sfreq))
    log.info("student.spatial_init: CSP filters of the %d training windows", len(train_split))


def student_steps(cfg, splits: dict) -> int:
    """The student's optimisation budget for this data (the baselines get at least as many)."""
    from .config import uses_teacher
    from .train import plan_steps

    n_pool = len(splits.get("pool", ())) if cfg.distill.use_pool and uses_teacher(cfg.distill) else 0
    return plan_steps(cfg.train, n_labelled=len(splits["train"]), n_unlabelled=n_pool).total_steps


def train_baseline(name: str, cfg, splits: dict, *, seed: int, checkpoint_dir: Path | None,
                   verbose: bool = False, steps: int | None = None):
    """Train a baseline alone on "train" (early-stopped / chosen on "val").

    The braindecode networks take the student's recipe (``train:``: budget, balanced batches,
    augmentation, BatchNorm re-estimation, early stopping) with their own optimiser settings
    (:data:`dlink.distill.baselines.RECIPES`) and ``steps`` (default: ``train.baseline_steps`` or
    the student's budget). ``"csp_lda"`` fits CSP + LDA. Returns ``(model, history)``.
    """
    import torch

    from .baselines import RECIPES, build_baseline
    from .config import DistillConfig
    from .losses import DLinkObjective
    from .train import train_model

    tr = splits["train"]
    if name == "csp_lda":
        return train_csp_lda(splits)
    torch.manual_seed(seed)
    model = build_baseline(name, n_chans=tr.n_chans, n_times=tr.n_times,
                           n_outputs=len(tr.class_names), sfreq=tr.sfreq)
    ce_only = DistillConfig(w_kd=0, w_feature=0, w_spectral_mag=0, w_spectral_phase=0,
                            w_antialias=0, w_router_probe=0)
    objective = DLinkObjective(ce_only, n_outputs=len(tr.class_names))
    if steps is None:
        steps = cfg.train.baseline_steps or student_steps(cfg, splits)
    data = make_train_data(splits, None, use_pool=False)
    return train_model(model, objective, data, train_cfg=cfg.train, seed=seed, steps=steps,
                       checkpoint_dir=checkpoint_dir, verbose=verbose, desc=name, **RECIPES[name])


def train_csp_lda(splits: dict):
    """CSP + LDA fitted on "train", its number of components chosen on "val"."""
    from .csp_lda import CSPLDA

    t0 = time.perf_counter()
    tr, va = splits["train"], splits["val"]
    model = CSPLDA(tr.sfreq).fit(tr.X, tr.y, va.X, va.y)
    return model, {"train_s": time.perf_counter() - t0, "n_components": model.n_components,
                   "selection": model.selection}


def csp_lda_logits(model, splits: dict) -> dict:
    """Class probabilities of a fitted CSP + LDA on every non-empty split."""
    from .csp_lda import csp_lda_probabilities

    n_classes = len(splits["train"].class_names)
    return {k: csp_lda_probabilities(model, w.X, n_classes) for k, w in splits.items() if len(w)}


# -- evaluation ------------------------------------------------------------------------------
def evaluate(model, splits: dict, *, names=("test", "val"), logits: dict | None = None) -> dict:
    """Metrics on ``test`` at the top level (and ``val`` nested), plus params and MACs."""
    from .metrics import classification_metrics
    from .students import count_macs, count_params
    from .train import predict

    tr = splits["train"]
    n_classes = len(tr.class_names)
    out: dict[str, Any] = {}
    for name in names:
        if name not in splits or len(splits[name]) == 0:
            continue
        z = logits[name] if logits and name in logits else predict(model, splits[name].X)
        m = classification_metrics(np.asarray(splits[name].y), z, n_classes)
        if name == names[0]:
            out.update(m)
        else:
            out[name] = {k: v for k, v in m.items() if k != "confusion"}
    if model is not None and hasattr(model, "parameters"):
        out["params"] = count_params(model)
        out["macs"] = count_macs(model, tr.n_chans, tr.n_times)
    return out


def router_weights(objective, cache, *, batch_size: int = 256) -> dict:
    """Layer weights of the (trained) router over a split's cache: mean and std per layer over
    the windows, and the share of windows whose largest weight is on each layer (how much the
    routing changes with the input)."""
    import torch

    from .router import normalize_layers

    router = getattr(objective, "router", None)
    if router is None or cache is None:
        return {}
    router.eval()
    ws = []
    with torch.no_grad():
        for i in range(0, len(cache), batch_size):
            h = torch.from_numpy(np.array(cache.hidden[i:i + batch_size], dtype=np.float32))
            ws.append(router.weights(normalize_layers(h)))
    w = torch.cat(ws).numpy()
    return {"mode": router.mode, "top_k": router.top_k, "n_layers": int(w.shape[1]),
            "layer_weights_mean": w.mean(0).tolist(), "layer_weights_std": w.std(0).tolist(),
            "top_layer_share": np.bincount(w.argmax(1), minlength=w.shape[1]).astype(float)
            .__truediv__(len(w)).tolist()}


# -- the teacher gate ------------------------------------------------------------------------
def gate_and_distill(cfg, splits: dict, caches: dict, run, *, verbose: bool = False) -> dict:
    """Measure the teacher on val, train the student alone and/or distilled, keep the better.

    ``distill.teacher_gate``: "on" distils; "off" trains the student alone; "auto" (default)
    measures the teacher's validation balanced accuracy (its cached logits) and trains the
    student alone (cross-entropy, labelled windows only). A teacher not better than chance on val
    is switched off and the student alone is kept. Otherwise the student is distilled, and kept
    unless the student alone is better on val (balanced accuracy, then loss). A teacher below the
    student alone on val is still tried: through the unlabelled pool it can make a better student
    than itself (the demo: teacher 0.878, student alone 0.956, distilled 0.967 on val); the
    comparison on val is what keeps it from dragging the student down.

    Returns a dict: ``student``, ``objective``, ``history``, ``alone`` (the student alone,
    or None), ``alone_history``, ``gate`` (what was measured and decided, for metrics.json).
    """
    from .config import student_alone, uses_teacher
    from .metrics import classification_metrics

    mode = cfg.distill.teacher_gate
    n_classes = len(splits["train"].class_names)
    chance = 1.0 / n_classes
    val_y = np.asarray(splits["val"].y)
    t_val = classification_metrics(val_y, caches["val"].logits, n_classes) if "val" in caches else {}
    gate: dict[str, Any] = {"mode": mode, "chance": chance,
                            "teacher_val_balanced_accuracy": t_val.get("balanced_accuracy"),
                            "teacher_val_predicted_counts": t_val.get("predicted_counts")}
    out: dict[str, Any] = {"alone": None, "alone_history": None, "objective": None}
    if not uses_teacher(cfg.distill):
        mode = "on"  # nothing to gate: the configured objective has no teacher term
        gate["reason"] = "the distill config has no teacher term"
    if mode in ("auto", "off"):
        alone, _, h = distill_student(cfg, student_alone(cfg.distill), splits, None, seed=cfg.seed,
                                      checkpoint_dir=run.checkpoints_dir / "student_alone",
                                      verbose=verbose, desc="student alone")
        out["alone"], out["alone_history"] = alone, h
        a_val = evaluate(alone, splits, names=("val",))
        gate["student_alone_val_balanced_accuracy"] = a_val.get("balanced_accuracy")
        if mode == "off":
            gate.update(decision="off", reason="distill.teacher_gate is 'off'")
        elif gate["teacher_val_balanced_accuracy"] is None:
            gate.update(decision="off", reason="no validation logits of the teacher")
        elif gate["teacher_val_balanced_accuracy"] <= chance:
            gate.update(decision="off", reason=f"the teacher is not better than chance on val "
                        f"({gate['teacher_val_balanced_accuracy']:.3f} <= {chance:.3f})")
        else:
            gate["decision"] = "on"
            if gate["teacher_val_balanced_accuracy"] <= gate["student_alone_val_balanced_accuracy"]:
                gate["reason"] = (f"the teacher is not better than the student alone on val "
                                  f"({gate['teacher_val_balanced_accuracy']:.3f} <= "
                                  f"{gate['student_alone_val_balanced_accuracy']:.3f}); distilled "
                                  f"anyway, the better of the two on val is kept")
    else:
        gate["decision"] = "on"
    if gate["decision"] == "off":
        log.warning("teacher gate: teacher terms switched off, the student is trained alone: %s",
                    gate["reason"])
        out.update(student=out["alone"], history=out["alone_history"], kept="student_alone")
    else:
        student, objective, history = distill_student(
            cfg, cfg.distill, splits, caches, seed=cfg.seed,
            checkpoint_dir=run.checkpoints_dir / "student", verbose=verbose)
        out.update(student=student, objective=objective, history=history, kept="distilled")
        if out["alone"] is not None:
            d = _val_key(student, splits)
            a = _val_key(out["alone"], splits)
            gate["distilled_val_balanced_accuracy"] = d[0]
            if a > d:
                out.update(student=out["alone"], history=out["alone_history"], kept="student_alone")
                gate["reason"] = (f"the distilled student is worse on val than the student alone "
                                  f"(balanced accuracy {d[0]:.3f} vs {a[0]:.3f}, then cross-entropy "
                                  f"{-d[1]:.3f} vs {-a[1]:.3f}); the student alone is kept")
                log.warning("teacher gate: %s", gate["reason"])
    gate["kept"] = out["kept"]
    out["gate"] = gate
    return out


def _val_key(model, splits: dict) -> tuple[float, float]:
    """(val balanced accuracy, minus val cross-entropy): larger is better."""
    from .train import predict

    z = predict(model, splits["val"].X)
    y = np.asarray(splits["val"].y)
    zs = z - z.max(1, keepdims=True)
    ce = float(np.mean(np.log(np.exp(zs).sum(1)) - zs[np.arange(len(y)), y]))
    pred = z.argmax(1)
    ba = float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))
    return ba, -ce


def collapse_warnings(metrics: dict) -> list[str]:
    """One line per model whose test predictions fall into one class (logged as warnings)."""
    rows = [("teacher", metrics.get("teacher", {})), ("student", metrics.get("student", {})),
            ("student alone", metrics.get("student_alone") or {})]
    rows += [(f"baseline {k}", v) for k, v in metrics.get("baselines", {}).items()]
    out = []
    for name, m in rows:
        for split, mm in (("test", m), ("val", m.get("val", {}))):
            if mm.get("collapsed"):
                out.append(f"{name} predicts one class for every {split} window "
                           f"(predictions per class {mm.get('predicted_counts')}): a collapsed model")
    for line in out:
        log.warning("%s", line)
    return out


# -- the stage -------------------------------------------------------------------------------
def check_student_builds(cfg, train_split, *, config_file: str = "<config>") -> None:
    """Build the configured student once for the data's window shape (seconds, no training), so
    that options that do not fit together fail before the teacher is fine-tuned, as a
    ConfigError naming the file and ``student.options``."""
    from dlink.config import ConfigError

    from .students import build_student

    tr = train_split
    try:
        build_student(cfg.student, n_chans=tr.n_chans, n_times=tr.n_times,
                      n_outputs=len(tr.class_names), sfreq=tr.sfreq)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{config_file}: student.options {dict(cfg.student.options)} do not "
                          f"build a {cfg.student.arch!r} student for windows of {tr.n_chans} "
                          f"channels x {tr.n_times} samples: {e}") from None


def distill_run(cfg, run_dir: str | Path, *, teacher_path: str | Path | None = None,
                verbose: bool = False, config_file: str = "<config>") -> dict:
    """The ``dlink distill`` stage; returns the metrics written to metrics.json.

    ``config_file`` names the config in error messages."""
    import torch

    from dlink.config import save_config
    from dlink.data import load_dataset
    from dlink.rundir import RunDir

    from .students import count_macs, count_params, student_payload

    t_start = time.perf_counter()
    torch.set_num_threads(cfg.train.num_threads)
    splits = load_dataset(cfg.data, verbose=verbose)
    for name in ("train", "val", "test"):
        if name not in splits or len(splits[name]) == 0:
            raise ValueError(f"distill: the dataset's {name!r} split is empty; splits: "
                             f"{ {k: len(v) for k, v in splits.items()} }.")
    tr = splits["train"]
    check_student_builds(cfg, tr, config_file=config_file)  # before hours of teacher training
    # the inputs are sound: from here on the run directory changes
    run = RunDir(run_dir).mkdir()
    # written again at the end; an interrupted run leaves none
    run.invalidate("distill", run.path, *(run.checkpoints_dir / n for n in
                                          ("student", "student_alone", "eegnet", "shallow")))
    save_config(cfg, run.config)
    timing: dict[str, float] = {}

    t0 = time.perf_counter()
    teacher, teacher_info = prepare_teacher(cfg, run, teacher_path=teacher_path, verbose=verbose)
    torch.set_num_threads(cfg.train.num_threads)
    timing["teacher_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    caches = build_caches(teacher, splits, cache_root=run.path / "cache" if cfg.distill.cache == "disk"
                          else None, verbose=verbose)
    timing["cache_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = gate_and_distill(cfg, splits, caches, run, verbose=verbose)
    student, objective, history = result["student"], result["objective"], result["history"]
    timing["distill_s"] = time.perf_counter() - t0
    params, macs = count_params(student), count_macs(student, tr.n_chans, tr.n_times)
    if params > cfg.student.max_params or macs > cfg.student.max_macs:
        log.warning("the student has %d params and %d MACs per window, above the budget "
                    "student.max_params=%d / student.max_macs=%d", params, macs,
                    cfg.student.max_params, cfg.student.max_macs)

    metrics: dict[str, Any] = {
        "teacher": {**evaluate(None, splits, logits={k: c.logits for k, c in caches.items()}),
                    "params": count_params(teacher),
                    "macs": count_macs(teacher, tr.n_chans, tr.n_times),
                    "macs_note": "linear and conv layers; attention matmuls not counted",
                    "arch": cfg.teacher.arch, "source": teacher_info["source"],
                    **{k: teacher_info[k] for k in ("pretrained", "checkpoint", "init")
                       if k in teacher_info}},
        "student": {**evaluate(student, splits), "arch": cfg.student.arch,
                    "train_s": history["train_s"], "kept": result["kept"],
                    "steps": history.get("steps")},
        "student_alone": None if result["alone"] is None else
        {**evaluate(result["alone"], splits), "train_s": result["alone_history"]["train_s"],
         "steps": result["alone_history"].get("steps")},
        "teacher_gate": result["gate"],
        "baselines": {},
        "router": router_weights(objective, caches.get("test")),
        "history": {"student": history, "teacher": teacher_info.get("history", {}), "baselines": {},
                    "student_alone": result["alone_history"]},
    }
    for name in cfg.distill.baselines:
        t0 = time.perf_counter()
        model, h = train_baseline(name, cfg, splits, seed=cfg.seed,
                                  checkpoint_dir=run.checkpoints_dir / name, verbose=verbose)
        if name == "csp_lda":
            metrics["baselines"][name] = {**evaluate(None, splits, logits=csp_lda_logits(model, splits)),
                                          "params": model.n_params(tr.n_chans),
                                          "n_components": model.n_components, "train_s": h["train_s"]}
        else:
            metrics["baselines"][name] = {**evaluate(model, splits), "train_s": h["train_s"],
                                          "steps": h.get("steps")}
        metrics["history"]["baselines"][name] = h
        timing[f"{name}_s"] = time.perf_counter() - t0
    timing["total_s"] = time.perf_counter() - t_start
    metrics["timing"] = timing
    metrics["data"] = data_block(cfg.data, splits)
    metrics["warnings"] = run_warnings(metrics, splits) + collapse_warnings(metrics)
    if result["gate"].get("decision") == "off":
        metrics["warnings"].append(f"teacher terms switched off: {result['gate']['reason']}")
    for w in metrics["warnings"]:  # `dlink distill` prints them
        log.info("warning: %s", w)

    atomic_torch_save(student_payload(
        student, arch=cfg.student.arch,
        kwargs={"n_chans": tr.n_chans, "n_times": tr.n_times, "n_outputs": len(tr.class_names),
                "sfreq": tr.sfreq, **dict(cfg.student.options)},
        n_chans=tr.n_chans, n_times=tr.n_times, sfreq=tr.sfreq, ch_names=tr.ch_names,
        class_names=tr.class_names), run.student)
    atomic_write_json(run.metrics, reproducible_metrics(metrics))
    run.write_stamp("distill", inputs=[run.config], outputs=[run.student, run.metrics, run.teacher],
                    extra={"test_balanced_accuracy": metrics["student"]["balanced_accuracy"],
                           "teacher_source": teacher_info["source"], "timing_s": timing})
    return metrics


#: Entries of the metrics that are wall-clock times (kept out of metrics.json: the stamp has them).
WALL_CLOCK_KEYS = frozenset({"timing", "train_s", "epoch_s", "finetune_s", "eval_s"})


def reproducible_metrics(metrics: dict) -> dict:
    """What metrics.json holds: the metrics without wall-clock times, and a teacher fine-tuned
    in this run called "finetuned" whether this call trained it or reused it. The same inputs
    then give the same bytes, and export, whose stamp reads metrics.json (the model card), stays
    valid after a rerun of distill."""
    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in WALL_CLOCK_KEYS}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    out = strip(metrics)
    if out.get("teacher", {}).get("source") == "reused":
        out["teacher"]["source"] = "finetuned"
    return out


def data_block(data_cfg, splits: dict) -> dict:
    """What the run was trained and tested on, for metrics.json and the model card."""
    first = splits["train"]
    out = {
        "dataset": data_cfg.name,
        "windows": {k: len(v) for k, v in splits.items()},
        "classes": {k: v.class_counts() for k, v in splits.items() if len(v)},
        "subjects": {k: sorted(int(s) for s in set(v.subject.tolist())) for k, v in splits.items() if len(v)},
        "runs": {k: v.summary()["runs"] for k, v in splits.items() if len(v) and v.summary()["runs"]},
        "channels": list(first.ch_names), "sfreq_hz": first.sfreq, "window_samples": first.n_times,
        "notes": list(getattr(splits, "notes", [])),
    }
    if data_cfg.name == "recordings":
        out["recordings"] = [{k: r.get(k) for k in ("file", "subject", "run", "session", "split",
                                                    "source_sfreq_hz", "windows", "events")}
                             for r in getattr(splits, "recordings", None) or []]
    elif data_cfg.path:
        out["path"] = str(data_cfg.path)
    return out


def run_warnings(metrics: dict, splits: dict) -> list[str]:
    """The honesty warnings of a distill run (see :mod:`dlink.distill.honesty`)."""
    from .honesty import teacher_warning, small_test_set_warning

    found = [teacher_warning(metrics["teacher"]),
             small_test_set_warning(metrics["student"], class_counts=splits["test"].class_counts())]
    return [w for w in found if w]


def clear_checkpoints(run) -> None:
    """Delete the training checkpoints of the student, the student alone, the baselines and an
    unfinished teacher fine-tuning (``--fresh``)."""
    for name in ("student", "student_alone", "eegnet", "shallow", "teacher"):
        d = run.checkpoints_dir / name
        if d.is_dir():
            shutil.rmtree(d)
