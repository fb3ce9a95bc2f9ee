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
    consumers: dict[int, list[int]] = {}
    for op in graph.operators:
        for t in op.inputs:
            if t >= 0:
                consumers.setdefault(t, []).append(op.index)
    new = copy.copy(graph)
    new.operators = [copy.copy(op) for op in graph.operators]
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
