"""The bench report: report.json (everything measured) and report.md (tables), plus the headline
table printed by `dlink bench` and at the end of `make demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlink.io import atomic_write_json, atomic_write_text

#: Headline columns: key -> header.
HEADLINE_COLUMNS: dict[str, str] = {
    "model": "model",
    "balanced_accuracy": "bal. acc",
    "balanced_accuracy_ci": "95% CI",
    "kappa": "kappa",
    "params": "params",
    "macs": "MACs",
    "host_latency_ms": "host ms/window",
    "int8_balanced_accuracy": "int8 bal. acc",
    "instructions_per_inference": "instr/inference",
    "board_ms_lower_bound": "board ms (>=)",
    "flash_bytes": "flash B",
    "ram_bytes": "RAM B",
}

#: Runtimes whose accuracy is the student's int8 accuracy, most deployed first.
INT8_PREFERENCE = ("c_host", "tflm_host", "tflite_int8", "ort_int8")

NA = "n/a"


def _measured(entry: dict | None) -> bool:
    return bool(entry) and entry.get("status") == "measured"


def headline_rows(report: dict[str, Any], *, default_board: str | None = "mps2-an386"
                  ) -> list[dict[str, Any]]:
    """Teacher vs student vs baselines (see :data:`HEADLINE_COLUMNS`); None where not measured."""
    rt = report.get("runtimes", {})
    teacher = report.get("teacher", {})
    models = report.get("models", {})
    rows = []
    t_metrics = teacher.get("metrics") or models.get("teacher") or {}
    t_info = models.get("teacher") or {}
    from dlink.distill.honesty import format_ci, teacher_label

    rows.append({
        "model": f"teacher ({teacher_label(t_info)})",
        "balanced_accuracy": t_metrics.get("balanced_accuracy"), "kappa": t_metrics.get("kappa"),
        "balanced_accuracy_ci": format_ci(t_metrics),
        "params": teacher.get("params"), "macs": teacher.get("macs"),
        "host_latency_ms": (teacher.get("latency") or {}).get("median_ms"),
        "int8_balanced_accuracy": None, "instructions_per_inference": None,
        "flash_bytes": None, "ram_bytes": None,
        "source": "measured" if _measured(teacher) else "metrics.json",
    })
    s_float = rt.get("pytorch") if _measured(rt.get("pytorch")) else rt.get("ort_float")
    s_metrics = (s_float or {}).get("metrics") or models.get("student") or {}
    int8_name = next((n for n in INT8_PREFERENCE if _measured(rt.get(n))), None)
    board = (report.get("boards") or {}).get(default_board or "", {})
    board_ok = _measured(board)
    target = report.get("target") or {}
    if target.get("board") == default_board:  # the configured board: its ELF, a same-core count
        board = {"instructions_per_inference": target.get("instructions_per_inference"),
                 "flash_bytes": target.get("flash_bytes"), "ram_bytes": target.get("ram_bytes")}
        board_ok = any(v is not None for v in board.values())
    student = report.get("student", {})
    rows.append({
        "model": "student (DLink MiC)",
        "balanced_accuracy": s_metrics.get("balanced_accuracy"), "kappa": s_metrics.get("kappa"),
        "balanced_accuracy_ci": format_ci(s_metrics),
        "params": student.get("params"), "macs": student.get("macs"),
        "host_latency_ms": ((s_float or {}).get("latency") or {}).get("median_ms"),
        "board_ms_lower_bound": target.get("time_ms_lower_bound") if board_ok else None,
        "int8_balanced_accuracy": rt[int8_name]["metrics"]["balanced_accuracy"] if int8_name else None,
        "int8_runtime": int8_name,
        "host_latency_runtime": (s_float or {}).get("label"),
        "instructions_per_inference": board.get("instructions_per_inference") if board_ok else None,
        "flash_bytes": board.get("flash_bytes") if board_ok else None,
        "ram_bytes": board.get("ram_bytes") if board_ok else None,
        "board": default_board if board_ok else None,
        "source": "measured",
    })
    alone = models.get("student_alone")
    if alone and (report.get("teacher_gate") or {}).get("kept") != "student_alone":
        rows.append({
            "model": "student alone (CE only)",
            "balanced_accuracy": alone.get("balanced_accuracy"), "kappa": alone.get("kappa"),
            "params": alone.get("params"), "macs": alone.get("macs"), "host_latency_ms": None,
            "int8_balanced_accuracy": None, "instructions_per_inference": None,
            "flash_bytes": None, "ram_bytes": None, "source": "metrics.json",
        })
    for name, b in (models.get("baselines") or {}).items():
        rows.append({
            "model": f"baseline: {name}",
            "balanced_accuracy": b.get("balanced_accuracy"), "kappa": b.get("kappa"),
            "balanced_accuracy_ci": format_ci(b),
            "params": b.get("params"), "macs": b.get("macs"), "host_latency_ms": None,
            "int8_balanced_accuracy": None, "instructions_per_inference": None,
            "flash_bytes": None, "ram_bytes": None, "source": "metrics.json",
        })
    return rows


def _fmt(value: Any, key: str = "") -> str:
    if value is None:
        return NA
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if key.endswith("_ms"):
            return f"{value:.3f}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(rows: list[dict[str, Any]], columns: dict[str, str], *, markdown: bool = False) -> str:
    """Rows as an aligned text table (or a Markdown table)."""
    cells = [[_fmt(r.get(k), k) for k in columns] for r in rows]
    headers = list(columns.values())
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda vals: "  ".join(v.ljust(w) if i == 0 else v.rjust(w)  # noqa: E731
                                  for i, (v, w) in enumerate(zip(vals, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def headline_text(report: dict[str, Any], *, markdown: bool = False) -> str:
    """The headline table with a footnote saying where each number comes from."""
    rows = report.get("headline") or headline_rows(report)
    s = next((r for r in rows if r["model"].startswith("student")), {})
    target = report.get("target") or {}
    counted = (f"; instructions counted under QEMU on {target['instructions_from']}"
               if target.get("instructions_from") and target.get("instructions_from") != s.get("board")
               else "")
    n = (report.get("dataset") or {}).get("n")
    notes = [f"host latency: median over {report.get('settings', {}).get('latency_repeats')} "
             f"single-window runs, 1 thread ({s.get('host_latency_runtime') or NA}); int8 accuracy from "
             f"{s.get('int8_runtime') or NA}; instructions/flash/RAM from "
             f"{s.get('board') or 'no measured board'}{counted}."]
    k = len((report.get("dataset") or {}).get("class_names") or [])
    if n:
        chance = f"chance {1 / k:.3f} ({k} classes); " if k else ""
        notes.append(f"test windows: {n}; {chance}95% CI of the balanced accuracy: per-class recalls "
                     "with Jeffreys Beta(k+1/2, n-k+1/2) posteriors, averaged")
    if s.get("board_ms_lower_bound") is not None:
        notes.append(f"board ms (>=): instructions / the board's {target['cpu_hz'] / 1e6:g} MHz clock, a "
                     "lower bound (QEMU counts instructions, not cycles)")
    if not any(r["model"].startswith("baseline") for r in rows):
        notes.append("baselines: none in metrics.json (set distill.baselines, e.g. [eegnet, shallow], "
                     "and rerun `dlink distill`; the seeded comparison with every ablation is "
                     "bench/distill_benchmark.py, see docs/distillation-benchmark.md)")
    gate = report.get("teacher_gate") or {}
    if gate.get("decision"):
        line = f"teacher gate ({gate.get('mode')}): teacher terms {gate['decision']}"
        if gate.get("teacher_val_balanced_accuracy") is not None:
            line += (f"; val balanced accuracy teacher {gate['teacher_val_balanced_accuracy']:.3f}, chance "
                     f"{gate['chance']:.3f}")
        if gate.get("student_alone_val_balanced_accuracy") is not None:
            line += f", student alone {gate['student_alone_val_balanced_accuracy']:.3f}"
        line += f"; kept: {gate.get('kept')}" + (f" ({gate['reason']})" if gate.get("reason") else "")
        notes.append(line)
    for w in report.get("warnings") or []:
        notes.append(f"WARNING: {w}")
    t = next((r for r in rows if r["model"].startswith("teacher")), {})
    ratios = [f"{t[k] / s[k]:.1f}x {label}" for k, label in (("params", "parameters"), ("macs", "MACs"))
              if isinstance(t.get(k), (int, float)) and isinstance(s.get(k), (int, float)) and s[k]]
    if ratios:
        notes.append("teacher/student size: " + ", ".join(ratios))
    speed = report.get("speedup") or {}
    labels = {"pytorch": "student PyTorch", "ort_float": "student onnxruntime float",
              "c_host": "student int8 C on host"}
    timed = [f"{speed[f'teacher_pytorch_over_{n}']:.1f}x vs {lab}" for n, lab in labels.items()
             if f"teacher_pytorch_over_{n}" in speed]
    if timed:
        notes.append("speed-up of the student over the teacher (PyTorch, same run, 1 thread): "
                     + ", ".join(timed))
    sep = "\n\n" if markdown else "\n"
    return format_table(rows, HEADLINE_COLUMNS, markdown=markdown) + sep + ("  \n" if markdown else "\n").join(notes)


def runtime_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, e in (report.get("runtimes") or {}).items():
        m, lat = e.get("metrics") or {}, e.get("latency") or {}
        rows.append({"runtime": e.get("label", name), "precision": e.get("precision"),
                     "status": e.get("status"), "balanced_accuracy": m.get("balanced_accuracy"),
                     "kappa": m.get("kappa"), "f1_weighted": m.get("f1_weighted"),
                     "agreement_with_float": e.get("agreement_with_float"),
                     "median_ms": lat.get("median_ms"), "iqr_ms": lat.get("iqr_ms"),
                     "note": e.get("error") or e.get("command") or ""})
    t = report.get("teacher") or {}
    if t:
        m, lat = t.get("metrics") or {}, t.get("latency") or {}
        rows.append({"runtime": "teacher (PyTorch float)", "precision": "float", "status": t.get("status"),
                     "balanced_accuracy": m.get("balanced_accuracy"), "kappa": m.get("kappa"),
                     "f1_weighted": m.get("f1_weighted"), "agreement_with_float": None,
                     "median_ms": lat.get("median_ms"), "iqr_ms": lat.get("iqr_ms"),
                     "note": t.get("error") or t.get("command") or ""})
    return rows


RUNTIME_COLUMNS = {"runtime": "runtime", "precision": "precision", "status": "status",
                   "balanced_accuracy": "bal. acc", "kappa": "kappa", "f1_weighted": "F1 (w)",
                   "agreement_with_float": "agree w/ float", "median_ms": "median ms",
                   "iqr_ms": "IQR ms", "note": "note"}

BOARD_COLUMNS = {"board": "board", "core": "core", "backend": "kernels", "status": "status",
                 "instructions_per_inference": "instr/inference", "cycles_per_inference": "cycles/inference",
                 "flash_bytes": "flash B", "ram_bytes": "RAM B", "static_ram_bytes": "static (.data+.bss) B",
                 "arena_bytes": "arena B", "stack_peak_bytes": "stack peak B", "vectors_ok": "vectors ok",
                 "note": "note"}


def board_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**(b.get("size") or {}), **b,
             "note": b.get("error") or (b.get("command") if b.get("status") != "measured" else "")}
            for b in (report.get("boards") or {}).values()]


def realtime_text(report: dict[str, Any], *, markdown: bool = False) -> str:
    """The streaming budget table (per board) and a line per board that cannot keep up; "" when the
    run has no streaming front end."""
    rt = report.get("realtime") or {}
    if not rt:
        return ""
    from dlink.firmware.budget import BUDGET_COLUMNS

    rows = rt.get("rows") or []
    notes = ["CPU duty = (front end per frame x ADC rate + model per inference / hop) / clock. QEMU counts "
             "instructions, not cycles, so on emulated boards and boards using their counts it is a lower "
             "bound; a board over 100% cannot keep up with the configured hop."]
    notes += [f"{b}: over 100% of the CPU for the configured hop (real time impossible at its clock)"
              for b in rt.get("over_realtime") or []]
    if rt.get("status") == "not measured":
        cmd = next((r.get("command") for r in rows if r.get("command")), "dlink flash RUN --stream REC")
        notes.append(f"not measured: stream a recording first, e.g. `{cmd}`")
    if rt.get("error"):
        notes.append(f"failed: {rt['error']}")
    sep = "\n\n" if markdown else "\n"
    return format_table(rows, BUDGET_COLUMNS, markdown=markdown) + sep + ("  \n" if markdown else "\n").join(notes)


def to_markdown(report: dict[str, Any]) -> str:
    """report.md: headline, warnings, target board, runtimes, boards, confusion matrices, plots."""
    d = report.get("dataset", {})
    parts = [f"# Bench report: {report.get('run')}", "",
             f"Test windows: {d.get('n')} ({d.get('source')}), {d.get('n_chans')} channels x "
             f"{d.get('n_times')} samples.", "", "## Headline", "", headline_text(report, markdown=True)]
    if report.get("warnings"):
        parts += ["", "## Warnings", ""] + [f"- {w}" for w in report["warnings"]]
    if report.get("data_notes"):
        parts += ["", "## Data left out", ""] + [f"- {w}" for w in report["data_notes"]]
    if report.get("target"):
        from dlink.bench.target import target_text

        parts += ["", "## Target board", "", "```", target_text(report["target"]), "```"]
    parts += ["", "## Runtimes (host)", "", format_table(runtime_rows(report), RUNTIME_COLUMNS, markdown=True),
              "", "## Cortex-M boards", "", format_table(board_rows(report), BOARD_COLUMNS, markdown=True),
              "", "instr/inference: instructions counted by QEMU (`-icount`), mean over the test vectors; "
              "cycles/inference: DWT cycles on a real board. flash: .text + .data of the ELF (test "
              "vectors excluded where the firmware reports them apart); RAM: .data + .bss (the arena "
              "included) + the reserved stack, from the ELF; stack peak: measured by the app."]
    if report.get("realtime"):
        parts += ["", "## Real-time budget (streaming app, per hop)", "", realtime_text(report, markdown=True)]
    from dlink.bench.layer_profile import profile_markdown

    for board, entry in (report.get("boards") or {}).items():
        parts += profile_markdown(board, entry)
    names = d.get("class_names")
    groups: dict[str, tuple[list, list[str]]] = {}  # identical matrices are printed once
    for name, e in (report.get("runtimes") or {}).items():
        conf = (e.get("metrics") or {}).get("confusion")
        if conf:
            groups.setdefault(repr(conf), (conf, []))[1].append(e.get("label", name))
    for conf, labels_rt in groups.values():
        labels = names if names and len(names) == len(conf) else [str(i) for i in range(len(conf))]
        parts += ["", f"### Confusion matrix: {', '.join(labels_rt)} (rows: true, columns: predicted)", "",
                  "| true \\ pred | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]
        parts += [f"| {labels[i]} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(conf)]
    if len(groups) == 1 and sum(len(g[1]) for g in groups.values()) > 1:
        parts += ["", "(one matrix: every runtime above predicted the same classes)"]
    if report.get("plots"):
        parts += ["", "## Plots", ""] + [f"![{p}](plots/{p})" for p in report["plots"]]
    return "\n".join(parts) + "\n"


def clean_json(obj: Any) -> Any:
    """``obj`` with numpy values as Python ones and NaN/inf as None (strict JSON)."""
    import math

    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if hasattr(obj, "tolist"):
        return clean_json(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_report(report: dict[str, Any], bench_dir: str | Path) -> list[Path]:
    """Write report.json and report.md atomically; return their paths."""
    bench_dir = Path(bench_dir)
    return [atomic_write_json(bench_dir / "report.json", clean_json(report)),
            atomic_write_text(bench_dir / "report.md", to_markdown(report))]
