"""`dlink check`: the CI gate passes a good model and fails a bad one, naming threshold and value."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlink.bench.check import load_windows_npz, run_check
from dlink.cli import main
from dlink.rundir import RunDir, StageError
from tests.bench.standin import make_windows


def _json_line(out: str) -> dict:
    line = next(l for l in out.splitlines() if l.startswith('{"dlink_check"'))
    return json.loads(line)["dlink_check"]


def test_check_passes_on_a_good_model(good_run, windows_npz, capsys):
    rc = main(["check", str(good_run.path), "--npz", str(windows_npz)])
    out = capsys.readouterr().out
    result = _json_line(out)
    assert rc == 0
    assert result["passed"] is True and result["failures"] == []
    assert result["balanced_accuracy"] >= result["min_balanced_accuracy"]
    assert result["agreement"] >= result["min_agreement"]
    assert "PASSED" in out and "balanced accuracy (int8)" in out
    # the gate runs the QDQ model on int8 x int8 kernels, as export validates it
    assert result["session_config"] == {"session.qdqisint8allowed": "1"}


def test_check_fails_on_a_bad_model(bad_run, windows_npz, capsys):
    rc = main(["check", str(bad_run.path), "--npz", str(windows_npz), "--min-balanced-accuracy", "0.5"])
    cap = capsys.readouterr()
    result = _json_line(cap.out)
    assert rc != 0
    assert result["passed"] is False
    measured = f"{result['balanced_accuracy']:.4f}"
    assert f"balanced accuracy {measured} < threshold 0.5000" in cap.err
    assert "--min-balanced-accuracy" in cap.err


def test_check_fails_when_threshold_is_too_high(good_run, windows_npz, capsys):
    rc = main(["check", str(good_run.path), "--npz", str(windows_npz),
               "--min-balanced-accuracy", "1.0", "--min-agreement", "1.0"])
    cap = capsys.readouterr()
    result = _json_line(cap.out)
    assert rc != 0
    assert result["min_balanced_accuracy"] == 1.0
    assert result["balanced_accuracy"] < 1.0  # the stand-in task has a few errors by design
    assert f"balanced accuracy {result['balanced_accuracy']:.4f} < threshold 1.0000" in cap.err


def test_check_fails_on_low_agreement(good_run, bad_run, windows_npz, tmp_path):
    # int8 model of the good run against the float model of the bad one: they disagree.
    import shutil

    run = RunDir(tmp_path / "mixed").mkdir()
    shutil.copytree(good_run.export_dir, run.export_dir)
    shutil.copy(bad_run.export_dir / "student.onnx", run.export_dir / "student.onnx")
    run.write_stamp("export", inputs=[], outputs=[run.export_dir / "student.onnx"])
    result = run_check(run.path, npz=windows_npz, min_balanced_accuracy=0.0, min_agreement=0.9)
    assert result["passed"] is False
    assert result["agreement"] < 0.9
    assert any("agreement" in f and "(--min-agreement)" in f for f in result["failures"])


def test_check_npz_missing_key_names_file_and_key(good_run, tmp_path):
    x, _ = make_windows(6)
    bad = tmp_path / "no_labels.npz"
    np.savez(bad, X=x)
    with pytest.raises(ValueError, match=r"no_labels\.npz.*no key 'y'"):
        run_check(good_run.path, npz=bad)
    rc = main(["check", str(good_run.path), "--npz", str(bad)])
    assert rc != 0


@pytest.mark.parametrize("arrays, match", [
    ({"X": np.zeros((4, 32), np.float32), "y": np.zeros(4, np.int64)}, r"'X' must be a float array"),
    ({"X": np.zeros((4, 4, 32), np.float32), "y": np.zeros(4, np.float32)}, r"'y' must be an integer"),
    ({"X": np.zeros((4, 4, 32), np.float32), "y": np.zeros(3, np.int64)}, r"4 windows and 'y' 3 labels"),
])
def test_load_windows_npz_rejects_malformed(tmp_path, arrays, match):
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match):
        load_windows_npz(path)


def test_load_windows_npz_accepts_test_vector_keys(tmp_path):
    x, y = make_windows(5)
    path = tmp_path / "tv.npz"
    np.savez(path, x_float=x, y_true=y)
    x2, y2 = load_windows_npz(path)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)


def test_check_missing_npz_file(good_run, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npz"):
        run_check(good_run.path, npz=tmp_path / "nope.npz")


def test_check_rejects_threshold_out_of_range(good_run, windows_npz):
    with pytest.raises(ValueError, match=r"--min-agreement must be a number between 0 and 1, got 1\.5"):
        run_check(good_run.path, npz=windows_npz, min_agreement=1.5)


def test_check_needs_the_export_stage(tmp_path):
    with pytest.raises(StageError, match=r"dlink export"):
        run_check(tmp_path)
