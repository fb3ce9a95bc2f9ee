"""Read an int8 ``.tflite`` flatbuffer into plain Python objects.

Uses the schema bindings bundled with the ``tflite-micro`` wheel (importing them is fast; no
TensorFlow needed). Only what the code generator needs is kept: tensors (shape, type,
quantisation, constant data) and operators (builtin name, options object, inputs, outputs) of
the first subgraph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlink._check import check_file

__all__ = ["TfliteTensor", "TfliteOperator", "TfliteGraph", "read_tflite", "ModelFormatError"]


class ModelFormatError(ValueError):
    """The file is not a TFLite flatbuffer this generator can read (names the file and why)."""


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


_NUMPY_TYPES = {
    "FLOAT32": np.float32, "INT32": np.int32, "INT8": np.int8, "UINT8": np.uint8,
    "INT16": np.int16, "INT64": np.int64, "BOOL": np.bool_, "FLOAT16": np.float16,
}


@dataclass
class TfliteTensor:
    """One tensor: ``dtype`` is the schema's type name ("INT8", "INT32", ...)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scales: np.ndarray  # float32, empty when not quantised
    zero_points: np.ndarray  # int64
    quantized_dimension: int
    data: np.ndarray | None = None  # constant contents (reshaped), None for activations

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def scale(self) -> float:
        """The per-tensor scale as float32 (TFLite keeps scales in float)."""
        return float(np.float32(self.scales[0])) if self.scales.size else 0.0

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points.size else 0

    @property
    def is_constant(self) -> bool:
        return self.data is not None


@dataclass
class TfliteOperator:
    """One operator of the graph; ``inputs`` uses -1 for an omitted optional input."""

    index: int
    opcode: str
    options: object
    inputs: list[int]
    outputs: list[int]


@dataclass
class TfliteGraph:
    """The first subgraph of a model, plus the model's raw bytes for hashing."""

    path: Path
    tensors: list[TfliteTensor]
    operators: list[TfliteOperator]
    inputs: list[int]
    outputs: list[int]
    n_subgraphs: int = 1
    model_bytes: bytes = field(default=b"", repr=False)


def read_tflite(path: str | Path) -> TfliteGraph:
    """Parse ``path`` (a ``.tflite`` file) into a :class:`TfliteGraph`.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ModelFormatError
        When it is not a TFLite flatbuffer (wrong identifier) or has no subgraph.
    """
    path = check_file(path, what="TFLite model", fix="Run `dlink export RUN` first.")
    raw = path.read_bytes()
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise ModelFormatError(
            f"{str(path)!r} is not a TFLite flatbuffer: expected the file identifier 'TFL3' at "
            f"bytes 4..8, found {raw[4:8]!r}."
        )
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(raw, 0))
    if not model.subgraphs:
        raise ModelFormatError(f"{str(path)!r} has no subgraph.")
    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    graph = model.subgraphs[0]
    tensors = []
    for i, t in enumerate(graph.tensors):
        dtype = type_names.get(t.type, f"TYPE{t.type}")
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        q = t.quantization
        scales = np.asarray(q.scale if q is not None and q.scale is not None else [], np.float32)
        zps = np.asarray(
            q.zeroPoint if q is not None and q.zeroPoint is not None else [], np.int64
        )
        qdim = int(q.quantizedDimension) if q is not None else 0
        data = None
        buf = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
        if buf is not None and buf.data is not None and len(buf.data) > 0:
            np_type = _NUMPY_TYPES.get(dtype)
            if np_type is None:
                raise ModelFormatError(
                    f"{str(path)!r}: constant tensor {i} ({t.name!r}) has type {dtype}, which the "
                    "code generator cannot read."
                )
            data = np.frombuffer(bytes(bytearray(buf.data)), dtype=np_type).reshape(shape)
        elif buf is not None and getattr(buf, "offset", 0) and buf.offset > 1:
            np_type = _NUMPY_TYPES[dtype]
            chunk = raw[buf.offset:buf.offset + buf.size]
            data = np.frombuffer(chunk, dtype=np_type).reshape(shape)
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        tensors.append(TfliteTensor(i, name, shape, dtype, scales, zps, qdim, data))
    operators = []
    for i, op in enumerate(graph.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        opcode = op_names.get(builtin, f"BUILTIN_{builtin}")
        if opcode == "CUSTOM":
            cname = code.customCode
            cname = cname.decode() if isinstance(cname, bytes) else cname
            opcode = f"CUSTOM:{cname}"
        operators.append(
            TfliteOperator(i, opcode, op.builtinOptions, [int(x) for x in op.inputs],
                           [int(x) for x in op.outputs])
        )
    return TfliteGraph(path, tensors, operators, [int(x) for x in graph.inputs],
                       [int(x) for x in graph.outputs], len(model.subgraphs), raw)
