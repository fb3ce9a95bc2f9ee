"""A stand-in generated model and run directory for the board/app/build tests.

The stand-in has the generated-model API (``student_model.h``: STUDENT_* macros and
``student_invoke``) and computes, in integer C, ``y[j] = clamp((sum_i x[i] * w[j][i]) >> 6)``
with ``w[j][i] = (i * 7 + j * 13) % 11 - 5``; :func:`standin_outputs` computes the same in numpy,
so the test vectors' expected outputs are independent of the C. The shift (6) sits in .data, so
the outputs are right only when the startup code copied .data from flash. It needs neither the runtime nor
the code generator, so the boards and the app are tested on their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_write_bytes
from dlink.rundir import RunDir

N_INPUT = 96
N_OUTPUT = 4
N_VECTORS = 3
ARENA_BYTES = N_INPUT * 4


def standin_weights() -> np.ndarray:
    i = np.arange(N_INPUT)[None, :]
    j = np.arange(N_OUTPUT)[:, None]
    return ((i * 7 + j * 13) % 11 - 5).astype(np.int32)


def standin_outputs(x: np.ndarray) -> np.ndarray:
    """What the stand-in C model computes, for x int8 [n, N_INPUT]."""
    acc = x.astype(np.int32) @ standin_weights().T
    return np.clip(acc >> 6, -128, 127).astype(np.int8)


def _c_array(name: str, a: np.ndarray) -> str:
    rows = ",\n    ".join("{" + ", ".join(str(int(v)) for v in row) + "}" for row in a)
    return (f"__attribute__((aligned(16))) const int8_t {name}[{a.shape[0]}][{a.shape[1]}] = {{\n"
            f"    {rows}\n}};\n")


def write_test_vectors(export_dir: Path, x: np.ndarray, y: np.ndarray) -> None:
    """test_vectors.h/.c in the layout the export stage writes."""
    h = (f"#ifndef DLK_TEST_VECTORS_H\n#define DLK_TEST_VECTORS_H\n#include <stdint.h>\n"
         f"#define DLK_TV_COUNT {x.shape[0]}\n#define DLK_TV_INPUT_BYTES {x.shape[1]}\n"
         f"#define DLK_TV_OUTPUT_BYTES {y.shape[1]}\n"
         f"extern const int8_t dlk_tv_inputs[DLK_TV_COUNT][DLK_TV_INPUT_BYTES];\n"
         f"extern const int8_t dlk_tv_expected[DLK_TV_COUNT][DLK_TV_OUTPUT_BYTES];\n#endif\n")
    c = ('#include "test_vectors.h"\n' + _c_array("dlk_tv_inputs", x)
         + _c_array("dlk_tv_expected", y))
    atomic_write_bytes(export_dir / "test_vectors.h", h.encode())
    atomic_write_bytes(export_dir / "test_vectors.c", c.encode())


def make_standin_run(run_dir: Path, *, seed: int = 0, corrupt_expected: bool = False) -> RunDir:
    """A run directory whose export stage "finished" with stand-in files and test vectors."""
    run = RunDir(run_dir).mkdir()
    exp = run.export_dir
    exp.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(N_VECTORS, N_INPUT), dtype=np.int64).astype(np.int8)
    y = standin_outputs(x)
    if corrupt_expected:
        y = y.copy()
        y[-1, 0] = np.int8(int(y[-1, 0]) ^ 1)
    write_test_vectors(exp, x, y)
    atomic_write_bytes(exp / "student.int8.tflite", b"stand-in: not a real flatbuffer")
    run.write_stamp("export", inputs=[], outputs=[exp / "student.int8.tflite",
                                                  exp / "test_vectors.c", exp / "test_vectors.h"])
    return run


def make_standin_generator(*, big_const_bytes: int = 0, fault: bool = False):
    """A ``generate_c`` stand-in; ``big_const_bytes`` adds a const array that the model reads;
    ``fault`` makes the model execute an undefined instruction."""

    def generate(tflite_path: Path, out_dir: Path, *, name: str = "student") -> dict[str, Any]:
        up = name.upper()
        h = (f"#ifndef {up}_MODEL_H\n#define {up}_MODEL_H\n#include <stddef.h>\n#include <stdint.h>\n"
             f"typedef int dlk_status_t;\n"
             f"typedef void (*dlk_layer_hook_t)(void *ctx, int32_t layer);\n"
             f"#define {up}_N_LAYERS 1\n"
             f"#define {up}_INPUT_BYTES {N_INPUT}\n#define {up}_OUTPUT_BYTES {N_OUTPUT}\n"
             f"#define {up}_ARENA_BYTES {ARENA_BYTES}\n#define {up}_MACS {N_INPUT * N_OUTPUT}\n"
             f"#define {up}_INPUT_ZERO_POINT (-3)\n"
             f"dlk_status_t {name}_invoke(const int8_t *input, size_t input_len, int8_t *output, "
             f"size_t output_len);\n"
             f"void {name}_set_layer_hook(dlk_layer_hook_t hook, void *ctx);\n#endif\n")
        big = ""
        touch_big = ""
        if big_const_bytes:
            big = f"const int8_t {name}_big_weights[{big_const_bytes}] = {{1}};\n"
            touch_big = (f"    (void)*(volatile const int8_t *)&{name}_big_weights"
                         f"[input_len % {big_const_bytes}u];\n")
        c = (f'#include "{name}_model.h"\n{big}'
             f"static int32_t {name}_arena[{ARENA_BYTES // 4}];\n"
             # in .data: wrong outputs unless the startup copies .data from flash
             f"static volatile int32_t {name}_shift = 6;\n"
             f"static dlk_layer_hook_t {name}_hook;\n"
             f"static void *{name}_hook_ctx;\n"
             f"void {name}_set_layer_hook(dlk_layer_hook_t hook, void *ctx)\n"
             f"{{\n    {name}_hook = hook;\n    {name}_hook_ctx = ctx;\n}}\n"
             f"dlk_status_t {name}_invoke(const int8_t *input, size_t input_len, int8_t *output, "
             f"size_t output_len)\n{{\n"
             f"    if (input_len != {up}_INPUT_BYTES || output_len != {up}_OUTPUT_BYTES) return 1;\n"
             f"{touch_big}"
             f"    if ({name}_hook) {name}_hook({name}_hook_ctx, 0);\n"
             + ('    __asm volatile("udf #0");\n' if fault else "") +
             f"    for (int j = 0; j < {N_OUTPUT}; ++j) {{\n"
             f"        int32_t acc = 0;\n"
             f"        for (int i = 0; i < {N_INPUT}; ++i) {{\n"
             f"            acc += (int32_t)input[i] * ((i * 7 + j * 13) % 11 - 5);\n"
             f"            {name}_arena[i] = acc;\n"
             f"        }}\n"
             f"        acc >>= {name}_shift;\n"
             f"        output[j] = (int8_t)(acc > 127 ? 127 : acc < -128 ? -128 : acc);\n"
             f"    }}\n    if ({name}_hook) {name}_hook({name}_hook_ctx, -1);\n"
             f"    return 0;\n}}\n")
        out_dir = Path(out_dir)
        atomic_write_bytes(out_dir / f"{name}_model.h", h.encode())
        atomic_write_bytes(out_dir / f"{name}_model.c", c.encode())
        return {"arena_bytes": ARENA_BYTES, "macs": N_INPUT * N_OUTPUT,
                "c_files": [out_dir / f"{name}_model.c"], "include_dirs": [out_dir],
                "ops": ["STANDIN"]}

    return generate


def no_runtime(backend: str) -> tuple[list[Path], list[Path]]:
    """The stand-in needs no runtime sources."""
    return [], []


def build_standin(run_dir: Path, board: str, *, big_const_bytes: int = 0,
                  corrupt_expected: bool = False, fault: bool = False, config=None) -> dict[str, Any]:
    """A stand-in run built for ``board`` (``config``: a FirmwareConfig overriding the run's)."""
    from dlink.firmware.build import build_firmware

    make_standin_run(run_dir, corrupt_expected=corrupt_expected)
    return build_firmware(run_dir, board, generate=make_standin_generator(
        big_const_bytes=big_const_bytes, fault=fault), runtime=no_runtime, config=config)
