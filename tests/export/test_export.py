"""`dlink export` on a stand-in student: opset, QDQ/TFLite agreement, parity report, test vectors,
and the operator check (one module-scoped export shared by the tests: TensorFlow is slow to load).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from dlink.data import load_dataset  # noqa: E402
from dlink.data.config import DataConfig  # noqa: E402
from dlink.export.config import ExportConfig  # noqa: E402
from dlink.export.pipeline import RUNTIMES, export_student  # noqa: E402
from dlink.export.quant import quantize  # noqa: E402

from .standin import StandInStudent, train_standin  # noqa: E402

SMALL_DATA = {"subjects": {"train": 2, "val": 1, "test": 2, "pool": 0}, "trials_per_class": 10}


@pytest.fixture(scope="module")
def splits():
    torch.set_num_threads(1)
    return load_dataset(DataConfig(synthetic=SMALL_DATA), use_cache=False)


@pytest.fixture(scope="module")
def exported(splits, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    tr, te = splits["train"], splits["test"]
    model = train_standin(tr.X, tr.y, len(tr.class_names), epochs=20)
    cfg = ExportConfig(opset=15, n_calibration=40, n_test_vectors=6)
    report = export_student(model, train_x=tr.X, train_y=tr.y, test_x=te.X, test_y=te.y,
                            out_dir=out, cfg=cfg)
    return {"dir": out, "report": report, "cfg": cfg, "model": model, "test": te}


def test_onnx_opset_is_the_configured_one(exported):
    from dlink.export.onnx_export import onnx_opset

    proto = onnx.load(str(exported["dir"] / "student.onnx"))
    assert onnx_opset(proto) == exported["cfg"].opset
    assert exported["report"]["onnx"]["max_abs_err"] < 1e-3
    assert "BatchNormalization" not in {n.op_type for n in proto.graph.node}


@pytest.mark.parametrize("opset", [13, 18])
def test_export_onnx_writes_exactly_the_requested_opset(opset, tmp_path):
    from dlink.export.onnx_export import export_onnx, onnx_opset

    torch.manual_seed(0)
    model = StandInStudent(4, 200, 3).eval()
    info = export_onnx(model, tmp_path / "m.onnx", n_chans=4, n_times=200, opset=opset)
    assert onnx_opset(onnx.load(str(tmp_path / "m.onnx"))) == info["opset"] == opset
    assert info["max_abs_err"] < 1e-4


def test_export_onnx_rejects_a_wrongly_shaped_check_batch(tmp_path):
    from dlink.export.onnx_export import export_onnx

    model = StandInStudent(4, 200, 3).eval()
    with pytest.raises(ValueError, match=r"x_check must have shape \(n, 4, 200\)"):
        export_onnx(model, tmp_path / "m.onnx", n_chans=4, n_times=200, opset=17,
                    x_check=np.zeros((2, 200, 4), np.float32))


def test_onnxruntime_qdq_and_tflite_int8_agree(exported):
    from dlink.export.onnx_export import ort_run, ort_session
    from dlink.export.validate import run_tflite

    x = exported["test"].X
    qdq = ort_run(ort_session(exported["dir"] / "student.int8.onnx", int8_kernels=True), x)
    tfl = run_tflite((exported["dir"] / "student.int8.tflite").read_bytes(), x)
    agreement = np.mean(qdq.argmax(1) == tfl.argmax(1))
    assert agreement >= 0.99
    assert exported["report"]["argmax_agreement_qdq_vs_tflite_int8"] == pytest.approx(agreement)
    # the int8 x int8 kernels compute what the QDQ graph says (evaluated op by op, no fusion)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    plain = ort.InferenceSession(str(exported["dir"] / "student.int8.onnx"), opts,
                                 providers=["CPUExecutionProvider"])
    ref = plain.run(None, {plain.get_inputs()[0].name: x})[0]
    assert np.linalg.norm(qdq - ref) / np.linalg.norm(ref) < 0.05
    qdq_types = {n.op_type for n in onnx.load(str(exported["dir"] / "student.int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= qdq_types


def test_parity_report_fields_are_sane(exported):
    rep = json.loads((exported["dir"] / "parity.json").read_text())
    assert set(rep["runtimes"]) == set(RUNTIMES)
    for name, m in rep["runtimes"].items():
        assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["balanced_accuracy"] <= 1.0, name
        assert -1.0 <= m["cosine"] <= 1.0 + 1e-9 and m["rel_rms"] >= 0.0, name
        assert m["n_windows"] == len(exported["test"])
    assert rep["runtimes"]["pytorch_float"]["argmax_agreement"] == 1.0
    assert rep["runtimes"]["onnxruntime_float"]["rel_rms"] < 1e-4
    for name in ("onnxruntime_qdq", "tflite_int8", "tflite_micro"):
        assert rep["runtimes"][name]["cosine"] > 0.9, name
        assert rep["runtimes"][name]["argmax_agreement"] >= 0.8, name
    for rt in ("onnxruntime_qdq", "tflite_int8"):
        layers = rep["per_layer"][rt]
        assert layers and all(0.0 <= d["rel_rms"] for d in layers)
        assert rep["worst_layer"][rt]["rel_rms"] == max(d["rel_rms"] for d in layers)
    micro = rep["per_layer"]["tflite_micro_vs_tflite_int8"]
    assert [d["op"] for d in micro] == json.loads((exported["dir"] / "ops.json").read_text())["ops"]
    assert all(d["n_values"] > 0 and 0 <= d["n_values_differ"] <= d["n_values"] for d in micro)
    tflm = json.loads((exported["dir"] / "tflm.json").read_text())
    assert tflm["arena_bytes"] == rep["tflm_arena_bytes"] >= tflm["recorded_head_bytes"] > 0
    ops = json.loads((exported["dir"] / "ops.json").read_text())
    assert ops["n_transposes"] == ops["ops"].count("TRANSPOSE") == rep["tflite"]["n_transposes"]
    # grouped temporal convs (strided ones included) become DEPTHWISE_CONV_2D, never grouped CONV_2D
    convs = [m for m in exported["model"].modules() if isinstance(m, torch.nn.Conv2d)]
    n_depthwise = sum(m.groups == m.in_channels > 1 for m in convs)
    assert ops["op_counts"]["DEPTHWISE_CONV_2D"] == n_depthwise
    assert ops["op_counts"]["CONV_2D"] == len(convs) - n_depthwise
    assert "FULLY_CONNECTED" in ops["ops"]
    # the EEG layout is the model input: [1, n_chans, 1, n_times] has the bytes of [n_chans, n_times]
    te = exported["test"]
    assert ops["input"]["shape"] == [1, te.n_chans, 1, te.n_times]
    assert ops["input"]["dtype"] == ops["output"]["dtype"] == "INT8"


def test_test_vectors_match_the_tflm_interpreter(exported):
    from dlink.export.tflm_reference import run_tflm

    d = exported["dir"]
    tv = np.load(d / "test_vectors.npz")
    model = (d / "student.int8.tflite").read_bytes()
    n = exported["cfg"].n_test_vectors
    assert tv["x_float"].shape[0] == tv["x_int8"].shape[0] == tv["y_true"].shape[0] == n
    assert tv["x_int8"].dtype == np.int8 and tv["y_expected_int8"].dtype == np.int8
    np.testing.assert_array_equal(
        tv["x_int8"].reshape(n, -1),
        quantize(tv["x_float"], float(tv["input_scale"]), int(tv["input_zero_point"])).reshape(n, -1))
    got = run_tflm(model, tv["x_int8"]).reshape(n, -1)
    np.testing.assert_array_equal(got, tv["y_expected_int8"])

    h = (d / "test_vectors.h").read_text()
    macros = dict(re.findall(r"#define (DLK_TV_\w+) (\S+)", h))
    assert int(macros["DLK_TV_COUNT"]) == n
    assert int(macros["DLK_TV_INPUT_BYTES"]) == tv["x_int8"][0].size
    assert int(macros["DLK_TV_OUTPUT_BYTES"]) == tv["y_expected_int8"].shape[1]
    assert "extern const int8_t dlk_tv_inputs[DLK_TV_COUNT][DLK_TV_INPUT_BYTES];" in h
    assert "extern const int8_t dlk_tv_expected[DLK_TV_COUNT][DLK_TV_OUTPUT_BYTES];" in h
    c = (d / "test_vectors.c").read_text()
    body = c.split("dlk_tv_inputs[DLK_TV_COUNT][DLK_TV_INPUT_BYTES] DLK_ALIGN16 = {")[1].split("};")[0]
    values = np.array([int(v) for v in re.findall(r"-?\d+", body)], np.int8)
    np.testing.assert_array_equal(values, tv["x_int8"].ravel())
    body = c.split("dlk_tv_expected[DLK_TV_COUNT][DLK_TV_OUTPUT_BYTES] DLK_ALIGN16 = {")[1].split("};")[0]
    values = np.array([int(v) for v in re.findall(r"-?\d+", body)], np.int8)
    np.testing.assert_array_equal(values, tv["y_expected_int8"].ravel())

    mc = (d / "model_data.c").read_text().split("DLK_ALIGN16 = {")[1].split("};")[0]
    assert bytes(int(v, 16) for v in re.findall(r"0x[0-9a-f]{2}", mc)) == model


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc")
def test_c_arrays_compile_cleanly(exported, tmp_path):
    for name in ("test_vectors.c", "model_data.c"):
        proc = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Werror", "-c",
                               str(exported["dir"] / name), "-o", str(tmp_path / (name + ".o"))],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("act, op_name", [("elu", "ELU"), ("gelu", "Erf")])
def test_unsupported_layer_is_rejected_with_its_name(act, op_name, splits):
    from dlink.export.onnx_export import export_onnx
    from dlink.export.tflite_check import UnsupportedOperatorError, check_tflite
    from dlink.export.tflite_convert import onnx_to_tflite_int8

    tr = splits["train"]
    torch.manual_seed(0)
    model = StandInStudent(tr.n_chans, tr.n_times, 4, act=act).eval()
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        export_onnx(model, path, n_chans=tr.n_chans, n_times=tr.n_times, opset=17)
        proto = onnx.load(str(path))
        conv = onnx_to_tflite_int8(proto, tr.X[:8], with_float=True)
    nodes = [(n.op_type, n.name) for n in proto.graph.node]
    with pytest.raises(UnsupportedOperatorError, match=op_name) as exc:
        check_tflite(conv["int8"], onnx_nodes=nodes)
    assert any(op_name.lower() in (p["op"] + p["layer"]).lower() for p in exc.value.problems)
    # traced back to the PyTorch module (act1) through the ONNX node name
    assert "/act1/" in str(exc.value)
    # the float model is refused too: float input
    with pytest.raises(UnsupportedOperatorError, match="expected INT8"):
        check_tflite(conv["float"])


def test_export_check_accepts_only_what_the_code_generator_lowers():
    from dlink.export.codegen.ops import LOWERINGS
    from dlink.export.tflite_check import COUNTED_OPS, SUPPORTED_OPS

    allowed_in_graph = set(SUPPORTED_OPS) | set(COUNTED_OPS)
    assert "CONV_2D" in allowed_in_graph and "QUANTIZE" not in allowed_in_graph
    assert allowed_in_graph <= set(LOWERINGS)


def test_check_rejects_bytes_that_are_not_tflite():
    from dlink.export.tflite_check import check_tflite

    with pytest.raises(ValueError, match="TFL3"):
        check_tflite(b"\x00" * 64)


def test_quantize_rounds_half_away_from_zero_and_saturates():
    q = quantize(np.array([0.25, -0.25, 0.75, 100.0, -100.0]), 0.5, 0)
    assert q.tolist() == [1, -1, 2, 127, -128]
    with pytest.raises(ValueError, match="scale"):
        quantize(np.zeros(2), 0.0, 0)
