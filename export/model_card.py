"""The model card: what a deployed model expects and where it came from, travelling with it.

``dlink export`` builds it from the run (student.pt, config.yaml, metrics.json and the int8
model's quantisation) and writes it

- as ``RUN/model_card.json`` (plain JSON, no timestamps: the same run gives the same bytes, and a
  bundle can include it as it is) and ``RUN/model_card.md`` (the same, for people);
- into ``metadata_props`` of ``export/student.onnx`` and ``export/student.int8.onnx`` (the whole
  card under ``dlink.model_card``, and the fields a runtime needs as flat keys);

and ``dlink firmware build`` puts it into the generated ``<name>_model.h`` as comments and
``#define``s (:func:`c_header_lines`, :func:`c_defines`).

Fields: channel names in input order, sampling rate, window (length, start relative to the cue,
hop), preprocessing (filters, units), class names in output order, input and output
quantisation, the teacher (architecture, pretrained or trained from scratch) and the data it was
trained on (dataset, recordings, windows per split, what was left out), the test result with its
interval, and the board it was built for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlink.io import atomic_path, atomic_write_json, atomic_write_text

#: Version of the card's layout (bump when a field changes meaning).
SCHEMA = "dlink-model-card/1"
CARD_JSON, CARD_MD = "model_card.json", "model_card.md"
#: The ONNX metadata_props key holding the whole card as JSON.
ONNX_CARD_KEY = "dlink.model_card"


def build_model_card(cfg, meta: dict[str, Any], metrics: dict[str, Any] | None, *,
                     tflm: dict[str, Any] | None = None, tflite_sha256: str | None = None
                     ) -> dict[str, Any]:
    """The card of a run's student (plain JSON types only).

    Parameters
    ----------
    cfg : dlink.schema.Config
        The run's resolved config.
    meta : dict
        student.pt without its weights (:func:`dlink.distill.students.load_student_file`).
    metrics : dict | None
        metrics.json (teacher, student, data, warnings).
    tflm : dict | None
        The export's tflm.json (``input``/``output`` with shape, scale, zero point).
    tflite_sha256 : str | None
        SHA-256 of ``export/student.int8.tflite``.
    """
    from dlink import __version__
    from dlink.data.preprocess import describe_preprocessing

    metrics = metrics or {}
    sfreq = float(meta.get("sfreq") or cfg.data.sfreq_hz)
    n_times = int(meta["n_times"])
    window_s = n_times / sfreq
    teacher = metrics.get("teacher") or {}
    student = metrics.get("student") or {}
    data = metrics.get("data") or {}
    card: dict[str, Any] = {
        "schema": SCHEMA,
        "name": cfg.name,
        "dlink_version": __version__,
        "model": {"arch": meta.get("arch"), "params": student.get("params"), "macs": student.get("macs"),
                  "files": {"onnx": "export/student.onnx", "int8_onnx": "export/student.int8.onnx",
                            "int8_tflite": "export/student.int8.tflite"},
                  "int8_tflite_sha256": tflite_sha256},
        "input": {
            "channels": list(meta.get("ch_names") or []),
            "n_chans": int(meta["n_chans"]),
            "sfreq_hz": sfreq,
            "n_times": n_times,
            "window_s": window_s,
            "tmin_s": float(cfg.data.tmin_s),
            **_hop(cfg, window_s),
            "layout": "float32 (batch, n_chans, n_times); channel order as in 'channels'",
            "units": "100 uV",
        },
        "preprocessing": describe_preprocessing(cfg.data),
        "classes": list(meta.get("class_names") or []),
        "output": "class scores (logits), one per class in the order of 'classes'; argmax is the "
                  "decision",
        "quantization": _quantization(tflm),
        "teacher": {k: teacher.get(k) for k in ("arch", "pretrained", "init", "checkpoint", "params")},
        "training_data": {k: data[k] for k in ("dataset", "path", "recordings", "windows", "classes",
                                               "subjects", "notes") if k in data},
        "evaluation": {
            "test_windows": student.get("n"),
            "student_balanced_accuracy": student.get("balanced_accuracy"),
            "student_balanced_accuracy_ci95": student.get("balanced_accuracy_ci"),
            "teacher_balanced_accuracy": teacher.get("balanced_accuracy"),
            "warnings": list(metrics.get("warnings") or []),
        },
        "board": _board(cfg),
    }
    if data.get("sfreq_hz") and "recordings" in data:
        card["input"]["source_sfreq_hz"] = sorted({r.get("source_sfreq_hz") for r in data["recordings"]
                                                   if r.get("source_sfreq_hz")})
    return json.loads(json.dumps(card, default=str))  # plain JSON types (no numpy, no Paths)


def _hop(cfg, window_s: float) -> dict[str, Any]:
    """Seconds between decisions: the streaming app's hop (causal runs), else the window."""
    if getattr(cfg.data, "preprocessing", "zero_phase") == "causal":
        return {"hop_s": float(cfg.firmware.stream.hop_s),
                "hop_note": "the streaming app decides every hop on the last window (firmware.stream)"}
    return {"hop_s": window_s,
            "hop_note": "one decision per window, no overlap: no streaming hop is configured, so "
                        "an inference must finish within the window"}


def _quantization(tflm: dict[str, Any] | None) -> dict[str, Any]:
    if not tflm:
        return {}
    out = {}
    for role in ("input", "output"):
        t = tflm.get(role) or {}
        out[role] = {"dtype": "int8", "shape": t.get("shape"), "scale": t.get("scale"),
                     "zero_point": t.get("zero_point")}
    out["input"]["formula"] = "q = clamp(round(x / scale) + zero_point, -128, 127), x in 100 uV"
    out["output"]["formula"] = "score = (q - zero_point) * scale"
    return out


def _board(cfg) -> dict[str, Any]:
    from dlink.firmware.boards import get_board

    spec = get_board(cfg.firmware.board)
    return {"name": spec["name"], "core": spec["core"], "cpu_hz": spec.get("cpu_hz"),
            "ram_bytes": spec["ram_bytes"], "flash_bytes": spec["flash_bytes"]}


def to_markdown(card: dict[str, Any]) -> str:
    """``model_card.md``: the card for people."""
    i, p, q = card["input"], card["preprocessing"], card.get("quantization") or {}
    t, e, d = card["teacher"], card["evaluation"], card["training_data"]
    ci = e.get("student_balanced_accuracy_ci95")
    lines = [
        f"# Model card: {card['name']}", "",
        f"Student `{card['model']['arch']}` ({_n(card['model'].get('params'))} parameters, "
        f"{_n(card['model'].get('macs'))} MACs per window), dlink {card['dlink_version']}.", "",
        "## Input", "",
        f"- channels ({i['n_chans']}, in this order): {', '.join(i['channels'])}",
        f"- {i['sfreq_hz']:g} Hz, windows of {i['window_s']:g} s = {i['n_times']} samples, starting "
        f"{i['tmin_s']:g} s after the cue; hop {i['hop_s']:g} s: {i['hop_note']}",
        f"- units: {i['units']}; layout {i['layout']}",
    ]
    if i.get("source_sfreq_hz"):
        lines.append(f"- recordings were at {', '.join(f'{r:g}' for r in i['source_sfreq_hz'])} Hz, "
                     f"resampled to {i['sfreq_hz']:g} Hz")
    lines += ["", "## Preprocessing", "",
              f"- band-pass {p['band_pass_hz'][0]:g}-{p['band_pass_hz'][1]:g} Hz: {p['filter']}",
              f"- notch: {_notch(p)}",
              f"- resampling: {p['resample']}; reference: {p['reference']}; units: {p['units']}",
              "", "## Output", "",
              f"- classes (output order): {', '.join(f'{k} {c}' for k, c in enumerate(card['classes']))}",
              f"- {card['output']}"]
    if q:
        lines += ["", "## Quantisation (int8 TFLite and the generated C)", ""]
        for role in ("input", "output"):
            r = q[role]
            lines.append(f"- {role}: int8 {r['shape']}, scale {r['scale']!r}, zero point "
                         f"{r['zero_point']}: {r['formula']}")
    lines += ["", "## Teacher and data", "",
              f"- teacher: {t.get('arch')}, {t.get('init') or 'initialisation not recorded'}"
              + (f" ({_n(t.get('params'))} parameters)" if t.get("params") else ""),
              f"- dataset: {d.get('dataset')}; windows per split {d.get('windows')}"]
    for r in d.get("recordings") or []:
        where = f"split {r['split']}" if r.get("split") else f"run {r.get('run')}"
        lines.append(f"  - {r.get('file')} (subject {r.get('subject')}, {where}): "
                     f"{r.get('windows')} windows {r.get('events')}, at {r.get('source_sfreq_hz'):g} Hz")
    for n in d.get("notes") or []:
        lines.append(f"- data note: {n}")
    lines += ["", "## Evaluation", "",
              f"- test windows: {e.get('test_windows')}; student balanced accuracy "
              f"{_f(e.get('student_balanced_accuracy'))}"
              + (f", 95% CI [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
              + f"; teacher {_f(e.get('teacher_balanced_accuracy'))}"]
    lines += [f"- warning: {w}" for w in e.get("warnings") or []]
    b = card["board"]
    lines += ["", "## Board", "",
              f"- built for {b['name']} ({b['core']}"
              + (f", {b['cpu_hz'] / 1e6:g} MHz" if b.get("cpu_hz") else "")
              + f", {b['ram_bytes'] // 1024} KiB RAM, {b['flash_bytes'] // 1024} KiB flash)"]
    return "\n".join(lines) + "\n"


def _notch(p: dict[str, Any]) -> str:
    return "none" if p["notch_hz"] is None else f"{p['notch_hz']:g} Hz"


def _n(v) -> str:
    return f"{v:,}" if isinstance(v, int) else "n/a"


def _f(v) -> str:
    return f"{v:.3f}" if isinstance(v, (int, float)) else "n/a"


def write_model_card(card: dict[str, Any], run_dir: str | Path) -> list[Path]:
    """Write ``model_card.json`` and ``model_card.md`` into the run directory (atomically)."""
    run_dir = Path(run_dir)
    return [atomic_write_json(run_dir / CARD_JSON, card),
            atomic_write_text(run_dir / CARD_MD, to_markdown(card))]


def read_model_card(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's model card, or None when it has none (exported before cards existed)."""
    path = Path(run_dir) / CARD_JSON
    return json.loads(path.read_text()) if path.is_file() else None


def onnx_metadata(card: dict[str, Any]) -> dict[str, str]:
    """The ``metadata_props`` of the ONNX files: the card as JSON plus flat keys."""
    i = card["input"]
    p = card["preprocessing"]
    flat = {
        ONNX_CARD_KEY: json.dumps(card, sort_keys=True),
        "dlink.channels": ",".join(i["channels"]),
        "dlink.sfreq_hz": f"{i['sfreq_hz']:g}",
        "dlink.n_times": str(i["n_times"]),
        "dlink.window_s": f"{i['window_s']:g}",
        "dlink.tmin_s": f"{i['tmin_s']:g}",
        "dlink.hop_s": f"{i['hop_s']:g}",
        "dlink.units": i["units"],
        "dlink.band_pass_hz": f"{p['band_pass_hz'][0]:g},{p['band_pass_hz'][1]:g}",
        "dlink.notch_hz": "none" if p["notch_hz"] is None else f"{p['notch_hz']:g}",
        "dlink.classes": ",".join(card["classes"]),
        "dlink.teacher": f"{card['teacher'].get('arch')}: {card['teacher'].get('init')}",
    }
    return flat


def set_onnx_metadata(path: str | Path, metadata: dict[str, str]) -> Path:
    """Replace the ``dlink.*`` entries of an ONNX file's ``metadata_props`` (atomically)."""
    import onnx

    path = Path(path)
    proto = onnx.load(str(path))
    keep = [(p.key, p.value) for p in proto.metadata_props if not p.key.startswith("dlink.")]
    del proto.metadata_props[:]
    for k, v in [*keep, *sorted(metadata.items())]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    return path


def _c_string(s: str) -> str:
    from .codegen.cfmt import c_string  # escapes quotes, backslashes, trigraphs, control bytes

    return c_string(s)


def c_header_lines(card: dict[str, Any]) -> list[str]:
    """Comment lines for the generated header (no ``*/`` inside)."""
    i, p = card["input"], card["preprocessing"]
    q = (card.get("quantization") or {}).get("input") or {}
    t = card["teacher"]
    lines = [
        f"channels ({i['n_chans']}, input order): {' '.join(i['channels'])}",
        f"{i['sfreq_hz']:g} Hz; window {i['window_s']:g} s = {i['n_times']} samples from "
        f"{i['tmin_s']:g} s after the cue; hop {i['hop_s']:g} s",
        f"preprocessing: band-pass {p['band_pass_hz'][0]:g}-{p['band_pass_hz'][1]:g} Hz, notch "
        f"{_notch(p)}, resampled to {i['sfreq_hz']:g} Hz, units {i['units']}",
        f"filter: {p['filter']}",
        f"classes (output order): {' '.join(f'{k}={c}' for k, c in enumerate(card['classes']))}",
    ]
    if q:
        lines.append(f"input int8: q = round(x / {q['scale']!r}) + {q['zero_point']}, x in 100 uV")
    lines.append(f"teacher: {t.get('arch')} ({t.get('init') or 'initialisation not recorded'}); "
                 f"data: {card['training_data'].get('dataset')}, windows {card['training_data'].get('windows')}")
    return [ln.replace("*/", "* /") for ln in lines]


def c_defines(card: dict[str, Any]) -> list[tuple[str, str]]:
    """``(SUFFIX, value)`` pairs, emitted as ``#define <NAME>_<SUFFIX> value``."""
    from .codegen.cfmt import c_float

    i, p = card["input"], card["preprocessing"]
    out = [
        ("N_CHANS", str(i["n_chans"])),
        ("N_TIMES", str(i["n_times"])),
        ("SFREQ_HZ", c_float(i["sfreq_hz"])),
        ("WINDOW_MS", str(int(round(1000 * i["window_s"])))),
        ("TMIN_MS", f"({int(round(1000 * i['tmin_s']))})"),
        ("HOP_MS", str(int(round(1000 * i["hop_s"])))),
        ("N_CLASSES", str(len(card["classes"]))),
        ("CHANNEL_NAMES", "{" + ", ".join(_c_string(c) for c in i["channels"]) + "}"),
        ("CLASS_NAMES", "{" + ", ".join(_c_string(c) for c in card["classes"]) + "}"),
        ("INPUT_UNIT_UV", "100"),
        ("BANDPASS_LOW_HZ", c_float(p["band_pass_hz"][0])),
        ("BANDPASS_HIGH_HZ", c_float(p["band_pass_hz"][1])),
    ]
    if p["notch_hz"] is not None:
        out.append(("NOTCH_HZ", c_float(p["notch_hz"])))
    return out
