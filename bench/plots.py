"""Bench plots (matplotlib, Agg backend): accuracy vs size and vs latency, confusion matrices, the
router's layer weights and the training curves. Each plot is skipped (and logged) when the report
has no data for it."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_path

logger = logging.getLogger(__name__)

_COLORS = {"teacher": "tab:red", "student": "tab:blue", "int8": "tab:cyan", "baseline": "tab:gray"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return path.name


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def accuracy_points(report: dict[str, Any]) -> list[dict[str, Any]]:
    """(label, kind, params, macs, latency_ms, balanced_accuracy) for every model/runtime."""
    pts = []
    for row in report.get("headline") or []:
        kind = ("teacher" if row["model"].startswith("teacher") else
                "student" if row["model"].startswith("student") else "baseline")
        pts.append({"label": row["model"], "kind": kind, "params": _num(row.get("params")),
                    "macs": _num(row.get("macs")), "latency_ms": _num(row.get("host_latency_ms")),
                    "acc": _num(row.get("balanced_accuracy"))})
    student = report.get("student") or {}
    for name, e in (report.get("runtimes") or {}).items():
        if e.get("status") != "measured":
            continue
        pts.append({"label": f"student: {e.get('label', name)}",
                    "kind": "int8" if e.get("precision") == "int8" else "student",
                    "params": _num(student.get("params")), "macs": _num(student.get("macs")),
                    "latency_ms": _num((e.get("latency") or {}).get("median_ms")),
                    "acc": _num((e.get("metrics") or {}).get("balanced_accuracy")), "runtime": True})
    return pts


def _scatter(report: dict[str, Any], xkey: str, xlabel: str, title: str, path: Path,
             *, runtimes: bool) -> str | None:
    pts = [p for p in accuracy_points(report)
           if p["acc"] is not None and p[xkey] is not None and (runtimes or not p.get("runtime"))]
    if not pts:
        logger.info("no data for %s", path.name)
        return None
    if runtimes:  # the float student is there as its runtime points
        pts = [p for p in pts if not (p["kind"] == "student" and not p.get("runtime"))] or pts
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    markers = "o^sDvP*Xh<>"
    for i, p in enumerate(pts):
        ax.scatter(p[xkey], p["acc"], s=70, color=_COLORS[p["kind"]], marker=markers[i % len(markers)],
                   edgecolor="k", zorder=3, label=f"{p['label']} ({p['acc']:.3f})")
    xs = [p[xkey] for p in pts]
    if min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("balanced accuracy (test)")
    ax.set_ylim(0, 1.02)
    n_classes = len((report.get("dataset") or {}).get("class_names") or [])
    if n_classes > 1:
        ax.axhline(1.0 / n_classes, ls=":", color="k", lw=1, label="chance")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.margins(x=0.15)
    return _save(fig, path)


def plot_confusions(report: dict[str, Any], path: Path) -> str | None:
    mats = [(e.get("label", n), np.asarray(e["metrics"]["confusion"]))
            for n, e in (report.get("runtimes") or {}).items()
            if e.get("status") == "measured" and (e.get("metrics") or {}).get("confusion")]
    t = report.get("teacher") or {}
    if (t.get("metrics") or {}).get("confusion"):
        mats.insert(0, ("teacher (PyTorch)", np.asarray(t["metrics"]["confusion"])))
    if not mats:
        return None
    names = (report.get("dataset") or {}).get("class_names")
    plt = _plt()
    ncol = min(4, len(mats))
    nrow = math.ceil(len(mats) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol, 3.3 * nrow), squeeze=False)
    for ax in axes.flat[len(mats):]:
        ax.axis("off")
    for ax, (label, m) in zip(axes.flat, mats):
        k = m.shape[0]
        ticks = names if names and len(names) == k else [str(i) for i in range(k)]
        ax.imshow(m, cmap="Blues")
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > m.max() / 2 else "black")
        ax.set_xticks(range(k), ticks, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(k), ticks, fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_router(report: dict[str, Any], path: Path) -> str | None:
    router = report.get("router") or {}
    mean = router.get("layer_weights_mean")
    if not mean:
        return None
    mean = np.asarray(mean, float).ravel()
    std = np.asarray(router.get("layer_weights_std") or np.zeros_like(mean), float).ravel()
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(mean))
    ax.bar(x, mean, yerr=std if std.shape == mean.shape else None, capsize=3, color="tab:purple")
    ax.axhline(1.0 / len(mean), ls=":", color="k", lw=1, label="uniform")
    n_layers = router.get("n_layers")
    if n_layers == len(mean):  # blocks 1..L
        ticks = [str(i + 1) for i in x]
    elif n_layers == len(mean) - 1:  # embedding + blocks 1..L
        ticks = ["embed", *(str(i) for i in x[1:])]
    else:
        ticks = [str(i) for i in x]
    ax.set_xticks(x, ticks)
    ax.set_xlabel("teacher block (hidden state)")
    ax.set_ylabel("router weight (mean ± std over windows)")
    ax.set_title("Router: weight of each teacher layer")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def _flatten_history(h: Any, prefix: str = "") -> dict[str, list[float]]:
    """History as {name: per-epoch values}: dict of lists, list of per-epoch dicts, or nested."""
    out: dict[str, list[float]] = {}
    if isinstance(h, dict):
        for k, v in h.items():
            name = f"{prefix}{k}"
            if isinstance(v, list) and v and all(_num(e) is not None for e in v):
                out[name] = [float(e) for e in v]
            else:
                out.update(_flatten_history(v, name + "/"))
    elif isinstance(h, list) and h and all(isinstance(e, dict) for e in h):
        keys = dict.fromkeys(k for e in h for k in e)
        for k in keys:
            vals = [_num(e.get(k)) for e in h]
            if any(v is not None for v in vals) and k not in ("epoch", "step"):
                out[f"{prefix}{k}"] = [np.nan if v is None else v for v in vals]
    return out


_METRIC_WORDS = ("accuracy", "kappa", "f1", "auroc", "auc")


def history_panels(history: Any) -> list[tuple[str, dict[str, list[float]]]]:
    """Training curves grouped into panels: total losses, loss terms, validation metrics.

    Timings (``*_s``) and learning rates are left out.
    """
    series = {k: v for k, v in _flatten_history(history or {}).items()
              if not k.split("/")[-1].endswith("_s") and k.split("/")[-1] not in ("lr", "epoch")}
    terms = {k: v for k, v in series.items() if "/terms/" in k or k.startswith("terms/")}
    loss = {k: v for k, v in series.items() if k not in terms and "loss" in k.lower()}
    metrics = {k: v for k, v in series.items() if k not in terms and k not in loss
               and any(w in k.lower() for w in _METRIC_WORDS)}
    return [(t, s) for t, s in (("loss", loss), ("loss terms", terms), ("validation metrics", metrics)) if s]


def plot_history(report: dict[str, Any], path: Path) -> str | None:
    panels = history_panels(report.get("history"))
    if not panels:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for ax, (title, s) in zip(axes.flat, panels):
        for k, v in s.items():
            ax.plot(np.arange(1, len(v) + 1), v, label=k, lw=1.4, marker="o", ms=3)
        ax.set_xlabel("epoch")
        ax.set_title(f"training: {title}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=1 + len(s) // 8)
        ax.xaxis.get_major_locator().set_params(integer=True)
        vals = np.concatenate([np.asarray(v, float) for v in s.values()])
        vals = vals[np.isfinite(vals)]
        if title != "validation metrics" and vals.size and vals.min() > 0 and vals.max() / vals.min() > 50:
            ax.set_yscale("log")
    fig.tight_layout()
    return _save(fig, path)


def _plot_profiles(report: dict[str, Any], path: Path) -> str | None:
    from dlink.bench.layer_profile import plot_profiles

    return plot_profiles(report, path)


def write_plots(report: dict[str, Any], plots_dir: str | Path) -> list[str]:
    """Write every plot that has data into ``plots_dir``; return the file names written."""
    d = Path(plots_dir)
    made = [
        _scatter(report, "params", "parameters", "Accuracy vs size", d / "accuracy_vs_params.png",
                 runtimes=False),
        _scatter(report, "macs", "MACs per window", "Accuracy vs compute", d / "accuracy_vs_macs.png",
                 runtimes=False),
        _scatter(report, "latency_ms", "host latency per window (ms, 1 thread)",
                 "Accuracy vs host latency", d / "accuracy_vs_latency.png", runtimes=True),
        plot_confusions(report, d / "confusion_matrices.png"),
        plot_router(report, d / "router_layer_weights.png"),
        plot_history(report, d / "training_curves.png"),
        _plot_profiles(report, d / "layer_profile.png"),
    ]
    return [m for m in made if m]
