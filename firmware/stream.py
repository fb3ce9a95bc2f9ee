"""Replay a recording through the board's streaming app and compare it with the Python reference
(``dlink flash RUN --board B --stream RECORDING``).

1. The run's front end (:func:`dlink.export.codegen.frontend.frontend_spec_for_run`: causal
   preprocessing from the config, channels and window from the student, quantisation and layout
   from the int8 model) is generated as C into ``RUN/firmware/B/stream/``.
2. The recording is checked against it (rate, channel names, units; the board's channels picked by
   name) and converted to ADC counts (:mod:`.stream_input`): a frames file read through
   semihosting under QEMU, or an excerpt embedded in flash (``embed``, and always on real boards).
3. The streaming app (``firmware/app/stream.c``) is built with the generated model C of
   ``dlink firmware build`` and run: QEMU (``-icount shift=0``: instructions) or the real board
   over its UART (cycles). It prints a ``DLINK_DECISION`` line per hop.
4. The Python reference runs the same counts through the Python model of the front end's
   arithmetic (:mod:`dlink.export.codegen.frontend_model`) and the int8 model through the
   TFLite-Micro interpreter; the two are compared hop by hop (class, int8 output, window and
   front-end checksums) and on the first model-rate samples in full (float bits).
5. ``stream/stream.json`` (summary, first disagreement, budget), ``stream/decisions.jsonl``
   (device and reference per hop) and the stamp ``stream-B`` are written.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_write_json, atomic_write_text
from dlink.rundir import RunDir

from .boards import BOARDS_DIR, get_board

logger = logging.getLogger(__name__)

DECISION_PREFIX = "DLINK_DECISION "
FRONTEND_PREFIX = "DLINK_FRONTEND "
STREAM_RESULT_PREFIX = "DLINK_STREAM_RESULT "
STREAM_ERROR_PREFIX = "DLINK_STREAM_ERROR "
FRAMES_FILE = "dlink_stream.bin"
#: Model-rate samples printed in full (float bits) for the front-end comparison.
DEFAULT_DUMP_SAMPLES = 32
#: Probabilities are printed x 10^4 after a float32 softmax: allowed difference to float64.
PROB_TOLERANCE_E4 = 2


def stream_app_sources(board: str, *, embed: bool) -> list[Path]:
    """The streaming app's C files for ``board`` (app, stream source, the shared app helpers, board support)."""
    from .build import APP_DIR, board_sources

    app_c, _ = board_sources(board)
    board_c = [c for c in app_c if Path(c).name != "main.c"]
    source = "stream_source_excerpt.c" if embed else "stream_source_semihost.c"
    return [APP_DIR / "stream.c", APP_DIR / "stream_source_header.c", APP_DIR / source, *board_c]


def build_stream_app(run: RunDir, board: str, spec, *, counts: np.ndarray | None = None,
                     dump_samples: int = DEFAULT_DUMP_SAMPLES) -> dict[str, Any]:
    """Generate the front end and build ``RUN/firmware/<board>/stream/app.elf``.

    ``counts`` (n_frames, n_chans) embeds an excerpt in flash; None reads the frames file through
    semihosting (QEMU boards only).
    """
    from dlink.export.codegen.frontend import generate_frontend

    from . import runtime_sources
    from .build import APP_DIR, MODEL_NAME, compile_app, load_firmware_config, resolve_backend
    from .stream_input import excerpt_source

    spec_board = get_board(board)
    if counts is None and not spec_board["qemu_machine"]:
        raise ValueError(f"{board} has no host to read a frames file from: embed an excerpt "
                         f"(`--embed`, the default for real boards).")
    fw = run.firmware_dir(board)
    model_c = run.require_file(fw / f"{MODEL_NAME}_model.c", stage=f"firmware-{board}")
    out = fw / "stream"
    out.mkdir(parents=True, exist_ok=True)
    sha = ""
    report = fw / f"{MODEL_NAME}_model.json"
    if report.is_file():
        sha = json.loads(report.read_text()).get("model_sha256", "")
    gen = generate_frontend(spec, out, name=MODEL_NAME, model_sha256=sha)
    c_files = [*stream_app_sources(board, embed=counts is not None), model_c, *gen["c_files"]]
    if counts is not None:
        excerpt = atomic_write_text(out / "stream_excerpt.c", excerpt_source(counts, spec, banner=f"board {board}"))
        c_files.append(excerpt)
    cfg = load_firmware_config(run)
    backend = resolve_backend(cfg.backend, board)
    rt_c, rt_inc = runtime_sources(backend)
    outputs = compile_app(out, board, c_files=[*c_files, *rt_c],
                          include_dirs=[BOARDS_DIR / "include", APP_DIR, out, fw, *rt_inc],
                          opt_level=cfg.opt_level, stack_bytes=cfg.stack_bytes,
                          defines=[f"DLK_STREAM_DUMP_SAMPLES={int(dump_samples)}u"])
    return {**outputs, "frontend": gen, "backend": backend, "embedded": counts is not None}


def parse_stream_output(output: str, *, source: str) -> dict[str, Any]:
    """The decision, front-end and result lines of the streaming app's output.

    Raises
    ------
    FirmwareRunError
        No result line (the app could not open its source, faulted or was cut short).
    """
    from .flash import FAULT_PREFIX, FirmwareRunError

    decisions, dumps, result = [], [], None
    for ln in output.splitlines():
        ln = ln.strip()
        for prefix, sink in ((DECISION_PREFIX, decisions), (FRONTEND_PREFIX, dumps)):
            if ln.startswith(prefix):
                sink.append(json.loads(ln[len(prefix):]))
        if ln.startswith(STREAM_RESULT_PREFIX):
            result = json.loads(ln[len(STREAM_RESULT_PREFIX):])
        if ln.startswith(STREAM_ERROR_PREFIX):
            err = json.loads(ln[len(STREAM_ERROR_PREFIX):])
            raise FirmwareRunError(f"the streaming app on {source} could not read its frames "
                                   f"({err.get('source')}): {err.get('error')}.")
    if result is None:
        lines = [ln for ln in output.splitlines() if ln.strip()]
        fault = next((ln for ln in lines if ln.startswith(FAULT_PREFIX)), None)
        raise FirmwareRunError(f"no {STREAM_RESULT_PREFIX.strip()} line from {source} after "
                               f"{len(decisions)} decision(s)" + (f"; the app faulted: {fault!r}" if fault
                                                                  else f" (last output: {lines[-3:]!r})"))
    return {"decisions": decisions, "dumps": dumps, "result": result}


def reference_decisions(spec, counts: np.ndarray, tflite: Path) -> dict[str, Any]:
    """The Python reference of the stream: the front end's model and TFLite-Micro per hop."""
    from dlink.export.codegen.frontend_model import run_frontend, softmax_from_int8
    from dlink.export.tflm_reference import run_tflm

    trace = run_frontend(spec, counts)
    windows = trace.windows()
    outputs = run_tflm(tflite.read_bytes(), windows).reshape(len(windows), -1) if len(windows) else \
        np.zeros((0, len(spec.class_names)), np.int8)
    probs = softmax_from_int8(outputs, spec.output_scale, spec.output_zero_point,
                              is_probability=spec.output_is_probability)
    return {"trace": trace, "outputs": outputs, "classes": outputs.argmax(axis=1) if len(outputs) else
            np.zeros(0, np.int64), "probabilities": probs,
            "window_checksums": trace.window_checksums(), "frontend_checksums": trace.output_checksums()}


def compare(device: dict[str, Any], ref: dict[str, Any], spec) -> dict[str, Any]:
    """Hop-by-hop agreement of the device's decisions with the reference, and the front end's
    dumped samples against the reference's float bits."""
    decs = device["decisions"]
    n_ref = len(ref["classes"])
    rows, first = [], None
    f_in = spec.design.input_sfreq_hz
    for k in range(max(len(decs), n_ref)):
        d = decs[k] if k < len(decs) else None
        row: dict[str, Any] = {"hop": k}
        if k < n_ref:
            row["reference"] = {
                "frame": int(ref["trace"].decision_frames[k]), "samples": int(ref["trace"].decision_samples[k]),
                "class": int(ref["classes"][k]), "output": ref["outputs"][k].astype(int).tolist(),
                "prob_e4": np.round(1e4 * ref["probabilities"][k]).astype(int).tolist(),
                "window_checksum": ref["window_checksums"][k], "frontend_checksum": ref["frontend_checksums"][k]}
        if d is not None:
            row["device"] = {key: d.get(key) for key in ("frame", "samples", "class", "output", "prob_e4",
                                                          "window_checksum", "frontend_checksum", "status")}
        diffs = []
        if d is None or k >= n_ref:
            diffs.append("missing on the device" if d is None else "missing in the reference")
        else:
            r = row["reference"]
            for key in ("frame", "samples", "frontend_checksum", "window_checksum", "output", "class"):
                if d.get(key) != r[key]:
                    diffs.append(key)
            prob_diff = max((abs(a - b) for a, b in zip(d.get("prob_e4") or [], r["prob_e4"])), default=0)
            row["prob_max_diff_e4"] = prob_diff
            if prob_diff > PROB_TOLERANCE_E4:
                diffs.append("prob_e4")
        row["agree_class"] = bool(d is not None and k < n_ref and d.get("class") == int(ref["classes"][k]))
        row["identical"] = not diffs
        row["differs_in"] = diffs
        if d is not None:
            row["time_s"] = (int(d["frame"]) + 1) / f_in
        rows.append(row)
        if diffs and first is None:
            first = {"hop": k, "differs_in": diffs, "time_s": row.get("time_s"),
                     "device": row.get("device"), "reference": row.get("reference")}
    n = len(rows)
    dumps = _compare_dumps(device["dumps"], ref["trace"])
    return {
        "hops": n, "device_hops": len(decs), "reference_hops": n_ref,
        "class_agreement": sum(r["agree_class"] for r in rows) / n if n else None,
        "identical_hops": sum(r["identical"] for r in rows), "first_disagreement": first,
        "frontend_checksums_equal": sum(1 for r in rows if "device" in r and "reference" in r and
                                        r["device"]["frontend_checksum"] == r["reference"]["frontend_checksum"]),
        "window_checksums_equal": sum(1 for r in rows if "device" in r and "reference" in r and
                                      r["device"]["window_checksum"] == r["reference"]["window_checksum"]),
        "max_prob_diff_e4": max((r.get("prob_max_diff_e4", 0) for r in rows), default=0),
        "frontend_samples": dumps, "rows": rows,
    }


def _compare_dumps(dumps: list[dict], trace) -> dict[str, Any]:
    """The device's dumped float bits against the reference's outputs, value by value."""
    dev_bits, ref_vals, dev_vals = [], [], []
    for line in dumps:
        m, c0, bits = int(line["sample"]), int(line["channel"]), line["bits"]
        if m >= trace.outputs.shape[1]:
            continue
        ref = trace.outputs[c0:c0 + len(bits), m]
        b = np.asarray(bits, np.uint32)
        dev_bits.append(b == ref.view(np.uint32))
        dev_vals.append(b.view(np.float32))
        ref_vals.append(ref)
    if not dev_bits:
        return {"n_values": 0}
    same = np.concatenate(dev_bits)
    dv, rv = np.concatenate(dev_vals).astype(np.float64), np.concatenate(ref_vals).astype(np.float64)
    return {"n_values": int(same.size), "n_samples": len({int(d["sample"]) for d in dumps}),
            "bit_identical": int(same.sum()), "max_abs_diff": float(np.max(np.abs(dv - rv))),
            "unit": "100 uV (model units, before int8 quantisation)"}


def _qemu_stream(board: str, elf: Path, cwd: Path, *, timeout_s: float) -> tuple[int, str, float]:
    from .flash import FirmwareRunError, qemu_command

    cmd = qemu_command(board, elf)
    logger.info("running %s (in %s)", " ".join(cmd), cwd)
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=cwd,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise FirmwareRunError(f"QEMU ({board}) did not finish streaming within {timeout_s:g} s; pass "
                               f"a longer --timeout, or fewer --seconds of the recording.") from None
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def stream(run_dir: str | Path, recording: str | Path, board: str | None = None, *,
           embed: bool = False, max_seconds: float | None = None, timeout_s: float | None = None,
           serial: str | None = None, dump_samples: int = DEFAULT_DUMP_SAMPLES) -> dict[str, Any]:
    """Stream ``recording`` through the board's app and compare with the Python reference.

    Parameters
    ----------
    run_dir : str | Path
        A run with causal preprocessing whose app was built (``dlink firmware build``).
    recording : str | Path
        EDF/BDF/GDF recording at the board's ADC rate with (at least) the board's channels.
    board : str | None
        Default: the run's ``firmware.board``.
    embed : bool
        Embed the frames in flash instead of reading them through semihosting (always for real boards).
    max_seconds : float | None
        Stream only the first seconds of the recording.
    timeout_s : float | None
        QEMU or serial time-out (default: from the number of hops).
    serial : str | None
        Real boards: the serial port of the board's UART.
    dump_samples : int
        Model-rate samples printed in full by the app for the front-end comparison.

    Returns
    -------
    dict
        What ``stream/stream.json`` holds (without the per-hop rows, which go to decisions.jsonl).
    """
    from dlink.export.codegen.frontend import frontend_spec_for_run

    from .budget import budget
    from .build import load_firmware_config
    from .flash import _require_firmware, flash_and_read
    from .stream_input import recording_frames, write_frames

    run = RunDir(run_dir)
    cfg = load_firmware_config(run)
    board = board or cfg.board
    spec_board = get_board(board)
    _require_firmware(run, board)
    spec = frontend_spec_for_run(run.path)
    run.invalidate(f"stream-{board}")  # written again at the end
    counts, rec = recording_frames(recording, spec, max_seconds=max_seconds)
    embed = embed or not spec_board["qemu_machine"]
    built = build_stream_app(run, board, spec, counts=counts if embed else None, dump_samples=dump_samples)
    out = built["elf"].parent
    frames_path = write_frames(out / FRAMES_FILE, counts, spec) if not embed else None
    n_hops = max(0, (int(len(counts) * spec.design.up / spec.design.down) - spec.first_decision_samples())
                 // spec.hop_samples + 1)
    t_limit = float(timeout_s or (cfg.qemu_timeout_s + 2.0 * n_hops + len(counts) / 2000.0))
    if spec_board["qemu_machine"]:
        status, output, wall_s = _qemu_stream(board, built["elf"].resolve(), out.resolve(),
                                              timeout_s=t_limit)
        how = {"source": "qemu", "exit_status": status, "qemu_wall_s": round(wall_s, 3)}
    else:
        output = flash_and_read(built["hex"], spec_board, serial=serial, baud=cfg.serial_baud,
                                timeout_s=t_limit, result_prefix=STREAM_RESULT_PREFIX)
        how = {"source": "serial", "serial": serial, "exit_status": None}
    device = parse_stream_output(output, source=f"{board} ({how['source']})")
    tflite = run.require_file(run.export_dir / "student.int8.tflite", stage="export")
    ref = reference_decisions(spec, counts[:int(device["result"]["frames"])], tflite)
    cmp = compare(device, ref, spec)
    bud = budget(device["result"], board=board, input_sfreq_hz=spec.design.input_sfreq_hz,
                 hop_s=spec.hop_samples / spec.design.output_sfreq_hz)
    summary = {
        "board": board, "recording": rec, "embedded": embed, **how,
        "frontend": spec.summary(), "device": device["result"], "budget": bud,
        "comparison": {k: v for k, v in cmp.items() if k != "rows"},
        "frames_file": str(frames_path) if frames_path else None,
        "files": {"stream_json": str(out / "stream.json"), "decisions": str(out / "decisions.jsonl")},
    }
    fw = run.firmware_dir(board)
    decisions_path = atomic_write_text(out / "decisions.jsonl",
                                       "".join(json.dumps(r) + "\n" for r in cmp["rows"]))
    stream_json = atomic_write_json(out / "stream.json", summary)
    run.write_stamp(f"stream-{board}", inputs=[built["elf"], Path(recording).resolve()],
                    outputs=[stream_json, decisions_path],
                    extra={"board": board, "hops": cmp["hops"], "identical_hops": cmp["identical_hops"]})
    logger.info("%s: %d/%d hops identical to the reference", fw, cmp["identical_hops"], cmp["hops"])
    return summary
