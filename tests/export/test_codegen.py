"""The C code generator: banner, API, identifiers, floats, constants, errors, cross-compile."""

from __future__ import annotations

import copy
import hashlib
import re
import subprocess

import numpy as np
import pytest

from tests.firmware.helpers import HAS_ARM_GCC, STRICT_FLAGS, model_path


@pytest.fixture(scope="module")
def student_like(tmp_path_factory):
    from dlink.export.codegen import generate_c

    out = tmp_path_factory.mktemp("gen")
    return generate_c(model_path("student_like"), out, name="eeg_net")


def test_result_and_header_api(student_like):
    r = student_like
    assert {"arena_bytes", "macs", "c_files", "include_dirs", "ops"} <= set(r)
    header = r["header"].read_text()
    for macro, value in (("EEG_NET_INPUT_BYTES", r["input_bytes"]),
                         ("EEG_NET_OUTPUT_BYTES", r["output_bytes"]),
                         ("EEG_NET_ARENA_BYTES", r["arena_bytes"]), ("EEG_NET_MACS", r["macs"])):
        assert re.search(rf"#define {macro} {value}\b", header), macro
    assert "dlk_status_t eeg_net_invoke(const int8_t *input, size_t input_len" in header
    assert '#include "dlink/kernels.h"' in header
    assert r["input_bytes"] == 4 * 64 and r["output_bytes"] == 4
    assert r["c_files"][0] == r["source"] and all(p.is_file() for p in r["c_files"])
    import json

    report = json.loads(r["report"].read_text())
    assert report["arena_bytes"] == r["arena_bytes"] and report["macs"] == r["macs"]
    assert report["tflm_arena_bytes"]["head"] >= r["arena_bytes"]


def test_banner_names_version_and_model_hash(student_like):
    from dlink import __version__

    sha = hashlib.sha256(model_path("student_like").read_bytes()).hexdigest()
    for path in (student_like["header"], student_like["source"]):
        head = "\n".join(path.read_text().splitlines()[:3])
        assert "DO NOT EDIT" in head and f"dlink {__version__}" in head and sha in head
    assert student_like["sha256"] == sha


def test_constants_are_aligned_const_data(student_like):
    src = student_like["source"].read_text()
    arrays = re.findall(r"static const (int8_t|int32_t) (\w+)\[\d+\] DLK_ALIGNED\(16\)", src)
    names = [a[1] for a in arrays]
    assert any(n.endswith("_weights") for n in names)
    assert any(n.endswith("_multiplier") for n in names)
    assert all(n.startswith("eeg_net_") for n in names)
    # Every array definition carries the alignment (none without it).
    assert len(re.findall(r"static const int(8|32)_t \w+\[", src)) == len(arrays)
    assert re.search(r"static int8_t eeg_net_arena\[EEG_NET_ARENA_BYTES\] DLK_ALIGNED\(16\)", src)


def test_multipliers_match_tflite_quantize_multiplier(student_like):
    """The emitted FC multipliers equal QuantizeMultiplier of the model's scales."""
    from dlink.export.codegen import read_tflite
    from dlink.export.codegen.quantize import quantize_multiplier

    graph = read_tflite(model_path("student_like"))
    fc = next(op for op in graph.operators if op.opcode == "FULLY_CONNECTED")
    x, w, y = (graph.tensors[i] for i in (fc.inputs[0], fc.inputs[1], fc.outputs[0]))
    sx, sy = float(np.float32(x.scale)), float(np.float32(y.scale))
    expected = [quantize_multiplier(sx * float(s) / sy) for s in w.scales.astype(np.float32)]
    src = student_like["source"].read_text()
    m = re.search(rf"eeg_net_l{fc.index}_multiplier\[\d+\] DLK_ALIGNED\(16\) = "
                  r"\{\s*([^}]*)\}", src)
    got = [int(v) for v in m.group(1).replace("\n", " ").split(",") if v.strip()]
    assert got == [e[0] for e in expected]
    assert all(2**30 <= v < 2**31 for v in got)


def test_quantize_multiplier_known_values():
    from dlink.export.codegen.quantize import quantize_multiplier, round_half_away

    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(0.25) == (1 << 30, -1)
    assert quantize_multiplier(3.0) == (3 << 29, 2)
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2.0 ** -40) == (0, 0)  # below 2**-31: flushed, as TFLite
    assert (round_half_away(2.5), round_half_away(-2.5), round_half_away(-2.4)) == (3, -3, -2)


def test_float_literals_round_trip(student_like):
    from dlink.export.codegen import read_tflite
    from dlink.export.codegen.cfmt import c_float

    graph = read_tflite(model_path("student_like"))
    header = student_like["header"].read_text()
    for macro, tensor in (("EEG_NET_INPUT_SCALE", graph.inputs[0]),
                          ("EEG_NET_OUTPUT_SCALE", graph.outputs[0])):
        literal = re.search(rf"#define {macro} (\S+)", header).group(1)
        assert literal.endswith("f")
        assert np.float32(float.fromhex(literal[:-1])) == graph.tensors[tensor].scales[0]
    for v in (1e-30, 0.1, 1.0 / 3.0, 123456.789):
        assert np.float32(float.fromhex(c_float(v)[:-1])) == np.float32(v)


@pytest.mark.parametrize("bad", ["1model", "my-model", "int", "dlk_x", "__x", "a" * 40, ""])
def test_invalid_model_names(bad, tmp_path):
    from dlink.export.codegen import generate_c

    with pytest.raises(ValueError, match="model name"):
        generate_c(model_path("fc"), tmp_path, name=bad)


def test_unsupported_operator_is_named(tmp_path):
    from dlink.export.codegen import UnsupportedOperatorError, generate_c

    match = r"operator TANH \(layer 1, output tensor"
    with pytest.raises(UnsupportedOperatorError, match=match) as e:
        generate_c(model_path("unsupported_tanh"), tmp_path)
    assert (e.value.op, e.value.option, e.value.layer) == ("TANH", "operator", 1)
    assert not list(tmp_path.glob("*.c"))  # nothing written on failure


def test_unsupported_option_is_named():
    """A fused activation the runtime cannot apply is an error naming op, option and layer."""
    from dlink.export.codegen import UnsupportedOperatorError, read_tflite
    from dlink.export.codegen.generator import _build_from_graph

    graph = read_tflite(model_path("conv_same_relu"))
    bad = copy.deepcopy(graph)
    bad.operators[0].options.fusedActivationFunction = 4  # TANH
    with pytest.raises(UnsupportedOperatorError,
                       match=r"fused activation TANH in operator CONV_2D \(layer 0"):
        _build_from_graph(bad, "student")
    bad = copy.deepcopy(graph)
    bad.operators[0].options.padding = 7
    with pytest.raises(UnsupportedOperatorError, match="padding PADDING_7 in operator CONV_2D"):
        _build_from_graph(bad, "student")
    bad = copy.deepcopy(graph)
    bad.tensors[bad.inputs[0]].dtype = "FLOAT32"
    with pytest.raises(UnsupportedOperatorError, match="input type FLOAT32"):
        _build_from_graph(bad, "student")


def test_bad_files(tmp_path):
    from dlink.export.codegen import ModelFormatError, generate_c

    with pytest.raises(FileNotFoundError, match="TFLite model.*does not exist"):
        generate_c(tmp_path / "none.tflite", tmp_path)
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFormatError, match="not a TFLite flatbuffer.*TFL3"):
        generate_c(junk, tmp_path)


@pytest.mark.skipif(not HAS_ARM_GCC, reason="arm-none-eabi-gcc not installed")
def test_generated_code_cross_compiles_warnings_clean(student_like, tmp_path):
    inc = [f"-I{d}" for d in student_like["include_dirs"]]
    cmd = ["arm-none-eabi-gcc", *STRICT_FLAGS, "-Os", "-mcpu=cortex-m4", "-mthumb", *inc, "-c",
           str(student_like["source"]), "-o", str(tmp_path / "model.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    size = subprocess.run(["arm-none-eabi-size", "-A", str(tmp_path / "model.o")],
                          capture_output=True, text=True).stdout
    rodata = int(re.search(r"\.rodata\s+(\d+)", size).group(1))
    bss = int(re.search(r"\.bss\s+(\d+)", size).group(1))
    assert rodata >= student_like["const_data_bytes"]  # weights are const (flash), not RAM
    assert bss >= student_like["arena_bytes"]           # the arena is static RAM


def test_pad_folded_into_conv_is_bit_exact_and_saves_arena(tmp_path):
    from dlink.export.codegen.tflm import tflm_invoke
    from tests.firmware.helpers import generate_and_build, random_windows

    path = model_path("reshape_pad")
    folded, host_f = generate_and_build(path, tmp_path / "f", tmp_path / "b")
    assert folded["folded_pads"] == [1]
    assert "folded into layer\n     * 2" in folded["source"].read_text()
    from dlink.export.codegen import generate_c
    from dlink.firmware.host import HostModel

    plain = generate_c(path, tmp_path / "p", fold_pad=False)
    host_p = HostModel.build(plain, tmp_path / "b")
    assert plain["folded_pads"] == [] and "dlk_pad_s8" in plain["source"].read_text()
    assert folded["arena_bytes"] < plain["arena_bytes"]
    x = random_windows(path, 16, seed=11)
    expected = tflm_invoke(path, x)
    np.testing.assert_array_equal(host_f.run(x), expected)
    np.testing.assert_array_equal(host_p.run(x), expected)
