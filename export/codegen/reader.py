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

    Only the bytes are checked here (a readable flatbuffer whose constant data fit their shapes);
    whether the graph makes sense is :func:`.graph_checks.check_graph`'s job.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ModelFormatError
        When it is not a TFLite flatbuffer (wrong identifier), is truncated or corrupted (a
        table, vector or string that points outside the file), has no subgraph, or holds
        constant data that do not fit their tensor's shape. The message names the file.
    """
    path = check_file(path, what="TFLite model", fix="Run `dlink export RUN` first.")
    raw = path.read_bytes()
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise ModelFormatError(
            f"{str(path)!r} is not a TFLite flatbuffer: expected the file identifier 'TFL3' at "
            f"bytes 4..8, found {raw[4:8]!r}."
        )
    schema = _schema()
    try:  # the flatbuffer runtime raises whatever it meets on offsets outside the buffer
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(raw, 0))
    except Exception as e:  # noqa: BLE001 - any failure here means corrupted bytes
        raise ModelFormatError(
            f"{str(path)!r} is a truncated or corrupted TFLite flatbuffer ({len(raw)} bytes): "
            f"decoding it failed with {type(e).__name__}: {e}. Re-export it with "
            f"`dlink export RUN`.") from None
    if not model.subgraphs:
        raise ModelFormatError(f"{str(path)!r} has no subgraph.")
    try:
        return _graph(path, raw, model, schema)
    except ModelFormatError:
        raise
    except Exception as e:  # noqa: BLE001 - fields of impossible types or sizes
        raise ModelFormatError(
            f"{str(path)!r} is a corrupted TFLite flatbuffer: reading its first subgraph failed "
            f"with {type(e).__name__}: {e}.") from None


def _text(value) -> str:
    """A flatbuffer string as text (invalid UTF-8 replaced: names only reach C sanitised)."""
    if value is None:
        return ""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _graph(path: Path, raw: bytes, model, schema) -> TfliteGraph:
    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    graph = model.subgraphs[0]
    buffers = model.buffers or []
    codes = model.operatorCodes or []
    tensors = []
    for i, t in enumerate(graph.tensors or []):
        dtype = type_names.get(t.type, f"TYPE{t.type}")
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        q = t.quantization
        scales = np.asarray(q.scale if q is not None and q.scale is not None else [], np.float32)
        zps = np.asarray(
            q.zeroPoint if q is not None and q.zeroPoint is not None else [], np.int64
        )
        qdim = int(q.quantizedDimension) if q is not None else 0
        name = _text(t.name)
        data = None
        buf = buffers[t.buffer] if 0 <= t.buffer < len(buffers) else None
        chunk = None
        if buf is not None and buf.data is not None and len(buf.data) > 0:
            chunk = bytes(bytearray(buf.data))
        elif buf is not None and getattr(buf, "offset", 0) and buf.offset > 1:
            if buf.offset + buf.size > len(raw):
                raise ModelFormatError(
                    f"{str(path)!r}: the data of constant tensor {i} ({name!r}) lie at bytes "
                    f"{buf.offset}..{buf.offset + buf.size}, past the end of the file "
                    f"({len(raw)} bytes): it is truncated.")
            chunk = raw[buf.offset:buf.offset + buf.size]
        if chunk is not None:
            np_type = _NUMPY_TYPES.get(dtype)
            if np_type is None:
                raise ModelFormatError(
                    f"{str(path)!r}: constant tensor {i} ({name!r}) has type {dtype}, which the "
                    "code generator cannot read."
                )
            item = np.dtype(np_type).itemsize
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if min(shape, default=1) < 0 or len(chunk) != count * item:
                raise ModelFormatError(
                    f"{str(path)!r}: constant tensor {i} ({name!r}) holds {len(chunk)} bytes, "
                    f"but shape {list(shape)} of type {dtype} needs {count * item}.")
            data = np.frombuffer(chunk, dtype=np_type).reshape(shape)
        tensors.append(TfliteTensor(i, name, shape, dtype, scales, zps, qdim, data))
    operators = []
    for i, op in enumerate(graph.operators or []):
        if not 0 <= op.opcodeIndex < len(codes):
            raise ModelFormatError(
                f"{str(path)!r}: operator {i} uses operator code {op.opcodeIndex}, but the model "
                f"defines {len(codes)} codes.")
        code = codes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        opcode = op_names.get(builtin, f"BUILTIN_{builtin}")
        if opcode == "CUSTOM":
            opcode = f"CUSTOM:{_text(code.customCode)}"
        operators.append(
            TfliteOperator(i, opcode, op.builtinOptions,
                           [int(x) for x in (op.inputs if op.inputs is not None else [])],
                           [int(x) for x in (op.outputs if op.outputs is not None else [])])
        )
    return TfliteGraph(path, tensors, operators,
                       [int(x) for x in (graph.inputs if graph.inputs is not None else [])],
                       [int(x) for x in (graph.outputs if graph.outputs is not None else [])],
                       len(model.subgraphs), raw)
