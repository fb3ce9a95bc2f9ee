"""Cortex-M measurements per board: instructions (QEMU) or cycles (real board), flash and RAM.

For each board the bench reads ``RUN/firmware/<board>/run.json`` (written by ``dlink flash``) and
``size.json`` (written by ``dlink firmware build``, from the ELF). A board whose app was built but
not run (or whose run is stale) is run; with ``build=True`` a board that was not built is built and
run. A board with nothing to read is reported as "not measured" with the commands that measure it;
nothing is estimated.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from dlink.rundir import RunDir, StageError

logger = logging.getLogger(__name__)

#: Fields copied from run.json / size.json into the report (when present).
RUN_FIELDS = ("board", "core", "matched", "total", "instructions_per_inference",
              "cycles_per_inference", "stack_peak_bytes", "arena_bytes", "flash_bytes", "ram_bytes")
SIZE_FIELDS = ("flash_bytes", "ram_bytes", "text", "data", "bss", "arena_bytes", "image_bytes",
               "backend", "test_vectors_embedded")


def commands_for(run: RunDir, board: str, *, serial: str | None = None) -> str:
    """The commands that produce a board's measurements."""
    flash = f"dlink flash {run.path} --board {board}" + (f" --serial {serial}" if serial else "")
    return f"dlink firmware build {run.path} --board {board} && {flash}"


def _board_spec(board: str) -> dict:
    try:
        from dlink.firmware.boards import BOARDS
    except ImportError:
        return {}
    return dict(BOARDS.get(board) or {})


def board_core(board: str) -> str | None:
    """The board's core from :data:`dlink.firmware.boards.BOARDS`, or None if unknown."""
    return _board_spec(board).get("core")


def is_real_board(board: str) -> bool:
    """True for a board that runs on hardware (no QEMU machine): it needs ``--serial``."""
    spec = _board_spec(board)
    return bool(spec) and not spec.get("qemu_machine")


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{str(path)!r} is not valid JSON ({e}); rerun the stage that writes it.") from None


def _run_is_stale(run: RunDir, board: str) -> bool:
    if not run.stamp_path(f"flash-{board}").is_file():
        return False
    try:
        run.require_stage(f"flash-{board}", board=board, needed_by="dlink bench")
    except StageError as e:
        logger.info("%s", e)
        return True
    return False


def measure_board(run: RunDir, board: str, *, build: bool = False,
                  serial: str | None = None) -> dict[str, Any]:
    """Measurements of one board, running what is missing (see the module docstring).

    Returns
    -------
    dict
        ``status`` is "measured", "not measured" (with ``command``) or "failed" (with ``error``
        and ``command``); measured entries carry the fields of run.json and size.json, plus
        ``static_ram_bytes`` (.data + .bss) when size.json has them.
    """
    fw = run.firmware_dir(board)
    entry: dict[str, Any] = {"board": board, "core": board_core(board)}
    real = is_real_board(board)
    cmd = commands_for(run, board, serial=serial or ("PORT" if real else None))
    has_elf = (fw / "app.elf").is_file()
    needs_run = serial is not None or not (fw / "run.json").is_file() or _run_is_stale(run, board)
    if real and serial is None:  # hardware: only with a serial port (`dlink bench --serial PORT`)
        needs_run, build = False, False
    try:
        if build and (not has_elf or serial is not None or needs_run):
            from dlink.firmware.build import build_firmware

            logger.info("building the firmware for %s", board)
            build_firmware(run.path, board)
            has_elf = True
        if needs_run and has_elf:
            from dlink.firmware.flash import flash

            logger.info("running the firmware on %s%s", board, f" over {serial}" if serial else "")
            flash(run.path, board, serial=serial)
    except Exception as e:  # a board that fails must not hide the others
        logger.warning("board %s failed: %s", board, e)
        return {**entry, "status": "failed", "error": f"{type(e).__name__}: {e}", "command": cmd}
    result = _read_json(fw / "run.json")
    size = _read_json(fw / "size.json")
    if result is None:
        return {**entry, "status": "not measured", "command": cmd,
                **({"size": {k: size[k] for k in SIZE_FIELDS if k in size}} if size else {})}
    entry.update({k: result[k] for k in RUN_FIELDS if k in result and result[k] is not None})
    if size:
        for k in SIZE_FIELDS:
            if k in size and k not in entry:
                entry[k] = size[k]
        entry["size"] = {k: size[k] for k in SIZE_FIELDS if k in size}
        if "data" in size and "bss" in size:
            entry["static_ram_bytes"] = int(size["data"]) + int(size["bss"])
    from dlink.bench.layer_profile import board_profile

    profile = board_profile(fw, result)
    if profile is not None:
        entry["profile"] = profile
    entry["status"] = "measured"
    entry["source"] = "serial" if serial else "qemu"
    if entry.get("matched") is not None and entry.get("total"):
        entry["vectors_ok"] = bool(entry["matched"] == entry["total"])
    return entry


def built_boards(run: RunDir) -> list[str]:
    """Boards that have a firmware folder in the run."""
    root = run.path / "firmware"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def measure_boards(run: RunDir, boards: list[str], *, build: bool = False,
                   serial: str | None = None, serial_board: str | None = None,
                   progress: Any = None) -> dict[str, dict[str, Any]]:
    """:func:`measure_board` for each of ``boards`` (and ``serial_board`` over ``serial``)."""
    out: dict[str, dict[str, Any]] = {}
    todo = list(dict.fromkeys(boards))
    if serial is not None and serial_board and serial_board not in todo:
        todo.append(serial_board)
    for board in todo:
        if progress is not None:
            progress.set_postfix_str(board)
        out[board] = measure_board(run, board, build=build,
                                   serial=serial if board == serial_board else None)
    return out
