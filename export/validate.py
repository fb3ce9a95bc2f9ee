"""The validation report: how much each runtime and quantisation step changes the student.

Per runtime (PyTorch float, onnxruntime float, onnxruntime QDQ int8 (int8 x int8 kernels, and
onnxruntime's x86 default uint8 x int8 kernels), TFLite int8 with reference kernels, TFLite-Micro): accuracy and balanced accuracy on the test split, argmax agreement with
PyTorch float, cosine similarity and relative RMS error of the logits against PyTorch float
(over all windows' logits at once), max abs error.

Per layer, float vs int8 of the intermediate tensors that can be matched:

- onnxruntime: every node output of the float graph against its ``_DequantizeLinear_Output``
  twin in the QDQ graph (layer = ONNX node name);
- TFLite: every operator output of the float .tflite against the int8 .tflite's tensor of the
  same name, dequantised (both come from one Keras graph, so the names match; layer = the
  converter's op names, which name the ONNX op they came from).

The layer with the largest relative RMS error is named in the report.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .quant import dequantize, quantize

logger = logging.getLogger(__name__)


def tensor_errors(x: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Cosine, relative RMS and max abs error of ``x`` against ``ref`` (flattened)."""
    a = np.asarray(x, np.float64).ravel()
    b = np.asarray(ref, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"cannot compare tensors of {a.size} and {b.size} values.")
    nb = float(np.linalg.norm(b))
    na = float(np.linalg.norm(a))
    cos = float(a @ b / (na * nb)) if na > 0 and nb > 0 else float(na == nb)
    rel = float(np.linalg.norm(a - b) / nb) if nb > 0 else float(np.linalg.norm(a - b))
    return {"cosine": cos, "rel_rms": rel, "max_abs_err": float(np.max(np.abs(a - b))) if a.size else 0.0}


def logit_metrics(logits: np.ndarray, ref_logits: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Accuracy on ``y`` and agreement with the float reference logits."""
    from sklearn.metrics import balanced_accuracy_score

    pred = np.asarray(logits).argmax(1)
    out = {"n_windows": int(len(y)),
           "accuracy": float(np.mean(pred == y)),
           "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
           "argmax_agreement": float(np.mean(pred == np.asarray(ref_logits).argmax(1)))}
    out.update(tensor_errors(logits, ref_logits))
    return out


# -- runtimes ---------------------------------------------------------------------------------
def tflite_interpreter(model: bytes, *, preserve_all_tensors: bool = False):
    """A TFLite interpreter with the reference kernels (ai-edge-litert)."""
    from ai_edge_litert import interpreter as lit

    it = lit.Interpreter(model_content=bytes(model),
                         experimental_op_resolver_type=lit.OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=preserve_all_tensors, num_threads=1)
    it.allocate_tensors()
    return it


def _set_input(it, x: np.ndarray) -> None:
    d = it.get_input_details()[0]
    if d["dtype"] == np.int8:
        scale, zp = d["quantization"]
        x = quantize(x, scale, zp)
    it.set_tensor(d["index"], np.ascontiguousarray(x.reshape(d["shape"]).astype(d["dtype"])))


def run_tflite(model: bytes, x: np.ndarray) -> np.ndarray:
    """Float logits of a (float or int8) .tflite over float windows ``x`` (one invoke each)."""
    it = tflite_interpreter(model)
    d_out = it.get_output_details()[0]
    outs = []
    for row in x:
        _set_input(it, row)
        it.invoke()
        o = it.get_tensor(d_out["index"])
        if d_out["dtype"] == np.int8:
            o = dequantize(o, *d_out["quantization"])
        outs.append(np.asarray(o, np.float32).reshape(-1))
    return np.stack(outs)


# -- per layer --------------------------------------------------------------------------------
def per_layer_tflite(float_model: bytes, int8_model: bytes, x: np.ndarray) -> list[dict[str, Any]]:
    """Float vs int8 error of every operator output of the .tflite models, matched by name."""
    itf = tflite_interpreter(float_model, preserve_all_tensors=True)
    itq = tflite_interpreter(int8_model, preserve_all_tensors=True)
    from .tflite_check import list_ops

    f_by_name = {t["name"]: t for t in itf.get_tensor_details()}
    q_details = {t["index"]: t for t in itq.get_tensor_details()}
    layers = []
    for op in list_ops(int8_model):
        for t in op["outputs"]:
            name = q_details[t]["name"]
            if name in f_by_name and q_details[t]["dtype"] == np.int8:
                layers.append((op["op"], name, t, f_by_name[name]["index"]))
    acc: dict[str, list] = {name: [[], []] for _, name, _, _ in layers}
    for row in x:
        _set_input(itf, row)
        _set_input(itq, row)
        itf.invoke()
        itq.invoke()
        for _, name, tq, tf_ in layers:
            scale, zp = q_details[tq]["quantization"]
            acc[name][0].append(dequantize(itq.get_tensor(tq), scale, zp))
            acc[name][1].append(np.asarray(itf.get_tensor(tf_), np.float32))
    return [{"op": op, "layer": name, **tensor_errors(np.stack(acc[name][0]), np.stack(acc[name][1]))}
            for op, name, _, _ in layers]


def per_layer_tflm_vs_tflite(model: bytes, x_int8: np.ndarray) -> list[dict[str, Any]]:
    """Int8 differences, operator by operator, between TFLite-Micro and TFLite (reference kernels).

    Both interpreters keep every tensor; for each operator output: how many int8 values differ
    over the windows ``x_int8`` (in the .tflite input layout) and the largest difference (in
    quantisation steps). Names the kernel behind a TFLite vs TFLite-Micro off-by-one.
    """
    from tflite_micro.python.tflite_micro import runtime

    from .tflite_check import list_ops

    ops = list_ops(model)
    itq = tflite_interpreter(model, preserve_all_tensors=True)
    micro = runtime.Interpreter.from_bytes(
        bytes(model), arena_size=10 * len(model) + (1 << 21),
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    d_in = itq.get_input_details()[0]
    stats = {op["index"]: [0, 0, 0] for op in ops}  # values differing, max diff, values compared
    for row in x_int8:
        row = np.ascontiguousarray(row.reshape(d_in["shape"]))
        itq.set_tensor(d_in["index"], row)
        itq.invoke()
        micro.set_input(row, 0)
        micro.invoke()
        for op in ops:
            t = op["outputs"][0]
            a = np.asarray(itq.get_tensor(t)).astype(np.int32).ravel()
            b = np.asarray(micro.GetTensor(t, 0)["tensor_data"]).astype(np.int32).ravel()
            st = stats[op["index"]]
            st[0] += int(np.sum(a != b))
            st[1] = max(st[1], int(np.max(np.abs(a - b))) if a.size else 0)
            st[2] += int(a.size)
    return [{"op": op["op"], "layer": op["layer"], "n_values_differ": stats[op["index"]][0],
             "max_abs_diff_steps": stats[op["index"]][1], "n_values": stats[op["index"]][2]}
            for op in ops]


def _expose(proto, names: list[str]):
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(proto)
    del m.graph.output[:]
    for n in names:
        m.graph.output.append(helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    return m


def per_layer_onnx(float_onnx, qdq_onnx, x: np.ndarray) -> list[dict[str, Any]]:
    """Float vs QDQ error of every node output of the float ONNX graph that has an int8 twin."""
    import onnx

    from .onnx_export import ort_session

    fp, qp = onnx.load(str(float_onnx)), onnx.load(str(qdq_onnx))
    q_names = {o for n in qp.graph.node for o in n.output}
    pairs = []
    for node in fp.graph.node:
        for o in node.output:
            twin = f"{o}_DequantizeLinear_Output"
            if twin in q_names:
                pairs.append((node.op_type, node.name or o, o, twin))
    if not pairs:
        return []
    sf = ort_session(_expose(fp, [p[2] for p in pairs]))
    sq = ort_session(_expose(qp, [p[3] for p in pairs]), int8_kernels=True)
    name_f, name_q = sf.get_inputs()[0].name, sq.get_inputs()[0].name
    of = sf.run(None, {name_f: x})
    oq = sq.run(None, {name_q: x})
    return [{"op": op, "layer": layer, **tensor_errors(b, a)}
            for (op, layer, _, _), a, b in zip(pairs, of, oq)]


def worst_layer(layers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The layer with the largest relative RMS error."""
    return max(layers, key=lambda d: d["rel_rms"]) if layers else None


# -- table ------------------------------------------------------------------------------------
def format_table(runtimes: dict[str, dict[str, Any]]) -> str:
    """One line per runtime: accuracy, balanced accuracy, agreement, cosine, relative RMS."""
    head = f"{'runtime':<22}{'acc':>7}{'bal_acc':>9}{'agree':>8}{'cosine':>9}{'rel_rms':>9}{'max_err':>9}"
    lines = [head, "-" * len(head)]
    for name, m in runtimes.items():
        lines.append(f"{name:<22}{m['accuracy']:>7.3f}{m['balanced_accuracy']:>9.3f}"
                     f"{m['argmax_agreement']:>8.3f}{m['cosine']:>9.4f}{m['rel_rms']:>9.4f}"
                     f"{m['max_abs_err']:>9.3g}")
    return "\n".join(lines)
