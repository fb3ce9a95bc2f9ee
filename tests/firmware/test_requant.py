"""The exact inline requantisation equals TFLite-Micro's arithmetic over the int32 range.

``dlk_rq_fast`` (firmware/runtime/include/dlink/quant.h) computes TFLite's double-rounding
MultiplyByQuantizedMultiplier for a right shift in one 64-bit multiply-add and a shift; the
header carries the derivation. Here it is checked against ``dlk_mbqm`` (the reference
transcription of TFLite's SaturatingRoundingDoublingHighMul + RoundingDivideByPOT, itself checked
against the TFLite-Micro interpreter by every kernel test), and that one against a Python
transcription of gemmlowp's integer definitions:

- every input in [-2^20, 2^20] for 7 multipliers (the extremes of [2^30, 2^31), 0, and between)
  and every shift 1..24 (the fast paths' range): 352 M inputs;
- every rounding tie of both roundings and its neighbours, for shifts 1..31;
- 20 M random inputs over the whole int32 range with random multipliers and shifts;
- (slow) all 2^32 inputs for three multiplier/shift pairs.

The Helium version (four lanes: VQRDMULH, a saturating fix-up, VRSHL) runs under QEMU on the
Cortex-M55 over extreme and random inputs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.firmware.helpers import HAS_ARM_GCC, REPO, STRICT_FLAGS

C_TEST = Path(__file__).resolve().parent / "c" / "test_requant.c"
INCLUDE = REPO / "firmware" / "runtime" / "include"


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    out = tmp_path_factory.mktemp("requant") / "test_requant"
    proc = subprocess.run(["gcc", *STRICT_FLAGS, "-O2", f"-I{INCLUDE}", str(C_TEST), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


def _run(exe, *args, timeout=300) -> str:
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert " mismatches 0" in proc.stdout
    return proc.stdout


def test_every_input_near_zero_every_shift(exe):
    out = _run(exe, "sweep", -(1 << 20), 1 << 20, 1)
    assert "checked 352321704 " in out


def test_every_rounding_tie_and_random_inputs(exe):
    _run(exe, "edges", 4000)
    _run(exe, "random", 20_000_000, 7)


def _gemmlowp(x: int, m: int, shift: int) -> int:
    """TFLite's MultiplyByQuantizedMultiplier (double rounding), with Python integers."""
    left, right = max(shift, 0), max(-shift, 0)
    a = ((x << left) + 2**31) % 2**32 - 2**31
    if a == m == -2**31:
        s = 2**31 - 1
    else:
        ab = a * m
        nudge = 2**30 if ab >= 0 else 1 - 2**30
        s = int((ab + nudge) / 2**31) if abs(ab + nudge) < 2**52 else \
            (abs(ab + nudge) // 2**31) * (1 if ab + nudge >= 0 else -1)
    mask = (1 << right) - 1
    rem, thr = s & mask, (mask >> 1) + (1 if s < 0 else 0)
    return (s >> right) + (1 if rem > thr else 0)


def test_reference_is_gemmlowps_arithmetic(exe):
    rng = np.random.default_rng(3)
    for m, r in ((1073741824, 1), (2147483647, 31), (1518500250, 7), (1931928923, 24)):
        xs = [int(v) for v in rng.integers(-2**31, 2**31, size=300)] + \
             [-2**31, -2**31 + 1, -1, 0, 1, 2**31 - 1, 2**30, -2**30]
        got = [int(v) for v in _run_print(exe, m, r, xs)]
        assert got == [_gemmlowp(x, m, -r) for x in xs]


def _run_print(exe, m, r, xs):
    proc = subprocess.run([str(exe), "print", str(m), str(r), *map(str, xs)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.mark.slow
@pytest.mark.parametrize("m,r", [(1073741824, 1), (1518500250, 7), (2147483647, 24)])
def test_all_int32_inputs(exe, m, r):
    out = _run(exe, "full", m, r, timeout=1800)
    assert "checked 4294967296 " in out


_MVE_MAIN = r"""
#include <stdint.h>
#include <string.h>
#include "dlink/board.h"
#include "dlink/quant.h"
#include "mve_util.h"

static uint32_t state = 2463534242u;
static uint32_t next_u32(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

int main(void)
{
    static const int32_t edge[] = {INT32_MIN, INT32_MIN + 1, -1073741825, -1073741824, -65537,
                                   -2, -1, 0, 1, 2, 65535, 1073741823, 1073741824,
                                   INT32_MAX - 1, INT32_MAX};
    uint32_t bad = 0, k;
    for (k = 0; k < 400000u; ++k) {
        int32_t x[4], m, r, i;
        m = (int32_t)(0x40000000u | (next_u32() & 0x3fffffffu));
        r = (int32_t)(1u + next_u32() % 24u);
        for (i = 0; i < 4; ++i) {
            x[i] = (k < 64u) ? edge[(k * 4u + (uint32_t)i) % 15u] : (int32_t)next_u32();
        }
        {
            int32_t y[4];
            const int32x4_t v = dlk_mve_requant(vld1q_s32(x), vdupq_n_s32(m), vdupq_n_s32(-r),
                                                0, INT32_MIN, INT32_MAX);
            vst1q_s32(y, v);
            for (i = 0; i < 4; ++i) {
                if (y[i] != dlk_mbqm(x[i], m, -r)) {
                    bad += 1u;
                }
            }
        }
    }
    dlk_board_write(bad == 0u ? "MVE_REQUANT ok\n" : "MVE_REQUANT mismatch\n",
                    bad == 0u ? 15u : 21u);
    return bad == 0u ? 0 : 1;
}
"""


@pytest.mark.skipif(not HAS_ARM_GCC or shutil.which("qemu-system-arm") is None,
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_helium_requantisation_on_the_cortex_m55(tmp_path):
    from dlink.firmware.build import board_sources, compile_app
    from dlink.firmware.flash import run_qemu

    main = tmp_path / "mve_requant_main.c"
    main.write_text(_MVE_MAIN)
    app_c, app_inc = board_sources("mps3-an547")
    mve_dir = REPO / "firmware" / "runtime" / "src" / "kernels" / "mve"
    elf = compile_app(tmp_path / "fw", "mps3-an547", c_files=[main, *app_c[1:]],
                      include_dirs=[*app_inc, INCLUDE, mve_dir], opt_level="2")["elf"]
    status, text = run_qemu("mps3-an547", elf, timeout_s=300)
    assert status == 0 and "MVE_REQUANT ok" in text, text[-300:]
