"""`dlink bench` on the stand-in run: report files, runtimes measured, missing pieces named."""

from __future__ import annotations

import json

import pytest

from dlink.cli import main


@pytest.fixture(scope="module")
def bench_out(good_run, windows_npz):
    rc = main(["bench", str(good_run.path), "--npz", str(windows_npz), "--repeats", "5", "--warmup", "1"])
    return rc, good_run


def test_bench_writes_report_and_plots(bench_out):
    rc, run = bench_out
    assert rc == 0
    report = json.loads((run.bench_dir / "report.json").read_text())
    for name in ("ort_float", "ort_int8", "tflite_int8", "tflm_host"):
        entry = report["runtimes"][name]
        assert entry["status"] == "measured", (name, entry)
        assert 0.0 <= entry["metrics"]["balanced_accuracy"] <= 1.0
        assert entry["latency"]["repeats"] == 5 and entry["latency"]["median_ms"] > 0
        assert entry["agreement_with_float"] >= 0.9
    # the stand-in has no student.pt: reported, not faked
    assert report["runtimes"]["pytorch"]["status"] == "not measured"
    assert "student.pt" in report["runtimes"]["pytorch"]["error"]
    assert report["boards"]["mps2-an386"]["status"] == "not measured"
    assert "dlink flash" in report["boards"]["mps2-an386"]["command"]
    assert report["teacher"]["status"] == "not measured"
    for p in report["plots"]:
        assert (run.bench_dir / "plots" / p).is_file()
    assert "confusion_matrices.png" in report["plots"]
    assert "| model |" in (run.bench_dir / "report.md").read_text()


def test_bench_stamps_its_stage(bench_out):
    _, run = bench_out
    stamp = run.require_stage("bench")
    assert "bench/report.json" in stamp["outputs"]


def test_bench_needs_export(tmp_path, capsys):
    rc = main(["bench", str(tmp_path)])
    assert rc == 1
    assert f"dlink export {tmp_path}" in capsys.readouterr().err
    assert not (tmp_path / "bench" / "report.json").exists()


def test_bench_rejects_bad_board_list():
    with pytest.raises(SystemExit):
        main(["bench", "runs/x", "--boards", ","])
