"""The CI gate behind `dlink check`: the int8 QDQ student in onnxruntime on labelled windows.

Runs ``RUN/export/student.int8.onnx`` (the int8 model) and ``RUN/export/student.onnx`` (its float
source) in onnxruntime on the run's test split, or on the windows ``X`` and labels ``y`` of a
given .npz, and fails when the int8 model's balanced accuracy or its argmax agreement with the
float model is below a threshold.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from dlink._check import check_file
from dlink.rundir import RunDir

logger = logging.getLogger(__name__)

#: Accepted key names in a windows .npz: canonical first, then the export's test_vectors.npz names.
NPZ_KEYS = {"X": ("X", "x_float"), "y": ("y", "y_true")}


def load_windows_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``X`` float (n, n_chans, n_times) and labels ``y`` int (n,) from a .npz file.

    The export's ``test_vectors.npz`` (``x_float``, ``y_true``) is accepted too.
    """
    path = check_file(path, what="windows file (.npz)",
                      fix="Pass a .npz with X (n, n_chans, n_times) and y (n,).")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"{str(path)!r} is not a readable .npz file: {e}") from None
    with data:
        found = list(data.keys())
        arrays = {}
        for key, names in NPZ_KEYS.items():
            name = next((n for n in names if n in data), None)
            if name is None:
                what = "windows, float (n, n_chans, n_times)" if key == "X" else "labels, int (n,)"
                raise ValueError(f"{str(path)!r} has no key {key!r} ({what}); keys found: {found}.")
            arrays[key] = data[name]
    x, y = arrays["X"], arrays["y"]
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{str(path)!r}: key 'X' must be a float array (n, n_chans, n_times), got "
                         f"{x.dtype} of shape {x.shape}.")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{str(path)!r}: key 'y' must be an integer array (n,), got {y.dtype} of "
                         f"shape {y.shape}.")
    if len(y) != len(x) or len(y) == 0:
        raise ValueError(f"{str(path)!r}: 'X' has {len(x)} windows and 'y' {len(y)} labels; they must "
                         "be equal and non-zero.")
    if y.min() < 0:
        raise ValueError(f"{str(path)!r}: key 'y' must hold class indices >= 0, got {int(y.min())}.")
    return np.ascontiguousarray(x, np.float32), y.astype(np.int64)


def _check_threshold(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}.")
    return float(value)


def run_check(run_dir: str | Path, *, npz: str | Path | None = None,
              min_balanced_accuracy: float | None = None, min_agreement: float | None = None,
              verbose: bool = False) -> dict[str, Any]:
    """Evaluate the gate; the result's ``passed`` says whether it passed, ``failures`` why not.

    Parameters
    ----------
    run_dir : str | Path
        A run whose export stage is up to date.
    npz : str | Path | None
        Windows ``X`` and labels ``y`` to use instead of the run's test split.
    min_balanced_accuracy, min_agreement : float | None
        Thresholds; None takes the run config's ``bench.min_balanced_accuracy`` /
        ``bench.min_agreement``.
    """
    from dlink.bench.accuracy import agreement, classification_metrics
    from dlink.bench.bench import load_test_windows, run_bench_config
    from dlink.bench.runtimes import OrtRuntime, int8_session_config

    run = RunDir(run_dir)
    run.require_stage("export", needed_by="dlink check")
    cfg = run_bench_config(run)
    thr_acc = _check_threshold("--min-balanced-accuracy", cfg.min_balanced_accuracy
                               if min_balanced_accuracy is None else min_balanced_accuracy)
    thr_agree = _check_threshold("--min-agreement", cfg.min_agreement
                                 if min_agreement is None else min_agreement)
    int8 = OrtRuntime(run.require_file(run.export_dir / "student.int8.onnx", stage="export"), name="ort_int8",
                      session_config=int8_session_config())
    flt = OrtRuntime(run.require_file(run.export_dir / "student.onnx", stage="export"), name="ort_float")
    x, y, info = load_test_windows(run, npz=npz, verbose=verbose)
    logits_q = int8.predict(x)
    logits_f = flt.predict(x)
    n_classes = int(max(logits_q.shape[1], int(y.max()) + 1))
    if int(y.max()) >= logits_q.shape[1]:
        raise ValueError(f"The labels in {info['source']!r} go up to {int(y.max())}, but the model has "
                         f"{logits_q.shape[1]} outputs.")
    m = classification_metrics(y, logits_q, n_classes)
    m_float = classification_metrics(y, logits_f, n_classes)
    agree = agreement(logits_q, logits_f)
    failures = []
    if m["balanced_accuracy"] < thr_acc:
        failures.append(f"balanced accuracy {m['balanced_accuracy']:.4f} < threshold {thr_acc:.4f} "
                        "(--min-balanced-accuracy)")
    if agree < thr_agree:
        failures.append(f"int8/float agreement {agree:.4f} < threshold {thr_agree:.4f} (--min-agreement)")
    return {
        "run": str(run.path), "data": info["source"], "n": int(len(y)),
        "model": str(run.export_dir / "student.int8.onnx"), "runtime": "onnxruntime int8 QDQ",
        "session_config": int8.session_config,
        "balanced_accuracy": m["balanced_accuracy"], "kappa": m["kappa"],
        "f1_weighted": m.get("f1_weighted"), "float_balanced_accuracy": m_float["balanced_accuracy"],
        "agreement": agree, "min_balanced_accuracy": thr_acc, "min_agreement": thr_agree,
        "passed": not failures, "failures": failures,
    }


def format_check(result: dict[str, Any]) -> str:
    """A short table of measured values against thresholds."""
    rows = [("balanced accuracy (int8)", result["balanced_accuracy"], f">= {result['min_balanced_accuracy']:.4f}",
             result["balanced_accuracy"] >= result["min_balanced_accuracy"]),
            ("int8/float agreement", result["agreement"], f">= {result['min_agreement']:.4f}",
             result["agreement"] >= result["min_agreement"]),
            ("kappa (int8)", result["kappa"], "", None),
            ("balanced accuracy (float)", result["float_balanced_accuracy"], "", None)]
    lines = [f"dlink check {result['run']}: {result['runtime']} on {result['n']} windows ({result['data']})",
             f"{'metric':<28}{'value':>8}  {'threshold':<12}result"]
    for name, v, thr, ok in rows:
        lines.append(f"{name:<28}{v:>8.4f}  {thr:<12}{'' if ok is None else ('PASS' if ok else 'FAIL')}")
    lines.append("PASSED" if result["passed"] else "FAILED: " + "; ".join(result["failures"]))
    return "\n".join(lines)
