"""Graph validation before code generation: each broken model the issue found is refused with
a project error naming the file and the reason, and nothing is written."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess

import numpy as np
import pytest

from tests.firmware.helpers import model_path

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the host gcc")


def _edit(name: str, tmp_path, fn, file_name: str = "mutant.tflite"):
    """Write ``fn`` applied to the decoded model ``name`` as a new .tflite; return its path."""
    from dlink.bench.codegen_fuzz import load_model_t, pack_model_t

    m = load_model_t(model_path(name).read_bytes())
    fn(m)
    path = tmp_path / file_name
    path.write_bytes(pack_model_t(m))
    return path


def _refused(path, tmp_path, match: str):
    from dlink.export.codegen import ModelFormatError, UnsupportedOperatorError, generate_c

    out = tmp_path / "out"
    with pytest.raises((ModelFormatError, UnsupportedOperatorError), match=match) as e:
        generate_c(path, out)
    assert str(path) in str(e.value)  # names the file
    assert not out.exists() or not any(out.iterdir())  # nothing written
    return e.value


def _ops(m):
    return m.subgraphs[0].operators


def _tensor_out(m, op_index):
    return m.subgraphs[0].tensors[_ops(m)[op_index].outputs[0]]


def test_dropped_and_reordered_operators_are_refused(tmp_path):
    def drop(m):
        del _ops(m)[0]

    _refused(_edit("mic_student", tmp_path, drop), tmp_path,
             r"layer 0 \(.*\) tensor .*reads a tensor that no earlier operator writes")

    def swap(m):
        ops = _ops(m)
        ops[1], ops[2] = ops[2], ops[1]

    _refused(_edit("mic_student", tmp_path, swap), tmp_path, "no earlier operator writes")


def test_constant_graph_input_and_empty_graph_are_refused(tmp_path):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    def constant_input(m):
        sg = m.subgraphs[0]
        t = sg.tensors[sg.inputs[0]]
        buf = schema.BufferT()
        buf.data = np.zeros(int(np.prod(t.shape)), np.uint8)
        m.buffers.append(buf)
        t.buffer = len(m.buffers) - 1

    _refused(_edit("mic_student", tmp_path, constant_input), tmp_path,
             "the graph input is a constant tensor")

    def empty(m):
        m.subgraphs[0].operators = []

    _refused(_edit("mic_student", tmp_path, empty), tmp_path, "has no operators")


@pytest.mark.parametrize("zp", [300, -1000])
def test_zero_points_outside_int8_are_refused(tmp_path, zp):
    def edit(m):
        _tensor_out(m, 0).quantization.zeroPoint = [zp]

    _refused(_edit("mic_student", tmp_path, edit), tmp_path,
             rf"zero point {zp} is outside the int8 range \[-128, 127\]")


def test_a_huge_input_dimension_is_refused(tmp_path):
    def edit(m):
        sg = m.subgraphs[0]
        shape = list(sg.tensors[sg.inputs[0]].shape)
        shape[-1] = 2 ** 24
        sg.tensors[sg.inputs[0]].shape = shape

    _refused(_edit("mic_student", tmp_path, edit), tmp_path,
             r"(more than the \d+ bytes of RAM|output shape|gives an output|input \[)")


def test_relu6_relabelled_over_a_pad_is_refused(tmp_path):
    """The case that built, matched 0/16 vectors and wrote past the arena under ASan."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    def edit(m):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RELU6
        m.operatorCodes.append(code)
        pad = next(op for op in _ops(m) if m.operatorCodes[op.opcodeIndex].builtinCode ==
                   schema.BuiltinOperator.PAD)
        pad.opcodeIndex = len(m.operatorCodes) - 1
        pad.builtinOptions, pad.builtinOptionsType = None, 0

    _refused(_edit("reshape_pad", tmp_path, edit), tmp_path,
             r"\(RELU6\).*output shape \[.*\] differs from input shape")


def test_requantisation_shift_beyond_the_kernels_is_refused(tmp_path):
    def edit(m):
        _tensor_out(m, 0).quantization.scale = [1e-16]  # conv output: in * w / out > 2^30

    _refused(_edit("conv_same_relu", tmp_path, edit), tmp_path,
             r"needs a left shift of \d+ bits; the int8 kernels allow at most 30")


def test_a_bias_that_can_overflow_the_accumulator_is_refused(tmp_path):
    def edit(m):
        conv = _ops(m)[0]
        t = m.subgraphs[0].tensors[conv.inputs[2]]
        data = np.frombuffer(bytes(bytearray(m.buffers[t.buffer].data)), np.int32).copy()
        data[0] = 2 ** 31 - 1
        m.buffers[t.buffer].data = np.frombuffer(data.tobytes(), np.uint8)

    _refused(_edit("conv_same_relu", tmp_path, edit), tmp_path,
             r"output channel 0 can overflow its int32 accumulator \(bias 2147483647")


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_files_are_refused_naming_the_file(tmp_path, cut):
    raw = model_path("mic_student").read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(raw[:int(len(raw) * cut)])
    _refused(path, tmp_path, r"truncated or corrupted TFLite flatbuffer|no subgraph|truncated")


def test_a_comment_injected_through_a_tensor_name_stays_a_comment(tmp_path):
    """A constant named ``*/ int injected = 42; /*`` compiled the symbol into the binary."""
    from dlink.export.codegen import generate_c

    def edit(m):
        for t in m.subgraphs[0].tensors:
            t.name = b"*/ int injected = 42; /*"

    path = _edit("conv_same_relu", tmp_path, edit, file_name="*_ evil.tflite")
    gen = generate_c(path, tmp_path / "gen")
    src = gen["source"].read_text()
    assert "int injected = 42;" not in src.replace("__ int injected = 42; __", "")
    obj = tmp_path / "model.o"
    inc = [f"-I{d}" for d in gen["include_dirs"]]
    proc = subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", *inc, "-c", str(gen["source"]),
                           "-o", str(obj)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    symbols = subprocess.run(["nm", str(obj)], capture_output=True, text=True).stdout
    assert "injected" not in symbols


def test_every_lowering_has_a_shape_check():
    from dlink.export.codegen.graph_checks import OPTIONS, REQUIRED_INPUTS, _Checker
    from dlink.export.codegen.ops import LOWERINGS

    for opcode in LOWERINGS:
        assert hasattr(_Checker, "op_" + opcode.lower()), opcode
        assert opcode in REQUIRED_INPUTS, opcode
    assert set(OPTIONS) <= set(LOWERINGS)


def test_the_committed_models_all_pass_the_checks():
    from dlink.export.codegen.graph_checks import check_graph
    from dlink.export.codegen.reader import read_tflite
    from tests.firmware.helpers import MODEL_DIR

    for path in sorted(MODEL_DIR.glob("*.tflite")):
        if path.stem.startswith("unsupported"):
            continue
        check_graph(read_tflite(path))


def test_sizes_are_checked_against_the_board(tmp_path):
    from dlink.export.codegen import generate_c
    from dlink.export.codegen.graph_checks import BoardLimits, InvalidModelError

    with pytest.raises(InvalidModelError, match=r"flash of tiny|RAM of tiny|tiny has"):
        generate_c(model_path("mic_student"), tmp_path,
                   limits=BoardLimits(ram_bytes=2048, flash_bytes=1024, board="tiny"))
    assert not list(tmp_path.iterdir())


def test_a_crash_of_the_interpreter_is_an_error_message_not_a_dead_process(tmp_path, monkeypatch,
                                                                            caplog):
    from dlink.export.codegen import generate_c, tflm

    monkeypatch.setattr(tflm, "_CHILD", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(tflm.TflmChildError, match=r"crashed \(SIGSEGV\) on .*fc\.tflite"):
        tflm.tflm_arena_bytes_isolated(model_path("fc"))
    gen = generate_c(model_path("fc"), tmp_path)  # the figure is lost, the generation is not
    assert gen["tflm_arena_bytes"] is None and gen["source"].is_file()
    assert any("SIGSEGV" in r.getMessage() for r in caplog.records)


def test_runtime_kernels_refuse_mismatched_lengths_and_shifts(tmp_path):
    """RELU / RELU6 / QUANTIZE / copy compare element counts; shifts outside [-31, 30] and a
    bias of INT32_MAX are refused or defined, never undefined behaviour (run under UBSan)."""
    from dlink.firmware import runtime_sources
    from dlink.firmware.sanitize import SANITIZE_FLAGS, sanitizer_env

    c_files, inc = runtime_sources("ref")
    test_c = tmp_path / "t.c"
    test_c.write_text(r'''
#include <stdio.h>
#include "dlink/kernels.h"
int main(void) {
    int8_t in[4] = {1, 2, 3, 4}, out[8] = {0};
    const dlk_relu_params_t rp = {.multiplier = 1 << 30, .shift = 0, .act_min = -128, .act_max = 127};
    const dlk_relu_params_t bad = {.multiplier = 1 << 30, .shift = 97, .act_min = -128, .act_max = 127};
    const dlk_relu6_params_t r6 = {.zero = 0, .six = 6};
    const dlk_requant_params_t q = {.multiplier = 1 << 30, .shift = 0};
    const int32_t mult[1] = {1 << 30}, shift[1] = {0}, big_shift[1] = {40};
    const int32_t bias[1] = {2147483647};
    const int8_t w[1] = {127};
    dlk_fc_params_t fc = {.act_min = -128, .act_max = 127, .n_multipliers = 1,
                          .multiplier = mult, .shift = shift};
    int fails = 0;
    fails += dlk_relu_s8(&rp, in, 4, out, 8) != DLK_ERR_BAD_LENGTH;
    fails += dlk_relu6_s8(&r6, in, 4, out, 8) != DLK_ERR_BAD_LENGTH;
    fails += dlk_requantize_s8(&q, in, 4, out, 8) != DLK_ERR_BAD_LENGTH;
    fails += dlk_copy_s8(in, 4, out, 8) != DLK_ERR_BAD_LENGTH;
    fails += dlk_relu_s8(&rp, in, 4, out, 4) != DLK_OK;
    fails += dlk_relu_s8(&bad, in, 4, out, 4) != DLK_ERR_BAD_PARAM;
    fails += dlk_fully_connected_s8(&fc, 1, 1, in, 1, w, bias, out) != DLK_OK; /* wraps */
    fc.shift = big_shift;
    fails += dlk_fully_connected_s8(&fc, 1, 1, in, 1, w, bias, out) != DLK_ERR_BAD_PARAM;
    printf("%d\n", fails);
    return fails;
}
''')
    exe = tmp_path / "t"
    cmd = ["gcc", "-std=c99", *SANITIZE_FLAGS, *[f"-I{d}" for d in inc], str(test_c),
           *map(str, c_files), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, env=sanitizer_env())
    assert run.returncode == 0 and run.stdout.strip() == "0", run.stdout + run.stderr
    assert not re.search(r"runtime error|AddressSanitizer", run.stderr), run.stderr


def test_injected_name_graph_copy_is_not_modified():
    """check_graph reads only: the graph it validated is the graph that is lowered."""
    from dlink.export.codegen.graph_checks import check_graph
    from dlink.export.codegen.reader import read_tflite

    g = read_tflite(model_path("student_like"))
    before = copy.deepcopy(g)
    check_graph(g)
    assert [(t.name, t.shape) for t in g.tensors] == [(t.name, t.shape) for t in before.tensors]
    assert [(o.opcode, o.inputs, o.outputs) for o in g.operators] == \
        [(o.opcode, o.inputs, o.outputs) for o in before.operators]


def test_channel_and_class_names_reach_the_front_end_header_only_as_comment_text(tmp_path):
    """Names from the data (EDF channel labels, class names) go into the generated front end's
    header comment: they are sanitised like the model's tensor names."""
    import dataclasses

    from dlink.export.codegen.frontend import generate_frontend
    from tests.export.test_frontend import _spec

    evil = "*/ int injected = 42; /*"
    spec = dataclasses.replace(_spec(), ch_names=["C0", evil, "C2"], class_names=["a", evil])
    gen = generate_frontend(spec, tmp_path / "gen")
    header = gen["header"].read_text() if "header" in gen else \
        next((tmp_path / "gen").glob("*_frontend.h")).read_text()
    assert "int injected = 42;" not in header.replace("__ int injected = 42; __", "")
