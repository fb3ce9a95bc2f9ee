"""What float32 costs in the streaming front end (a script, not a test).

    .venv/bin/python bench/frontend_precision.py runs/s001 \
        ../shared/data/MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R04.edf

Runs the run's front end over a recording twice: in float32 exactly as the board does
(:mod:`dlink.export.codegen.frontend_model`) and in float64 with the same (float32) coefficients
(``scipy.signal.sosfilt`` and ``upfirdn``), the arithmetic a board without an FPU budget would
approximate with wide fixed point. Reports the largest difference of the filtered signal (model
units and int8 input steps), the fraction of int8 model inputs and of decisions (TFLite-Micro on
both) that differ, and writes ``RUN/bench/frontend_precision.json``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def float64_front_end(spec, counts: np.ndarray) -> np.ndarray:
    """The front end in float64 (same coefficients, zero initial state), model rate."""
    from scipy import signal

    d = spec.design
    x = counts.T.astype(np.float64) * (spec.adc_lsb_uv / 100.0)
    y = signal.sosfilt(d.sos.astype(np.float64), x, axis=-1)
    n_out = -(-x.shape[1] * d.up // d.down)
    return signal.upfirdn(d.fir.astype(np.float64), y, d.up, d.down, axis=-1)[:, :n_out]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", metavar="<run_dir>")
    p.add_argument("recording", metavar="<recording.edf>")
    args = p.parse_args(argv)
    from pathlib import Path

    from dlink.export.codegen.frontend import frontend_spec_for_run
    from dlink.export.codegen.frontend_model import run_frontend
    from dlink.export.quant import quantize
    from dlink.export.tflm_reference import run_tflm
    from dlink.firmware.stream_input import recording_frames
    from dlink.io import atomic_write_json

    spec = frontend_spec_for_run(args.run)
    counts, rec = recording_frames(args.recording, spec)
    trace = run_frontend(spec, counts)
    y64 = float64_front_end(spec, counts)
    diff = np.abs(trace.outputs.astype(np.float64) - y64)
    q64 = quantize(y64, spec.input_scale, spec.input_zero_point)
    w32 = trace.windows()
    w64 = np.stack([(q64[:, c - spec.n_times:c].T if spec.layout == "time_channels"
                     else q64[:, c - spec.n_times:c]).reshape(-1) for c in trace.decision_samples])
    model = (Path(args.run) / "export" / "student.int8.tflite").read_bytes()
    o32, o64 = run_tflm(model, w32).reshape(len(w32), -1), run_tflm(model, w64).reshape(len(w64), -1)
    out = {"run": args.run, "recording": rec["file"], "frames": int(len(counts)),
           "model_samples": int(trace.outputs.shape[1]), "hops": int(trace.n_decisions),
           "signal_rms_model_units": float(np.sqrt(np.mean(y64 ** 2))),
           "max_abs_diff_model_units": float(diff.max()), "rms_diff_model_units": float(np.sqrt(np.mean(diff ** 2))),
           "max_abs_diff_int8_steps": float(diff.max() / spec.input_scale),
           "int8_inputs_differing_fraction": float(np.mean(w32 != w64)),
           "int8_inputs_max_step_difference": int(np.abs(w32.astype(int) - w64.astype(int)).max()),
           "decisions_differing": int(np.sum(o32.argmax(1) != o64.argmax(1))),
           "outputs_differing_hops": int(np.sum(np.any(o32 != o64, axis=1)))}
    atomic_write_json(Path(args.run) / "bench" / "frontend_precision.json", out)
    for k, v in out.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
