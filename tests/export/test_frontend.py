"""The generated streaming front end: C on the host against the Python model, bit for bit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.firmware.helpers import STRICT_FLAGS

_DRIVER = r"""/* Test driver: int32 frames on stdin; per frame, the float outputs (bits) on stdout, and after
 * a completed window a 0xFFFFFFFF marker followed by the window bytes. */
#include <stdio.h>
#include <string.h>

#include "student_frontend.h"

int main(void)
{
    student_adc_t frame[STUDENT_FE_N_CHANS];
    student_frontend_reset();
    while (fread(frame, sizeof frame[0], STUDENT_FE_N_CHANS, stdin) == STUDENT_FE_N_CHANS) {
        const int ready = student_frontend_push(frame, STUDENT_FE_N_CHANS);
        if (ready < 0) {
            return 2;
        }
        const float *values = 0;
        uint32_t after = 0;
        const uint32_t n = student_frontend_outputs(&values, &after);
        fwrite(values, sizeof(float), (size_t)n * STUDENT_FE_N_CHANS, stdout);
        if (ready) {
            const unsigned int marker = 0xFFFFFFFFu;
            fwrite(&marker, sizeof marker, 1, stdout);
            fwrite(student_frontend_window(), 1, STUDENT_FE_WINDOW_BYTES, stdout);
        }
    }
    return 0;
}
"""


def _spec(*, in_hz=160.0, out_hz=200.0, n_chans=3, n_times=100, hop=20, layout="channels_time",
          adc="int32", notch=60.0, l_freq=0.3):
    from dlink.data.causal import design_causal
    from dlink.export.codegen.frontend import FrontEndSpec

    d = design_causal(input_sfreq_hz=in_hz, output_sfreq_hz=out_hz, l_freq_hz=l_freq, h_freq_hz=40.0,
                      notch_hz=notch)
    return FrontEndSpec(design=d, ch_names=[f"C{i}" for i in range(n_chans)], n_times=n_times,
                        hop_samples=hop, layout=layout, adc_type=adc, adc_lsb_uv=0.0223517,
                        input_scale=0.0123, input_zero_point=-3, class_names=["a", "b"])


def _counts(spec, n_frames, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None] / spec.design.input_sfreq_hz
    uv = 40 * np.sin(2 * np.pi * 10 * t + np.arange(spec.n_chans)) + 30 * rng.standard_normal(
        (n_frames, spec.n_chans)).cumsum(0) / 20 + 5000 * (np.arange(spec.n_chans) - 1)
    lo, hi = spec.adc_limits()
    return np.clip(np.round(uv / spec.adc_lsb_uv), lo, hi).astype(spec.adc_dtype)


def _run_c(spec, counts, tmp_path):
    from dlink.export.codegen.frontend import generate_frontend
    from dlink.firmware import runtime_sources

    gen = generate_frontend(spec, tmp_path / "gen")
    rt_c, rt_inc = runtime_sources("ref")
    drv = tmp_path / "driver.c"
    drv.write_text(_DRIVER)
    exe = tmp_path / "fe"
    build = subprocess.run(["gcc", *STRICT_FLAGS, "-O2", f"-I{rt_inc[0]}", f"-I{gen['include_dirs'][0]}",
                            str(drv), *map(str, gen["c_files"]), *map(str, rt_c), "-o", str(exe), "-lm"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], input=counts.tobytes(), capture_output=True)
    assert run.returncode == 0
    return run.stdout


def _parse(raw: bytes, spec):
    """Split the driver's output into float outputs (n_chans, n) and windows."""
    words = np.frombuffer(raw, np.uint8)
    floats, windows, i, wbytes = [], [], 0, spec.n_chans * spec.n_times
    marker = np.frombuffer(np.uint32(0xFFFFFFFF).tobytes(), np.uint8)
    while i < len(words):
        if np.array_equal(words[i:i + 4], marker):  # a NaN pattern no filter output here takes
            windows.append(words[i + 4:i + 4 + wbytes].view(np.int8).copy())
            i += 4 + wbytes
        else:
            floats.append(words[i:i + 4 * spec.n_chans].view(np.float32).copy())
            i += 4 * spec.n_chans
    return np.stack(floats).T, np.stack(windows) if windows else np.zeros((0, wbytes), np.int8)


@pytest.mark.parametrize("kw", [
    {},  # 160 -> 200 Hz (up 5, down 4), notch + band-pass, channels x time
    {"in_hz": 250.0, "layout": "time_channels", "adc": "int16", "notch": None},  # 250 -> 200 Hz
    {"in_hz": 1000.0, "hop": 7, "l_freq": 0.0},  # decimation by 5, low-pass only, hop not dividing
])
def test_generated_frontend_matches_python_model_bit_for_bit(kw, tmp_path):
    from dlink.export.codegen.frontend_model import run_frontend

    spec = _spec(**kw)
    counts = _counts(spec, 900 if spec.design.input_sfreq_hz < 900 else 2500)
    if spec.adc_type == "int16":
        counts = np.clip(counts // 64, -32768, 32767).astype(np.int16)
    outputs, windows = _parse(_run_c(spec, counts, tmp_path), spec)
    trace = run_frontend(spec, counts)
    assert outputs.shape == trace.outputs.shape
    assert np.array_equal(outputs.view(np.uint32), trace.outputs.view(np.uint32))
    assert trace.n_decisions == len(windows) > 2
    assert np.array_equal(windows, trace.windows())
    # the model's samples move by one hop per decision
    k = trace.n_decisions - 1
    assert int(trace.decision_samples[k] - trace.decision_samples[k - 1]) == spec.hop_samples


def test_frontend_state_carried_across_chunks_equals_one_pass():
    from dlink.data.causal import CausalFrontEnd, apply_causal

    spec = _spec()
    x = (_counts(spec, 1000).T.astype(np.float32) * spec.adc_scale[:, None]).astype(np.float32)
    whole = apply_causal(x, spec.design)
    fe = CausalFrontEnd(spec.design, spec.n_chans)
    parts = [fe.process(np.ascontiguousarray(x[:, a:b])) for a, b in ((0, 1), (1, 333), (333, 334), (334, 1000))]
    assert np.array_equal(np.concatenate(parts, axis=1).view(np.uint32), whole.view(np.uint32))
    assert whole.shape == (spec.n_chans, 1250)


def test_causal_design_band_and_float64_reference():
    """The float32 front end stays close to scipy in float64 and passes the band, not DC or 60 Hz."""
    from scipy import signal

    from dlink.data.causal import apply_causal, design_causal

    d = design_causal(input_sfreq_hz=250, output_sfreq_hz=200, l_freq_hz=1.0, h_freq_hz=40.0, notch_hz=50.0)
    t = np.arange(5000) / 250
    x = (np.sin(2 * np.pi * 10 * t) + 3 + np.sin(2 * np.pi * 50 * t)).astype(np.float32)[None]
    y = apply_causal(x, d)[0]
    y64 = signal.upfirdn(d.fir.astype(np.float64), signal.sosfilt(d.sos.astype(np.float64), x[0]), d.up,
                         d.down)[:len(y)]
    assert np.max(np.abs(y - y64)) < 1e-4  # float32 vs float64, same coefficients
    tail = y[-2000:]  # after the transients: the 10-Hz tone alone (amplitude 1)
    assert abs(np.sqrt(2) * tail.std() - 1) < 0.02 and abs(tail.mean()) < 0.01


def test_input_quantisation_rounds_half_away_like_the_c():
    from dlink.export.codegen.frontend_model import quantize_input

    y = np.array([0.5, -0.5, 1.49999, 2.5, -2.5, 1e9, -1e9, np.nan], np.float32)
    assert quantize_input(y, np.float32(1.0), 0).tolist() == [1, -1, 1, 3, -3, 127, -128, 0]
    assert quantize_input(np.float32([0.0]), np.float32(1.0), -128).tolist() == [-128]


def test_hop_shorter_than_one_frame_output_is_refused():
    with pytest.raises(ValueError, match="hop"):
        _spec(in_hz=100.0, out_hz=200.0, hop=1, notch=None)  # up 2: one frame makes 2 samples
