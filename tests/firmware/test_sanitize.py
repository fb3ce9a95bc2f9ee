"""`make sanitize`: the runtime and a generated model under ASan + UBSan on the host, on test
vectors, random and extreme windows (bit-exact with TFLite-Micro)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.firmware.helpers import MODEL_DIR, model_path

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the host gcc")


def _exported_run(tmp_path, name: str = "mic_student"):
    """A run directory whose export stage holds the committed model and its test vectors."""
    from dlink.export.codegen.tflm import tflm_invoke
    from dlink.io import atomic_savez
    from dlink.rundir import RunDir

    run = RunDir(tmp_path / "run dir").mkdir()
    run.export_dir.mkdir()
    tfl = run.export_dir / "student.int8.tflite"
    tfl.write_bytes(model_path(name).read_bytes())
    from dlink.export.codegen import read_tflite

    g = read_tflite(tfl)
    shape = g.tensors[g.inputs[0]].shape
    x = np.random.default_rng(0).integers(-128, 128, size=(3, *shape), dtype=np.int8)
    atomic_savez(run.export_dir / "test_vectors.npz", x_int8=x,
                 y_expected_int8=tflm_invoke(tfl, x).reshape(3, -1))
    run.write_stamp("export", inputs=[], outputs=[tfl, run.export_dir / "test_vectors.npz"])
    return run


def test_sanitize_run_is_clean_and_bit_exact_on_every_backend(tmp_path, capsys):
    from dlink.firmware.sanitize import main

    run = _exported_run(tmp_path)
    assert main([str(run.path), "--windows", "4"]) == 0
    out = capsys.readouterr().out
    assert "Findings: none." in out
    import json

    report = json.loads((run.path / "sanitize" / "report.json").read_text())
    assert {r["backend"] for r in report["rows"]} == {"ref", "dsp"}
    for row in report["rows"]:
        assert row["clean"] and row["matched"] == row["n"], row
    assert {r["windows"] for r in report["rows"]} == {"test vectors", "4 random + 4 extreme"}


def test_sanitize_refuses_a_changed_model(tmp_path, capsys):
    from dlink.firmware.sanitize import main

    run = _exported_run(tmp_path)
    tfl = run.export_dir / "student.int8.tflite"
    tfl.write_bytes(model_path("fc").read_bytes())  # swapped after export
    assert main([str(run.path)]) == 2
    assert "changed since the 'export' stage wrote it" in capsys.readouterr().err


def test_a_sanitizer_report_is_a_finding(tmp_path, monkeypatch):
    """The run would notice a kernel that reads out of bounds: plant one and see it reported."""
    from dlink.firmware import sanitize
    from dlink.firmware.host import HostModel

    real_build = HostModel.build

    def build_with_bug(gen, work_dir, **kw):
        src = gen["source"]
        text = src.read_text()
        bad = tmp_path / "bad"
        bad.mkdir(exist_ok=True)
        (bad / src.name).write_text(text.replace(  # one byte past the caller's input
            "    return DLK_OK;\n}", "    output[0] = input[STUDENT_INPUT_BYTES];\n"
            "    return DLK_OK;\n}"))
        (bad / gen["header"].name).write_text(gen["header"].read_text())
        return real_build(bad, work_dir, **kw)

    monkeypatch.setattr(HostModel, "build", staticmethod(build_with_bug))
    report = sanitize.sanitize_model(model_path("fc"), tmp_path / "s", backends=("ref",),
                                     n_random=2)
    assert report["findings"]
    assert "AddressSanitizer" in report["findings"][0]["message"]


@pytest.mark.slow
def test_every_committed_op_model_is_sanitizer_clean(tmp_path):
    from dlink.firmware.sanitize import sanitize_model

    for path in sorted(MODEL_DIR.glob("*.tflite")):
        if path.stem.startswith("unsupported"):
            continue
        report = sanitize_model(path, tmp_path / path.stem, n_random=8)
        assert not report["findings"], (path.name, report["findings"])
