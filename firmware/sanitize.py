"""Host sanitizer run: the C runtime and a run's generated model under ASan + UBSan.

    make sanitize RUN=runs/demo
    .venv/bin/python -m dlink.firmware.sanitize runs/demo --windows 64

The model's C is generated from ``RUN/export/student.int8.tflite`` (after the export stage's
stamp is verified) into ``RUN/sanitize/``, built for the host with every kernel backend and
``-fsanitize=address,undefined -fno-sanitize-recover=all`` (any report stops the program with a
non-zero exit), and run on

* the export's test vectors: the outputs must equal their expected int8 outputs;
* random windows and extreme ones (all -128, all 127, all at the input zero point, alternating
  -128/127): the outputs must equal the TFLite-Micro interpreter's (run in a child process).

Every sanitizer report, crash, error status or mismatch is a finding, listed in
``RUN/sanitize/report.json`` and ``report.md``; the command exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SANITIZE_FLAGS", "sanitizer_env", "sanitized_host_model", "probe_windows",
           "sanitize_model", "sanitize_run"]

#: Compile and link flags of the sanitized host build (on top of host.WARNING_FLAGS).
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                  "-fno-omit-frame-pointer", "-g")


def sanitizer_env() -> dict[str, str]:
    """The environment for a sanitized binary: stop at the first report, with a stack trace."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:halt_on_error=1"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    return env


def sanitized_host_model(gen, work_dir: str | Path, *, backend: str = "ref"):
    """:class:`~dlink.firmware.host.HostModel` of ``gen`` built with :data:`SANITIZE_FLAGS`."""
    from .host import HostModel

    return HostModel.build(gen, work_dir, backend=backend, opt="-O1", extra_flags=SANITIZE_FLAGS)


def probe_windows(input_bytes: int, zero_point: int, *, n_random: int, seed: int = 0
                  ) -> np.ndarray:
    """``n_random`` uniform int8 windows, then all -128, all 127, all ``zero_point`` and an
    alternating -128/127 window: ``(n_random + 4, input_bytes)`` int8."""
    rng = np.random.default_rng(seed)
    rand = rng.integers(-128, 128, size=(n_random, input_bytes), dtype=np.int8)
    extremes = np.stack([np.full(input_bytes, -128, np.int8), np.full(input_bytes, 127, np.int8),
                         np.full(input_bytes, int(np.clip(zero_point, -128, 127)), np.int8),
                         np.resize(np.array([-128, 127], np.int8), input_bytes)])
    return np.concatenate([rand, extremes])


def _finding(backend: str, what: str, error: Exception | str) -> dict[str, str]:
    text = str(error)
    lines = [ln for ln in text.splitlines() if "runtime error" in ln or "ERROR:" in ln
             or "failed with" in ln]
    return {"backend": backend, "windows": what, "message": (lines[0] if lines else text)[:500]}


def sanitize_model(tflite: str | Path, out_dir: str | Path, *, backends=("ref", "dsp"),
                   vectors: dict[str, np.ndarray] | None = None, n_random: int = 64,
                   seed: int = 0) -> dict[str, Any]:
    """Generate C for ``tflite`` into ``out_dir`` and run it sanitized (see the module doc).

    ``vectors`` (optional): ``x_int8`` and ``y_expected_int8`` of the export's test vectors.
    Returns the report: ``rows`` (backend, windows, n, matched, clean) and ``findings``.
    """
    from dlink.export.codegen import generate_c
    from dlink.export.codegen.tflm import TflmChildError, tflm_invoke_isolated

    from .host import HostBuildError, HostRunError

    out = Path(out_dir)
    gen = generate_c(tflite, out / "model", name="student")
    zp = int(_read_define(gen["header"], "STUDENT_INPUT_ZERO_POINT"))
    probes = probe_windows(gen["input_bytes"], zp, n_random=n_random, seed=seed)
    try:
        probe_ref = tflm_invoke_isolated(tflite, probes).reshape(len(probes), -1)
    except TflmChildError as e:
        probe_ref, ref_error = None, str(e)
    else:
        ref_error = ""
    sets = []
    if vectors is not None:
        sets.append(("test vectors", np.asarray(vectors["x_int8"]).reshape(
            len(vectors["x_int8"]), -1), np.asarray(vectors["y_expected_int8"])))
    sets.append((f"{n_random} random + 4 extreme", probes, probe_ref))
    rows, findings = [], []
    for backend in backends:
        try:
            host = sanitized_host_model(gen, out / "build", backend=backend)
        except HostBuildError as e:
            findings.append(_finding(backend, "build", e))
            continue
        for what, x, expected in sets:
            row = {"backend": backend, "windows": what, "n": int(len(x)), "clean": False,
                   "matched": None}
            try:
                y = host.run(x, env=sanitizer_env())
                row["clean"] = True
            except HostRunError as e:
                findings.append(_finding(backend, what, e))
            else:
                if expected is not None:
                    row["matched"] = int(np.sum(np.all(y == expected.reshape(y.shape), axis=1)))
                    if row["matched"] != len(x):
                        findings.append(_finding(backend, what, f"{len(x) - row['matched']} of "
                                                 f"{len(x)} windows differ from the reference"))
            rows.append(row)
    return {"model": str(tflite), "flags": list(SANITIZE_FLAGS), "rows": rows,
            "findings": findings, "reference_error": ref_error,
            "arena_bytes": gen["arena_bytes"], "ops": gen["ops"]}


def _read_define(header: Path, macro: str) -> int:
    import re

    m = re.search(rf"#define {macro} \(?(-?\d+)\)?", header.read_text())
    if m is None:
        raise ValueError(f"{header} does not define {macro}.")
    return int(m.group(1))


def format_report(report: dict) -> str:
    lines = ["| backend | windows | n | sanitizer-clean | bit-exact |", "|---|---|---|---|---|"]
    for r in report["rows"]:
        exact = "-" if r["matched"] is None else f"{r['matched']}/{r['n']}"
        lines.append(f"| {r['backend']} | {r['windows']} | {r['n']} | "
                     f"{'yes' if r['clean'] else 'NO'} | {exact} |")
    lines.append("")
    lines.append(f"Flags: `{' '.join(report['flags'])}`. Findings: "
                 + ("none." if not report["findings"] else str(len(report["findings"]))))
    for f in report["findings"]:
        lines.append(f"- {f['backend']}, {f['windows']}: {f['message']}")
    if report.get("reference_error"):
        lines.append(f"- (no TFLite-Micro reference: {report['reference_error']})")
    return "\n".join(lines) + "\n"


def sanitize_run(run_dir: str | Path, *, n_random: int = 64, backends=("ref", "dsp"),
                 seed: int = 0) -> dict[str, Any]:
    """:func:`sanitize_model` on a run's exported model; writes ``RUN/sanitize/report.*``."""
    from dlink.io import atomic_write_json, atomic_write_text
    from dlink.rundir import RunDir

    run = RunDir(run_dir)
    run.require_stage("export", needed_by="the sanitizer run")
    tflite = run.require_file(run.export_dir / "student.int8.tflite", stage="export")
    with np.load(run.require_file(run.export_dir / "test_vectors.npz", stage="export")) as z:
        vectors = {k: z[k] for k in ("x_int8", "y_expected_int8")}
    out = run.path / "sanitize"
    report = sanitize_model(tflite, out, backends=backends, vectors=vectors, n_random=n_random,
                            seed=seed)
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", format_report(report))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m dlink.firmware.sanitize", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example:\n  .venv/bin/python -m dlink.firmware.sanitize runs/demo --windows 64")
    p.add_argument("run", metavar="<run>", help="run directory after `dlink export`")
    p.add_argument("--windows", type=int, default=64, metavar="N",
                   help="random windows (plus 4 extreme ones); default 64")
    p.add_argument("--backends", default="ref,dsp", metavar="<b1,b2>",
                   help="kernel backends to build (default ref,dsp)")
    args = p.parse_args(argv)
    from dlink.rundir import StageError

    try:
        report = sanitize_run(args.run, n_random=args.windows,
                              backends=tuple(b for b in args.backends.split(",") if b))
    except (StageError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_report(report), end="")
    print(f"-> {args.run}/sanitize/report.md, report.json")
    return 1 if report["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
