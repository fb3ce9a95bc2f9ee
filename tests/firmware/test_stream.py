"""Streaming: a recording through the generated front end and model on the emulated board, against
the Python reference; the recording checks; the real-time budget."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dlink.rundir import RunDir

MODEL = Path(__file__).resolve().parents[1] / "data" / "tflite" / "student_like.tflite"  # (1, 4, 64) -> 4
CHANNELS = ["C3", "Cz", "C4", "Pz"]
needs_qemu = [
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="no arm-none-eabi-gcc"),
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="no qemu-system-arm"),
]


def write_edf(path: Path, names: list[str], *, sfreq: float = 250.0, seconds: float = 3.0,
              unit: str = "uV", seed: int = 0, amplitude_uv: float = 30.0) -> Path:
    """A small EDF recording (edfio) with mu-band rhythms, offsets and noise."""
    import edfio

    rng = np.random.default_rng(seed)
    t = np.arange(int(sfreq * seconds)) / sfreq
    signals = []
    for i, name in enumerate(names):
        x = amplitude_uv * (np.sin(2 * np.pi * (9 + i) * t + i) + 0.5 * rng.standard_normal(len(t))) + 200 * i
        top = float(np.ceil(np.abs(x).max() * 1.1))
        signals.append(edfio.EdfSignal(x, sfreq, label=name, physical_dimension=unit,
                                       physical_range=(-top, top)))
    edfio.Edf(signals).write(path)
    return path


def make_stream_run(run_dir: Path, *, hop_s: float = 0.1) -> RunDir:
    """A run whose export finished: the 4-channel, 64-sample student_like model, causal config
    (ADC at 250 Hz, model at 200 Hz), a student.pt holding only the metadata the stream reads."""
    import torch
    import yaml

    from dlink.io import atomic_write_bytes
    from tests.firmware.standin_app import write_test_vectors
    from tests.firmware.test_qemu_generated import _tflm_outputs

    run = RunDir(run_dir).mkdir()
    cfg = {"data": {"name": "synthetic", "preprocessing": "causal", "l_freq_hz": 1.0, "h_freq_hz": 40.0,
                    "notch_hz": 50.0}, "firmware": {"stream": {"hop_s": hop_s}}}
    run.config.write_text(yaml.safe_dump(cfg))
    torch.save({"n_chans": 4, "n_times": 64, "sfreq": 200.0, "ch_names": CHANNELS,
                "class_names": ["a", "b", "c", "d"]}, run.student)
    run.export_dir.mkdir()
    model = MODEL.read_bytes()
    atomic_write_bytes(run.export_dir / "student.int8.tflite", model)
    x = np.random.default_rng(1).integers(-128, 128, size=(2, 256)).astype(np.int8)
    write_test_vectors(run.export_dir, x, _tflm_outputs(model, x))
    run.write_stamp("export", inputs=[], outputs=[run.export_dir / n for n in
                                                  ("student.int8.tflite", "test_vectors.c", "test_vectors.h")])
    return run


@pytest.fixture(scope="module")
def stream_run(tmp_path_factory):
    pytest.importorskip("tflite_micro")
    return make_stream_run(tmp_path_factory.mktemp("stream") / "run")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    # two channels more than the board records, in another order
    return write_edf(tmp_path_factory.mktemp("rec") / "rec.edf", ["Fz", "Pz", "C4", "FC1", "Cz", "C3"])


@pytest.mark.parametrize("embed", [False, True], ids=["semihosted-file", "embedded-excerpt"])
@pytest.mark.usefixtures(*[])
def test_stream_on_qemu_matches_the_python_reference(stream_run, recording, embed):
    for mark in needs_qemu:
        if mark.args[0]:
            pytest.skip(mark.kwargs["reason"])
    from dlink.firmware.build import build_firmware
    from dlink.firmware.stream import stream

    board = "mps2-an386"
    if not (stream_run.stamp_path(f"firmware-{board}")).is_file():
        build_firmware(stream_run.path, board)
    res = stream(stream_run.path, recording, board, embed=embed, timeout_s=120)
    c, d = res["comparison"], res["device"]
    assert d["frames"] == 750 and d["invoke_errors"] == 0 and res["embedded"] is embed
    # 750 frames at 250 Hz -> 600 model samples; first decision after 80 (hop 20), then every 20
    assert c["hops"] == c["device_hops"] == c["reference_hops"] == (600 - 80) // 20 + 1
    assert c["identical_hops"] == c["hops"] and c["first_disagreement"] is None
    assert c["class_agreement"] == 1.0
    fe = c["frontend_samples"]
    assert fe["n_values"] == 32 * 4 and fe["bit_identical"] == fe["n_values"]
    assert res["recording"]["recording_n_chans"] == 6 and res["recording"]["ch_names"] == CHANNELS
    b = res["budget"]
    assert b["counter"] == "instructions" and b["cpu_hz"] == 25_000_000
    assert 50 < b["frontend_per_sample"] < 2000  # filters + resampler per channel-sample
    assert b["model_per_inference"] > 1000 and 0 < b["duty_cycle_percent"] < 100
    assert d["frontend_ram_bytes"] == res["frontend"]["ram_bytes"]["total"]
    assert (stream_run.firmware_dir(board) / "stream" / "decisions.jsonl").is_file()


def test_recording_with_another_rate_channels_or_units_is_refused(stream_run, tmp_path):
    from dlink.export.codegen.frontend import frontend_spec_for_run
    from dlink.firmware.stream_input import RecordingMismatchError, recording_frames

    spec = frontend_spec_for_run(stream_run.path)
    with pytest.raises(RecordingMismatchError, match=r"sampling rate 200 Hz.*takes 250 Hz"):
        recording_frames(write_edf(tmp_path / "a.edf", CHANNELS, sfreq=200.0), spec)
    with pytest.raises(RecordingMismatchError, match=r"\['Cz'\] of the run"):
        recording_frames(write_edf(tmp_path / "b.edf", ["C3", "C4", "Pz", "Fz"]), spec)
    with pytest.raises(RecordingMismatchError, match="not in a voltage unit"):
        recording_frames(write_edf(tmp_path / "c.edf", CHANNELS, unit="degC"), spec)
    with pytest.raises(RecordingMismatchError, match="exceed the ADC's range"):
        spec.adc_type, spec.adc_lsb_uv = "int16", 0.05  # +-1.6 mV full scale
        recording_frames(write_edf(tmp_path / "d.edf", CHANNELS, amplitude_uv=2500.0), spec)


def test_recording_channels_are_picked_by_name_and_scaled_to_counts(stream_run, recording):
    from dlink.data.preprocess import read_raw
    from dlink.export.codegen.frontend import frontend_spec_for_run
    from dlink.firmware.stream_input import recording_frames

    spec = frontend_spec_for_run(stream_run.path)
    counts, info = recording_frames(recording, spec, max_seconds=1.0)
    assert counts.shape == (250, 4) and counts.dtype == np.int32
    raw = read_raw(recording)
    uv = raw.get_data(picks=["C3", "Cz", "C4", "Pz"], stop=250).T * 1e6
    assert np.max(np.abs(counts * spec.adc_lsb_uv - uv)) <= spec.adc_lsb_uv / 2 + 1e-9


def test_budget_rows_borrow_counts_of_a_same_core_board(tmp_path):
    import json

    from dlink.firmware.budget import budget_rows

    run = RunDir(tmp_path / "run")
    d = run.firmware_dir("mps2-an386") / "stream"
    d.mkdir(parents=True)
    device = {"counter": "instructions", "frames": 1600, "decisions": 20, "n_chans": 64,
              "frontend_instructions_total": 1600 * 15000, "model_instructions_total": 20 * 30_000_000,
              "model_instructions_max": 30_000_000, "frontend_ram_bytes": 60000}
    (d / "stream.json").write_text(json.dumps({"device": device, "recording": {"file": "x.edf"},
                                               "frontend": {"hop_s": 0.5, "design": {"input_sfreq_hz": 160.0}}}))
    rows = {r["board"]: r for r in budget_rows(run.path)}
    m4, nrf, m7 = rows["mps2-an386"], rows["nrf52840"], rows["mps2-an500"]
    # 15000 * 160 + 30e6 / 0.5 = 62.4 M instructions per second
    assert m4["status"] == "measured" and m4["over_realtime"] and "NO" in m4["verdict"]
    assert round(m4["duty_cycle_percent"]) == round(100 * 62.4e6 / 25e6)
    assert nrf["counts_from"] == "mps2-an386" and round(nrf["duty_cycle_percent"], 1) == 97.5
    assert nrf["over_realtime"] is False and nrf["frontend_per_sample"] == 15000 / 64
    assert m7["status"] == "not measured" and "--stream" in m7["command"]


def test_comparison_locates_the_first_disagreement():
    """compare() on a device that differs from hop 2 on: the hop, its time and what differs."""
    from types import SimpleNamespace

    from dlink.firmware.stream import compare

    n, out = 4, np.array([[5, -3], [1, 2], [7, 0], [0, 9]], np.int8)
    trace = SimpleNamespace(decision_frames=np.array([79, 95, 111, 127]),
                            decision_samples=np.array([100, 120, 140, 160]),
                            outputs=np.zeros((2, 160), np.float32))
    probs = np.exp(out.astype(float)) / np.exp(out.astype(float)).sum(1, keepdims=True)
    ref = {"trace": trace, "outputs": out, "classes": out.argmax(1), "probabilities": probs,
           "window_checksums": [11, 12, 13, 14], "frontend_checksums": [21, 22, 23, 24]}
    dev = [{"hop": k, "frame": int(trace.decision_frames[k]), "samples": int(trace.decision_samples[k]),
            "class": int(out[k].argmax()), "output": out[k].tolist(),
            "prob_e4": np.round(1e4 * probs[k]).astype(int).tolist(),
            "window_checksum": 11 + k, "frontend_checksum": 21 + k, "status": 0} for k in range(n)]
    spec = SimpleNamespace(design=SimpleNamespace(input_sfreq_hz=160.0))
    same = compare({"decisions": dev, "dumps": []}, ref, spec)
    assert same["identical_hops"] == 4 and same["first_disagreement"] is None
    dev[2].update(window_checksum=99, output=[0, 7], **{"class": 1})
    dev[3]["frontend_checksum"] = 0
    diff = compare({"decisions": dev, "dumps": []}, ref, spec)
    first = diff["first_disagreement"]
    assert first["hop"] == 2 and first["time_s"] == 112 / 160.0
    assert {"window_checksum", "output", "class"} <= set(first["differs_in"])
    assert diff["class_agreement"] == 0.75 and diff["identical_hops"] == 2
    assert diff["window_checksums_equal"] == 3 and diff["frontend_checksums_equal"] == 3
