"""Float ONNX -> full-integer int8 TFLite through onnx2tf, keeping the EEG [channels, time] input.

Steps:

1. A *conversion view* of the float ONNX graph (not written to the run): batch fixed to 1, and the
   first node that lifts the ``(1, n_chans, n_times)`` input to 4-D (the student's Reshape or
   Unsqueeze to ``(1, n_chans, 1, n_times)``) is folded into a 4-D input. Those bytes are the
   same as ``[n_chans, n_times]``, so the TFLite input is the EEG window in its own layout.
   onnx2tf mis-tracks layouts through a 3-D -> 4-D Unsqueeze, which is why this is done here.
   Strided temporal convolutions/pools on a height-1 tensor get the same stride on the (size-1,
   kernel-1, unpadded) height axis: the result is identical, and TensorFlow's depthwise
   convolution, which needs equal strides, stays a DEPTHWISE_CONV_2D instead of a grouped CONV_2D.
2. onnx2tf builds the Keras model (NHWC inside) with the input kept NCHW
   (``keep_ncw_or_nchw_or_ncdhw_input_names``); it inserts one TRANSPOSE after the input. Nothing
   is saved by onnx2tf (``disable_model_save``) and it runs in a temporary folder: its own
   validation passes and its seven .tflite variants are skipped, which keeps the export fast.
3. TFLiteConverter: full-integer int8 (int8 input and output, per-channel weights), calibrated on
   the calibration windows (the same as the QDQ model's) in the input layout of step 1. Flex (select TF) operators are allowed in
   the conversion only so that an unsupported layer reaches :func:`check_tflite` and is named
   there, instead of failing inside the converter.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from typing import Any

import numpy as np

from ._stdio import capture_fd2

logger = logging.getLogger(__name__)


class ConversionError(RuntimeError):
    """onnx2tf or the TFLite converter failed; the message names the ONNX node when known."""


def _set_dim(vi, dims: list[int]) -> None:
    shape = vi.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        shape.dim.add().dim_value = int(d)


def _static_shapes(proto) -> dict[str, list[int]]:
    import onnx

    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = [int(d.dim_value) for d in dims]
    return shapes


def conversion_view(proto) -> tuple[Any, list[int], dict[str, Any]]:
    """Return (ONNX model for onnx2tf, its 4-D input shape, what was changed).

    Parameters
    ----------
    proto : onnx.ModelProto
        The float student, input ``(batch, n_chans, n_times)``.
    """
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(proto)
    g = m.graph
    if len(g.input) != 1 or len(g.output) != 1:
        raise ConversionError(f"The student graph must have one input and one output, got "
                              f"{len(g.input)} and {len(g.output)}.")
    inp = g.input[0]
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    if len(dims) != 3:
        raise ConversionError(f"The student's ONNX input must be (batch, n_chans, n_times), got "
                              f"rank {len(dims)}.")
    n_chans, n_times = int(dims[1]), int(dims[2])
    _set_dim(inp, [1, n_chans, n_times])
    out_dims = [d.dim_value for d in g.output[0].type.tensor_type.shape.dim]
    _set_dim(g.output[0], [1] + [int(d) for d in out_dims[1:]])
    del g.value_info[:]
    shapes = _static_shapes(m)
    changes: dict[str, Any] = {"folded_input_node": None, "equalized_strides": []}
    consumers = [n for n in g.node if inp.name in n.input]
    lift = consumers[0] if len(consumers) == 1 else None
    if lift is not None and lift.op_type in ("Reshape", "Unsqueeze") \
            and len(shapes.get(lift.output[0], [])) == 4:
        shape4 = shapes[lift.output[0]]
        out = lift.output[0]
        g.node.remove(lift)
        for n in g.node:
            for i, name in enumerate(n.input):
                if name == out:
                    n.input[i] = inp.name
        changes["folded_input_node"] = f"{lift.op_type} {lift.name}"
    else:  # a 3-D graph: feed it through an explicit reshape of a (1, C, 1, T) input
        shape4 = [1, n_chans, 1, n_times]
        const = helper.make_tensor("dlink_input_3d_shape", onnx.TensorProto.INT64, [3],
                                   [1, n_chans, n_times])
        g.initializer.append(const)
        for n in g.node:
            for i, name in enumerate(n.input):
                if name == inp.name:
                    n.input[i] = "dlink_input_3d"
        g.node.insert(0, helper.make_node("Reshape", [inp.name, const.name], ["dlink_input_3d"],
                                          name="dlink_input_to_3d"))
    _set_dim(inp, shape4)
    shapes = _static_shapes(m)
    for n in g.node:
        if n.op_type not in ("Conv", "AveragePool", "MaxPool"):
            continue
        in_shape = shapes.get(n.input[0], [])
        attrs = {a.name: a for a in n.attribute}
        if len(in_shape) != 4 or in_shape[2] != 1 or "strides" not in attrs:
            continue
        strides = list(attrs["strides"].ints)
        kernel = list(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else \
            list(shapes.get(n.input[1], [0, 0, 0, 0])[2:])
        pads = list(attrs["pads"].ints) if "pads" in attrs else [0, 0, 0, 0]
        if len(strides) == 2 and strides[0] == 1 and strides[1] > 1 and kernel[:1] == [1] \
                and pads[0] == 0 and pads[2] == 0:
            attrs["strides"].ints[0] = strides[1]
            changes["equalized_strides"].append(n.name)
    onnx.checker.check_model(m)
    return m, shape4, changes


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf


def onnx_to_tflite_int8(proto, calibration: np.ndarray, *, with_float: bool = True) -> dict[str, Any]:
    """Convert a float ONNX student to full-integer int8 TFLite bytes.

    Parameters
    ----------
    proto : onnx.ModelProto
        The float student (input ``(batch, n_chans, n_times)``).
    calibration : ndarray, shape (n, n_chans, n_times)
        Calibration windows (float32); reshaped, not transposed, to the TFLite input shape.
    with_float : bool
        Also convert the float32 TFLite model from the same graph (the per-layer reference:
        its tensors carry the same names as the int8 model's).

    Returns
    -------
    dict
        ``int8`` (bytes), ``float`` (bytes or None), ``input_shape`` (the TFLite input shape),
        ``changes`` (see :func:`conversion_view`).
    """
    view, shape4, changes = conversion_view(proto)
    if calibration.ndim != 3 or len(calibration) == 0:
        raise ValueError(f"calibration must have shape (n>0, n_chans, n_times), got {calibration.shape}.")
    if int(np.prod(calibration.shape[1:])) != int(np.prod(shape4[1:])):
        raise ValueError(f"calibration windows {calibration.shape[1:]} do not match the model input "
                         f"{tuple(shape4[1:])}.")
    calib4 = np.ascontiguousarray(calibration.reshape(len(calibration), *shape4[1:]), np.float32)
    with tempfile.TemporaryDirectory(prefix="dlink-onnx2tf-") as tmp, capture_fd2() as log, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf = _tf()
        try:
            int8, flt = _convert(tf, view, calib4, os.path.join(tmp, "saved_model"), with_float)
        except ConversionError as e:
            err = e
        else:
            err = None
    text = log[0] if log else ""
    logger.debug("converter log:\n%s", text)
    if err is not None:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise ConversionError(f"{err}\nLast converter messages:\n{tail}" if tail else str(err)) \
            from err.__cause__
    logger.info("TFLite int8: %d bytes, input %s; conversion view: %s", len(int8), shape4, changes)
    return {"int8": int8, "float": flt, "input_shape": [int(d) for d in shape4], "changes": changes}


def _convert(tf, view, calib4: np.ndarray, folder: str, with_float: bool) -> tuple[bytes, bytes | None]:
    import onnx2tf
    import tf_keras

    # Keras numbers its layers per process ("model_1/tf.nn.relu6_9/..."): those names end up in
    # the .tflite, so restart the counters and the same graph gives the same bytes every time.
    tf_keras.backend.clear_session()
    try:
        keras_model = onnx2tf.convert(
            onnx_graph=view, output_folder_path=folder,
            keep_ncw_or_nchw_or_ncdhw_input_names=[view.graph.input[0].name],
            disable_model_save=True, not_use_onnxsim=True, verbosity="error")
    except SystemExit as e:  # onnx2tf calls sys.exit on some failures
        raise ConversionError(f"onnx2tf failed (exit {e.code}).") from None
    except Exception as e:
        raise ConversionError(f"onnx2tf failed: {type(e).__name__}: {e}") from e
    if keras_model is None:
        raise ConversionError("onnx2tf returned no model.")

    def representative():
        for i in range(len(calib4)):
            yield [calib4[i:i + 1]]

    def converter():
        c = tf.lite.TFLiteConverter.from_keras_model(keras_model)
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        return c

    try:
        c = converter()
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                       tf.lite.OpsSet.SELECT_TF_OPS]
        c.representative_dataset = representative
        c.inference_input_type = tf.int8
        c.inference_output_type = tf.int8
        int8 = bytes(c.convert())
        flt = bytes(converter().convert()) if with_float else None
    except Exception as e:
        raise ConversionError(f"the TFLite converter failed: {type(e).__name__}: {e}") from e
    return int8, flt
