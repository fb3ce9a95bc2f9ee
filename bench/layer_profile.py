"""The per-layer profile of a board: where the instructions (QEMU) or cycles (hardware) go.

The firmware app runs one more inference with the generated model's layer hook set and prints a
count per layer (``DLINK_LAYER`` lines, parsed into ``run.json["profile"]`` by ``dlink flash``);
the code generator lists the layers in ``<name>_model.json`` (operator, output shape, MACs, the
runtime function it calls, and which layers were folded or fused into which). This module joins
the two into rows: one per call the model makes, with the layers folded into it named beside it.

Under QEMU (``-icount shift=0``) the counts are **instructions, not cycles**: a load, a
multiply-accumulate and a branch count one each, whatever they would cost on silicon. On a real
board (DWT) they are cycles.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Columns of the per-layer table: key -> header.
LAYER_COLUMNS = {"index": "layer", "op": "op", "kernel": "kernel", "shape": "output shape",
                 "macs": "MACs", "count": "count", "per_mac": "per MAC", "share": "share"}


def layer_rows(model_layers: list[dict], profile: dict) -> list[dict[str, Any]]:
    """Join the generator's layer list with the app's profile.

    Parameters
    ----------
    model_layers : list of dict
        ``layers`` of ``<name>_model.json`` (index, opcode, shape, macs, kernel, folded_into).
    profile : dict
        ``run.json["profile"]``: counter, hook_overhead and layers [{index, count}].

    Returns
    -------
    list of dict
        One row per profiled call: ``index``, ``op`` (the opcodes of the layer and of those folded
        into it, joined by "+"), ``kernel``, ``shape``, ``macs`` (summed over the folded layers),
        ``count`` (the hook's own overhead subtracted), ``per_mac`` (None without MACs) and
        ``share`` of the whole inference.
    """
    by_index = {int(la["index"]): la for la in model_layers}
    folded: dict[int, list[dict]] = {}
    for la in model_layers:
        target = la.get("folded_into")
        if target is not None:
            folded.setdefault(int(target), []).append(la)
    overhead = int(profile.get("hook_overhead") or 0)
    rows = []
    for entry in profile.get("layers") or []:
        idx = int(entry["index"])
        la = by_index.get(idx, {"index": idx, "opcode": "?", "shape": None, "macs": 0})
        group = sorted([*folded.get(idx, []), la], key=lambda x: int(x["index"]))
        count = max(int(entry["count"]) - overhead, 0)
        macs = sum(int(g.get("macs") or 0) for g in group)
        rows.append({"index": idx, "op": "+".join(str(g["opcode"]) for g in group),
                     "layers": [int(g["index"]) for g in group], "kernel": la.get("kernel"),
                     "shape": "x".join(str(d) for d in la["shape"]) if la.get("shape") else None,
                     "macs": macs, "count": count,
                     "per_mac": round(count / macs, 3) if macs else None})
    total = sum(r["count"] for r in rows)
    for r in rows:
        r["share"] = round(r["count"] / total, 4) if total else None
    return rows


def board_profile(fw_dir: Path, result: dict) -> dict[str, Any] | None:
    """The profile block of one board's report entry, or None when the app printed none.

    Reads ``<fw_dir>/student_model.json`` for the layer list (a missing file gives rows without
    operator names).
    """
    profile = result.get("profile")
    if not profile:
        return None
    model_json = fw_dir / "student_model.json"
    layers: list[dict] = []
    if model_json.is_file():
        try:
            layers = json.loads(model_json.read_text()).get("layers") or []
        except json.JSONDecodeError as e:
            logger.warning("%s is not valid JSON (%s): the profile has no layer names", model_json, e)
    rows = layer_rows(layers, profile)
    unit = profile.get("counter") or result.get("counter")
    return {"counter": unit, "hook_overhead": profile.get("hook_overhead"), "rows": rows,
            "total": sum(r["count"] for r in rows),
            "note": ("QEMU counts instructions, not cycles" if unit == "instructions"
                     else "DWT cycles on the board")}


def profile_markdown(board: str, entry: dict) -> list[str]:
    """The report.md section of one board's per-layer profile."""
    from dlink.bench.report import format_table

    prof = entry.get("profile") or {}
    rows = prof.get("rows") or []
    if not rows:
        return []
    unit = prof.get("counter") or "count"
    cols = {**LAYER_COLUMNS, "count": unit, "per_mac": f"{unit} per MAC"}
    backend = entry.get("backend")
    title = f"### Per-layer profile: {board} ({entry.get('core')}" + (
        f", {backend} kernels)" if backend else ")")
    macs = sum(r["macs"] for r in rows)
    total = prof.get("total") or 0
    return ["", title, "", format_table(rows, cols, markdown=True), "",
            f"Total {total:,} {unit} for {macs:,} MACs"
            + (f" ({total / macs:.2f} per MAC)" if macs else "")
            + f"; one profiled inference of the first test vector, the hook's own cost "
              f"({prof.get('hook_overhead')} {unit}) subtracted from each layer. "
            + ("**QEMU counts instructions, not cycles.**" if unit == "instructions"
               else "DWT cycles measured on the board.")]


def plot_profiles(report: dict[str, Any], path: Path) -> str | None:
    """Bar chart: count per layer for every board with a profile (and per MAC on top)."""
    boards = [(b, e) for b, e in (report.get("boards") or {}).items()
              if (e.get("profile") or {}).get("rows")]
    if not boards:
        return None
    from dlink.bench.plots import _plt, _save

    plt = _plt()
    fig, axes = plt.subplots(len(boards), 1, figsize=(10, 3.6 * len(boards)), squeeze=False)
    for ax, (board, e) in zip(axes.flat, boards):
        rows = e["profile"]["rows"]
        unit = e["profile"].get("counter") or "count"
        labels = [f"{r['index']}: {r['op'].replace('_2D', '').replace('DEPTHWISE_CONV', 'DW')}"
                  for r in rows]
        counts = [r["count"] for r in rows]
        bars = ax.bar(range(len(rows)), counts, color="tab:blue")
        for bar, r in zip(bars, rows):
            if r["per_mac"] is not None:
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{r['per_mac']:.2f}",
                        ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(rows)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel(f"{unit} per inference")
        what = "QEMU counts instructions, not cycles" if unit == "instructions" else "DWT cycles"
        ax.set_title(f"{board} ({e.get('core')}, {e.get('backend', '?')} kernels): {unit} per layer "
                     f"(numbers: per MAC; {what})", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)
