"""Check an int8 .tflite before anything uses it: every operator must be one the firmware runs.

:data:`SUPPORTED_OPS` is derived from the code generator's lowerings
(:data:`dlink.export.codegen.ops.LOWERINGS`, one per operator the firmware runtime implements in
int8), so that export accepts exactly what the firmware can build. The check reads the
flatbuffer with the schema module of the ``tflite-micro`` package (no TensorFlow import) and
rejects, naming the operator and the layer (the tensor it writes, whose name carries the
converter's layer names):

- CUSTOM operators, Flex (TensorFlow select) operators included;
- builtins outside :data:`SUPPORTED_OPS`;
- float islands: a DEQUANTIZE/QUANTIZE inside the graph, or any operator that reads or writes
  a float activation;
- tensors of more than 4 dimensions;
- a model whose input or output is not int8, or with more than one subgraph.

TRANSPOSE is allowed (TFLite-Micro runs it in int8) but counted: converters insert it for layout
changes and each one costs a full copy of the tensor on the microcontroller.

>>> check_tflite(open("student.int8.tflite", "rb").read())["op_counts"]   # doctest: +SKIP
{'TRANSPOSE': 1, 'DEPTHWISE_CONV_2D': 3, 'CONV_2D': 4, 'MEAN': 1, 'FULLY_CONNECTED': 1}
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .codegen.ops import LOWERINGS

#: Allowed but counted in the report (a layout change the converter inserted).
COUNTED_OPS: tuple[str, ...] = ("TRANSPOSE",)
#: Allowed only at the model's edges (QUANTIZE on a graph input, DEQUANTIZE on a graph output).
EDGE_OPS: tuple[str, ...] = ("QUANTIZE", "DEQUANTIZE")
#: TFLite builtin operators the firmware runtime supports in int8 inside the graph: those the
#: code generator lowers, less the counted and edge-only ones.
SUPPORTED_OPS: tuple[str, ...] = tuple(op for op in LOWERINGS if op not in COUNTED_OPS + EDGE_OPS)
#: Largest tensor rank TFLite-Micro's int8 kernels (and the firmware runtime) accept.
MAX_RANK = 4


class UnsupportedOperatorError(ValueError):
    """The .tflite holds an operator the firmware cannot run; ``problems`` lists each one.

    Each problem is a dict ``{"op", "layer", "index", "reason", "onnx_nodes"}``.
    """

    def __init__(self, message: str, problems: list[dict[str, Any]]):
        super().__init__(message)
        self.problems = problems


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    return schema_fb


def _name(x: Any) -> str:
    if x is None:
        return ""
    return x.decode("utf-8", "replace") if isinstance(x, (bytes, bytearray)) else str(x)


def read_model(model: bytes):
    """Parse .tflite bytes into the flatbuffer object API (``ModelT``)."""
    fb = _schema()
    if not isinstance(model, (bytes, bytearray)) or len(model) < 8 or model[4:8] != b"TFL3":
        raise ValueError(f"Expected the bytes of a .tflite flatbuffer (identifier 'TFL3'), got "
                         f"{type(model).__name__} of {len(model) if hasattr(model, '__len__') else '?'} "
                         f"bytes.")
    return fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(bytearray(model), 0))


def _op_name(model, op) -> tuple[str, str]:
    """(builtin name or 'CUSTOM', custom code)."""
    fb = _schema()
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    return names.get(builtin, f"BUILTIN_{builtin}"), _name(code.customCode)


def _rank(tensor) -> int:
    return 0 if tensor.shape is None else len(tensor.shape)


def _type_names() -> dict[int, str]:
    fb = _schema()
    return {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}


def list_ops(model: bytes) -> list[dict[str, Any]]:
    """Operators of the first subgraph in execution order.

    Returns
    -------
    list of dict
        ``{"index", "op", "custom_code", "layer", "inputs", "outputs"}``; ``layer`` is the name of
        the operator's first output tensor.
    """
    m = read_model(model)
    sg = m.subgraphs[0]
    out = []
    for i, op in enumerate(sg.operators or []):
        name, custom = _op_name(m, op)
        outs = [int(t) for t in (op.outputs if op.outputs is not None else [])]
        out.append({
            "index": i, "op": name, "custom_code": custom,
            "layer": _name(sg.tensors[outs[0]].name) if outs else "",
            "inputs": [int(t) for t in (op.inputs if op.inputs is not None else []) if t >= 0],
            "outputs": outs,
        })
    return out


def _onnx_sources(op: str, custom_code: str, onnx_nodes: list[tuple[str, str]]) -> list[str]:
    """ONNX nodes whose op type is the TFLite operator's (ELU <- Elu, FlexErf <- Erf)."""
    key = (custom_code[4:] if custom_code.startswith("Flex") else custom_code or op)
    key = key.replace("_", "").lower()
    return [name for op_type, name in onnx_nodes if op_type.lower() == key]


def check_tflite(model: bytes, *, supported_ops: tuple[str, ...] = SUPPORTED_OPS,
                 onnx_nodes: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Check an int8 .tflite for the firmware; raise UnsupportedOperatorError listing every problem.

    Parameters
    ----------
    model : bytes
        The .tflite flatbuffer.
    supported_ops : tuple of str
        Builtins accepted besides TRANSPOSE (counted) and edge QUANTIZE/DEQUANTIZE.
    onnx_nodes : list of (op_type, name), optional
        Nodes of the ONNX graph the model was converted from: a rejected operator is traced back
        to the ONNX node(s) of the same type, whose names carry the PyTorch module path.

    Returns
    -------
    dict
        ``ops`` (operator names in execution order), ``op_counts``, ``n_transposes``, ``layers``
        (one ``{"op", "layer", "output_shape"}`` per operator), ``input`` and ``output``
        (``{"name", "shape", "dtype", "scale", "zero_point"}``).
    """
    m = read_model(model)
    types = _type_names()
    if len(m.subgraphs) != 1:
        raise UnsupportedOperatorError(
            f"The .tflite has {len(m.subgraphs)} subgraphs; the firmware runs exactly one "
            f"(control flow such as WHILE/IF is not supported).",
            [{"op": "SUBGRAPH", "layer": "", "index": -1, "reason": "several subgraphs"}])
    sg = m.subgraphs[0]
    tensors = sg.tensors
    graph_in = {int(i) for i in sg.inputs}
    graph_out = {int(o) for o in sg.outputs}
    const = {i for i, t in enumerate(tensors)
             if t.buffer and m.buffers[t.buffer].data is not None and len(m.buffers[t.buffer].data)}

    def tname(i: int) -> str:
        return _name(tensors[i].name)

    def ttype(i: int) -> str:
        return types.get(tensors[i].type, str(tensors[i].type))

    problems: list[dict[str, Any]] = []
    layers = []
    for op in list_ops(model):
        name, layer, idx = op["op"], op["layer"], op["index"]
        out_t = tensors[op["outputs"][0]] if op["outputs"] else None
        shape = [int(d) for d in out_t.shape] if out_t is not None and out_t.shape is not None else []
        layers.append({"op": name, "layer": layer, "output_shape": shape})

        def bad(reason: str) -> None:
            problems.append({"op": name if name != "CUSTOM" else f"CUSTOM({op['custom_code']})",
                             "layer": layer, "index": idx, "reason": reason,
                             "onnx_nodes": _onnx_sources(name, op["custom_code"], onnx_nodes or [])})

        if name == "CUSTOM":
            kind = "a Flex (TensorFlow select) operator" if op["custom_code"].startswith("Flex") \
                else "a CUSTOM operator"
            bad(f"{kind}: TFLite-Micro runs builtins only")
            continue
        if name in EDGE_OPS:
            at_edge = (name == "QUANTIZE" and all(t in graph_in for t in op["inputs"])) or \
                      (name == "DEQUANTIZE" and all(t in graph_out for t in op["outputs"]))
            if not at_edge:
                bad("a float island: DEQUANTIZE/QUANTIZE inside the graph means this part runs "
                    "in float")
            continue
        if name not in supported_ops and name not in COUNTED_OPS:
            bad(f"not an int8 builtin the firmware runtime supports (supported: "
                f"{', '.join(supported_ops)}, TRANSPOSE)")
            continue
        acts = [t for t in op["inputs"] + op["outputs"] if t not in const]
        floats = [t for t in acts if ttype(t) in ("FLOAT32", "FLOAT16", "FLOAT64")]
        if floats:
            bad(f"a float island: it reads or writes float tensor(s) "
                f"{', '.join(repr(tname(t)) for t in floats)}")
        wide = [t for t in op["inputs"] + op["outputs"] if _rank(tensors[t]) > MAX_RANK]
        if wide:
            bad(f"tensor(s) of more than {MAX_RANK} dimensions: "
                + ", ".join(f"{tname(t)!r} {list(tensors[t].shape)}" for t in wide))
    for which, ids in (("input", sg.inputs), ("output", sg.outputs)):
        for t in ids:
            if ttype(int(t)) != "INT8":
                problems.append({"op": which.upper(), "layer": tname(int(t)), "index": -1,
                                 "reason": f"the model {which} is {ttype(int(t))}, expected INT8 "
                                           f"(full-integer model)"})
    if problems:
        lines = [f"  op #{p['index']} {p['op']} (layer {p['layer']!r}"
                 + (f", from ONNX node(s) {', '.join(map(repr, p['onnx_nodes'][:3]))}"
                    if p.get("onnx_nodes") else "") + f"): {p['reason']}" for p in problems]
        raise UnsupportedOperatorError(
            f"The int8 TFLite model cannot run on the firmware: {len(problems)} problem(s):\n"
            + "\n".join(lines) + "\nReplace the layer in the student (e.g. ReLU instead of "
            "ELU/GELU, grouped Conv2d on [B, C, 1, T] for temporal convolutions).", problems)
    counts = Counter(layer["op"] for layer in layers)

    def io(t: int) -> dict[str, Any]:
        q = tensors[t].quantization
        scale = list(q.scale) if q is not None and q.scale is not None else []
        zero = list(q.zeroPoint) if q is not None and q.zeroPoint is not None else []
        return {"name": tname(t), "shape": [int(d) for d in tensors[t].shape] if _rank(tensors[t]) else [],
                "dtype": ttype(t), "scale": float(scale[0]) if scale else None,
                "zero_point": int(zero[0]) if zero else None}

    return {
        "ops": [layer["op"] for layer in layers],
        "op_counts": dict(counts),
        "n_transposes": int(counts.get("TRANSPOSE", 0)),
        "layers": layers,
        "input": io(int(sg.inputs[0])),
        "output": io(int(sg.outputs[0])),
    }
