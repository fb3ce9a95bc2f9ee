"""Per-operator lowering: TFLite operator -> C parameter struct + runtime kernel call.

Each ``lower_<op>`` reads the operator's tensors and options, checks every option against what
the runtime implements (raising :class:`UnsupportedOperatorError` naming the operator, option,
layer and tensor otherwise), computes the requantisation constants exactly as TFLite-Micro's
Prepare does (:mod:`.quantize`), emits the layer's ``static const`` data through the context, and
returns the C call expression and the layer's multiply-accumulate count.
"""

from __future__ import annotations

import numpy as np

from .quantize import (activation_range, add_params, mean_params, quantize_float,
                       quantize_multiplier, softmax_params)

__all__ = ["UnsupportedOperatorError", "LOWERINGS", "SUPPORTED_OPS"]


class UnsupportedOperatorError(ValueError):
    """An operator or option the code generator / runtime does not implement.

    Attributes ``op``, ``option``, ``layer`` (operator index), ``tensor`` (its output tensor's
    name) and ``file`` (the model, when known) say exactly where.
    """

    def __init__(self, op: str, option: str, layer: int, tensor: str, detail: str = "", *,
                 file: str | None = None):
        self.op, self.option, self.layer, self.tensor = op, option, layer, tensor
        self.file = file
        msg = (f"{file + ': ' if file else ''}"
               f"Unsupported {option} in operator {op} (layer {layer}, output tensor {tensor!r})"
               f"{': ' + detail if detail else ''}. The dlink runtime supports: "
               f"{', '.join(SUPPORTED_OPS)} with int8 tensors.")
        super().__init__(msg)


def _activation_name(code: int) -> str:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")}
    return names.get(int(code), f"ACTIVATION_{code}")


def _padding_name(code: int) -> str:
    return {0: "SAME", 1: "VALID"}.get(int(code), f"PADDING_{code}")


def _shape4(ctx, op, tensor) -> str:
    if len(tensor.shape) != 4:
        ctx.fail(op, "tensor rank",
                 f"tensor {tensor.name!r} has shape {tensor.shape}, expected 4-D NHWC")
    n, h, w, c = tensor.shape
    return f"{{.n = {n}, .h = {h}, .w = {w}, .c = {c}}}"


def _shape_nd(ctx, op, tensor) -> str:
    if len(tensor.shape) > 5:
        ctx.fail(op, "tensor rank", f"tensor {tensor.name!r} has rank {len(tensor.shape)} > 5")
    dims = ", ".join(str(d) for d in tensor.shape) or "0"
    return f"{{.rank = {len(tensor.shape)}, .dims = {{{dims}}}}}"


def _fused(ctx, op, out) -> tuple[int, int]:
    name = _activation_name(getattr(op.options, "fusedActivationFunction", 0))
    if name not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        ctx.fail(op, f"fused activation {name}")
    return activation_range(name, out.scale, out.zero_point)


def _out_size(padding: str, size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size + stride - eff) // stride


def _pad(size: int, k: int, stride: int, dilation: int, out: int) -> int:
    eff = (k - 1) * dilation + 1
    return max(((out - 1) * stride + eff - size) // 2, 0)


def _spatial(ctx, op, inp, out, kh, kw, dil_h=1, dil_w=1) -> tuple[int, int]:
    o = op.options
    padding = _padding_name(o.padding)
    if padding not in ("SAME", "VALID"):
        ctx.fail(op, f"padding {padding}")
    if o.strideH <= 0 or o.strideW <= 0:
        ctx.fail(op, "stride", f"strides ({o.strideH}, {o.strideW}) must be positive")
    _, in_h, in_w, _ = inp.shape
    folded = ctx.fused_pads.get(op.index)  # a PAD folded into this op (fuse.py)
    if folded is not None:
        in_h += folded.top + folded.bottom
        in_w += folded.left + folded.right
    exp_h = _out_size(padding, in_h, kh, o.strideH, dil_h)
    exp_w = _out_size(padding, in_w, kw, o.strideW, dil_w)
    if (exp_h, exp_w) != tuple(out.shape[1:3]):
        ctx.fail(op, "output shape",
                 f"expected spatial size {(exp_h, exp_w)}, model has {out.shape[1:3]}")
    pad_h = _pad(in_h, kh, o.strideH, dil_h, exp_h)
    pad_w = _pad(in_w, kw, o.strideW, dil_w, exp_w)
    if folded is not None:
        pad_h, pad_w = pad_h + folded.top, pad_w + folded.left
    return pad_h, pad_w


def _weights(ctx, op, tensor, channel_axis: int):
    if tensor is None or not tensor.is_constant:
        ctx.fail(op, "non-constant weights")
    if tensor.dtype != "INT8":
        ctx.fail(op, f"weight type {tensor.dtype}", f"tensor {tensor.name!r}; only int8 weights")
    if np.any(tensor.zero_points != 0):
        ctx.fail(op, "asymmetric weights", f"tensor {tensor.name!r} has non-zero zero points")
    if tensor.scales.size > 1 and tensor.quantized_dimension != channel_axis:
        ctx.fail(op, f"per-channel quantisation on axis {tensor.quantized_dimension}",
                 f"tensor {tensor.name!r}; expected axis {channel_axis}")


def _bias(ctx, op, idx: int, n: int) -> str:
    t = ctx.input_tensor(op, idx)
    if t is None:
        return "0"
    if t.dtype != "INT32" or not t.is_constant or t.n_elements != n:
        ctx.fail(op, f"bias type {t.dtype}",
                 f"tensor {t.name!r}; expected {n} constant int32 values")
    return ctx.const_array("int32_t", t.data, op, "bias")


def _per_channel(ctx, op, in_scale: float, w, out_scale: float, n: int) -> tuple[str, str]:
    scales = w.scales if w.scales.size > 1 else np.repeat(w.scales, n)
    if scales.size != n:
        ctx.fail(op, "per-channel scale count", f"{scales.size} scales for {n} output channels")
    pairs = [quantize_multiplier(float(np.float32(in_scale)) * float(np.float32(s)) /
                                 float(np.float32(out_scale))) for s in scales]
    m = ctx.const_array("int32_t", [p[0] for p in pairs], op, "multiplier")
    s = ctx.const_array("int32_t", [p[1] for p in pairs], op, "shift")
    return m, s


def lower_conv_2d(ctx, op):
    inp, w, out = ctx.input_tensor(op, 0), ctx.input_tensor(op, 1), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    _weights(ctx, op, w, 0)
    o = op.options
    oc, kh, kw, kc = w.shape
    if inp.shape[3] % kc or oc != out.shape[3]:
        ctx.fail(op, "channel counts", f"input {inp.shape}, filter {w.shape}, output {out.shape}")
    pad_h, pad_w = _spatial(ctx, op, inp, out, kh, kw, o.dilationHFactor, o.dilationWFactor)
    act_min, act_max = _fused(ctx, op, out)
    mult, shift = _per_channel(ctx, op, inp.scale, w, out.scale, oc)
    bias = _bias(ctx, op, 2, oc)
    wname = ctx.const_array("int8_t", w.data, op, "weights")
    params = ctx.define("dlk_conv_params_t", op, "params", {
        "stride_h": o.strideH, "stride_w": o.strideW, "dilation_h": o.dilationHFactor,
        "dilation_w": o.dilationWFactor, "pad_h": pad_h, "pad_w": pad_w,
        "input_zero_point": inp.zero_point, "output_zero_point": out.zero_point,
        "act_min": act_min, "act_max": act_max, "multiplier": mult, "shift": shift})
    s_in, s_w, s_out = (ctx.define("dlk_shape4_t", op, n, _shape4(ctx, op, t))
                        for n, t in (("in_shape", inp), ("filter_shape", w), ("out_shape", out)))
    call = (f"dlk_conv2d_s8(&{params}, &{s_in}, {ctx.ref(inp)}, &{s_w}, {wname}, {bias}, "
            f"&{s_out}, {ctx.ref(out)})")
    return call, out.n_elements * kh * kw * kc


def lower_depthwise_conv_2d(ctx, op):
    inp, w, out = ctx.input_tensor(op, 0), ctx.input_tensor(op, 1), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    _weights(ctx, op, w, 3)
    o = op.options
    _, kh, kw, oc = w.shape
    ic = inp.shape[3]
    if oc != out.shape[3] or oc % ic:
        ctx.fail(op, "channel counts", f"input {inp.shape}, filter {w.shape}, output {out.shape}")
    pad_h, pad_w = _spatial(ctx, op, inp, out, kh, kw, o.dilationHFactor, o.dilationWFactor)
    act_min, act_max = _fused(ctx, op, out)
    mult, shift = _per_channel(ctx, op, inp.scale, w, out.scale, oc)
    bias = _bias(ctx, op, 2, oc)
    wname = ctx.const_array("int8_t", w.data, op, "weights")
    params = ctx.define("dlk_dwconv_params_t", op, "params", {
        "stride_h": o.strideH, "stride_w": o.strideW, "dilation_h": o.dilationHFactor,
        "dilation_w": o.dilationWFactor, "pad_h": pad_h, "pad_w": pad_w,
        "depth_multiplier": oc // ic,
        "input_zero_point": inp.zero_point, "output_zero_point": out.zero_point,
        "act_min": act_min, "act_max": act_max, "multiplier": mult, "shift": shift})
    s_in, s_w, s_out = (ctx.define("dlk_shape4_t", op, n, _shape4(ctx, op, t))
                        for n, t in (("in_shape", inp), ("filter_shape", w), ("out_shape", out)))
    call = (f"dlk_depthwise_conv2d_s8(&{params}, &{s_in}, {ctx.ref(inp)}, &{s_w}, {wname}, "
            f"{bias}, &{s_out}, {ctx.ref(out)})")
    return call, out.n_elements * kh * kw


def lower_fully_connected(ctx, op):
    inp, w, out = ctx.input_tensor(op, 0), ctx.input_tensor(op, 1), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    _weights(ctx, op, w, 0)
    if int(getattr(op.options, "weightsFormat", 0)) != 0:
        ctx.fail(op, "weights format", "only the DEFAULT weights format")
    n_out, n_in = w.shape
    if inp.n_elements % n_in or out.n_elements != inp.n_elements // n_in * n_out:
        ctx.fail(op, "shapes", f"input {inp.shape}, weights {w.shape}, output {out.shape}")
    act_min, act_max = _fused(ctx, op, out)
    if w.scales.size > 1:
        mult, shift = _per_channel(ctx, op, inp.scale, w, out.scale, n_out)
        n_mult = n_out
    else:  # GetQuantizedConvolutionMultipler: the product of scales is taken in float32
        product = float(np.float32(inp.scale) * np.float32(w.scale))
        m, s = quantize_multiplier(product / float(np.float32(out.scale)))
        mult = ctx.const_array("int32_t", [m], op, "multiplier")
        shift = ctx.const_array("int32_t", [s], op, "shift")
        n_mult = 1
    bias = _bias(ctx, op, 2, n_out)
    wname = ctx.const_array("int8_t", w.data, op, "weights")
    params = ctx.define("dlk_fc_params_t", op, "params", {
        "input_zero_point": inp.zero_point, "filter_zero_point": 0,
        "output_zero_point": out.zero_point, "act_min": act_min, "act_max": act_max,
        "n_multipliers": n_mult, "multiplier": mult, "shift": shift})
    batches = inp.n_elements // n_in
    call = (f"dlk_fully_connected_s8(&{params}, {batches}, {n_in}, {ctx.ref(inp)}, {n_out}, "
            f"{wname}, {bias}, {ctx.ref(out)})")
    return call, batches * n_in * n_out


def _lower_pool(ctx, op, kernel: str):
    inp, out = ctx.input_tensor(op, 0), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    o = op.options
    pad_h, pad_w = _spatial(ctx, op, inp, out, o.filterHeight, o.filterWidth)
    act_min, act_max = _fused(ctx, op, out)
    params = ctx.define("dlk_pool_params_t", op, "params", {
        "stride_h": o.strideH, "stride_w": o.strideW, "filter_h": o.filterHeight,
        "filter_w": o.filterWidth, "pad_h": pad_h, "pad_w": pad_w,
        "act_min": act_min, "act_max": act_max})
    s_in = ctx.define("dlk_shape4_t", op, "in_shape", _shape4(ctx, op, inp))
    s_out = ctx.define("dlk_shape4_t", op, "out_shape", _shape4(ctx, op, out))
    return f"{kernel}(&{params}, &{s_in}, {ctx.ref(inp)}, &{s_out}, {ctx.ref(out)})", 0


def lower_average_pool_2d(ctx, op):
    return _lower_pool(ctx, op, "dlk_avg_pool2d_s8")


def lower_max_pool_2d(ctx, op):
    return _lower_pool(ctx, op, "dlk_max_pool2d_s8")


def _binary(ctx, op):
    a, b, out = ctx.input_tensor(op, 0), ctx.input_tensor(op, 1), ctx.output_tensor(op)
    ctx.require_int8(op, a, b, out)
    shapes = [ctx.define("dlk_shape_t", op, n, _shape_nd(ctx, op, t))
              for n, t in (("in1_shape", a), ("in2_shape", b), ("out_shape", out))]
    return a, b, out, shapes


def lower_add(ctx, op):
    a, b, out, (s1, s2, so) = _binary(ctx, op)
    act_min, act_max = _fused(ctx, op, out)
    fields = {"input1_zero_point": a.zero_point, "input2_zero_point": b.zero_point,
              "output_zero_point": out.zero_point}
    fields.update(add_params(a.scale, b.scale, out.scale))
    fields.update(act_min=act_min, act_max=act_max)
    params = ctx.define("dlk_add_params_t", op, "params", fields)
    return (f"dlk_add_s8(&{params}, &{s1}, {ctx.ref(a)}, &{s2}, {ctx.ref(b)}, &{so}, "
            f"{ctx.ref(out)})"), 0


def lower_mul(ctx, op):
    a, b, out, (s1, s2, so) = _binary(ctx, op)
    act_min, act_max = _fused(ctx, op, out)
    m, s = quantize_multiplier(float(np.float32(a.scale)) * float(np.float32(b.scale)) /
                               float(np.float32(out.scale)))
    params = ctx.define("dlk_mul_params_t", op, "params", {
        "input1_zero_point": a.zero_point, "input2_zero_point": b.zero_point,
        "output_zero_point": out.zero_point, "output_multiplier": m, "output_shift": s,
        "act_min": act_min, "act_max": act_max})
    return (f"dlk_mul_s8(&{params}, &{s1}, {ctx.ref(a)}, &{s2}, {ctx.ref(b)}, &{so}, "
            f"{ctx.ref(out)})"), out.n_elements


def lower_mean(ctx, op):
    inp, axis, out = ctx.input_tensor(op, 0), ctx.input_tensor(op, 1), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    if axis is None or not axis.is_constant:
        ctx.fail(op, "non-constant axis")
    rank = len(inp.shape)
    if rank > 5:
        ctx.fail(op, "tensor rank", f"input rank {rank} > 5")
    axes = sorted({int(x) % rank for x in np.asarray(axis.data).reshape(-1)})
    count = int(np.prod([inp.shape[i] for i in axes], dtype=np.int64))
    if count <= 0 or out.n_elements * count != inp.n_elements:
        ctx.fail(op, "shapes", f"input {inp.shape}, axes {axes}, output {out.shape}")
    m, s = mean_params(inp.scale, out.scale, count)
    mask = sum(1 << i for i in axes)
    params = ctx.define("dlk_mean_params_t", op, "params", {
        "input_zero_point": inp.zero_point, "output_zero_point": out.zero_point,
        "multiplier": m, "shift": s, "reduce_mask": f"{mask}u"})
    s_in = ctx.define("dlk_shape_t", op, "in_shape", _shape_nd(ctx, op, inp))
    return (f"dlk_mean_s8(&{params}, &{s_in}, {ctx.ref(inp)}, {ctx.ref(out)}, "
            f"{out.n_elements}u)"), 0


def lower_softmax(ctx, op):
    inp, out = ctx.input_tensor(op, 0), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    if out.zero_point != -128 or abs(out.scale - 1.0 / 256.0) > 1e-8:
        ctx.fail(op, "output quantisation",
                 f"int8 softmax needs scale 1/256 and zero point -128, got {out.scale}, "
                 f"{out.zero_point}")
    m, left, diff_min = softmax_params(float(op.options.beta), inp.scale)
    params = ctx.define("dlk_softmax_params_t", op, "params", {
        "input_multiplier": m, "input_left_shift": left, "diff_min": diff_min})
    depth = inp.shape[-1]
    return (f"dlk_softmax_s8(&{params}, {inp.n_elements // depth}, {depth}, {ctx.ref(inp)}, "
            f"{ctx.ref(out)})"), 0


def lower_relu(ctx, op):
    inp, out = ctx.input_tensor(op, 0), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    m, s = quantize_multiplier(float(np.float32(inp.scale)) / float(np.float32(out.scale)))
    params = ctx.define("dlk_relu_params_t", op, "params", {
        "input_zero_point": inp.zero_point, "output_zero_point": out.zero_point,
        "multiplier": m, "shift": s, "act_min": max(-128, out.zero_point), "act_max": 127})
    return (f"dlk_relu_s8(&{params}, {ctx.ref(inp)}, {inp.n_elements}u, {ctx.ref(out)}, "
            f"{out.n_elements}u)"), 0


def lower_relu6(ctx, op):
    inp, out = ctx.input_tensor(op, 0), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    six = min(127, max(-128, quantize_float(6.0, inp.scale, inp.zero_point)))
    params = ctx.define("dlk_relu6_params_t", op, "params", {"zero": inp.zero_point, "six": six})
    return (f"dlk_relu6_s8(&{params}, {ctx.ref(inp)}, {inp.n_elements}u, {ctx.ref(out)}, "
            f"{out.n_elements}u)"), 0


def lower_quantize(ctx, op):
    inp, out = ctx.input_tensor(op, 0), ctx.output_tensor(op)
    if inp.dtype != "INT8" or out.dtype != "INT8":
        ctx.fail(op, f"{inp.dtype} -> {out.dtype} conversion", "only int8 -> int8 requantisation")
    m, s = quantize_multiplier(float(np.float32(inp.scale)) / float(np.float32(out.scale)))
    params = ctx.define("dlk_requant_params_t", op, "params", {
        "input_zero_point": inp.zero_point, "output_zero_point": out.zero_point,
        "multiplier": m, "shift": s})
    return (f"dlk_requantize_s8(&{params}, {ctx.ref(inp)}, {inp.n_elements}u, {ctx.ref(out)}, "
            f"{out.n_elements}u)"), 0


def lower_reshape(ctx, op):
    inp, out = ctx.input_tensor(op, 0), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    if inp.n_elements != out.n_elements:
        ctx.fail(op, "shapes", f"{inp.shape} -> {out.shape} changes the element count")
    if ctx.ref(inp) == ctx.ref(out):  # the planner aliased them: nothing to move
        return "DLK_OK /* output aliases the input */", 0
    return (f"dlk_copy_s8({ctx.ref(inp)}, {inp.n_elements}u, {ctx.ref(out)}, "
            f"{out.n_elements}u)"), 0


def lower_pad(ctx, op):
    inp, pads, out = ctx.input_tensor(op, 0), ctx.input_tensor(op, 1), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    if pads is None or not pads.is_constant:
        ctx.fail(op, "non-constant paddings")
    p = np.asarray(pads.data).reshape(-1, 2)
    if len(inp.shape) > 5 or p.shape[0] != len(inp.shape):
        ctx.fail(op, "paddings shape", f"{pads.shape} for input rank {len(inp.shape)}")
    value = out.zero_point
    const = ctx.input_tensor(op, 2) if len(op.inputs) > 2 else None
    if const is not None:
        if not const.is_constant or const.dtype != "INT8":
            ctx.fail(op, "constant_values", "must be a constant int8 scalar")
        value = int(np.asarray(const.data).reshape(-1)[0])
    before = ", ".join(str(int(x)) for x in p[:, 0])
    after = ", ".join(str(int(x)) for x in p[:, 1])
    params = ctx.define("dlk_pad_params_t", op, "params", {
        "before": f"{{{before}}}", "after": f"{{{after}}}", "pad_value": value})
    s_in = ctx.define("dlk_shape_t", op, "in_shape", _shape_nd(ctx, op, inp))
    s_out = ctx.define("dlk_shape_t", op, "out_shape", _shape_nd(ctx, op, out))
    return f"dlk_pad_s8(&{params}, &{s_in}, {ctx.ref(inp)}, &{s_out}, {ctx.ref(out)})", 0


def lower_transpose(ctx, op):
    inp, perm, out = ctx.input_tensor(op, 0), ctx.input_tensor(op, 1), ctx.output_tensor(op)
    ctx.require_int8(op, inp, out)
    if perm is None or not perm.is_constant:
        ctx.fail(op, "non-constant permutation")
    pv = [int(x) for x in np.asarray(perm.data).reshape(-1)]
    if len(inp.shape) > 5 or sorted(pv) != list(range(len(inp.shape))):
        ctx.fail(op, "permutation", f"{pv} for input rank {len(inp.shape)}")
    params = ctx.define("dlk_transpose_params_t", op, "params",
                        {"perm": "{" + ", ".join(map(str, pv)) + "}"})
    s_in = ctx.define("dlk_shape_t", op, "in_shape", _shape_nd(ctx, op, inp))
    s_out = ctx.define("dlk_shape_t", op, "out_shape", _shape_nd(ctx, op, out))
    return f"dlk_transpose_s8(&{params}, &{s_in}, {ctx.ref(inp)}, &{s_out}, {ctx.ref(out)})", 0


LOWERINGS = {
    "CONV_2D": lower_conv_2d,
    "DEPTHWISE_CONV_2D": lower_depthwise_conv_2d,
    "FULLY_CONNECTED": lower_fully_connected,
    "AVERAGE_POOL_2D": lower_average_pool_2d,
    "MAX_POOL_2D": lower_max_pool_2d,
    "ADD": lower_add,
    "MUL": lower_mul,
    "MEAN": lower_mean,
    "SOFTMAX": lower_softmax,
    "RELU": lower_relu,
    "RELU6": lower_relu6,
    "RESHAPE": lower_reshape,
    "PAD": lower_pad,
    "PADV2": lower_pad,
    "TRANSPOSE": lower_transpose,
    "QUANTIZE": lower_quantize,
}
SUPPORTED_OPS = tuple(LOWERINGS)
#: Operators whose output shares its input's arena bytes (see planner.py).
ALIASING_OPS = frozenset({"RESHAPE"})
