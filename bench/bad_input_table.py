"""The bad-input table of issue 18, rerun against a finished run (a script, not a test).

    .venv/bin/python bench/bad_input_table.py runs/demo --out runs/demo/bad_inputs

Each row damages a copy of the run (or writes a bad config) the way a hostile but fair user
would, runs the ordinary command (the `dlink` CLI or `make`) in a subprocess, and records its
exit status, wall time and the first line of its error. A row passes when the command either
refuses with a message naming the file (and the key or the fix) or gives the correct result.
Output: ``<out>/bad_inputs.md`` (the table) and ``<out>/bad_inputs.json``.

The stage commands that succeed here reuse the run's teacher and finished trainings, so the
table takes minutes, not the hours of a fresh distillation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DLINK = [sys.executable, "-m", "dlink.cli"]


@dataclass
class Row:
    name: str
    expect: str  # what a pass looks like
    rc: int | None = None
    seconds: float = 0.0
    message: str = ""
    ok: bool = False


def _run(cmd: list[str], *, cwd: Path | None = None,
         timeout_s: float = 1800) -> tuple[int, str, str, float]:
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, env=env)
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0


def _first_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and
             not ln.startswith(("WARNING", "INFO", "(traceback", "I0000", "W0000"))]
    if lines and lines[0].startswith("Traceback"):  # a Python snippet: its exception line
        return lines[-1][:400]
    return lines[0][:400] if lines else ""


def _json_diff(a, b, path: str = "") -> list[str]:
    """Paths (a/b/c) at which two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in sorted(set(a) | set(b))
                for p in _json_diff(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in _json_diff(x, y, f"{path}/{i}")]
    return [] if a == b else [path]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_run(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("fuzz", "bad_inputs", "sanitize",
                                                            "bench", "firmware"))
    return dst


def _config(work: Path, name: str, body: dict | str | bytes) -> Path:
    p = work / name
    if isinstance(body, dict):
        p.write_text(yaml.safe_dump(body))
    elif isinstance(body, str):
        p.write_text(body)
    else:
        p.write_bytes(body)
    return p


def build_rows(run: Path, work: Path) -> list[tuple[Row, Callable, Callable]]:
    """(row, action, check) triples; ``check(rc, stdout, stderr) -> bool``."""
    demo_cfg = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    rows = []

    def add(name, expect, action, check):
        rows.append((Row(name, expect), action, check))

    def refused(*needles):
        return lambda rc, out, err: rc != 0 and all(n in err for n in needles)

    # 1. stamps are checked
    def flipped_student():
        r = _copy_run(run, work / "flip")
        data = bytearray(r.joinpath("student.pt").read_bytes())
        data[len(data) // 2] ^= 0x01
        r.joinpath("student.pt").write_bytes(bytes(data))
        return _run([*DLINK, "export", str(r)])

    add("student.pt with one flipped weight bit -> `dlink export`",
        "refused: names student.pt and `dlink distill`", flipped_student,
        refused("student.pt", "changed since the 'distill' stage wrote it", "dlink distill"))

    def swapped_tflite():
        r = _copy_run(run, work / "swap")
        shutil.copy(REPO / "tests" / "data" / "tflite" / "mic_student.tflite",
                    r / "export" / "student.int8.tflite")
        return _run([*DLINK, "firmware", "build", str(r), "--board", "mps2-an386"])

    add("student.int8.tflite swapped for another model -> `dlink firmware build`",
        "refused: names the .tflite and `dlink export`", swapped_tflite,
        refused("student.int8.tflite", "changed since the 'export' stage", "dlink export"))

    def corrupted_tflite():
        r = _copy_run(run, work / "corrupt")
        p = r / "export" / "student.int8.tflite"
        data = bytearray(p.read_bytes())
        data[100] ^= 0xFF
        p.write_bytes(bytes(data))
        return _run([*DLINK, "firmware", "build", str(r), "--board", "mps2-an386"])

    add("student.int8.tflite with one corrupted byte -> `dlink firmware build`",
        "refused: names the .tflite and `dlink export`", corrupted_tflite,
        refused("student.int8.tflite", "changed since the 'export' stage", "dlink export"))

    # 3. make quotes its paths
    def make_space():
        dst = REPO / "runs" / "sp ace" / "x"
        _copy_run(run, dst)
        try:
            return _run(["make", "-s", "-C", str(REPO), "check", f"RUN={dst}"])
        finally:
            shutil.rmtree(dst.parent)

    add('`make check RUN="runs/sp ace/x"` (an exported run)',
        "runs `dlink check` on runs/sp ace/x (nothing in runs/sp)", make_space,
        lambda rc, out, err: (rc == 0 or "sp ace/x" in err) and not (REPO / "runs" / "sp").exists())

    # 5. configs checked before any work
    def distill_cfg(name, section_edit):
        def action():
            cfg = json.loads(json.dumps(demo_cfg))
            for dotted, value in section_edit.items():
                sec, key = dotted.split(".", 1)
                cfg.setdefault(sec, {})
                node = cfg[sec]
                *parents, leaf = key.split(".")
                for p_ in parents:
                    node = node.setdefault(p_, {})
                node[leaf] = value
            p = _config(work, name, cfg)
            return _run([*DLINK, "distill", str(p), "--run", str(work / f"run_{name}")])
        return action

    for name, edit, needles in (
        ("widht.yaml", {"student.options": {"widht": 8}},
         ("widht.yaml", "student.options: unknown option 'widht'")),
        ("steps.yaml", {"train.max_steps_per_epoch": -5},
         ("steps.yaml", "train.max_steps_per_epoch must be >= 1")),
        ("patience.yaml", {"train.patience": -1}, ("patience.yaml", "train.patience")),
        ("nan_lr.yaml", {"train.lr": float("nan")}, ("nan_lr.yaml", "train.lr must be a finite")),
        ("wd.yaml", {"train.weight_decay": -1.0}, ("wd.yaml", "train.weight_decay must be >= 0")),
        ("teacher_nan.yaml", {"teacher.lr": float("nan")},
         ("teacher_nan.yaml", "teacher.lr must be a finite")),
        ("tokens.yaml", {"student.options": {"token_samples": 300}},
         ("tokens.yaml", "student.options", "token_samples")),
    ):
        add(f"config {name}: {edit} -> `dlink distill`",
            "refused in seconds, before the teacher: names the file and the key",
            distill_cfg(name, edit), refused(*needles))

    add("empty config file -> `dlink distill`", "refused: names the file",
        lambda: _run([*DLINK, "distill", str(_config(work, "empty.yaml", "")), "--run",
                      str(work / "run_empty")]),
        refused("empty.yaml: the config is empty"))
    add("config in Latin-1 (not UTF-8) -> `dlink distill`", "refused: names the file and byte",
        lambda: _run([*DLINK, "distill", str(_config(work, "latin1.yaml",
                                                     "name: d\xe9mo\n".encode("latin-1"))),
                      "--run", str(work / "run_latin1")]),
        refused("latin1.yaml: not UTF-8 text"))

    shared = REPO.parent / "shared" / "data"

    def relative_path():
        cdir = work / "cfgdir"
        cdir.mkdir(exist_ok=True)
        rel = os.path.relpath(shared, cdir)
        p = _config(cdir, "rel.yaml", {"data": {"name": "eegmmidb", "path": rel, "n_classes": 2,
                                                "runs": [4], "splits": {"train": [1, 1]}}})
        elsewhere = work / "elsewhere"
        elsewhere.mkdir(exist_ok=True)
        saved = str(work / "rel_resolved.yaml")
        code = ("from dlink.config import load_config, save_config; import yaml; "
                f"save_config(load_config({str(p)!r}), {saved!r}); "
                f"print(yaml.safe_load(open({saved!r}))['data']['path'])")
        return _run([sys.executable, "-c", code], cwd=elsewhere)

    add("relative data.path, command run from another folder",
        "resolved against the config file; config.yaml records the absolute path",
        relative_path, lambda rc, out, err: rc == 0 and out.strip() == str(shared.resolve()))

    # 6. messages that help
    def truncated_checkpoint():
        r = _copy_run(run, work / "trunc")
        ck = r / "checkpoints" / "student" / "last.pt"
        ck.write_bytes(ck.read_bytes()[:4096])
        return _run([*DLINK, "distill", str(REPO / "configs" / "demo.yaml"), "--run", str(r)])

    add("truncated training checkpoint -> `dlink distill` (resume)",
        "refused: names last.pt and --fresh", truncated_checkpoint,
        refused("last.pt", "truncated or corrupted", "--fresh"))

    def evil_pickle():
        r = _copy_run(run, work / "evil")
        code = ("import torch, os\nclass E:\n    def __reduce__(self):\n"
                "        return (os.system, ('echo pwned',))\n"
                f"torch.save({{'arch': 'mic', 'x': E()}}, {str(r / 'student.pt')!r})\n"
                "from dlink.distill.students import load_student_file\n"
                f"load_student_file({str(r / 'student.pt')!r})\n")
        return _run([sys.executable, "-c", code])

    add("student.pt holding a pickle with code -> load",
        "refused: names the file; never suggests weights_only=False", evil_pickle,
        lambda rc, out, err: rc != 0 and "pwned" not in out and "student.pt" in err
        and "weights_only=False" not in err)

    # 7. reproducible bytes
    def rerun_distill():
        r = _copy_run(run, work / "rerun")
        cfg = str(REPO / "configs" / "demo.yaml")
        rc, out, err, s1 = _run([*DLINK, "distill", cfg, "--run", str(r)])
        if rc:
            return rc, out, err, s1
        first = _sha(r / "student.pt"), _sha(r / "teacher.pt")
        rc, out, err, s2 = _run([*DLINK, "export", str(r)])
        if rc:
            return rc, out, err, s1 + s2
        exported = {p.name: _sha(p) for p in sorted((r / "export").iterdir()) if p.is_file()}
        parity = json.loads((r / "export" / "parity.json").read_text())
        rc, out, err, s3 = _run([*DLINK, "distill", cfg, "--run", str(r)])
        same = first == (_sha(r / "student.pt"), _sha(r / "teacher.pt"))
        rc2, out2, err2, s4 = _run([*DLINK, "export", str(r)])
        again = {p.name: _sha(p) for p in sorted((r / "export").iterdir()) if p.is_file()}
        changed = sorted(k for k in exported if again.get(k) != exported[k])
        # parity.json is a report no stage reads; onnxruntime's default x86 uint8 x int8 kernels
        # (its onnxruntime_qdq_u8s8 row) give other outputs from one session to the next here
        paths = _json_diff(parity, json.loads((r / "export" / "parity.json").read_text()))
        u8s8_only = all("onnxruntime_qdq_u8s8" in p_ for p_ in paths)
        same_export = not changed or (changed == ["parity.json"] and u8s8_only)
        msg = (f"student.pt and teacher.pt {'identical' if same else 'CHANGED'} after a rerun; "
               f"export files {'identical' if same_export else 'CHANGED'} after a rerun"
               + (f" ({len(exported) - 1} of {len(exported)} byte-identical; parity.json differs "
                  f"only in {len(paths)} figures of the onnxruntime_qdq_u8s8 runtime)"
                  if changed and same_export else f" (changed: {changed})" if changed else ""))
        return (0 if same and same_export and not rc and not rc2 else 1), msg, msg, \
            s1 + s2 + s3 + s4

    add("rerun `dlink distill` then `dlink export` on a finished run",
        "byte-identical student.pt, teacher.pt and export files", rerun_distill,
        lambda rc, out, err: rc == 0 and "identical" in out and "CHANGED" not in out)
    return rows


def run_table(run: str | Path, out_dir: str | Path) -> list[Row]:
    run, out = Path(run).resolve(), Path(out_dir).resolve()
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for row, action, check in build_rows(run, work):
        rc, stdout, stderr, seconds = action()
        row.rc, row.seconds = rc, round(seconds, 1)
        out_lines = stdout.strip().splitlines()
        row.message = _first_error(stderr) or (out_lines[-1][:400] if out_lines else "")
        row.ok = bool(check(rc, stdout, stderr))
        results.append(row)
        print(f"{'ok  ' if row.ok else 'FAIL'} {row.name}: rc={rc} {row.message[:160]}", flush=True)
    from dlink.io import atomic_write_json, atomic_write_text

    atomic_write_json(out / "bad_inputs.json", [row.__dict__ for row in results])
    lines = ["| case | expected | exit | s | message (first line) | pass |", "|---|---|---|---|---|---|"]
    for r in results:
        msg = r.message.replace("|", "\\|").replace(str(out) + "/work/", "")
        lines.append(f"| {r.name} | {r.expect} | {r.rc} | {r.seconds} | {msg} | "
                     f"{'yes' if r.ok else 'NO'} |")
    atomic_write_text(out / "bad_inputs.md", "\n".join(lines) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example:\n  .venv/bin/python bench/bad_input_table.py runs/demo "
               "--out runs/demo/bad_inputs")
    p.add_argument("run", metavar="<run>", help="a finished run (distill and export)")
    p.add_argument("--out", required=True, metavar="<dir>", help="output folder")
    args = p.parse_args(argv)
    rows = run_table(args.run, args.out)
    print(f"-> {args.out}/bad_inputs.md ({sum(r.ok for r in rows)}/{len(rows)} pass)")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
