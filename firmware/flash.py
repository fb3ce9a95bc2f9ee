"""Run the built app on a board and keep its result line (``dlink flash RUN --board B``).

Emulated boards "flash" by running ``app.elf`` under QEMU with a time-out::

    qemu-system-arm -machine <m> -nographic -semihosting-config enable=on,target=native \
        -icount shift=0 -kernel app.elf

The app prints one line, ``DLINK_RESULT {json}`` (see ``firmware/app/main.c``), and exits QEMU
through semihosting with status 0 when every test vector matched. The real board (nRF52840) is
programmed with pyOCD and its line read from its UART over ``serial``.

The parsed line, plus how it was obtained, is written to ``RUN/firmware/B/run.json``, and the
stamp ``flash-B`` is written. A run whose vectors do not all match still writes run.json (the
bench reports it); the CLI exits non-zero.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from dlink.io import atomic_write_json
from dlink.rundir import RunDir, StageError

from .boards import get_board

logger = logging.getLogger(__name__)

RESULT_PREFIX = "DLINK_RESULT "
FAULT_PREFIX = "DLINK_FAULT"
MISMATCH_PREFIX = "DLINK_MISMATCH"
LAYER_PREFIX = "DLINK_LAYER "
PROFILE_PREFIX = "DLINK_PROFILE "
#: Fields every result line carries (besides "<counter>_per_inference").
RESULT_FIELDS = ("board", "core", "counter", "matched", "total", "stack_peak_bytes", "stack_bytes",
                 "arena_bytes", "flash_bytes", "ram_bytes", "macs", "invoke_errors", "first_mismatch")


class FirmwareRunError(RuntimeError):
    """The app did not produce its result line (time-out, fault, no probe, no serial port)."""


class NoProbeError(FirmwareRunError):
    """No debug probe is attached for a real board."""


def parse_result_line(output: str, *, source: str = "the app's output") -> dict[str, Any]:
    """Parse the app's ``DLINK_RESULT {json}`` line out of ``output`` (the last one wins).

    Parameters
    ----------
    output : str
        Everything the app printed (other lines are ignored).
    source : str
        Where the output came from, for error messages.

    Returns
    -------
    dict
        The line's fields; ``<counter>_per_inference`` is there (instructions or cycles).

    Raises
    ------
    FirmwareRunError
        No result line (the message quotes a fault line if the app printed one).
    ValueError
        A result line that is not JSON or lacks fields.
    """
    lines = [ln.strip() for ln in output.splitlines()]
    results = [ln[len(RESULT_PREFIX):] for ln in lines if ln.startswith(RESULT_PREFIX)]
    if not results:
        fault = next((ln for ln in lines if ln.startswith(FAULT_PREFIX)), None)
        tail = " | ".join(ln for ln in lines[-5:] if ln)
        raise FirmwareRunError(
            f"no {RESULT_PREFIX.strip()} line in {source}"
            + (f"; the app faulted: {fault!r}" if fault else "")
            + (f" (last output: {tail!r})" if tail and not fault else ""))
    result = _json_object(results[-1], RESULT_PREFIX, source)
    missing = [k for k in RESULT_FIELDS if k not in result]
    unit = result.get("counter")
    if unit is not None and f"{unit}_per_inference" not in result:
        missing.append(f"{unit}_per_inference")
    if missing:
        raise ValueError(f"the {RESULT_PREFIX.strip()} line in {source} lacks {missing}: "
                         f"{results[-1]!r}")
    mismatch = next((ln for ln in lines if ln.startswith(MISMATCH_PREFIX)), None)
    if mismatch:
        result["first_mismatch_detail"] = mismatch
    profile = parse_profile_lines(lines, source=source)
    if profile is not None:
        result["profile"] = profile
    return result


def _json_object(text: str, prefix: str, source: str) -> dict:
    """The JSON object of one app line (the text after ``prefix``), or ValueError naming it."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"the {prefix.strip()} line in {source} is not valid JSON ({e}): "
                         f"{text!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"the {prefix.strip()} line in {source} must hold a JSON object, "
                         f"got {text!r}.")
    return value


def parse_profile_lines(lines: list[str], *, source: str = "the app's output") -> dict | None:
    """The per-layer profile the app prints before its result line, or None if it printed none.

    Returns ``{"counter", "hook_overhead", "layers": [{"index", "count"}, ...]}`` in the order the
    layers ran; ``count`` is in counter units (instructions under QEMU, cycles on hardware) and
    includes one ``hook_overhead``.
    """
    def load(line: str, prefix: str) -> dict:
        return _json_object(line[len(prefix):], prefix, source)

    heads = [load(ln, PROFILE_PREFIX) for ln in lines if ln.startswith(PROFILE_PREFIX)]
    if not heads:
        return None
    layers = [load(ln, LAYER_PREFIX) for ln in lines if ln.startswith(LAYER_PREFIX)]
    for row in layers:
        if not {"index", "count"} <= set(row):
            raise ValueError(f"a {LAYER_PREFIX.strip()} line in {source} lacks index or count: "
                             f"{row!r}")
    head = heads[-1]
    if int(head.get("layers", -1)) != len(layers):
        raise ValueError(f"{source}: the profile announces {head.get('layers')} layers but "
                         f"{len(layers)} {LAYER_PREFIX.strip()} lines came (output cut off?)")
    return {"counter": head.get("counter"), "hook_overhead": int(head.get("hook_overhead", 0)),
            "layers": [{"index": int(r["index"]), "count": int(r["count"])} for r in layers]}


def qemu_command(board: str, elf: str | Path) -> list[str]:
    """The QEMU command line that runs ``elf`` on an emulated ``board``."""
    spec = get_board(board)
    if not spec["qemu_machine"]:
        raise ValueError(f"board {board!r} is not emulated; it is flashed with pyOCD.")
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        raise FileNotFoundError("'qemu-system-arm' is not on PATH. Install it (Debian: apt-get "
                                "install --no-install-recommends qemu-system-arm; or `make toolchain`).")
    return [qemu, "-machine", spec["qemu_machine"], "-nographic", "-monitor", "none",
            "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
            "-kernel", str(elf)]


def run_qemu(board: str, elf: str | Path, *, timeout_s: float) -> tuple[int, str]:
    """Run ``elf`` under QEMU; return (exit status, stdout + stderr). Time-out: FirmwareRunError."""
    cmd = qemu_command(board, elf)
    logger.info("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        raise FirmwareRunError(
            f"QEMU ({board}) did not finish within {timeout_s:g} s running {str(elf)!r}; the app "
            f"is stuck or too slow (last output: {out.strip()[-200:]!r}). Raise "
            f"firmware.qemu_timeout_s if the model is just big.") from None
    return proc.returncode, proc.stdout + proc.stderr


def connected_probes() -> list[Any]:
    """Debug probes pyOCD sees now (an empty list when none, or when USB cannot be read)."""
    try:
        from pyocd.core.helpers import ConnectHelper

        return list(ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False))
    except Exception as e:  # no libusb, no permissions: the same as no probe for the user
        logger.info("pyOCD could not list probes: %s", e)
        return []


def flash_and_read(hex_path: Path, spec: dict[str, Any], *, serial: str | None, baud: int,
                   timeout_s: float, result_prefix: str = RESULT_PREFIX) -> str:
    """Program ``hex_path`` with pyOCD, reset, and read the board's UART until the result line
    (the line starting with ``result_prefix``).

    Raises NoProbeError when no probe is attached, FirmwareRunError without ``serial`` or when the
    line does not come within ``timeout_s``.
    """
    board = spec["name"]
    probes = connected_probes()
    if not probes:
        raise NoProbeError(
            f"no debug probe attached: connect the {board} board's debug USB port (J-Link or "
            f"CMSIS-DAP) and rerun `dlink flash RUN --board {board} --serial PORT`. pyOCD "
            f"(target {spec['pyocd_target']!r}) found no probe.")
    if serial is None:
        raise FirmwareRunError(
            f"{board} prints its result on {spec.get('serial', 'its UART')}: pass the serial port "
            f"it appears on, e.g. `--serial /dev/ttyACM0`.")
    import serial as pyserial
    from pyocd.core.helpers import ConnectHelper
    from pyocd.flash.file_programmer import FileProgrammer

    try:
        port = pyserial.Serial(serial, baudrate=baud, timeout=0.2)
    except (pyserial.SerialException, OSError) as e:
        raise FirmwareRunError(f"cannot open serial port {serial!r} for {board}: {e}") from None
    with port:
        port.reset_input_buffer()
        uid = probes[0].unique_id
        logger.info("programming %s with pyOCD (probe %s, target %s)", hex_path, uid,
                    spec["pyocd_target"])
        with ConnectHelper.session_with_chosen_probe(
                unique_id=uid, target_override=spec["pyocd_target"], blocking=False,
                options={"frequency": 4_000_000}) as session:
            if session is None:
                raise NoProbeError(f"the probe {uid} went away before {board} could be programmed.")
            FileProgrammer(session).program(str(hex_path), file_format="hex")
            session.target.reset()
        received = bytearray()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            received += port.read(256)
            text = received.decode(errors="replace")
            at = text.rfind(result_prefix)
            if at >= 0 and "\n" in text[at:]:  # the whole line has arrived
                return text
    raise FirmwareRunError(
        f"no {result_prefix.strip()} line from {board} on {serial} within {timeout_s:g} s "
        f"(received {len(received)} bytes: {bytes(received[-200:])!r}). Check the port, the baud "
        f"rate ({baud}) and that TX (P0.06) reaches it.")


def _require_firmware(run: RunDir, board: str) -> None:
    cmd = f"dlink firmware build {run.path} --board {board}"
    if not run.stamp_path(f"firmware-{board}").is_file():
        raise StageError(f"The app for {board!r} has not been built in {str(run.path)!r}. "
                         f"Run `{cmd}` first.")
    try:
        run.require_stage(f"firmware-{board}", board=board, needed_by="`dlink flash`")
    except StageError as e:  # the generic message names the stage, not the command: fix that
        raise StageError(str(e).replace(f"`firmware-{board}`", f"`{cmd}`")) from None


def _finish(run: RunDir, board: str, result: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    if result.get("board") != board:
        raise FirmwareRunError(f"the app reports board {result.get('board')!r} but {board!r} was "
                               f"run: rebuild it with `dlink firmware build {run.path} --board {board}`.")
    unit = result["counter"]
    per_inf = result[f"{unit}_per_inference"]
    if result.get("macs"):
        result[f"{unit}_per_mac"] = round(per_inf / result["macs"], 3)
    result.update(extra)
    fw = run.firmware_dir(board)
    atomic_write_json(fw / "run.json", result)
    run.write_stamp(f"flash-{board}", inputs=[fw / "app.elf"], outputs=[fw / "run.json"],
                    extra={"board": board, "matched": result["matched"], "total": result["total"]})
    return result


def flash(run_dir: str | Path, board: str | None = None, *, serial: str | None = None,
          timeout_s: float | None = None) -> dict[str, Any]:
    """Run the built app on ``board`` and write ``run.json`` (``dlink flash``).

    Parameters
    ----------
    run_dir : str | Path
        The run directory; ``dlink firmware build`` must have run for ``board``.
    board : str | None
        A key of :data:`dlink.firmware.boards.BOARDS`; None: the run's ``firmware.board``.
    serial : str | None
        Real boards: the serial port the board's UART appears on (e.g. /dev/ttyACM0).
    timeout_s : float | None
        Time-out for QEMU or for the result line over serial; None: from the run's config.

    Returns
    -------
    dict
        The parsed result line plus ``exit_status``/``source`` (also in run.json).
    """
    from .build import load_firmware_config

    run = RunDir(run_dir)
    cfg = load_firmware_config(run)
    board = board or cfg.board
    spec = get_board(board)
    _require_firmware(run, board)
    run.invalidate(f"flash-{board}")
    fw = run.firmware_dir(board)
    if spec["qemu_machine"]:
        t = float(timeout_s or cfg.qemu_timeout_s)
        start = time.monotonic()
        status, output = run_qemu(board, fw / "app.elf", timeout_s=t)
        wall_s = time.monotonic() - start
        result = parse_result_line(output, source=f"QEMU's output ({board})")
        return _finish(run, board, result, {
            "exit_status": status, "source": "qemu", "qemu_machine": spec["qemu_machine"],
            "qemu_wall_s": round(wall_s, 3)})
    output = flash_and_read(fw / "app.hex", spec, serial=serial, baud=cfg.serial_baud,
                            timeout_s=float(timeout_s or cfg.serial_timeout_s))
    result = parse_result_line(output, source=f"serial port {serial} ({board})")
    extra: dict[str, Any] = {"exit_status": None, "source": "serial", "serial": serial}
    if result.get("counter") == "cycles" and spec.get("cpu_hz"):
        extra["latency_ms"] = round(1e3 * result["cycles_per_inference"] / spec["cpu_hz"], 3)
    return _finish(run, board, result, extra)
