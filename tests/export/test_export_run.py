"""`dlink export RUN` on a run directory: stage checks, files, stamp, printed table."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlink.cli import main  # noqa: E402
from dlink.config import config_from_dict, save_config  # noqa: E402
from dlink.rundir import RunDir, StageError  # noqa: E402

SMALL_DATA = {"name": "synthetic", "synthetic": {"subjects": {"train": 2, "val": 1, "test": 1, "pool": 0},
                                                 "trials_per_class": 6}}
EXPORT_FILES = ("student.onnx", "student.int8.onnx", "student.int8.tflite", "calibration.npz",
                "parity.json", "ops.json", "tflm.json", "test_vectors.npz", "test_vectors.h",
                "test_vectors.c", "model_data.h", "model_data.c")


def _make_run(tmp_path, *, stamp: bool = True) -> RunDir:
    students = pytest.importorskip("dlink.distill.students")
    rd = RunDir(tmp_path / "run").mkdir()
    cfg = config_from_dict({"name": "t", "data": SMALL_DATA,
                            "export": {"n_calibration": 16, "n_test_vectors": 4,
                                       "n_layer_windows": 8},
                            "bench": {"gate_windows": 8, "min_agreement": 0.5}})
    save_config(cfg, rd.config)
    kwargs = {"n_chans": 22, "n_times": 800, "n_outputs": 4, "sfreq": 200.0, "mimic_width": 2,
              "hidden_width": 8, "final_width": 8}
    torch.manual_seed(0)
    model = students.build_student("mic", **kwargs).eval()
    payload = {"arch": "mic", "kwargs": kwargs,
               "state_dict": {k: v.detach() for k, v in model.state_dict().items()},
               "n_chans": 22, "n_times": 800, "sfreq": 200.0, "ch_names": [f"E{i}" for i in range(22)],
               "class_names": ["a", "b", "c", "d"], "input_unit": "100uV"}
    torch.save(payload, rd.student)
    if stamp:
        rd.write_stamp("distill", inputs=[rd.config], outputs=[rd.student])
    return rd


def test_export_refuses_a_run_without_distill(tmp_path):
    from dlink.export.pipeline import export_run

    rd = _make_run(tmp_path, stamp=False)
    with pytest.raises(StageError, match="dlink distill"):
        export_run(rd.path)


def test_export_cli_writes_every_file_and_stamps(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DLINK_CACHE_DIR", str(tmp_path / "cache"))
    rd = _make_run(tmp_path)
    assert main(["export", str(rd.path)]) == 0
    first = {name: (rd.export_dir / name).read_bytes() for name in EXPORT_FILES}
    _kill_export_then_rerun(rd, tmp_path / "cache")
    # the same inputs give the same bytes: nothing later becomes stale. parity.json's
    # onnxruntime_qdq_u8s8 row is the one exception: onnxruntime's default x86 uint8 x int8
    # kernels give other outputs from one session to the next on some machines (measured on
    # the demo student); no stage reads parity.json.
    changed = [n for n in EXPORT_FILES if (rd.export_dir / n).read_bytes() != first[n]]
    if "parity.json" in changed:
        a, b = (_without_u8s8(json.loads(t)) for t in
                (first["parity.json"], (rd.export_dir / "parity.json").read_bytes()))
        if a == b:
            changed.remove("parity.json")
    assert not changed, f"export is not reproducible: {changed}"
    out = capsys.readouterr().out
    for name in ("pytorch_float", "onnxruntime_qdq", "tflite_int8", "tflite_micro", "arena"):
        assert name in out
    for name in EXPORT_FILES:
        assert (rd.export_dir / name).is_file(), name
    stamp = rd.require_stage("export")
    assert "student.pt" in stamp["inputs"]
    rep = json.loads((rd.export_dir / "parity.json").read_text())
    assert rep["n_calibration"] == 16 and rep["test_vectors"]["n"] == 4
    # calibrated on the labelled non-test windows, clipped at the 99.95th percentile of |x|
    assert rep["calibration"]["windows_from"] == "train+val" and rep["calibration"]["n_available"] == 72
    assert rep["calibration"]["clip_percentile"] == 99.95
    assert rep["calibration"]["clip_abs"] < rep["calibration"]["max_abs"]
    cal = np.load(rd.export_dir / "calibration.npz")
    # stratified: 4 classes x 4 windows
    assert np.bincount(cal["y"]).tolist() == [4, 4, 4, 4]
    # the model card travels with the model: run directory, ONNX metadata_props
    import onnx

    card = json.loads((rd.path / "model_card.json").read_text())
    assert card["input"]["channels"] == [f"E{i}" for i in range(22)] and card["classes"] == list("abcd")
    assert card["quantization"]["input"]["dtype"] == "int8" and (rd.path / "model_card.md").is_file()
    for name in ("student.onnx", "student.int8.onnx"):
        props = {p.key: p.value for p in onnx.load(str(rd.export_dir / name)).metadata_props}
        assert json.loads(props["dlink.model_card"]) == card and props["dlink.sfreq_hz"] == "200"
    assert "model_card.json" in stamp["outputs"]
    # the board check: the generated model and TFLite-Micro's interpreter on the run's board
    assert "on mps2-an386: generated model (arena" in out and ": fits" in out
    # the gate bundle: what `dlink check` reads with the base install
    from dlink.bench.gate_bundle import load_gate_bundle

    gate = load_gate_bundle(rd.export_dir / "gate")  # checks every field and SHA-256
    assert gate.input_shape == (22, 800) and gate.n_classes == 4
    assert gate.meta["input"]["sfreq_hz"] == 200.0 and len(gate.meta["input"]["channels"]) == 22
    assert gate.thresholds == {"min_balanced_accuracy": None, "min_above_chance": 0.1, "min_agreement": 0.5}
    assert gate.meta["windows"]["n"] == 8 and gate.meta["windows"]["class_counts"] == [2, 2, 2, 2]
    assert (rd.export_dir / "gate" / "student.int8.onnx").read_bytes() == \
        (rd.export_dir / "student.int8.onnx").read_bytes()
    assert "export/gate/gate.json" in stamp["outputs"]
    # the bundle carries the model card, and its ONNX copies carry the card's metadata_props
    assert json.loads((rd.export_dir / "gate" / "model_card.json").read_text()) == card
    assert gate.meta["input"]["channels"] == card["input"]["channels"] and gate.class_names == card["classes"]
    assert main(["check", str(rd.path)]) in (0, 1)
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["dlink_check"]["n"] == 8


def _kill_export_then_rerun(rd: RunDir, cache) -> None:
    """kill -9 a second `dlink export` once it has begun rewriting files: no stamp is left, so
    later stages refuse the half-written folder; the same command then finishes cleanly."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from dlink.firmware.build import build_firmware

    stamp = rd.stamp_path("export")
    calib = rd.export_dir / "calibration.npz"
    before = calib.stat().st_mtime_ns
    env = {**os.environ, "DLINK_CACHE_DIR": str(cache)}
    proc = subprocess.Popen([sys.executable, "-m", "dlink.cli", "export", str(rd.path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if not stamp.exists() and calib.stat().st_mtime_ns != before:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "export finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not stamp.exists()
    with pytest.raises(StageError, match=r"'export' stage has not been run.*Run `dlink export"):
        build_firmware(rd.path, "mps2-an386")
    assert main(["export", str(rd.path)]) == 0
    assert rd.require_stage("export")
    assert not list(rd.export_dir.glob(".*.tmp*")), "temporary files left behind"


def _without_u8s8(obj):
    if isinstance(obj, dict):
        return {k: _without_u8s8(v) for k, v in obj.items() if "onnxruntime_qdq_u8s8" not in k}
    if isinstance(obj, list):
        return [_without_u8s8(v) for v in obj]
    return obj
