"""Cross-validation: every fold of a k-fold config end to end, and the table over folds.

``dlink cv CONFIG --folds K --run DIR`` is orchestration over the existing stages, not a second
pipeline: for fold ``k`` it sets ``data.splits.fold = k`` (and ``folds = K``) and calls the
``distill`` stage (:func:`dlink.distill.pipeline.distill_run`: teacher, teacher gate, student,
baselines) in ``DIR/fold-k``, and the ``export`` stage (:func:`dlink.export.pipeline.export_run`)
on the folds asked for, so that the int8 student's accuracy is measured beside the float one.
Each fold is a complete run directory (``dlink export/flash/bench DIR/fold-k`` work on it).

Resumable per fold: a fold whose distill stage finished with the same resolved config is read,
not rerun; an interrupted fold resumes from its checkpoints. ``DIR/metrics.json`` holds the
per-fold metrics and mean ± sd (sample sd, ``ddof=1``) per model; ``DIR/bench/report.{md,json}``
the same as tables. Like every stage, ``cv`` removes its stamp (``DIR/.stamps/cv.json``) before
it writes and writes it, with the hashes of every fold's config, metrics and parity it read, when
the summary is complete; it reads a fold's metrics only when that fold's distill stamp is current,
and its parity only when its export stamp is.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

#: int8 runtime whose accuracy is reported for the exported student (the deployed arithmetic).
INT8_RUNTIME = "tflite_micro"


def fold_dir(run_dir: str | Path, fold: int) -> Path:
    return Path(run_dir) / f"fold-{fold}"


def fold_config(config: str | Path, fold: int, folds: int, overrides: dict | None = None):
    """The config of fold ``fold`` (``data.splits.fold``/``folds`` set), checked to be k-fold."""
    from dlink.config import load_config

    spec = load_config(config, overrides).data.split_spec()
    if spec.by != "kfold":
        raise ValueError(f"dlink cv needs a k-fold split: set data.splits.by: kfold in {config} "
                         f"(it has by: {spec.by!r}), e.g. splits: {{by: kfold, folds: 5, seed: 0}}.")
    return load_config(config, {**(overrides or {}), "data.splits.fold": fold, "data.splits.folds": folds})


def _finished(run, cfg) -> bool:
    """The fold's distill stage finished, is up to date, and ran this very config."""
    from dlink.config import config_to_dict
    from dlink.rundir import StageError

    import yaml

    try:
        run.require_stage("distill")
    except StageError:
        return False
    saved = yaml.safe_load(run.config.read_text())
    return saved == yaml.safe_load(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def _export_current(run) -> bool:
    from dlink.rundir import StageError

    try:
        run.require_stage("export")
        return True
    except StageError:
        return False


def _distill_fold(args: tuple) -> int:
    """Worker: the distill stage of one fold (a separate process when ``jobs > 1``)."""
    config, fold, folds, overrides, run_dir, teacher_path = args
    from dlink.distill.pipeline import distill_run

    distill_run(fold_config(config, fold, folds, overrides), run_dir, teacher_path=teacher_path)
    return fold


def run_cv(config: str | Path, run_dir: str | Path, *, folds: int, export_folds=(),
           teacher_path: str | Path | None = None, overrides: dict | None = None,
           jobs: int = 1, verbose: bool = False) -> dict[str, Any]:
    """Run every fold (resuming finished ones) and write ``DIR/metrics.json`` and the report.

    Parameters
    ----------
    config : str | Path
        A config whose ``data.splits`` is ``{by: kfold, ...}``.
    run_dir : str | Path
        The cross-validation directory; fold ``k`` is ``run_dir/fold-k``.
    folds : int
        Number of folds K (>= 2).
    export_folds : iterable of int
        Folds to export (int8), so that int8 accuracy is measured beside float.
    teacher_path : optional
        A task-adapted teacher file used for every fold instead of fine-tuning one per fold.
    overrides : dict, optional
        Dotted config keys to set (e.g. ``{"train.steps": 400}``).
    jobs : int
        Folds distilled at once, each in its own process (their ``train.num_threads`` each).
    """
    import json

    from dlink.distill.pipeline import distill_run
    from dlink.export.pipeline import export_run
    from dlink.rundir import RunDir
    from tqdm.auto import tqdm

    if folds < 2:
        raise ValueError(f"--folds must be >= 2, got {folds}.")
    export_folds = sorted(set(int(k) for k in export_folds))
    bad = [k for k in export_folds if not 0 <= k < folds]
    if bad:
        raise ValueError(f"--export-folds {bad} are not folds of 0..{folds - 1}.")
    root = Path(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        todo = [k for k in range(folds)
                if not _finished(RunDir(fold_dir(root, k)), fold_config(config, k, folds, overrides))]
        with ProcessPoolExecutor(max_workers=min(jobs, max(1, len(todo))),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            for k in tqdm(pool.map(_distill_fold, [(config, k, folds, overrides, fold_dir(root, k),
                                                     teacher_path) for k in todo]),
                          total=len(todo), desc="cv folds", unit="fold", disable=not verbose):
                log.info("fold %d distilled", k)
    cv_run = RunDir(root)
    # the summary is written again at the end; an interrupted cv leaves no stamp
    cv_run.invalidate("cv", root, root / "bench")
    per_fold, read = [], []
    for k in tqdm(range(folds), desc="cv folds", unit="fold", disable=not verbose):
        cfg = fold_config(config, k, folds, overrides)
        run = RunDir(fold_dir(root, k))
        t0 = time.perf_counter()
        if _finished(run, cfg):
            log.info("fold %d: finished earlier, reading %s", k, run.metrics)
            metrics = json.loads(run.metrics.read_text())
        else:
            metrics = distill_run(cfg, run.path, teacher_path=teacher_path, verbose=verbose)
        parity = None
        if k in export_folds:
            if not _export_current(run):
                export_run(run.path, verbose=verbose)
            parity = json.loads((run.export_dir / "parity.json").read_text())
            read.append(run.export_dir / "parity.json")
        read += [run.config, run.metrics]
        per_fold.append(fold_summary(k, metrics, parity))
        log.info("fold %d done in %.0f s", k, time.perf_counter() - t0)
    summary = summarise(per_fold)
    out = {"config": str(config), "folds": folds, "export_folds": export_folds,
           "per_fold": per_fold, "summary": summary,
           "chance": per_fold[0]["chance"] if per_fold else None}
    written = [atomic_write_json(root / "metrics.json", out), *write_cv_report(out, root / "bench")]
    cv_run.write_stamp("cv", inputs=read, outputs=written)
    return out


def fold_summary(fold: int, metrics: dict, parity: dict | None) -> dict[str, Any]:
    """Balanced accuracy (and collapse) of every model of one fold."""
    models: dict[str, dict] = {}

    def add(name, m):
        if m:
            models[name] = {"balanced_accuracy": m.get("balanced_accuracy"), "kappa": m.get("kappa"),
                            "val_balanced_accuracy": (m.get("val") or {}).get("balanced_accuracy"),
                            "collapsed": bool(m.get("collapsed")),
                            "predicted_counts": m.get("predicted_counts")}

    add("student", metrics.get("student"))
    add("student_alone", metrics.get("student_alone"))
    add("teacher", metrics.get("teacher"))
    for name, m in (metrics.get("baselines") or {}).items():
        add(name, m)
    if parity:
        rt = parity.get("runtimes", {})
        f, q = rt.get("pytorch_float", {}), rt.get(INT8_RUNTIME, {})
        models["student_int8"] = {"balanced_accuracy": q.get("balanced_accuracy"), "kappa": None,
                                  "val_balanced_accuracy": None, "collapsed": None,
                                  "predicted_counts": None,
                                  "float_balanced_accuracy": f.get("balanced_accuracy"),
                                  "argmax_agreement": q.get("argmax_agreement")}
    n_classes = len((metrics.get("student") or {}).get("predicted_counts") or []) or None
    gate = metrics.get("teacher_gate") or {}
    return {"fold": fold, "models": models, "n_test": (metrics.get("student") or {}).get("n"),
            "chance": 1.0 / n_classes if n_classes else None,
            "teacher_gate": {k: gate.get(k) for k in ("decision", "kept", "reason")},
            "warnings": metrics.get("warnings", [])}


def summarise(per_fold: list[dict]) -> dict[str, dict]:
    """Mean ± sd over folds of every model's balanced accuracy; folds with a collapsed model."""
    names: list[str] = []
    for f in per_fold:
        names += [n for n in f["models"] if n not in names]
    out = {}
    for n in names:
        vals = [f["models"][n]["balanced_accuracy"] for f in per_fold
                if n in f["models"] and f["models"][n]["balanced_accuracy"] is not None]
        kap = [f["models"][n]["kappa"] for f in per_fold
               if n in f["models"] and f["models"][n].get("kappa") is not None]
        v = np.asarray(vals, dtype=float)
        out[n] = {"balanced_accuracy_mean": float(v.mean()) if len(v) else None,
                  "balanced_accuracy_sd": float(v.std(ddof=1)) if len(v) > 1 else None,
                  "kappa_mean": float(np.mean(kap)) if kap else None,
                  "n_folds": len(v), "per_fold": vals,
                  "collapsed_folds": [f["fold"] for f in per_fold
                                      if n in f["models"] and f["models"][n].get("collapsed")]}
    if "student_int8" in out:
        folds = [f for f in per_fold if "student_int8" in f["models"]]
        fl = [f["models"]["student_int8"]["float_balanced_accuracy"] for f in folds]
        q = [f["models"]["student_int8"]["balanced_accuracy"] for f in folds]
        out["student_int8"]["float_balanced_accuracy_mean"] = float(np.mean(fl))
        out["student_int8"]["int8_minus_float_mean"] = float(np.mean(np.subtract(q, fl)))
        out["student_int8"]["argmax_agreement_mean"] = float(
            np.mean([f["models"]["student_int8"]["argmax_agreement"] for f in folds]))
    return out


#: Row order and labels of the report.
LABELS = {"student": "student (kept: distilled or alone)", "student_int8": "student int8 (TFLite-Micro)",
          "student_alone": "student alone (CE only)", "teacher": "teacher", "csp_lda": "CSP + LDA",
          "eegnet": "EEGNet", "shallow": "ShallowConvNet"}


def cv_tables(cv: dict) -> str:
    """The per-fold table and the mean ± sd table, as Markdown."""
    from dlink.bench.report import format_table

    per_fold, summary = cv["per_fold"], cv["summary"]
    order = [n for n in LABELS if n in summary] + [n for n in summary if n not in LABELS]
    cols = {"model": "model", **{f"f{f['fold']}": f"fold {f['fold']}" for f in per_fold},
            "mean_sd": "mean ± sd", "collapsed": "collapsed folds"}
    rows = []
    for n in order:
        s = summary[n]
        row = {"model": LABELS.get(n, n), "collapsed": ", ".join(map(str, s["collapsed_folds"])) or "none"}
        for f in per_fold:
            v = f["models"].get(n, {}).get("balanced_accuracy")
            row[f"f{f['fold']}"] = None if v is None else round(v, 3)
        m, sd = s["balanced_accuracy_mean"], s["balanced_accuracy_sd"]
        row["mean_sd"] = "n/a" if m is None else f"{m:.3f} ± {sd:.3f}" if sd is not None else f"{m:.3f}"
        if n == "student_int8":
            row["collapsed"] = "-"
        rows.append(row)
    gate_cols = {"fold": "fold", "n_test": "test windows", "decision": "teacher gate", "kept": "kept",
                 "reason": "why"}
    gate_rows = [{"fold": f["fold"], "n_test": f["n_test"], **f["teacher_gate"]} for f in per_fold]
    parts = [format_table(rows, cols, markdown=True), "",
             f"Balanced accuracy on each fold's test split; chance = {cv.get('chance') or 0:.3f}. "
             "sd: sample standard deviation over folds.", "", "### Teacher gate per fold", "",
             format_table(gate_rows, gate_cols, markdown=True)]
    q = summary.get("student_int8")
    if q:
        parts += ["", f"int8 (folds {', '.join(map(str, cv.get('export_folds', [])))}): "
                      f"{q['balanced_accuracy_mean']:.3f} vs float {q['float_balanced_accuracy_mean']:.3f} "
                      f"(int8 - float {100 * q['int8_minus_float_mean']:+.1f} points; argmax agreement "
                      f"{q['argmax_agreement_mean']:.3f})."]
    warnings = [f"fold {f['fold']}: {w}" for f in per_fold for w in f.get("warnings", [])]
    if warnings:
        parts += ["", "### Warnings", ""] + [f"- {w}" for w in warnings]
    return "\n".join(parts)


def write_cv_report(cv: dict, bench_dir: str | Path) -> list[Path]:
    """``report.md`` and ``report.json`` of a cross-validation directory."""
    from dlink.bench.report import clean_json

    bench_dir = Path(bench_dir)
    md = (f"# Cross-validation report: {cv['config']}, {cv['folds']} folds\n\n"
          + cv_tables(cv) + "\n")
    return [atomic_write_json(bench_dir / "report.json", clean_json(cv)),
            atomic_write_text(bench_dir / "report.md", md)]
