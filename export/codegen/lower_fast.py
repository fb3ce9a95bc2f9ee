"""Which layers take a fast path, the graph rewrites that come with it, and their lowering.

:func:`plan_fast_paths` runs before the arena is planned (it changes what the arena holds):

1. every DEPTHWISE_CONV_2D and CONV_2D that a fast path of :mod:`.fastpath` can run gets a plan
   (shapes, padding, requantisation constants); the others keep their generic kernel;
2. a TRANSPOSE read only by a planned depthwise layer is folded into it
   (:func:`.fuse.fold_transposes`): the layer reads the transpose's input through strides;
3. two planned depthwise layers in a row are fused (:func:`.fuse.fuse_dw_chains`) so the first
   one's output is never stored;
4. each fast layer's scratch (its staging rows) becomes an arena buffer live during that layer.

:func:`lower_fast` then emits the layer's prepared constants and call; :func:`lower_layer` is
what the generator calls for every operator (fast path if planned, else :data:`.ops.LOWERINGS`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .fastpath import (CHAIN_BLOCK, channel_quant, dw1d_geometry, dw1d_row_len,
                       fast_requant_ok, fold_input_zero_point, per_channel_pairs,
                       prepare_dw1d_weights, prepare_pw_weights, pw_scratch_len)
from .ops import (LOWERINGS, _activation_name, _out_size, _pad, _padding_name)
from .quantize import activation_range

__all__ = ["FastPlan", "plan_fast_paths", "lower_layer"]

_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


@dataclass
class FastPlan:
    """A layer's fast path: ``kind`` is "dw1d", "chain" (with ``second``) or "pointwise"."""

    kind: str
    op: object                      # the original operator (its own input/output tensors)
    p: dict                         # geometry and quantisation of the layer
    second: "FastPlan | None" = None
    strides: tuple[int, int, int] | None = None  # (row, w, c) element strides of the input
    source: int | None = None       # the tensor read (a folded TRANSPOSE's input)
    scratch_elems: int = 0          # int16 elements of scratch
    folded: list[int] = field(default_factory=list)  # layers folded into this one


def _int8(t) -> bool:
    return t is not None and t.dtype == "INT8"


def _tensor(graph, op, i: int):
    if i >= len(op.inputs) or op.inputs[i] < 0:
        return None
    return graph.tensors[op.inputs[i]]


def _common(graph, op, channel_axis: int) -> dict | None:
    """Weights, bias, activation and output quantisation, if a fast path can take them."""
    inp, w, out = _tensor(graph, op, 0), _tensor(graph, op, 1), graph.tensors[op.outputs[0]]
    if not (_int8(inp) and _int8(out) and _int8(w)) or not w.is_constant or len(op.outputs) != 1:
        return None
    if np.any(w.zero_points != 0) or (w.scales.size > 1 and w.quantized_dimension != channel_axis):
        return None
    n_out = w.shape[channel_axis]
    b = _tensor(graph, op, 2)
    if b is not None and (b.dtype != "INT32" or not b.is_constant or b.n_elements != n_out):
        return None
    act = _activation_name(getattr(op.options, "fusedActivationFunction", 0))
    if act not in _ACTIVATIONS:
        return None
    pairs = per_channel_pairs(inp.scale, w, out.scale, n_out)
    if len(pairs) != n_out or not fast_requant_ok(pairs):
        return None
    act_min, act_max = activation_range(act, out.scale, out.zero_point)
    bias = np.zeros(n_out, np.int64) if b is None else np.asarray(b.data, np.int64).reshape(-1)
    return {"inp": inp, "w": w, "out": out, "pairs": pairs, "bias": bias,
            "act_min": act_min, "act_max": act_max, "n_out": n_out}


def dw1d_plan(graph, op, fused_pad=None) -> FastPlan | None:
    """The dw1d plan of a DEPTHWISE_CONV_2D, or None when the generic kernel must run it."""
    if op.opcode != "DEPTHWISE_CONV_2D":
        return None
    c = _common(graph, op, 3)
    if c is None:
        return None
    inp, w, out, o = c["inp"], c["w"], c["out"], op.options
    if len(inp.shape) != 4 or len(w.shape) != 4 or len(out.shape) != 4:
        return None
    _, kh, kw, oc = w.shape
    n, in_h, in_w, ic = inp.shape
    if oc != out.shape[3] or oc % ic or _padding_name(o.padding) not in ("SAME", "VALID"):
        return None
    if o.strideH <= 0 or o.strideW <= 0:
        return None
    ph = pw = 0
    if fused_pad is not None:
        ph, pw = fused_pad.top + fused_pad.bottom, fused_pad.left + fused_pad.right
    padding = _padding_name(o.padding)
    exp_h = _out_size(padding, in_h + ph, kh, o.strideH, o.dilationHFactor)
    exp_w = _out_size(padding, in_w + pw, kw, o.strideW, o.dilationWFactor)
    if (exp_h, exp_w) != tuple(out.shape[1:3]):
        return None
    pad_h = _pad(in_h + ph, kh, o.strideH, o.dilationHFactor, exp_h)
    pad_w = _pad(in_w + pw, kw, o.strideW, o.dilationWFactor, exp_w)
    if fused_pad is not None:
        pad_h, pad_w = pad_h + fused_pad.top, pad_w + fused_pad.left
    if not dw1d_geometry(inp.shape, out.shape, kh, kw, o.strideH, o.strideW,
                         o.dilationWFactor, pad_h):
        return None
    p = {**c, "rows": n * in_h, "in_w": in_w, "out_w": exp_w, "in_c": ic, "dm": oc // ic,
         "n_taps": kw, "stride": o.strideW, "pad": pad_w}
    return FastPlan("dw1d", op, p, strides=(in_w * ic, ic, 1), source=op.inputs[0],
                    scratch_elems=dw1d_row_len(exp_w, o.strideW, kw))


def pw_plan(graph, op, fused_pad=None) -> FastPlan | None:
    """The pointwise plan of a CONV_2D, or None when the generic kernel must run it."""
    if op.opcode != "CONV_2D" or fused_pad is not None:
        return None
    c = _common(graph, op, 0)
    if c is None:
        return None
    inp, w, out = c["inp"], c["w"], c["out"]
    if len(inp.shape) != 4 or len(w.shape) != 4 or len(out.shape) != 4:
        return None
    oc, kh, kw, kc = w.shape
    if kh != 1 or kw != 1 or kc != inp.shape[3] or oc != out.shape[3]:
        return None
    if tuple(out.shape[:3]) != tuple(inp.shape[:3]):
        return None
    folded = fold_input_zero_point(c["bias"], w.data.reshape(oc, kc), inp.zero_point)
    if folded.min() < -2**31 or folded.max() >= 2**31:
        return None
    p = {**c, "n_pixels": int(np.prod(inp.shape[:3])), "in_c": kc, "bias_folded": folded}
    return FastPlan("pointwise", op, p, scratch_elems=pw_scratch_len(kc))


def plan_fast_paths(graph, fused_pads: dict, skip=()):
    """Plan the fast paths of ``graph`` (see the module docstring).

    Returns
    -------
    (graph, plans, folded, scratch)
        ``skip``: operators already folded away (PADs). The rewritten graph copy (chains produce the second layer's output; folded transposes
        no longer feed anything), op index -> :class:`FastPlan`, folded op index -> the op it
        went into, and op index -> scratch bytes.
    """
    from .fuse import fold_transposes, fuse_dw_chains

    plans: dict[int, FastPlan] = {}
    for op in graph.operators:
        plan = dw1d_plan(graph, op, fused_pads.get(op.index)) or \
            pw_plan(graph, op, fused_pads.get(op.index))
        if plan is not None:
            plans[op.index] = plan
    graph, folded = fold_transposes(graph, plans, skip)
    graph, chained = fuse_dw_chains(graph, plans, skip)
    folded.update(chained)
    for first, plan in plans.items():
        if plan.kind == "chain":
            a, b = plan.p, plan.second.p
            plan.scratch_elems = (dw1d_row_len(a["out_w"], a["stride"], a["n_taps"]) +
                                  CHAIN_BLOCK * dw1d_row_len(b["out_w"], b["stride"], b["n_taps"]))
    scratch = {i: 2 * p.scratch_elems for i, p in plans.items() if p.scratch_elems}
    return graph, plans, folded, scratch


def _dw1d_params(ctx, plan: FastPlan, tag: str, strides=(0, 0, 0)) -> str:
    p, op = plan.p, plan.op
    weights = prepare_dw1d_weights(p["w"].data, p["in_c"], p["dm"])
    wname = ctx.const_array("int16_t", weights, op, f"{tag}weights_dw1d")
    quant = ctx.const_quant(channel_quant(p["bias"], p["pairs"]), op, f"{tag}quant")
    return ctx.define("dlk_dw1d_params_t", op, f"{tag}params_dw1d", {
        "rows": p["rows"], "in_w": p["in_w"], "out_w": p["out_w"], "in_c": p["in_c"],
        "depth_multiplier": p["dm"], "in_row_stride": strides[0], "in_w_stride": strides[1],
        "in_c_stride": strides[2], "n_taps": p["n_taps"], "stride": p["stride"],
        "pad": p["pad"], "input_zero_point": p["inp"].zero_point,
        "output_zero_point": p["out"].zero_point, "act_min": p["act_min"],
        "act_max": p["act_max"], "weights": wname, "quant": quant})


def lower_fast(ctx, plan: FastPlan) -> tuple[str, int]:
    """The C call of a planned fast layer and its own MACs (a chain's second layer is counted
    on its own folded row)."""
    op, p = plan.op, plan.p
    scratch = ctx.scratch_ref(op.index)
    if plan.kind == "pointwise":
        wname = ctx.const_array("int16_t", prepare_pw_weights(p["w"].data.reshape(
            p["n_out"], p["in_c"])), op, "weights_pw")
        quant = ctx.const_quant(channel_quant(p["bias_folded"], p["pairs"]), op, "quant")
        params = ctx.define("dlk_pw_params_t", op, "params_pw", {
            "n_pixels": p["n_pixels"], "in_c": p["in_c"], "out_c": p["n_out"],
            "input_zero_point": p["inp"].zero_point, "output_zero_point": p["out"].zero_point,
            "act_min": p["act_min"], "act_max": p["act_max"], "weights": wname, "quant": quant})
        call = (f"dlk_pointwise_s8(&{params}, {ctx.ref(p['inp'])}, {ctx.ref(p['out'])}, "
                f"{scratch}, {plan.scratch_elems}u)")
        return call, p["n_pixels"] * p["in_c"] * p["n_out"]
    src = ctx.graph.tensors[plan.source]
    first = _dw1d_params(ctx, plan, "", plan.strides)
    macs = p["rows"] * p["out_w"] * p["in_c"] * p["dm"] * p["n_taps"]
    n = plan.scratch_elems
    if plan.kind == "dw1d":
        return (f"dlk_dw1d_s8(&{first}, {ctx.ref(src)}, {ctx.ref(p['out'])}, {scratch}, "
                f"{n}u)"), macs
    second = _dw1d_params(ctx, plan.second, "b_")
    return (f"dlk_dw1d_chain_s8(&{first}, &{second}, {ctx.ref(src)}, "
            f"{ctx.ref(plan.second.p['out'])}, {scratch}, {n}u)"), macs


def dw1d_macs(plan: FastPlan) -> int:
    p = plan.p
    return p["rows"] * p["out_w"] * p["in_c"] * p["dm"] * p["n_taps"]


def lower_layer(ctx, op) -> tuple[str, int]:
    """The call and MACs of ``op``: its fast path when planned, else its generic lowering."""
    plan = ctx.fast_plans.get(op.index)
    if plan is not None:
        return lower_fast(ctx, plan)
    lower = LOWERINGS.get(op.opcode)
    if lower is None:
        ctx.fail(op, "operator")
    return lower(ctx, op)


def copy_op(op, **changes):
    new = copy.copy(op)
    for k, v in changes.items():
        setattr(new, k, v)
    return new
