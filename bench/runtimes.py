"""One adapter per runtime that the bench measures.

Every adapter takes float windows ``x`` of shape (n, n_chans, n_times) in units of 100 uV and returns
float logits (n, n_outputs): int8 runtimes quantize the input with the .tflite input's scale and zero
point (in the .tflite's own input layout) and dequantize their int8 outputs. For latency, each adapter
splits one inference into :meth:`Runtime.prepare_one` (input conversion, not timed) and
:meth:`Runtime.run_one` (the call that is timed).

Runtimes
--------
``pytorch``        float student (``student.pt``) in PyTorch, one thread.
``ort_float``      ``export/student.onnx`` in onnxruntime, one thread.
``ort_int8``       ``export/student.int8.onnx`` (QDQ) in onnxruntime, one thread.
``tflite_int8``    ``export/student.int8.tflite`` in the LiteRT interpreter (``ai_edge_litert``).
``tflm_host``      the same .tflite in the host TFLite-Micro interpreter (``tflite_micro``).
``c_host``         our generated C + runtime compiled for the host (``dlink.firmware.host.HostModel``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dlink._check import check_file, check_shape

logger = logging.getLogger(__name__)

#: The runtimes in report order: name -> (label, precision).
RUNTIMES: dict[str, tuple[str, str]] = {
    "pytorch": ("PyTorch float", "float"),
    "ort_float": ("onnxruntime float", "float"),
    "ort_int8": ("onnxruntime int8 QDQ", "int8"),
    "tflite_int8": ("TFLite int8 (LiteRT)", "int8"),
    "tflm_host": ("TFLite-Micro host interpreter", "int8"),
    "c_host": ("generated C on host", "int8"),
}


class Runtime:
    """Base class: ``predict`` for accuracy, ``prepare_one``/``run_one`` for latency."""

    name: str = ""

    @property
    def label(self) -> str:
        return RUNTIMES.get(self.name, (self.name, ""))[0]

    @property
    def precision(self) -> str:
        return RUNTIMES.get(self.name, ("", "float"))[1]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Logits (n, n_outputs) as float for windows ``x`` (n, n_chans, n_times)."""
        _check_windows(x)
        return np.concatenate([self.run_one(self.prepare_one(x[i:i + 1])) for i in range(len(x))])

    def prepare_one(self, x1: np.ndarray) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def run_one(self, payload: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def timed_call(self, x1: np.ndarray) -> Callable[[], Any]:
        """A no-argument callable running one inference on window ``x1`` (1, n_chans, n_times)."""
        payload = self.prepare_one(x1)
        return lambda: self.run_one(payload)


def _check_windows(x: np.ndarray) -> None:
    if not isinstance(x, np.ndarray) or x.ndim != 3:
        shape = getattr(x, "shape", None)
        raise ValueError(f"x must be a float array of shape (n, n_chans, n_times), got shape {shape}.")


# -- float runtimes ----------------------------------------------------------------------------
class TorchRuntime(Runtime):
    """A PyTorch module (the float student, or the teacher with ``teacher=True``)."""

    def __init__(self, model: Any, *, name: str = "pytorch", teacher: bool = False,
                 batch_size: int = 64):
        import torch

        self.model = model.eval()
        self.name = name
        self.teacher = teacher
        self.batch_size = batch_size
        self._torch = torch

    @classmethod
    def from_student_file(cls, path: str | Path) -> "TorchRuntime":
        from dlink.distill.students import load_student_file

        model, _meta = load_student_file(check_file(path, what="student checkpoint"))
        return cls(model)

    @classmethod
    def from_teacher_file(cls, path: str | Path) -> "TorchRuntime":
        from dlink.distill.teachers import load_teacher_file

        return cls(load_teacher_file(check_file(path, what="teacher checkpoint")), name="teacher",
                   teacher=True, batch_size=16)

    def _forward(self, xt):
        out = self.model(xt)
        return out.logits if self.teacher or hasattr(out, "logits") else out

    def predict(self, x: np.ndarray) -> np.ndarray:
        _check_windows(x)
        outs = []
        with self._torch.inference_mode():
            for i in range(0, len(x), self.batch_size):
                xt = self._torch.from_numpy(np.ascontiguousarray(x[i:i + self.batch_size], np.float32))
                outs.append(self._forward(xt).float().numpy())
        return np.concatenate(outs)

    def prepare_one(self, x1):
        return self._torch.from_numpy(np.ascontiguousarray(x1, np.float32))

    def run_one(self, payload):
        with self._torch.inference_mode():
            return self._forward(payload).float().numpy()


def int8_session_config() -> dict[str, str]:
    """onnxruntime session entries for int8 QDQ models: keep int8 x int8 kernels.

    By default onnxruntime on x86 rewrites int8 QDQ activations to uint8 and runs uint8 x int8
    kernels; export found that path far from the QDQ graph on AVX512-VNNI/AMX machines (see
    ``dlink.export.onnx_export.INT8_KERNELS_CONFIG``), so the bench and the gate run what export
    validated.
    """
    try:
        from dlink.export.onnx_export import INT8_KERNELS_CONFIG
    except ImportError:
        return {"session.qdqisint8allowed": "1"}
    return dict(INT8_KERNELS_CONFIG)


class OrtRuntime(Runtime):
    """An ONNX model (float, or int8 QDQ with float input/output) in onnxruntime, one thread."""

    def __init__(self, path: str | Path, *, name: str = "ort_float",
                 session_config: dict[str, str] | None = None):
        import onnxruntime as ort

        path = check_file(path, what="ONNX model", fix="Run `dlink export RUN` first.")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session_config = dict(session_config or {})
        for key, value in self.session_config.items():
            opts.add_session_config_entry(key, value)
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = tuple(inp.shape)
        self.batch_dynamic = not isinstance(self.input_shape[0], int)
        self.name = name
        self.path = path

    def _to_input(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        fixed = self.input_shape[1:]
        if all(isinstance(d, int) for d in fixed) and tuple(fixed) != x.shape[1:]:
            if int(np.prod(fixed)) != int(np.prod(x.shape[1:])):
                raise ValueError(f"{str(self.path)!r} takes input of shape {self.input_shape}; the "
                                 f"windows have shape {x.shape} (n, n_chans, n_times).")
            x = x.reshape((len(x), *fixed))
        return x

    def predict(self, x: np.ndarray) -> np.ndarray:
        _check_windows(x)
        if not self.batch_dynamic:
            return super().predict(x)
        outs = [self.session.run(None, {self.input_name: self._to_input(x[i:i + 256])})[0]
                for i in range(0, len(x), 256)]
        return np.concatenate(outs).astype(np.float32)

    def prepare_one(self, x1):
        return {self.input_name: self._to_input(x1)}

    def run_one(self, payload):
        return np.asarray(self.session.run(None, payload)[0], np.float32)


# -- int8 input/output handling ------------------------------------------------------------------
@dataclass
class Int8IO:
    """Quantization and layout of the int8 model's input and output tensors.

    The .tflite input may be laid out differently from (n_chans, n_times) (a converter may move the
    channel axis last). ``transpose`` says whether a window is transposed to (n_times, n_chans)
    before it is reshaped to :attr:`input_shape`; :meth:`resolve_layout` finds it from the export's
    test vectors (``x_float`` against ``x_int8``) or, without them, from the shape.
    """

    input_shape: tuple[int, ...]  #: the .tflite input shape, batch included (1, ...)
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    transpose: bool = False

    @property
    def input_bytes(self) -> int:
        return int(np.prod(self.input_shape[1:]))

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float windows (n, n_chans, n_times) -> int8 (n, *input_shape[1:])."""
        _check_windows(x)
        if x.shape[1] * x.shape[2] != self.input_bytes:
            raise ValueError(f"The int8 model takes {self.input_bytes} values per window (input shape "
                             f"{self.input_shape}); the windows have shape {x.shape}.")
        if self.transpose:
            x = np.swapaxes(x, 1, 2)
        v = np.asarray(x, np.float64) / self.input_scale  # rounding ties away from zero, as TFLite
        q = np.sign(v) * np.floor(np.abs(v) + 0.5) + self.input_zero_point
        q = np.clip(q, -128, 127).astype(np.int8)
        return np.ascontiguousarray(q.reshape((len(x), *self.input_shape[1:])))

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q).reshape(len(q), -1)
        return ((q.astype(np.float32) - self.output_zero_point) * self.output_scale).astype(np.float32)

    def resolve_layout(self, n_chans: int, n_times: int, *,
                       test_vectors: str | Path | None = None) -> "Int8IO":
        """Set :attr:`transpose` from the test vectors (if given and present) or from the shape."""
        dims = [d for d in self.input_shape[1:] if d != 1]
        if test_vectors is not None and Path(test_vectors).is_file():
            with np.load(test_vectors) as tv:
                if "x_float" in tv and "x_int8" in tv:
                    x_f, x_q = tv["x_float"], tv["x_int8"]
                    best = None
                    for tr in (False, True):
                        self.transpose = tr
                        ok = float(np.mean(np.abs(self.quantize(x_f).astype(np.int16).reshape(len(x_f), -1)
                                                  - x_q.astype(np.int16).reshape(len(x_q), -1)) <= 1))
                        if best is None or ok > best[1]:
                            best = (tr, ok)
                    self.transpose = best[0]
                    if best[1] < 0.99:
                        raise ValueError(
                            f"Cannot match the int8 input layout {self.input_shape} to windows "
                            f"(n, {n_chans}, {n_times}): quantizing {str(test_vectors)!r}'s x_float "
                            f"reproduces at most {best[1]:.1%} of its x_int8. Rerun `dlink export`.")
                    logger.info("int8 input layout: %s (from %s, %.1f%% of values match)",
                                "transposed (n_times, n_chans)" if self.transpose else "(n_chans, n_times)",
                                test_vectors, 100 * best[1])
                    return self
        self.transpose = dims == [n_times, n_chans] and n_chans != n_times
        return self

    @classmethod
    def from_tflite(cls, path: str | Path) -> "Int8IO":
        """Read the input/output quantization of a .tflite (int8 in and out)."""
        it = _litert_interpreter(path)
        i, o = it.get_input_details()[0], it.get_output_details()[0]
        for what, d in (("input", i), ("output", o)):
            if np.dtype(d["dtype"]) != np.int8:
                raise ValueError(f"{str(path)!r}: the {what} tensor must be int8 (full-integer "
                                 f"model), got {np.dtype(d['dtype']).name}.")
        (si, zi), (so, zo) = i["quantization"], o["quantization"]
        return cls(tuple(int(d) for d in i["shape"]), float(si), int(zi), float(so), int(zo))


def _litert_interpreter(path: str | Path):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(check_file(path, what="TFLite model",
                                               fix="Run `dlink export RUN` first.")), num_threads=1)
    it.allocate_tensors()
    return it


class _Int8Runtime(Runtime):
    io: Int8IO

    def prepare_one(self, x1):
        return self.io.quantize(x1)

    def run_int8(self, q: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def run_one(self, payload):
        return self.io.dequantize(self.run_int8(payload))


class TFLiteRuntime(_Int8Runtime):
    """The int8 .tflite in the LiteRT interpreter (one thread)."""

    name = "tflite_int8"

    def __init__(self, path: str | Path, io: Int8IO):
        self.interpreter = _litert_interpreter(path)
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._out = self.interpreter.get_output_details()[0]["index"]
        self.io = io

    def run_int8(self, q):
        self.interpreter.set_tensor(self._in, q)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out).copy()


class TflmRuntime(_Int8Runtime):
    """The int8 .tflite in the host TFLite-Micro interpreter (``tflite_micro`` package)."""

    name = "tflm_host"

    def __init__(self, path: str | Path, io: Int8IO, *, arena_bytes: int | None = None):
        from tflite_micro import runtime as tflm

        path = check_file(path, what="TFLite model", fix="Run `dlink export RUN` first.")
        size = Path(path).stat().st_size
        arena = max(int(arena_bytes or 0) * 2, size * 10, 64 * 1024)
        self.interpreter = tflm.Interpreter.from_file(str(path), arena_size=arena)
        self.io = io

    def run_int8(self, q):
        self.interpreter.set_input(q, 0)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_output(0), copy=True)


class HostCRuntime(_Int8Runtime):
    """Our generated C and runtime, compiled for the host (``dlink.firmware.host.HostModel``).

    ``HostModel.run`` processes a batch per call (it may start a process per call), so the bench
    times it with :func:`dlink.bench.latency.measure_batched_latency` (a batch of ``n`` windows
    against one window, the difference per window): start-up cost is excluded, as for the other
    runtimes.
    """

    name = "c_host"

    def __init__(self, host_model: Any, io: Int8IO):
        self.host_model = host_model
        self.io = io

    @classmethod
    def build(cls, tflite_path: str | Path, work_dir: str | Path, io: Int8IO) -> "HostCRuntime":
        from dlink.export.codegen import generate_c
        from dlink.firmware.host import HostModel

        work_dir = Path(work_dir)
        gen = generate_c(tflite_path, work_dir / "gen", name="student")
        return cls(HostModel.build(gen, work_dir / "build"), io)

    def run_int8(self, q):
        return np.asarray(self.host_model.run(q.reshape(len(q), -1))).reshape(len(q), -1)

    def predict(self, x):
        _check_windows(x)
        return self.io.dequantize(self.run_int8(self.io.quantize(x)))


def load_tflm_arena_bytes(export_dir: str | Path) -> int | None:
    """The arena size measured by export (``tflm.json``), or None when absent."""
    import json

    p = Path(export_dir) / "tflm.json"
    if not p.is_file():
        return None
    return json.loads(p.read_text()).get("arena_bytes")


def check_logits(name: str, logits: np.ndarray, n: int) -> np.ndarray:
    """Raise ValueError unless ``logits`` is (n, n_outputs)."""
    logits = np.asarray(logits)
    check_shape(f"the logits of runtime {name!r}", logits.shape, (n, None))
    return logits
