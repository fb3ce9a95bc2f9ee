"""Report writers (valid JSON and Markdown), headline table, board results, plots."""

from __future__ import annotations

import json
import math

import pytest

from dlink.bench.emulated import measure_board
from dlink.bench.plots import _flatten_history, write_plots
from dlink.bench.report import HEADLINE_COLUMNS, headline_rows, headline_text, to_markdown, write_report
from dlink.rundir import RunDir


def _report():
    conf = [[5, 1], [2, 4]]
    lat = {"median_ms": 0.5, "iqr_ms": 0.1}
    return {
        "run": "runs/x", "settings": {"latency_repeats": 10},
        "dataset": {"n": 12, "source": "test", "n_chans": 4, "n_times": 32, "class_names": ["a", "b"]},
        "runtimes": {
            "pytorch": {"status": "measured", "label": "PyTorch float", "precision": "float",
                        "metrics": {"balanced_accuracy": 0.75, "kappa": 0.5, "f1_weighted": 0.74,
                                    "confusion": conf}, "latency": lat},
            "ort_int8": {"status": "measured", "label": "onnxruntime int8 QDQ", "precision": "int8",
                         "metrics": {"balanced_accuracy": 0.7, "kappa": float("nan"), "confusion": conf},
                         "latency": {"median_ms": 0.3}, "agreement_with_float": 0.9},
            "c_host": {"status": "not measured", "label": "generated C on host", "error": "no codegen"},
        },
        "teacher": {"status": "measured", "params": 5_000_000, "macs": 10**9,
                    "metrics": {"balanced_accuracy": 0.8, "kappa": 0.6, "confusion": conf},
                    "latency": {"median_ms": 20.0}},
        "student": {"params": 3000, "macs": 200_000},
        "models": {"baselines": {"eegnet": {"balanced_accuracy": 0.7, "kappa": 0.4, "params": 2500,
                                            "macs": 400_000}}},
        "boards": {"mps2-an386": {"board": "mps2-an386", "status": "measured", "core": "cortex-m4",
                                  "instructions_per_inference": 123456, "flash_bytes": 40000,
                                  "ram_bytes": 9000},
                   "mps2-an500": {"board": "mps2-an500", "status": "not measured",
                                  "command": "dlink firmware build runs/x --board mps2-an500"}},
        "router": {"layer_weights_mean": [0.1, 0.2, 0.3, 0.4], "layer_weights_std": [0.01] * 4},
        "history": {"student": [{"epoch": 1, "train_loss": 2.0, "val_balanced_accuracy": 0.4},
                                {"epoch": 2, "train_loss": 1.0, "val_balanced_accuracy": 0.6}]},
        "speedup": {"teacher_pytorch_over_pytorch": 40.0},
    }


def test_headline_rows_take_measured_values():
    rows = headline_rows(_report(), default_board="mps2-an386")
    assert [r["model"] for r in rows] == ["teacher (fine-tuned FM)", "student (DLink MiC)", "baseline: eegnet"]
    student = rows[1]
    assert student["int8_balanced_accuracy"] == 0.7 and student["int8_runtime"] == "ort_int8"
    assert student["instructions_per_inference"] == 123456 and student["ram_bytes"] == 9000
    assert rows[0]["host_latency_ms"] == 20.0 and rows[2]["host_latency_ms"] is None


def test_headline_without_a_measured_board_says_na():
    rows = headline_rows(_report(), default_board="mps2-an500")
    assert rows[1]["instructions_per_inference"] is None
    text = headline_text({**_report(), "headline": rows})
    assert "n/a" in text and "40.0x vs student PyTorch" in text
    assert "1666.7x parameters" in text


def test_write_report_valid_json_and_markdown(tmp_path):
    rep = _report()
    rep["headline"] = headline_rows(rep)
    json_path, md_path = write_report(rep, tmp_path)
    data = json.loads(json_path.read_text())  # strict: NaN must have become null
    assert data["runtimes"]["ort_int8"]["metrics"]["kappa"] is None
    assert "NaN" not in json_path.read_text()
    md = md_path.read_text()
    header = "| " + " | ".join(HEADLINE_COLUMNS.values()) + " |"
    assert header in md
    assert "| student (DLink MiC) | 0.750 |" in md
    assert "dlink firmware build runs/x --board mps2-an500" in md
    assert "### Confusion matrix: PyTorch float" in md
    # every table row has as many cells as its header
    for block in md.split("\n\n"):
        lines = [l for l in block.splitlines() if l.startswith("|")]
        if lines:
            assert len({l.count("|") for l in lines}) == 1, block


def test_plots_are_written_as_png(tmp_path):
    rep = _report()
    rep["headline"] = headline_rows(rep)
    names = write_plots(rep, tmp_path)
    assert set(names) == {"accuracy_vs_params.png", "accuracy_vs_macs.png", "accuracy_vs_latency.png",
                          "confusion_matrices.png", "router_layer_weights.png", "training_curves.png"}
    for n in names:
        assert (tmp_path / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_skip_missing_data(tmp_path):
    rep = _report()
    rep.pop("router")
    rep.pop("history")
    rep["headline"] = headline_rows(rep)
    names = write_plots(rep, tmp_path)
    assert "router_layer_weights.png" not in names and "training_curves.png" not in names
    assert "confusion_matrices.png" in names


def test_flatten_history_forms():
    assert _flatten_history({"a": {"loss": [1, 2]}}) == {"a/loss": [1.0, 2.0]}
    flat = _flatten_history([{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": None}])
    assert list(flat) == ["loss"] and flat["loss"][0] == 1.0 and math.isnan(flat["loss"][1])


def test_board_not_measured_names_commands(tmp_path):
    entry = measure_board(RunDir(tmp_path), "mps2-an386")
    assert entry["status"] == "not measured"
    assert f"dlink firmware build {tmp_path} --board mps2-an386" in entry["command"]
    assert f"dlink flash {tmp_path} --board mps2-an386" in entry["command"]


def test_board_measured_from_run_and_size_json(tmp_path):
    run = RunDir(tmp_path)
    fw = run.firmware_dir("mps2-an386")
    fw.mkdir(parents=True)
    (fw / "run.json").write_text(json.dumps({"board": "mps2-an386", "matched": 16, "total": 16,
                                             "instructions_per_inference": 777, "stack_peak_bytes": 512}))
    (fw / "size.json").write_text(json.dumps({"flash_bytes": 5000, "ram_bytes": 3000, "data": 100,
                                              "bss": 2400, "text": 4900, "arena_bytes": 2048}))
    entry = measure_board(run, "mps2-an386")
    assert entry["status"] == "measured" and entry["vectors_ok"] is True
    assert entry["instructions_per_inference"] == 777
    assert entry["flash_bytes"] == 5000 and entry["static_ram_bytes"] == 2500


def test_board_bad_json_is_an_error(tmp_path):
    run = RunDir(tmp_path)
    fw = run.firmware_dir("mps2-an386")
    fw.mkdir(parents=True)
    (fw / "run.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"run\.json.*not valid JSON"):
        measure_board(run, "mps2-an386")


def test_headline_names_the_teacher_from_metrics_json():
    rep = _report()
    rep["models"]["teacher"] = {"arch": "labram", "source": "reused", "pretrained": False,
                                "init": "trained from scratch", "balanced_accuracy": 0.1}
    rows = headline_rows(rep)
    assert rows[0]["model"] == "teacher (labram, from scratch)"  # not "reused": how it was made
    assert rows[0]["balanced_accuracy"] == 0.8  # measured by the bench wins over metrics.json
    rep["models"]["teacher"].update(pretrained=True, checkpoint="labram-base.pth")
    assert headline_rows(rep)[0]["model"] == "teacher (labram, pretrained labram-base.pth)"


def test_real_board_without_serial_is_not_run(tmp_path, monkeypatch):
    import dlink.bench.emulated as emulated

    monkeypatch.setattr(emulated, "_board_spec", lambda b: {"core": "cortex-m4", "qemu_machine": None})
    run = RunDir(tmp_path)
    fw = run.firmware_dir("nrf52840")
    fw.mkdir(parents=True)
    (fw / "app.elf").write_bytes(b"\x7fELF")
    (fw / "size.json").write_text(json.dumps({"flash_bytes": 5000, "ram_bytes": 3000}))
    entry = measure_board(run, "nrf52840")
    assert entry["status"] == "not measured"
    assert "--serial PORT" in entry["command"]
    assert entry["size"]["flash_bytes"] == 5000


def test_realtime_budget_table_names_boards_over_100_percent():
    from dlink.bench.report import realtime_text, to_markdown
    from dlink.firmware.budget import budget

    r = {"counter": "instructions", "frames": 1600, "decisions": 20, "n_chans": 8,
         "frontend_instructions_total": 1600 * 2000, "model_instructions_total": 20 * 21_000_000,
         "model_instructions_max": 21_000_000, "frontend_ram_bytes": 7000}
    rows = [budget(r, board=b, input_sfreq_hz=160.0, hop_s=0.5) for b in ("mps2-an386", "nrf52840")]
    report = {"realtime": {"status": "measured", "rows": rows,
                           "over_realtime": [x["board"] for x in rows if x["over_realtime"]]}}
    text = realtime_text(report)
    # 2000 * 160 + 21e6 / 0.5 = 42.32 M instructions/s: 169% of 25 MHz, 66% of 64 MHz
    assert "NO: >= 169% of the CPU for a 0.5-s hop" in text and "yes (>= 66%)" in text
    assert "mps2-an386: over 100% of the CPU" in text and "nrf52840: over" not in text
    assert "## Real-time budget" in to_markdown(report)
    assert realtime_text({}) == ""


def test_identical_confusion_matrices_are_printed_once():
    rep = _report()
    rep["headline"] = headline_rows(rep)
    md = to_markdown(rep)
    assert md.count("### Confusion matrix") == 1  # PyTorch and onnxruntime int8 predicted alike
    assert "### Confusion matrix: PyTorch float, onnxruntime int8 QDQ (rows: true" in md
    rep["runtimes"]["ort_int8"]["metrics"]["confusion"] = [[6, 0], [2, 4]]
    assert to_markdown(rep).count("### Confusion matrix") == 2


def test_warnings_and_data_notes_have_their_sections():
    rep = _report()
    rep["headline"] = headline_rows(rep)
    rep["warnings"] = ["small test set: 12 windows"]
    rep["data_notes"] = ["a.edf: events not in data.events (ignored): T0 x15"]
    md = to_markdown(rep)
    assert "## Warnings\n\n- small test set: 12 windows" in md
    assert "## Data left out\n\n- a.edf: events not in data.events" in md
