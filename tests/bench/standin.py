"""A stand-in run directory for the bench tests: a tiny model with hand-set weights, exported the
way `dlink export` does it (float ONNX, int8 QDQ ONNX, full-int8 TFLite with a channels-last input,
test vectors, tflm.json) and stamped, so the bench and the gate are tested without the other stages.

The task: 3 classes, 4 channels, 32 samples; class k has 3x the amplitude on channel k. The model is
ReLU(1x1 conv = identity) -> mean over time -> linear, so a "good" head (identity) classifies well
and a "bad" head (a cyclic shift) predicts the wrong class every time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

N_CHANS, N_TIMES, N_CLASSES = 4, 32, 3


def make_windows(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES
    amp = np.ones((n, N_CHANS, 1), np.float32)
    amp[np.arange(n), y, 0] = 3.0
    x = (rng.standard_normal((n, N_CHANS, N_TIMES)) * amp).astype(np.float32)
    return x, y.astype(np.int64)


def _weights(good: bool):
    conv = np.eye(N_CHANS, dtype=np.float32)
    head = np.zeros((N_CLASSES, N_CHANS), np.float32)
    for k in range(N_CLASSES):
        head[k, k if good else (k + 1) % N_CLASSES] = 4.0
    return conv, head, np.zeros(N_CLASSES, np.float32)


def torch_model(good: bool = True):
    import torch
    from torch import nn

    class StandIn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(N_CHANS, N_CHANS, 1, bias=False)
            self.head = nn.Linear(N_CHANS, N_CLASSES)

        def forward(self, x):
            return self.head(torch.relu(self.conv(x)).mean(-1))

    m = StandIn()
    conv, head, bias = _weights(good)
    with torch.no_grad():
        m.conv.weight.copy_(torch.from_numpy(conv[:, :, None]))
        m.head.weight.copy_(torch.from_numpy(head))
        m.head.bias.copy_(torch.from_numpy(bias))
    return m.eval()


def _export_onnx(model, path: Path) -> None:
    import torch

    torch.onnx.export(model, torch.zeros(1, N_CHANS, N_TIMES), str(path), input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=17, dynamo=False)


def _quantize_qdq(src: Path, dst: Path, calib: np.ndarray) -> None:
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": calib[i:i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)


def _tflite(good: bool, path: Path, calib: np.ndarray) -> None:
    """The same model in Keras with a channels-last (1, 1, n_times, n_chans) int8 input."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    conv, head, bias = _weights(good)
    inp = tf.keras.Input((1, N_TIMES, N_CHANS), batch_size=1)
    c = tf.keras.layers.Conv2D(N_CHANS, (1, 1), use_bias=False, activation="relu")
    h = tf.keras.layers.GlobalAveragePooling2D()(c(inp))
    d = tf.keras.layers.Dense(N_CLASSES)
    model = tf.keras.Model(inp, d(h))
    c.set_weights([conv.T[None, None]])
    d.set_weights([head.T, bias])
    conv_ = tf.lite.TFLiteConverter.from_keras_model(model)
    conv_.optimizations = [tf.lite.Optimize.DEFAULT]
    conv_.representative_dataset = lambda: ([np.swapaxes(calib[i:i + 1], 1, 2)[:, None]]
                                            for i in range(len(calib)))
    conv_.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv_.inference_input_type = tf.int8
    conv_.inference_output_type = tf.int8
    path.write_bytes(conv_.convert())


def make_standin_run(root: str | Path, *, good: bool = True, tflite: bool = True):
    """Write a stand-in run into ``root`` and return its RunDir (export stage stamped)."""
    from dlink.config import save_config
    from dlink.rundir import RunDir
    from dlink.schema import Config

    run = RunDir(root).mkdir()
    save_config(Config(name="standin"), run.config)
    exp = run.export_dir
    exp.mkdir(parents=True, exist_ok=True)
    model = torch_model(good)
    calib, _ = make_windows(48, seed=1)
    _export_onnx(model, exp / "student.onnx")
    _quantize_qdq(exp / "student.onnx", exp / "student.int8.onnx", calib)
    outputs = [exp / "student.onnx", exp / "student.int8.onnx"]
    if tflite:
        _tflite(good, exp / "student.int8.tflite", calib)
        from tflite_micro import runtime as tflm

        from dlink.bench.runtimes import Int8IO

        io = Int8IO.from_tflite(exp / "student.int8.tflite")
        io.transpose = True
        x, y = make_windows(8, seed=2)
        q = io.quantize(x)
        it = tflm.Interpreter.from_file(str(exp / "student.int8.tflite"))
        expected = []
        for i in range(len(q)):
            it.set_input(q[i:i + 1], 0)
            it.invoke()
            expected.append(np.array(it.get_output(0)).reshape(-1))
        np.savez(exp / "test_vectors.npz", x_float=x, x_int8=q, y_true=y,
                 y_expected_int8=np.stack(expected).astype(np.int8),
                 input_scale=io.input_scale, input_zero_point=io.input_zero_point,
                 output_scale=io.output_scale, output_zero_point=io.output_zero_point)
        (exp / "tflm.json").write_text(json.dumps({"arena_bytes": 4096}))
        outputs += [exp / "student.int8.tflite", exp / "test_vectors.npz", exp / "tflm.json"]
    outputs += write_standin_bundle(run.export_dir / "gate", run.export_dir, n_windows=30)
    run.write_stamp("export", inputs=[], outputs=outputs)
    return run


def write_standin_bundle(out_dir: str | Path, export_dir: str | Path, *, n_windows: int = 30,
                         thresholds: dict | None = None) -> list[Path]:
    """The gate bundle of a stand-in export folder, as `dlink export` writes it for a run."""
    from dlink.bench.gate_bundle import write_gate_bundle

    export_dir = Path(export_dir)
    return write_gate_bundle(
        out_dir, int8_model=export_dir / "student.int8.onnx", float_model=export_dir / "student.onnx",
        class_names=[f"class{k}" for k in range(N_CLASSES)],
        channel_names=[f"ch{c}" for c in range(N_CHANS)], sfreq_hz=32.0, n_chans=N_CHANS,
        n_times=N_TIMES, session_config={"session.qdqisint8allowed": "1"},
        thresholds=thresholds or {"min_balanced_accuracy": None, "min_above_chance": 0.1,
                                  "min_agreement": 0.95},
        windows=make_windows(n_windows, seed=4) if n_windows else None,
        windows_source="stand-in windows", source_run="stand-in")


def write_windows(path: str | Path, n: int = 60, *, seed: int = 3, **extra) -> Path:
    x, y = make_windows(n, seed=seed)
    arrays = {"X": x, "y": y, **extra}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return Path(path)
