"""End to end: config -> distill -> export -> firmware build -> flash (emulated M4) -> bench -> check.

The reduced form (a tiny config written here, built once per module) runs in the default suite and
runs `dlink check` on the demo student in onnxruntime; the full-size one (configs/demo.yaml, what
`make demo` runs) is marked slow. Any stage that exits non-zero fails them.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from dlink.cli import main
from dlink.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]
BOARD = "mps2-an386"

TINY_CONFIG = {
    "name": "e2e-tiny",
    "seed": 0,
    "data": {"name": "synthetic", "window_s": 2, "n_classes": 4,
             "synthetic": {"subjects": {"train": 2, "val": 1, "test": 2, "pool": 2},
                           "trials_per_class": 6}},
    "teacher": {"arch": "labram", "depth": 2, "embed_dim": 32, "num_heads": 2, "finetune_epochs": 1,
                "batch_size": 16},
    "train": {"epochs": 2, "min_steps": 8, "batch_size": 16, "num_threads": 1, "patience": 2},
    "export": {"n_calibration": 16, "n_test_vectors": 4},
    "bench": {"latency_repeats": 5, "latency_warmup": 1, "boards": [BOARD],
              "min_balanced_accuracy": 0.0, "min_agreement": 0.5},
}


def _stage(argv: list[str]) -> str:
    """Run one `dlink` command in-process; fail with its error output when it exits non-zero."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    log = Path(tempfile.gettempdir()) / "dlink-last-error.log"
    detail = log.read_text()[-3000:] if rc == 1 and log.is_file() else ""
    assert rc == 0, f"`dlink {' '.join(argv)}` exited {rc}: {err.getvalue()}\n{detail}"
    return out.getvalue()


def _build_run(root: Path, config: dict | Path, *, bench_args=()) -> RunDir:
    run = RunDir(root / "run")
    if isinstance(config, dict):
        cfg_path = root / "config.yaml"
        config = {**config, "data": {**config["data"], "cache_dir": str(root / "cache")}}
        cfg_path.write_text(yaml.safe_dump(config, sort_keys=False))
    else:
        cfg_path = config
    for argv in (["distill", str(cfg_path), "--run", str(run.path)],
                 ["export", str(run.path)],
                 ["firmware", "build", str(run.path), "--board", BOARD],
                 ["flash", str(run.path), "--board", BOARD],
                 ["bench", str(run.path), *bench_args]):
        _stage(argv)
    return run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    return _build_run(tmp_path_factory.mktemp("e2e"), TINY_CONFIG)


def test_every_stage_left_its_files(tiny_run):
    for stage in ("distill", "export", f"firmware-{BOARD}", f"flash-{BOARD}", "bench"):
        assert tiny_run.stamp_path(stage).is_file(), stage
    for name in ("student.onnx", "student.int8.onnx", "student.int8.tflite", "test_vectors.npz"):
        assert (tiny_run.export_dir / name).is_file(), name
    assert (tiny_run.firmware_dir(BOARD) / "run.json").is_file()


def test_bench_report_has_every_runtime_and_the_board(tiny_run):
    report = json.loads((tiny_run.bench_dir / "report.json").read_text())
    statuses = {name: e["status"] for name, e in report["runtimes"].items()}
    assert statuses == {n: "measured" for n in statuses}, report["runtimes"]
    assert report["dataset"]["n"] > 0
    board = report["boards"][BOARD]
    assert board["status"] == "measured"
    assert board["matched"] == board["total"]
    assert board["instructions_per_inference"] > 0 and board["flash_bytes"] > 0
    # the C runtime on the host and the TFLite-Micro interpreter are bit-exact: same predictions
    assert report["runtimes"]["c_host"]["metrics"]["confusion"] == \
        report["runtimes"]["tflm_host"]["metrics"]["confusion"]
    student = next(r for r in report["headline"] if r["model"].startswith("student"))
    assert student["instructions_per_inference"] == board["instructions_per_inference"]
    for p in report["plots"]:
        assert (tiny_run.bench_dir / "plots" / p).is_file()
    assert "| model |" in (tiny_run.bench_dir / "report.md").read_text()


def test_check_runs_the_demo_student_in_onnxruntime(tiny_run, capsys):
    rc = main(["check", str(tiny_run.path)])
    out = capsys.readouterr().out
    result = json.loads(next(l for l in out.splitlines() if l.startswith('{"dlink_check"')))["dlink_check"]
    assert result["runtime"] == "onnxruntime int8 QDQ"
    assert result["model"].endswith("student.int8.onnx")
    assert result["n"] > 0 and 0.0 <= result["balanced_accuracy"] <= 1.0
    assert rc == (0 if result["passed"] else 1)
    assert result["agreement"] >= TINY_CONFIG["bench"]["min_agreement"], result


def test_check_gate_fails_above_the_measured_accuracy(tiny_run, capsys):
    main(["check", str(tiny_run.path)])
    out = capsys.readouterr().out
    measured = json.loads(next(l for l in out.splitlines()
                               if l.startswith('{"dlink_check"')))["dlink_check"]["balanced_accuracy"]
    if measured >= 0.999:
        pytest.skip("the tiny student is perfect on the test split; no threshold above it")
    threshold = min(1.0, measured + 0.01)
    rc = main(["check", str(tiny_run.path), "--min-balanced-accuracy", str(threshold)])
    err = capsys.readouterr().err
    assert rc != 0
    assert f"balanced accuracy {measured:.4f} < threshold {threshold:.4f}" in err


def _check_result(out: str) -> dict:
    return json.loads(next(l for l in out.splitlines() if l.startswith('{"dlink_check"')))["dlink_check"]


def test_demo_bundle_checks_with_the_base_install_only(tiny_run, tmp_path):
    """The export's gate bundle, copied as a user commits it, with every extra's modules blocked
    (the reduced form of the base-venv check in test_full_demo_end_to_end)."""
    from tests.test_extras import blocked_dlink

    gate = tmp_path / "gate"
    shutil.copytree(tiny_run.export_dir / "gate", gate)
    rc, attempts, out, err = blocked_dlink(["check", str(gate)])
    assert attempts == [], f"dlink check tried to import {attempts}"
    result = _check_result(out)
    assert rc == (0 if result["passed"] else 1), err
    meta = json.loads((gate / "gate.json").read_text())
    assert result["n"] == meta["windows"]["n"] > 0
    assert result["class_names"] == meta["classes"] and len(meta["classes"]) == 4
    assert meta["input"]["units"] == "100 uV" and len(meta["input"]["channels"]) == meta["input"]["n_chans"]


@pytest.mark.slow
def test_full_demo_end_to_end(tmp_path, base_venv):
    """What `make demo` runs, on configs/demo.yaml (several minutes); then its gate bundle in a
    fresh venv with the base install only."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    run = _build_run(tmp_path, REPO / "configs" / "demo.yaml")
    report = json.loads((run.bench_dir / "report.json").read_text())
    assert report["boards"][BOARD]["status"] == "measured"
    assert main(["check", str(run.path)]) in (0, 1)
    gate = tmp_path / "committed" / "gate"
    shutil.copytree(run.export_dir / "gate", gate)
    proc = base_venv.run_dlink("check", str(gate), cwd=tmp_path)
    assert proc.returncode == (0 if _check_result(proc.stdout)["passed"] else 1), proc.stderr
    proc = base_venv.run_dlink("check", str(gate), "--npz", str(run.export_dir / "test_vectors.npz"),
                               "--min-balanced-accuracy", "0", cwd=tmp_path)
    assert _check_result(proc.stdout)["n"] == len(np.load(run.export_dir / "test_vectors.npz")["y_true"])
