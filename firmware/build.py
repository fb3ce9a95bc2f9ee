"""Build the firmware app for a board: generated model C + runtime + app + board -> app.elf.

``build_firmware(run_dir, board)`` is ``dlink firmware build RUN --board B``:

1. requires the export stage (``RUN/export/student.int8.tflite`` and ``test_vectors.c/.h``,
   unless ``firmware.test_vectors`` is false: the deployment build, ``-DDLK_NO_TEST_VECTORS``);
2. generates the model's C into ``RUN/firmware/B/`` (``dlink.export.codegen.generate_c``, with
   the run's model card in the header) and copies the test vectors beside it;
3. compiles the generated model, the int8 runtime (``dlink.firmware.runtime_sources``), the app
   (``firmware/app``) and the board (``firmware/boards``) with ``arm-none-eabi-gcc`` for the
   board's core, and links with the board's linker script: ``app.elf``, ``app.map``, ``app.hex``,
   ``app.bin``;
4. writes the size report ``size.json`` (:mod:`dlink.firmware.size`, with ``fit``: RAM and
   flash against the board, a warning above ``firmware.memory_warn_percent``) and the stamp
   ``firmware-B``.

A pure-Python build (no make): the same sources in the same order with the same flags give the
same ELF. An app that does not fit on the board fails at link time; :class:`ModelTooBigError`
turns the linker's "region `<board>_FLASH' overflowed by N bytes" into one line naming the
board, the region and the overflow.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dlink._check import check_option
from dlink.io import atomic_path, atomic_write_bytes, atomic_write_json
from dlink.rundir import RunDir

from .boards import BOARDS_DIR, get_board
from .config import FirmwareConfig

logger = logging.getLogger(__name__)

FIRMWARE_DIR = Path(__file__).resolve().parent
APP_DIR = FIRMWARE_DIR / "app"
REPO_DIR = FIRMWARE_DIR.parent
#: Name prefix of the generated model (student_model.h, student_invoke, STUDENT_* macros).
MODEL_NAME = "student"

#: Flags for every C file (plus the core's flags from BOARDS and -O<level>).
COMMON_CFLAGS = ("-std=gnu11", "-g", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections",
                 "-fno-common")
#: Link flags: our own startup (no crt0), newlib-nano without syscalls, unused sections dropped.
COMMON_LDFLAGS = ("-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
                  "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments")

_OVERFLOW_RE = re.compile(r"region [`'](\w+)' overflowed by (\d+) bytes")


class FirmwareBuildError(RuntimeError):
    """Compiling or linking the app failed; the message carries the compiler's first errors."""


class ModelTooBigError(FirmwareBuildError):
    """The app does not fit in the board's memory (a linker region overflowed)."""


def find_tool(name: str) -> str:
    """Path of an Arm GNU toolchain program, or FileNotFoundError saying how to install it."""
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(
            f"{name!r} is not on PATH. Install the Arm GNU toolchain (Debian: apt-get install "
            f"--no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi; or `make toolchain`).")
    return path


def load_firmware_config(run: RunDir) -> FirmwareConfig:
    """The run's ``firmware:`` section (defaults when the run has no config.yaml or no section)."""
    if not run.config.is_file():
        return FirmwareConfig()
    import yaml

    from dlink.config import ConfigError, from_mapping

    try:
        data = yaml.safe_load(run.config.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{run.config}: not valid YAML: {e}") from None
    return from_mapping(FirmwareConfig, data.get("firmware") if isinstance(data, dict) else None,
                        file=str(run.config), prefix="firmware.")


def board_sources(board: str) -> tuple[list[Path], list[Path]]:
    """C files and include folders of the app and the board (startup, semihosting or UART...)."""
    spec = get_board(board)
    common = BOARDS_DIR / "common"
    c_files = [APP_DIR / "main.c", APP_DIR / "report_line.c", APP_DIR / "stack_watermark.c",
               common / "startup.c", spec["dir"] / "board.c"]
    if spec["qemu_machine"]:
        c_files += [common / "semihost.c", common / "systick_counter.c"]
    return c_files, [BOARDS_DIR / "include"]


def _run(cmd: Sequence[str], *, what: str) -> subprocess.CompletedProcess:
    logger.debug("%s", " ".join(map(str, cmd)))
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        msgs = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in msgs if "error" in ln.lower()] or msgs
        raise FirmwareBuildError(f"{what} failed: " + " | ".join(errors[:8]))
    if proc.stderr.strip():
        logger.info("%s: %s", what, proc.stderr.strip())
    return proc


def overflow_message(board: str, linker_output: str) -> str | None:
    """One line naming the board, each overflowed region and by how much; None if none did."""
    spec = get_board(board)
    found = []
    for region_symbol, n_bytes in _OVERFLOW_RE.findall(linker_output):
        region = region_symbol.rsplit("_", 1)[-1]
        cap = spec.get(f"{region.lower()}_bytes")
        where = spec.get(f"{region.lower()}_region", region)
        size = f"{cap // 1024} KiB {where}" if cap else where
        found.append(f"region {region} ({size}) overflowed by {int(n_bytes)} bytes")
    if not found:
        return None
    return (f"the app does not fit on board {board!r}: " + "; ".join(found) +
            ". Use a smaller student (fewer weights or a smaller activation arena), or a board "
            "with more memory.")


def compile_app(
    out_dir: str | Path,
    board: str,
    *,
    c_files: Sequence[str | Path],
    include_dirs: Sequence[str | Path],
    opt_level: str = "2",
    stack_bytes: int | None = None,
    defines: Sequence[str] = (),
    jobs: int | None = None,
) -> dict[str, Path]:
    """Compile and link ``c_files`` for ``board`` into ``out_dir``/app.{elf,map,hex,bin}.

    Parameters
    ----------
    out_dir : str | Path
        Output folder (objects go to ``out_dir/obj`` and are removed after a good link).
    board : str
        A key of :data:`dlink.firmware.boards.BOARDS`.
    c_files, include_dirs : sequence of paths
        Everything to compile (the app's and board's own come from :func:`board_sources`).
    opt_level : str
        ``-O<level>``: one of 0, 1, 2, 3, s.
    stack_bytes : int | None
        Stack reserved in RAM; None: the board's default.
    defines : sequence of str
        Extra ``-D`` macros (``NAME`` or ``NAME=VALUE``).
    jobs : int | None
        Parallel compiler processes (default: up to 2).

    Returns
    -------
    dict
        ``{"elf", "map", "hex", "bin"}`` paths.
    """
    from .config import OPT_LEVELS

    spec = get_board(board)
    check_option("opt_level", opt_level, OPT_LEVELS)
    gcc = find_tool("arm-none-eabi-gcc")
    objcopy = find_tool("arm-none-eabi-objcopy")
    out_dir = Path(out_dir)
    obj_dir = out_dir / "obj"
    if obj_dir.exists():
        shutil.rmtree(obj_dir)
    obj_dir.mkdir(parents=True)
    stack = int(stack_bytes if stack_bytes is not None else spec["stack_bytes"])

    # Relative paths in debug info and __FILE__, so the ELF does not depend on where it was built.
    prefix_maps = [f"-ffile-prefix-map={REPO_DIR}=.", f"-ffile-prefix-map={out_dir.resolve()}=."]
    cflags = [*spec["cpu_flags"], f"-O{opt_level}", *COMMON_CFLAGS, *prefix_maps,
              *(f"-I{Path(d)}" for d in dict.fromkeys(map(str, include_dirs))),
              *(f"-D{d}" for d in defines)]
    unique = list(dict.fromkeys(Path(c).resolve() for c in c_files))
    objects = [obj_dir / f"{i:03d}_{c.stem}.o" for i, c in enumerate(unique)]

    def compile_one(pair: tuple[Path, Path]) -> None:
        src, obj = pair
        _run([gcc, *cflags, "-c", src, "-o", obj], what=f"compiling {src.name} for {board}")

    n_jobs = jobs or min(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        list(pool.map(compile_one, zip(unique, objects)))

    elf = out_dir / "app.elf"
    map_path = out_dir / "app.map"
    with atomic_path(elf) as tmp_elf, atomic_path(map_path) as tmp_map:
        cmd = [gcc, *spec["cpu_flags"], *COMMON_LDFLAGS, f"-L{BOARDS_DIR / 'common'}",
               f"-T{spec['dir'] / 'board.ld'}", f"-Wl,--defsym=DLK_STACK_BYTES={stack}",
               f"-Wl,-Map={tmp_map}", "-o", tmp_elf, *objects, "-lm"]
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
        if proc.returncode != 0:
            text = proc.stderr + proc.stdout
            too_big = overflow_message(board, text)
            if too_big:
                raise ModelTooBigError(too_big)
            errors = [ln for ln in text.splitlines() if ln.strip()]
            raise FirmwareBuildError(f"linking app.elf for {board} failed: " + " | ".join(errors[:8]))
        map_text = tmp_map.read_text().replace(str(tmp_elf), "app.elf")
        tmp_map.write_text(map_text)
    outputs = {"elf": elf, "map": map_path, "hex": out_dir / "app.hex", "bin": out_dir / "app.bin"}
    for key, fmt in (("hex", "ihex"), ("bin", "binary")):
        with atomic_path(outputs[key]) as tmp:
            _run([objcopy, "-O", fmt, elf, tmp], what=f"objcopy -O {fmt}")
    shutil.rmtree(obj_dir)
    return outputs


def test_vector_bytes(header: Path) -> int | None:
    """Bytes of the test vector arrays declared by ``test_vectors.h`` (None if unreadable)."""
    text = header.read_text(errors="replace")
    vals = {k: re.search(rf"#define\s+{k}\s+(\d+)", text) for k in
            ("DLK_TV_COUNT", "DLK_TV_INPUT_BYTES", "DLK_TV_OUTPUT_BYTES")}
    if not all(vals.values()):
        return None
    n, i, o = (int(m.group(1)) for m in vals.values())
    return n * (i + o)


def _default_generate(tflite_path: Path, out_dir: Path, *, name: str,
                      card: dict | None = None) -> dict[str, Any]:
    try:
        from dlink.export.codegen import generate_c
    except ImportError as e:
        raise FirmwareBuildError(
            f"the C code generator (dlink.export.codegen.generate_c) is not available: {e}") from None
    return generate_c(tflite_path, out_dir, name=name, card=card)


def resolve_backend(backend: str, board: str) -> str:
    """The kernel backend to build for ``board``: ``backend`` itself, checked against what the
    board's core runs, or for "auto" the last (fastest) of the board's ``backends``."""
    spec = get_board(board)
    if backend == "auto":
        return spec["backends"][-1]
    check_option("firmware.backend", backend, spec["backends"],
                 fix=f"{board} ({spec['core']}) runs these kernel backends.")
    return backend


def _default_runtime(backend: str) -> tuple[list[Path], list[Path]]:
    try:
        from dlink.firmware import runtime_sources
    except ImportError as e:
        raise FirmwareBuildError(
            f"the int8 runtime (dlink.firmware.runtime_sources, firmware/runtime/) is not "
            f"available: {e}") from None
    c_files, include_dirs = runtime_sources(backend=backend)
    return list(c_files), list(include_dirs)


def build_firmware(
    run_dir: str | Path,
    board: str | None = None,
    *,
    generate: Callable[..., dict[str, Any]] | None = None,
    runtime: Callable[[str], tuple[list[Path], list[Path]]] | None = None,
    config: FirmwareConfig | None = None,
) -> dict[str, Any]:
    """Generate the model's C and build the app for ``board`` (``dlink firmware build``).

    Parameters
    ----------
    run_dir : str | Path
        The run directory; its export stage must have finished.
    board : str | None
        A key of :data:`dlink.firmware.boards.BOARDS`; None: the run's ``firmware.board``.
    generate : callable | None
        ``generate(tflite_path, out_dir, name=...) -> dict`` with at least ``c_files``,
        ``include_dirs``, ``arena_bytes``, ``macs``; default ``dlink.export.codegen.generate_c``.
    runtime : callable | None
        ``runtime(backend) -> (c_files, include_dirs)``; default ``dlink.firmware.runtime_sources``.
    config : FirmwareConfig | None
        Overrides the run's ``firmware:`` section.

    Returns
    -------
    dict
        ``board``, ``out_dir``, the output paths (``elf``, ``map``, ``hex``, ``bin``, ``size``),
        the size report (``size_report``) and the generator's result (``generated``).
    """
    from .size import size_report

    run = RunDir(run_dir)
    cfg = config or load_firmware_config(run)
    board = board or cfg.board
    spec = get_board(board)
    backend = resolve_backend(cfg.backend, board)
    run.require_stage("export", board=board, needed_by=f"`dlink firmware build --board {board}`")
    tflite = run.require_file(run.export_dir / "student.int8.tflite", stage="export")
    tv_files = [run.require_file(run.export_dir / f"test_vectors.{ext}", stage="export")
                for ext in ("c", "h")] if cfg.test_vectors else []
    card_path = run.path / "model_card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else None

    out_dir = run.firmware_dir(board)
    run.invalidate(f"firmware-{board}", out_dir)  # a failed or interrupted build leaves no stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("test_vectors.c", "test_vectors.h"):  # a deployment build must not pick up old ones
        if not cfg.test_vectors and (out_dir / stale).is_file():
            (out_dir / stale).unlink()
    logger.info("generating C for %s into %s", tflite, out_dir)
    gen = (generate or _default_generate)(tflite, out_dir, name=MODEL_NAME,
                                          **({"card": card} if card else {}))
    for key in ("c_files", "include_dirs", "arena_bytes", "macs"):
        if key not in gen:
            raise FirmwareBuildError(f"the code generator's result lacks {key!r} "
                                     f"(it returned the keys {sorted(gen)}).")
    for src in tv_files:
        atomic_write_bytes(out_dir / src.name, src.read_bytes())

    runtime = runtime or _default_runtime
    rt_c, rt_inc = runtime(backend)
    # The generator lists the ref runtime among its C files; the configured backend replaces it
    # (a backend file overrides the ref file of the same name: never compile both).
    ref_c = {Path(p).resolve() for p in runtime("ref")[0]}
    model_c = [Path(p) for p in gen["c_files"] if Path(p).resolve() not in ref_c]
    app_c, app_inc = board_sources(board)
    c_files = [*app_c, *model_c, *rt_c, *(out_dir / f.name for f in tv_files if f.suffix == ".c")]
    include_dirs = [*app_inc, out_dir, *map(Path, gen["include_dirs"]), *rt_inc]
    logger.info("building %d C files for %s (%s, -O%s)", len(c_files), board, spec["core"],
                cfg.opt_level)
    try:
        outputs = compile_app(out_dir, board, c_files=c_files, include_dirs=include_dirs,
                              opt_level=cfg.opt_level, stack_bytes=cfg.stack_bytes,
                              defines=() if cfg.test_vectors else ("DLK_NO_TEST_VECTORS",))
    except ModelTooBigError as e:
        tv_bytes = test_vector_bytes(out_dir / "test_vectors.h") if cfg.test_vectors else None
        if tv_bytes and "region FLASH" in str(e):
            raise ModelTooBigError(
                f"{e} The embedded test vectors take {tv_bytes} bytes of it (fewer: "
                f"export.n_test_vectors; none, for deployment: --no-test-vectors or "
                f"firmware.test_vectors: false).") from None
        raise

    report = size_report(outputs["elf"], spec, extra={
        "arena_bytes": int(gen["arena_bytes"]),
        "macs": int(gen["macs"]),
        "backend": backend,
        "opt_level": cfg.opt_level,
        "ops": list(gen.get("ops", [])),
        "test_vectors_embedded": bool(cfg.test_vectors),
    })
    from .fit import memory_fit

    report["fit"] = memory_fit(board, ram_bytes=report["ram_bytes"], flash_bytes=report["image_bytes"],
                               warn_percent=cfg.memory_warn_percent, what="the app")
    for msg in report["fit"]["messages"]:  # a linked app fits; tight is worth a word (the CLI says it)
        logger.info("%s", msg)
    outputs["size"] = atomic_write_json(out_dir / "size.json", report)
    generated = [Path(gen[k]) for k in ("source", "header", "report") if gen.get(k)]
    run.write_stamp(f"firmware-{board}", inputs=[tflite, *tv_files, *([card_path] if card else [])],
                    outputs=[*(outputs[k] for k in ("elf", "map", "hex", "bin", "size")),
                             *generated],  # the model C the stream app compiles again
                    extra={"board": board, "backend": backend, "opt_level": cfg.opt_level,
                           "test_vectors": bool(cfg.test_vectors)})
    logger.info("%s: flash %d bytes, RAM %d bytes (arena %d)", board, report["flash_bytes"],
                report["ram_bytes"], report["arena_bytes"])
    return {"board": board, "out_dir": out_dir, **outputs, "size_report": report, "generated": gen}
