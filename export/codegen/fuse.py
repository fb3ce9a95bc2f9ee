"""Graph rewrites applied before planning: fold zero-point PADs into the convolution they feed.

A PAD whose padding value equals its output zero point, padding only the spatial axes (H, W) of
an NHWC tensor, read only by one CONV_2D or DEPTHWISE_CONV_2D, is exactly that convolution with
a larger implicit padding: TFLite's reference kernels skip out-of-image taps, and a padded
element would have contributed ``filter * (zero_point - zero_point) = 0``. Folding it removes the
padded tensor from the arena (and the copy). The convolution then reads the PAD's input and
gets ``pad_top`` / ``pad_left`` added to its own; the bottom/right padding is implied by the
output size. Results are bit-identical (tested against TFLite-Micro on the PAD models).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .reader import TfliteGraph

__all__ = ["FusedPad", "fold_pads"]

_CONSUMERS = ("CONV_2D", "DEPTHWISE_CONV_2D")


@dataclass(frozen=True)
class FusedPad:
    pad_op: int
    top: int
    bottom: int
    left: int
    right: int


def fold_pads(graph: TfliteGraph) -> tuple[TfliteGraph, dict[int, FusedPad], dict[int, int]]:
    """Return (rewritten graph, conv op index -> FusedPad, pad op index -> conv op index).

    The rewritten graph is a copy whose convolutions read the PADs' inputs; the folded PAD
    operators stay in the list (the generator emits them as comments) but no longer feed anything.
    """
    consumers = _consumers(graph, ())
    new = _rewritten(graph)
    fused: dict[int, FusedPad] = {}
    folded: dict[int, int] = {}
    for op in graph.operators:
        if op.opcode not in ("PAD", "PADV2") or len(op.outputs) != 1:
            continue
        out_t = op.outputs[0]
        users = consumers.get(out_t, [])
        if len(users) != 1 or out_t in graph.outputs:
            continue
        conv = new.operators[users[0]]
        if conv.opcode not in _CONSUMERS or conv.inputs[0] != out_t or conv.index in fused:
            continue
        src, pads_t, out = (graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]],
                            graph.tensors[out_t])
        if src.dtype != "INT8" or out.dtype != "INT8" or len(src.shape) != 4 or \
                not pads_t.is_constant:
            continue
        pads = np.asarray(pads_t.data).reshape(-1, 2)
        if pads.shape[0] != 4 or pads[0].any() or pads[3].any() or (pads < 0).any():
            continue
        value = out.zero_point
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            const = graph.tensors[op.inputs[2]]
            if not const.is_constant:
                continue
            value = int(np.asarray(const.data).reshape(-1)[0])
        if value != out.zero_point or src.zero_point != out.zero_point or \
                np.float32(src.scale) != np.float32(out.scale):
            continue
        conv.inputs = [op.inputs[0]] + list(conv.inputs[1:])
        fused[conv.index] = FusedPad(op.index, int(pads[1, 0]), int(pads[1, 1]),
                                     int(pads[2, 0]), int(pads[2, 1]))
        folded[op.index] = conv.index
    return new, fused, folded


def _consumers(graph: TfliteGraph, skip) -> dict[int, list[int]]:
    users: dict[int, list[int]] = {}
    for op in graph.operators:
        if op.index in skip:
            continue
        for t in op.inputs:
            if t >= 0:
                users.setdefault(t, []).append(op.index)
    return users


def _rewritten(graph: TfliteGraph) -> TfliteGraph:
    new = copy.copy(graph)
    new.operators = [copy.copy(op) for op in graph.operators]
    return new


def _only_dw1d_reader(graph: TfliteGraph, op, users: dict, plans: dict):
    """(reader index, its plan) when op's output (not a graph output) is read by exactly one
    operator, a dw1d fast path that reads it directly; else None."""
    out_t = op.outputs[0]
    readers = users.get(out_t, [])
    if len(readers) != 1 or out_t in graph.outputs:
        return None
    plan = plans.get(readers[0])
    if plan is None or plan.kind != "dw1d" or plan.source != out_t:
        return None
    return readers[0], plan


def _transpose_strides(src_shape, perm) -> tuple[int, int, int] | None:
    """(row, w, c) element strides of the NHWC view ``transpose(src, perm)``, rows = N * H, or
    None when the rows are not evenly spaced in the source."""
    strides = [int(np.prod(src_shape[i + 1:], dtype=np.int64)) for i in range(len(src_shape))]
    s_n, s_h, s_w, s_c = (strides[p] for p in perm)
    n, h = src_shape[perm[0]], src_shape[perm[1]]
    if h == 1:
        row = s_n
    elif n == 1 or s_n == h * s_h:
        row = s_h
    else:
        return None
    return row, s_w, s_c


def fold_transposes(graph: TfliteGraph, plans: dict, skip=()) -> tuple[TfliteGraph, dict[int, int]]:
    """Fold each TRANSPOSE read only by a depthwise layer on the dw1d fast path into that layer.

    The layer then reads the transpose's input through strides (``FastPlan.strides``), so the
    transposed copy is neither computed nor stored. ``plans`` (op index -> FastPlan) is updated
    in place. Returns (rewritten graph copy, transpose op index -> consumer op index).
    """
    users = _consumers(graph, set(skip))
    new = _rewritten(graph)
    folded: dict[int, int] = {}
    for op in graph.operators:
        if op.opcode != "TRANSPOSE" or op.index in skip or len(op.outputs) != 1:
            continue
        found = _only_dw1d_reader(graph, op, users, plans)
        if found is None:
            continue
        reader, plan = found
        out_t = op.outputs[0]
        src, perm_t, out = (graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]],
                            graph.tensors[out_t])
        if not perm_t.is_constant or len(src.shape) != 4 or src.dtype != out.dtype or \
                src.zero_point != out.zero_point or \
                np.float32(src.scale) != np.float32(out.scale):
            continue
        perm = [int(p) for p in np.asarray(perm_t.data).reshape(-1)]
        if sorted(perm) != [0, 1, 2, 3]:
            continue
        strides = _transpose_strides(src.shape, perm)
        if strides is None:
            continue
        plan.strides, plan.source = strides, op.inputs[0]
        plan.folded.append(op.index)
        consumer = new.operators[reader]
        consumer.inputs = [op.inputs[0]] + list(consumer.inputs[1:])
        folded[op.index] = reader
    return new, folded


def fuse_dw_chains(graph: TfliteGraph, plans: dict, skip=()) -> tuple[TfliteGraph, dict[int, int]]:
    """Fuse each pair of dw1d layers where the second reads only the first's output.

    The first plan becomes a "chain" (``FastPlan.second``); in the rewritten graph the first
    operator produces the second one's output, so the intermediate tensor takes no arena space.
    Returns (rewritten graph copy, second op index -> first op index).
    """
    from .lower_fast import FastPlan

    users = _consumers(graph, set(skip))
    new = _rewritten(graph)
    fused: dict[int, int] = {}
    for op in graph.operators:
        a = plans.get(op.index)
        if a is None or a.kind != "dw1d" or op.index in fused:
            continue
        found = _only_dw1d_reader(graph, op, users, plans)
        if found is None:
            continue
        reader, b = found
        pa, pb = a.p, b.p
        if pb["rows"] != pa["rows"] or pb["in_c"] != pa["in_c"] * pa["dm"] or \
                pb["in_w"] != pa["out_w"] or pb["inp"].zero_point != pa["out"].zero_point:
            continue
        plans[op.index] = FastPlan("chain", a.op, a.p, second=b, strides=a.strides,
                                   source=a.source, folded=[*a.folded, *b.folded, b.op.index])
        del plans[reader]
        new.operators[op.index].outputs = list(graph.operators[reader].outputs)
        fused[reader] = op.index
    return new, fused
