"""Randomised operator shapes, every backend against the TFLite-Micro interpreter, byte for byte.

A few hundred small models are drawn (tests/firmware/random_cases.py: depthwise 1 x k with depth
multipliers 1-8, kernels 1-64, strides 1-10, any padding and channel count, fused chains, folded
transposes, pointwise convolutions, and shapes that must stay on the generic kernels). All of
them are compiled into one host program per backend (ref; dsp with its intrinsics emulated in
C) and their outputs compared with the interpreter's. A reduced set also runs on the emulated
cores, where the real instructions execute: dsp on the Cortex-M4, mve (Helium) on the Cortex-M55.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from tests.firmware.helpers import HAS_ARM_GCC, STRICT_FLAGS
from tests.firmware.random_cases import (EXPECTED_KERNEL, KINDS, build_cases, driver_source,
                                         target_source)

N_CASES = 200          # host, every backend
N_TARGET_CASES = 40    # under QEMU, per core
SEED = 13

pytest.importorskip("tflite_micro")


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    out = tmp_path_factory.mktemp("random_cases")
    return out, build_cases(N_CASES, out, seed=SEED)


def test_draws_cover_the_student_family(cases):
    out, cs = cases
    assert len(cs) == N_CASES and {c.kind for c in cs} == set(KINDS)
    descs = " ".join(c.desc for c in cs)
    for dm in range(1, 9):
        assert f"dm{dm} " in descs
    for s in (1, 2, 5, 10):
        assert f" s{s} " in descs
    assert "SAME" in descs and "VALID" in descs and "pad(" in descs
    # every case takes the path its kind is for (the fallbacks none of the fast ones)
    for c in cs:
        src = (out / f"{c.name}_model.c").read_text()
        fast = [k for k in ("dlk_dw1d_s8(", "dlk_dw1d_chain_s8(", "dlk_pointwise_s8(") if k in src]
        want = EXPECTED_KERNEL[c.kind]
        assert (want + "(" in fast) if want else not fast, (c.name, c.desc, fast)
    # the references are not degenerate
    assert np.mean([len(np.unique(c.expected)) > 2 for c in cs]) > 0.8


@pytest.mark.parametrize("backend", ["ref", "dsp"])
def test_every_case_matches_tflite_micro_on_the_host(cases, backend, tmp_path):
    from dlink.firmware import runtime_sources

    out, cs = cases
    drv = tmp_path / "driver.c"
    drv.write_text(driver_source(cs))
    rt_c, rt_inc = runtime_sources(backend)
    exe = tmp_path / f"random_{backend}"
    cmd = ["gcc", *STRICT_FLAGS, "-O1", f"-I{out}", f"-I{rt_inc[0]}", str(drv),
           *map(str, rt_c), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    n_win = len(cs[0].inputs)
    stdin = b"".join(c.inputs.tobytes() for c in cs)
    run = subprocess.run([str(exe), str(n_win)], input=stdin, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    got = np.frombuffer(run.stdout, np.int8)
    at, bad = 0, []
    for c in cs:
        n = c.expected.size
        if not np.array_equal(got[at:at + n], c.expected.reshape(-1)):
            bad.append(f"{c.name} ({c.desc}): {int(np.sum(got[at:at + n] != c.expected.reshape(-1)))}"
                       f" of {n} bytes differ")
        at += n
    assert at == got.size
    assert not bad, f"{len(bad)} of {len(cs)} cases differ from TFLite-Micro ({backend}):\n" + \
        "\n".join(bad[:10])


needs_qemu = pytest.mark.skipif(not HAS_ARM_GCC or shutil.which("qemu-system-arm") is None,
                                reason="needs arm-none-eabi-gcc and qemu-system-arm")


@needs_qemu
@pytest.mark.parametrize("board,backend", [("mps2-an386", "dsp"), ("mps3-an547", "mve")])
def test_reduced_set_matches_on_the_emulated_core(cases, board, backend, tmp_path):
    """The real SMLAD/LDRD (Cortex-M4) and Helium (Cortex-M55) instructions, under QEMU."""
    from dlink.firmware import runtime_sources
    from dlink.firmware.build import board_sources, compile_app
    from dlink.firmware.flash import run_qemu

    out, cs = cases
    subset = [c for c in cs if c.inputs.shape[1] * len(c.inputs) < 6000][:N_TARGET_CASES]
    assert len(subset) == N_TARGET_CASES and {c.kind for c in subset} == set(KINDS)
    main = tmp_path / "cases_main.c"
    main.write_text(target_source(subset))
    app_c, app_inc = board_sources(board)
    rt_c, rt_inc = runtime_sources(backend)
    files = [main, *app_c[1:], *(out / f"{c.name}_model.c" for c in subset), *rt_c]
    elf = compile_app(tmp_path / "fw", board, c_files=files, include_dirs=[*app_inc, out, *rt_inc],
                      opt_level="2")["elf"]
    status, text = run_qemu(board, elf, timeout_s=300)
    line = next((ln for ln in text.splitlines() if ln.startswith("DLINK_CASES")), None)
    assert line is not None, text[-500:]
    import json

    res = json.loads(line.split(" ", 1)[1])
    first = res["first_bad"]
    detail = "" if res["matched"] == res["total"] else f": first bad {subset[first].name} " \
                                                          f"({subset[first].desc})"
    assert (res["matched"], res["total"], status) == (N_TARGET_CASES, N_TARGET_CASES, 0), detail
