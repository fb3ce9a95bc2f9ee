"""The CI gate behind `dlink check`: a gate bundle's int8 QDQ student in onnxruntime.

Runs the bundle's int8 model (``student.int8.onnx``) and its float source (``student.onnx``) in
onnxruntime on labelled windows (the bundle's ``windows.npz``, a ``--npz`` file, or, for a run
directory whose bundle has none, the run's test split) and fails when the int8 model's balanced
accuracy or its argmax agreement with the float model is below a threshold. The default
balanced-accuracy threshold is chance for the model's number of classes plus a margin
(``min_above_chance``), so a model that guesses never passes. Windows holding NaN or infinity are
refused: the gate never runs on them.

Only numpy, onnxruntime and the standard library are needed (the base install); reading a run's
test split (a run directory without bundle windows and without ``--npz``) needs the ``data`` extra.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from dlink._check import check_file
from dlink.bench.gate_bundle import (DEFAULT_MIN_ABOVE_CHANCE, GATE_DIR, GateBundle, is_bundle,
                                     load_gate_bundle)

logger = logging.getLogger(__name__)

#: Accepted key names in a windows .npz: canonical first, then the export's test_vectors.npz names.
NPZ_KEYS = {"X": ("X", "x_float"), "y": ("y", "y_true")}


def check_finite_windows(x: np.ndarray, source: str) -> None:
    """Raise ValueError naming ``source`` and how many windows hold NaN or infinity."""
    bad = ~np.isfinite(x).reshape(len(x), -1).all(axis=1)
    n_bad = int(bad.sum())
    if n_bad:
        first = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"{source!r}: {n_bad} of {len(x)} windows hold non-finite values (NaN or "
                         f"infinity), e.g. window index {first}; dlink check refuses them. Drop or "
                         "repair those windows.")


def load_windows_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``X`` float (n, n_chans, n_times) and labels ``y`` int (n,) from a .npz file.

    The export's ``test_vectors.npz`` (``x_float``, ``y_true``) is accepted too. Windows with NaN or
    infinity are refused (:func:`check_finite_windows`).
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
    check_finite_windows(x, str(path))
    return np.ascontiguousarray(x, np.float32), y.astype(np.int64)


def _check_threshold(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}.")
    return float(value)


def gate_metrics(y_true: np.ndarray, logits: np.ndarray) -> dict[str, Any]:
    """Balanced accuracy, Cohen's kappa, weighted F1 and confusion matrix from argmax predictions.

    numpy only (the base install has no scikit-learn); the definitions are scikit-learn's
    (``balanced_accuracy_score``: mean recall over the classes present in ``y_true``;
    ``cohen_kappa_score``; ``f1_score(average="weighted", zero_division=0)``), checked against it in
    tests/bench/test_check.py. Kappa is None where it is undefined (one class in both).

    >>> m = gate_metrics(np.array([0, 0, 1, 1]), np.array([[1., 0], [0, 1], [0, 1], [0, 1]]))
    >>> m["balanced_accuracy"], m["confusion"]
    (0.75, [[1, 1], [0, 2]])
    """
    y = np.asarray(y_true, np.int64)
    n_classes = int(logits.shape[1])
    pred = np.asarray(logits).argmax(1)
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (y, pred), 1)
    support, predicted, tp = cm.sum(1), cm.sum(0), np.diag(cm)
    present = support > 0
    n = int(cm.sum())
    expected = float(support @ predicted) / n
    kappa = None if n == expected else float((tp.sum() - expected) / (n - expected))
    denom = 2 * tp + (predicted - tp) + (support - tp)
    f1 = np.divide(2 * tp, denom, out=np.zeros(n_classes), where=denom > 0)
    return {"balanced_accuracy": float(np.mean(tp[present] / support[present])),
            "kappa": kappa, "f1_weighted": float(f1 @ support / n), "confusion": cm.tolist(), "n": n}


def resolve_bundle(path: str | Path) -> tuple[GateBundle, Any]:
    """The gate bundle at ``path`` (a bundle folder, or a run directory: RUN/export/gate).

    Returns the bundle and, for a run directory, its :class:`dlink.rundir.RunDir` (else None).
    """
    from dlink.rundir import RunDir

    path = Path(path)
    if is_bundle(path):
        return load_gate_bundle(path), None
    if not path.is_dir():
        raise FileNotFoundError(f"{str(path)!r} does not exist: pass a gate bundle folder (with gate.json, "
                                "as `dlink export` writes into RUN/export/gate/) or a run directory.")
    run = RunDir(path)
    run.require_stage("export", needed_by="dlink check")
    gate = run.export_dir / GATE_DIR
    run.require_file(gate / "gate.json", stage="export")
    return load_gate_bundle(gate), run


def _thresholds(bundle: GateBundle, n_classes: int, min_balanced_accuracy: float | None,
                min_agreement: float | None) -> dict[str, Any]:
    thr = bundle.thresholds
    chance = 1.0 / n_classes
    if min_balanced_accuracy is not None:
        acc, source = _check_threshold("--min-balanced-accuracy", min_balanced_accuracy), \
            "--min-balanced-accuracy"
    elif thr.get("min_balanced_accuracy") is not None:
        acc, source = float(thr["min_balanced_accuracy"]), "bundle (bench.min_balanced_accuracy)"
    else:
        margin = float(thr.get("min_above_chance", DEFAULT_MIN_ABOVE_CHANCE))
        acc, source = min(1.0, chance + margin), f"chance {chance:.4f} + {margin:.4f}"
    agree = (_check_threshold("--min-agreement", min_agreement) if min_agreement is not None
             else float(thr.get("min_agreement", 0.95)))
    return {"min_balanced_accuracy": acc, "threshold_source": source, "min_agreement": agree,
            "chance": chance}


def run_check(path: str | Path, *, npz: str | Path | None = None,
              min_balanced_accuracy: float | None = None, min_agreement: float | None = None,
              verbose: bool = False) -> dict[str, Any]:
    """Evaluate the gate; the result's ``passed`` says whether it passed, ``failures`` why not.

    Parameters
    ----------
    path : str | Path
        A gate bundle folder (``gate.json`` inside), or a run directory whose export stage is up
        to date (its bundle ``RUN/export/gate`` is used).
    npz : str | Path | None
        Windows ``X`` and labels ``y`` to use instead of the bundle's windows.
    min_balanced_accuracy, min_agreement : float | None
        Thresholds; None takes the bundle's (written by export from the run config's ``bench:``
        section); a bundle without an absolute accuracy threshold uses chance (1 / n_classes)
        plus its ``min_above_chance``.
    """
    from dlink.bench.runtimes import OrtRuntime

    bundle, run = resolve_bundle(path)
    # Thresholds are checked before the (possibly slow) windows are read.
    thresholds = _thresholds(bundle, bundle.n_classes, min_balanced_accuracy, min_agreement)
    if npz is not None:
        x, y = load_windows_npz(npz)
        source = str(npz)
    elif bundle.windows is not None:
        x, y = load_windows_npz(bundle.windows)
        source = f"{bundle.windows} ({bundle.meta['windows'].get('source') or 'gate bundle'})"
    elif run is not None:
        from dlink.bench.bench import load_test_windows

        x, y, info = load_test_windows(run, verbose=verbose)
        source = info["source"]
        check_finite_windows(x, source)
    else:
        raise ValueError(f"The gate bundle {str(bundle.path)!r} holds no windows: pass --npz FILE with "
                         "X (n, n_chans, n_times) and y (n,).")
    if tuple(x.shape[1:]) != bundle.input_shape:
        raise ValueError(f"{source!r}: windows of shape {tuple(x.shape[1:])} (n_chans, n_times), but the "
                         f"model takes {bundle.input_shape} (gate.json fields 'input.n_chans', "
                         "'input.n_times').")
    if int(y.max()) >= bundle.n_classes:
        raise ValueError(f"The labels in {source!r} go up to {int(y.max())}, but the model has "
                         f"{bundle.n_classes} classes {bundle.class_names}.")
    int8 = OrtRuntime(bundle.int8_model, name="ort_int8", session_config=bundle.session_config)
    flt = OrtRuntime(bundle.float_model, name="ort_float")
    logits_q = int8.predict(x)
    logits_f = flt.predict(x)
    failures = []
    for name, lg in (("int8", logits_q), ("float", logits_f)):
        if lg.shape != (len(y), bundle.n_classes):
            raise ValueError(f"{str(int8.path if name == 'int8' else flt.path)!r} gives outputs of shape "
                             f"{lg.shape[1:]}, but gate.json names {bundle.n_classes} classes.")
        n_bad = int((~np.isfinite(lg).all(axis=1)).sum())
        if n_bad:
            failures.append(f"the {name} model gave non-finite outputs (NaN or infinity) on {n_bad} of "
                            f"{len(y)} windows")
    m = gate_metrics(y, np.nan_to_num(logits_q, nan=-np.inf))
    m_float = gate_metrics(y, np.nan_to_num(logits_f, nan=-np.inf))
    agree = float(np.mean(logits_q.argmax(1) == logits_f.argmax(1)))
    thr_acc, thr_agree = thresholds["min_balanced_accuracy"], thresholds["min_agreement"]
    if m["balanced_accuracy"] < thr_acc:
        failures.append(f"balanced accuracy {m['balanced_accuracy']:.4f} < threshold {thr_acc:.4f} "
                        f"({thresholds['threshold_source']})")
    if agree < thr_agree:
        failures.append(f"int8/float agreement {agree:.4f} < threshold {thr_agree:.4f} (--min-agreement)")
    warnings = []
    if thr_acc <= thresholds["chance"]:
        warnings.append(f"the balanced-accuracy threshold {thr_acc:.4f} is at or below chance "
                        f"({thresholds['chance']:.4f} for {bundle.n_classes} classes): a model that "
                        "guesses passes it")
    present = int(np.count_nonzero(np.bincount(y, minlength=bundle.n_classes)))
    if present < bundle.n_classes:
        warnings.append(f"the windows hold {present} of the {bundle.n_classes} classes")
    return {
        "bundle": str(bundle.path), "run": None if run is None else str(run.path), "data": source,
        "n": int(len(y)), "model": str(bundle.int8_model), "runtime": "onnxruntime int8 QDQ",
        "session_config": int8.session_config, "n_classes": bundle.n_classes,
        "class_names": bundle.class_names, "chance": thresholds["chance"],
        "balanced_accuracy": m["balanced_accuracy"], "kappa": m["kappa"],
        "f1_weighted": m["f1_weighted"], "confusion": m["confusion"],
        "float_balanced_accuracy": m_float["balanced_accuracy"],
        "agreement": agree, "min_balanced_accuracy": thr_acc,
        "threshold_source": thresholds["threshold_source"], "min_agreement": thr_agree,
        "passed": not failures, "failures": failures, "warnings": warnings,
    }


def format_check(result: dict[str, Any]) -> str:
    """A short table of measured values against thresholds."""
    def num(v):
        return f"{v:>8.4f}" if isinstance(v, float) else f"{'n/a':>8}"

    rows = [("balanced accuracy (int8)", result["balanced_accuracy"],
             f">= {result['min_balanced_accuracy']:.4f}",
             result["balanced_accuracy"] >= result["min_balanced_accuracy"], result["threshold_source"]),
            ("int8/float agreement", result["agreement"], f">= {result['min_agreement']:.4f}",
             result["agreement"] >= result["min_agreement"], ""),
            ("kappa (int8)", result["kappa"], "", None, ""),
            ("balanced accuracy (float)", result["float_balanced_accuracy"], "", None, ""),
            ("chance", result["chance"], "", None, f"{result['n_classes']} classes")]
    lines = [f"dlink check {result['bundle']}: {result['runtime']} on {result['n']} windows "
             f"({result['data']})",
             f"{'metric':<28}{'value':>8}  {'threshold':<12}{'result':<8}note"]
    for name, v, thr, ok, note in rows:
        res = "" if ok is None else ("PASS" if ok else "FAIL")
        lines.append(f"{name:<28}{num(v)}  {thr:<12}{res:<8}{note}".rstrip())
    lines.extend(f"warning: {w}" for w in result["warnings"])
    lines.append("PASSED" if result["passed"] else "FAILED: " + "; ".join(result["failures"]))
    return "\n".join(lines)
