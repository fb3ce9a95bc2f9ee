"""The board the run was built for (``firmware.board``): what the report's headline is about.

For that board the report gives

- flash and RAM from its own linked ELF (``size.json`` of ``dlink firmware build``), against its
  memory, with the fit status (:func:`dlink.firmware.fit.memory_fit`);
- instructions per inference: its own count when it runs under QEMU; for a real board that has
  not been run over serial, the count of an emulated board with the same core and the same
  kernel backend (the same compiler flags and the same generated code: for the nRF52840, the
  Cortex-M4 mps2-an386); cycles when a real board reported them;
- the time per inference at the board's clock, ``instructions / cpu_hz``, beside the time
  between decisions it must keep up with (the hop; without a streaming hop, the window). It is a
  LOWER BOUND: QEMU counts instructions, not cycles, and a Cortex-M4 needs more than one cycle
  for loads, multiplies and branches, plus flash wait states at 64 MHz.
"""

from __future__ import annotations

from typing import Any


def _spec(board: str) -> dict[str, Any]:
    try:
        from dlink.firmware.boards import get_board

        return get_board(board)
    except (ImportError, ValueError):
        return {}


def twin_board(board: str, boards: dict[str, dict[str, Any]], backend: str | None) -> str | None:
    """A measured emulated board with ``board``'s core (and ``backend``, when known)."""
    core = _spec(board).get("core")
    for name, entry in boards.items():
        spec = _spec(name)
        if (name != board and spec.get("qemu_machine") and spec.get("core") == core
                and entry.get("status") == "measured" and entry.get("instructions_per_inference")
                and (backend is None or (entry.get("size") or {}).get("backend") in (None, backend))):
            return name
    return None


def target_summary(report: dict[str, Any], board: str, *, warn_percent: float = 90.0
                   ) -> dict[str, Any]:
    """Flash, RAM, fit, instructions and time per inference of the student on ``board``.

    Parameters
    ----------
    report : dict
        The bench report so far (``boards``, ``dataset`` with ``n_times`` and ``sfreq``).
    board : str
        The run's ``firmware.board``.
    warn_percent : float
        ``firmware.memory_warn_percent``.

    Returns
    -------
    dict
        ``board``, ``core``, ``cpu_hz``, ``flash_bytes``, ``image_bytes``, ``ram_bytes``,
        ``fit`` (or None before a build), ``instructions_per_inference`` and
        ``instructions_from`` (the board that counted them), ``cycles_per_inference``,
        ``time_ms_lower_bound``, ``deadline_s`` and ``deadline_is`` ("hop" or "window"),
        ``duty_cycle_lower_bound``, ``notes``.
    """
    spec = _spec(board)
    boards = report.get("boards") or {}
    entry = boards.get(board) or {}
    size = entry.get("size") or {}
    out: dict[str, Any] = {"board": board, "core": spec.get("core"), "cpu_hz": spec.get("cpu_hz"),
                           "status": entry.get("status", "not measured"), "notes": []}
    for k in ("flash_bytes", "image_bytes", "ram_bytes", "arena_bytes", "backend",
              "test_vectors_embedded"):
        out[k] = entry.get(k, size.get(k))
    out["fit"] = None
    if out["ram_bytes"] is not None and (out["image_bytes"] or out["flash_bytes"]) is not None and spec:
        from dlink.firmware.fit import memory_fit

        out["fit"] = memory_fit(board, ram_bytes=out["ram_bytes"],
                                flash_bytes=out["image_bytes"] or out["flash_bytes"],
                                warn_percent=warn_percent, what="the app")
    else:
        out["notes"].append(f"no build for {board}: run `dlink firmware build RUN --board {board}`")
    instr, source = None, None
    if entry.get("status") == "measured" and entry.get("instructions_per_inference"):
        instr, source = entry["instructions_per_inference"], board
    elif spec:
        twin = twin_board(board, boards, out["backend"])
        if twin:
            instr, source = boards[twin]["instructions_per_inference"], twin
            out["notes"].append(f"instructions counted under QEMU on {twin} ({spec.get('core')}, the "
                                f"same core and {out['backend'] or 'the same'} kernels as {board})")
        else:
            out["notes"].append(f"no instruction count: run the same core under QEMU (e.g. `dlink "
                                f"firmware build RUN --board mps2-an386 && dlink flash RUN --board "
                                f"mps2-an386`) or {board} itself over serial")
    out["instructions_per_inference"], out["instructions_from"] = instr, source
    out["cycles_per_inference"] = entry.get("cycles_per_inference")
    ds = report.get("dataset") or {}
    window_s = (ds["n_times"] / ds["sfreq"]) if ds.get("n_times") and ds.get("sfreq") else None
    hop_s = ds.get("hop_s")
    out["deadline_s"], out["deadline_is"] = (hop_s, "hop") if hop_s else (window_s, "window")
    out["time_ms_lower_bound"] = out["duty_cycle_lower_bound"] = None
    cpu_hz = spec.get("cpu_hz")
    if out["cycles_per_inference"] and cpu_hz:
        out["time_ms"] = 1e3 * out["cycles_per_inference"] / cpu_hz
    if instr and cpu_hz:
        out["time_ms_lower_bound"] = 1e3 * instr / cpu_hz
        if out["deadline_s"]:
            out["duty_cycle_lower_bound"] = out["time_ms_lower_bound"] / (1e3 * out["deadline_s"])
    elif instr:
        out["notes"].append(f"{board} has no clock in dlink.firmware.boards: no time per inference")
    return out


def target_text(t: dict[str, Any]) -> str:
    """The target board as a few lines for the console and report.md."""
    from dlink.firmware.fit import describe_fit

    clock = f", {t['cpu_hz'] / 1e6:g} MHz" if t.get("cpu_hz") else ""
    lines = [f"built for {t['board']} ({t.get('core')}{clock})"
             + (f": {describe_fit(t['fit'])}" if t.get("fit") else "")]
    if t.get("fit") and t.get("test_vectors_embedded") and t.get("image_bytes") != t.get("flash_bytes"):
        lines.append(f"  flash includes the embedded test vectors; the app alone is {t['flash_bytes']:,} B "
                     "(deployment build: `dlink firmware build RUN --no-test-vectors`)")
    lines += [f"  {m}" for m in (t.get("fit") or {}).get("messages", [])]
    if t.get("instructions_per_inference"):
        lines.append(f"  {t['instructions_per_inference'] / 1e6:.2f} M instructions per inference "
                     f"(QEMU on {t['instructions_from']})")
    if t.get("time_ms_lower_bound") is not None:
        dl = t.get("deadline_s")
        keep = (f" per {dl:g}-s {t['deadline_is']}: at least {100 * t['duty_cycle_lower_bound']:.1f}% "
                "of real time" if dl else "")
        lines.append(f"  >= {t['time_ms_lower_bound']:.1f} ms per inference at {t['cpu_hz'] / 1e6:g} MHz"
                     f"{keep} (a lower bound: QEMU counts instructions, not cycles)")
        if t.get("duty_cycle_lower_bound") and t["duty_cycle_lower_bound"] >= 1.0:
            lines.append(f"  cannot keep up: even the lower bound exceeds the {t['deadline_is']}")
    if t.get("time_ms") is not None:
        lines.append(f"  {t['time_ms']:.1f} ms per inference measured on the board (DWT cycles)")
    lines += [f"  note: {n}" for n in t.get("notes") or []]
    return "\n".join(lines)
