"""PyTorch student -> ONNX at a fixed opset, simplified, checked against PyTorch in onnxruntime.

The TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) is used because it honours the
requested opset; the dynamo exporter silently stays at opset 18 when asked for a lower one. The
opset of the written file is read back and checked. BatchNorm is folded into the convolutions
(eval mode + constant folding) and onnxsim removes what is left (identity reshapes, dead nodes).

The graph has one input ``input`` ``(batch, n_chans, n_times)`` float32 (100 uV units) and one
output ``logits`` ``(batch, n_outputs)``; the batch axis is dynamic.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_path

logger = logging.getLogger(__name__)

INPUT_NAME = "input"
OUTPUT_NAME = "logits"


class OnnxParityError(RuntimeError):
    """onnxruntime's output of the exported graph differs from PyTorch's beyond the tolerance."""


def onnx_opset(model) -> int:
    """The default-domain opset of an ``onnx.ModelProto``."""
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    raise ValueError("The ONNX model imports no default-domain opset.")


#: Session config that keeps int8 QDQ models on onnxruntime's int8 x int8 kernels. By default
#: onnxruntime on x86 rewrites int8 activations to uint8 (QDQS8ToU8Transformer) and runs uint8 x
#: int8 kernels; on the project machines (AVX512-VNNI/AMX) that path lost up to half the logits'
#: energy on a trained student (rel. RMS 0.5, argmax agreement 0.72), while the int8 x int8
#: path matches the QDQ graph evaluated op by op and the TFLite int8 model. The export reports both.
INT8_KERNELS_CONFIG: dict[str, str] = {"session.qdqisint8allowed": "1"}


def ort_session(model_or_path, *, n_threads: int = 1, int8_kernels: bool = False):
    """An onnxruntime CPU session (single-threaded by default: the machines are shared).

    ``int8_kernels=True`` applies :data:`INT8_KERNELS_CONFIG` (QDQ models run int8 x int8).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = n_threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if int8_kernels:
        for key, value in INT8_KERNELS_CONFIG.items():
            opts.add_session_config_entry(key, value)
    src = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") \
        else str(model_or_path)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def ort_run(session, x: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
    """Run a one-input one-output session over ``x`` in batches."""
    name = session.get_inputs()[0].name
    outs = [session.run(None, {name: x[i:i + batch_size]})[0] for i in range(0, len(x), batch_size)]
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


def export_onnx(model, path: str | Path, *, n_chans: int, n_times: int, opset: int,
                simplify: bool = True, x_check: np.ndarray | None = None,
                max_abs_err: float = 1e-3) -> dict[str, Any]:
    """Export ``model`` to ONNX at ``opset``, simplify it and check it against PyTorch.

    Parameters
    ----------
    model : torch.nn.Module
        The student in eval mode; ``model(x)`` with x ``(B, n_chans, n_times)`` -> logits.
    path : str | Path
        The .onnx file to write (atomically).
    n_chans, n_times : int
        Input shape (the batch axis is dynamic).
    opset : int
        ONNX opset; the written file is checked to carry exactly this opset.
    simplify : bool
        Run onnxsim.
    x_check : ndarray, shape (n, n_chans, n_times), optional
        Windows for the onnxruntime-vs-PyTorch parity check (random normal when None).
    max_abs_err : float
        Largest accepted max-abs difference of the logits.

    Returns
    -------
    dict
        ``opset``, ``n_nodes``, ``node_types`` (counts), ``simplified``, ``max_abs_err``
        (onnxruntime vs PyTorch logits over ``x_check``), ``n_check_windows``.
    """
    import onnx
    import torch

    path = Path(path)
    model = model.eval()
    if x_check is None:
        x_check = np.random.default_rng(0).standard_normal((8, n_chans, n_times)).astype(np.float32)
    if x_check.ndim != 3 or x_check.shape[1:] != (n_chans, n_times):
        raise ValueError(f"x_check must have shape (n, {n_chans}, {n_times}), got {x_check.shape}.")
    dummy = torch.from_numpy(np.ascontiguousarray(x_check[:1]))
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, (dummy,), str(tmp), opset_version=int(opset),
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                          do_constant_folding=True, dynamo=False)
        proto = onnx.load(str(tmp))
        got = onnx_opset(proto)
        if got != int(opset):
            raise RuntimeError(f"The ONNX exporter wrote opset {got}, but export.opset = {opset} "
                               f"was requested.")
        simplified = False
        if simplify:
            import onnxsim

            sim, ok = onnxsim.simplify(proto)
            if ok:
                proto, simplified = sim, True
            else:
                logger.warning("onnxsim could not validate the simplified graph; keeping the original")
        onnx.checker.check_model(proto)
        if onnx_opset(proto) != int(opset):
            raise RuntimeError(f"onnxsim changed the opset to {onnx_opset(proto)} (wanted {opset}).")
        onnx.save(proto, str(tmp))
    with torch.no_grad():
        ref = model(torch.from_numpy(np.ascontiguousarray(x_check))).numpy()
    got_logits = ort_run(ort_session(path), x_check)
    err = float(np.max(np.abs(got_logits - ref)))
    if not err <= max_abs_err:
        raise OnnxParityError(f"onnxruntime and PyTorch logits of {str(path)!r} differ by up to "
                              f"{err:.3g} (> export.max_onnx_abs_err = {max_abs_err}).")
    counts: dict[str, int] = {}
    for node in proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    logger.info("ONNX opset %d, %d nodes, max |ort - torch| = %.3g", opset, len(proto.graph.node), err)
    return {"opset": int(opset), "n_nodes": len(proto.graph.node), "node_types": counts,
            "simplified": simplified, "max_abs_err": err, "n_check_windows": int(len(x_check))}
