"""The real-time budget of the streaming app on each board, from its measured instruction counts.

Per hop the board must run the front end on every ADC frame and the model once. From a stream run
(``RUN/firmware/<board>/stream/stream.json``, written by ``dlink flash RUN --stream RECORDING``):

- front end: counts per ADC frame (all channels) and per channel-sample;
- model: counts per inference;
- CPU duty cycle at the board's clock: ``(frontend per frame * ADC rate + model per inference /
  hop_s) / cpu_hz``. Under QEMU the counts are instructions, not cycles; an instruction takes at
  least one cycle on these cores, so the duty cycle is a lower bound (> 100 %: the board cannot
  keep up with the configured hop, whatever its memory system does);
- RAM of the front end (window, hop buffer, filter state, resampler history).

A real board without its own stream run borrows the counts of an emulated board with the same
core (the nRF52840's Cortex-M4 from mps2-an386), which says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .boards import BOARDS

#: Columns of the budget table: key -> header.
BUDGET_COLUMNS = {
    "board": "board", "cpu_mhz": "clock MHz", "counts_from": "counts from",
    "frontend_per_sample": "front end / channel-sample", "frontend_per_frame": "front end / frame",
    "model_per_inference": "model / inference", "hop_s": "hop s", "duty_cycle_percent": "CPU duty %",
    "verdict": "real time", "frontend_ram_bytes": "front-end RAM B",
}


def budget(result: dict[str, Any], *, board: str, input_sfreq_hz: float, hop_s: float,
           counts_from: str | None = None) -> dict[str, Any]:
    """The budget of ``board`` from a stream result line (``DLINK_STREAM_RESULT`` fields).

    Parameters
    ----------
    result : dict
        ``counter``, ``frames``, ``decisions``, ``n_chans``, ``frontend_<unit>_total``,
        ``model_<unit>_total``, ``model_<unit>_max``, ``frontend_ram_bytes``.
    board : str
        The board whose clock the counts are set against.
    input_sfreq_hz, hop_s : float
        ADC rate and hop.
    counts_from : str | None
        The board that measured the counts, when not ``board`` itself.

    Examples
    --------
    >>> r = {"counter": "instructions", "frames": 160, "decisions": 2, "n_chans": 8,
    ...      "frontend_instructions_total": 160000, "model_instructions_total": 2000000,
    ...      "model_instructions_max": 1000000, "frontend_ram_bytes": 7000}
    >>> round(budget(r, board="nrf52840", input_sfreq_hz=160, hop_s=0.5)["duty_cycle_percent"], 1)
    3.4
    """
    unit = result["counter"]
    cpu_hz = BOARDS[board].get("cpu_hz")
    frames, decisions = int(result["frames"]), int(result["decisions"])
    fe_frame = result[f"frontend_{unit}_total"] / frames if frames else None
    model = result[f"model_{unit}_total"] / decisions if decisions else None
    out: dict[str, Any] = {
        "board": board, "core": BOARDS[board]["core"], "cpu_hz": cpu_hz,
        "cpu_mhz": cpu_hz / 1e6 if cpu_hz else None, "counter": unit,
        "counts_from": counts_from or board, "frames": frames, "decisions": decisions,
        "input_sfreq_hz": input_sfreq_hz, "hop_s": hop_s, "n_chans": int(result["n_chans"]),
        "frontend_per_frame": fe_frame,
        "frontend_per_sample": fe_frame / int(result["n_chans"]) if fe_frame is not None else None,
        "model_per_inference": model, "model_max": result.get(f"model_{unit}_max"),
        "frontend_ram_bytes": result.get("frontend_ram_bytes"),
        "bound": "lower bound (QEMU counts instructions, >= 1 cycle each)" if unit == "instructions"
        else "measured cycles",
    }
    if cpu_hz and fe_frame is not None and model is not None:
        fe_per_s = fe_frame * input_sfreq_hz
        model_per_s = model / hop_s
        duty = (fe_per_s + model_per_s) / cpu_hz
        out.update(frontend_duty_percent=100 * fe_per_s / cpu_hz, model_duty_percent=100 * model_per_s / cpu_hz,
                   duty_cycle_percent=100 * duty,
                   model_latency_s=(out["model_max"] or model) / cpu_hz,
                   over_realtime=duty > 1.0)
        prefix = ">= " if unit == "instructions" else ""
        out["verdict"] = (f"NO: {prefix}{100 * duty:.0f}% of the CPU for a {hop_s:g}-s hop" if duty > 1.0
                          else f"yes ({prefix}{100 * duty:.0f}%)")
    else:
        out.update(duty_cycle_percent=None, over_realtime=None, verdict="no clock for this board")
    return out


def read_stream_result(run_dir: str | Path, board: str) -> dict[str, Any] | None:
    """``RUN/firmware/<board>/stream/stream.json`` if the board has streamed, else None."""
    p = Path(run_dir) / "firmware" / board / "stream" / "stream.json"
    if not p.is_file():
        return None
    return json.loads(p.read_text())


def budget_rows(run_dir: str | Path, boards: list[str] | None = None) -> list[dict[str, Any]]:
    """One budget row per board (every board in BOARDS by default); boards without counts of their
    own or of a same-core emulated board are "not measured" with the command that measures them."""
    boards = list(boards or BOARDS)
    streams = {b: read_stream_result(run_dir, b) for b in BOARDS}
    rows = []
    for board in boards:
        own = streams.get(board)
        source = board if own else next(
            (b for b, s in streams.items() if s and BOARDS[b]["core"] == BOARDS[board]["core"]
             and BOARDS[b]["qemu_machine"]), None)
        s = streams.get(source) if source else None
        if s is None:
            rows.append({"board": board, "core": BOARDS[board]["core"], "status": "not measured",
                         "verdict": "not measured",
                         "command": f"dlink flash {run_dir} --board {board} --stream RECORDING"})
            continue
        row = budget(s["device"], board=board, input_sfreq_hz=s["frontend"]["design"]["input_sfreq_hz"],
                     hop_s=s["frontend"]["hop_s"], counts_from=None if source == board else source)
        row["status"] = "measured" if source == board else f"counts of {source} (same core)"
        row["recording"] = s.get("recording", {}).get("file")
        rows.append(row)
    return rows
