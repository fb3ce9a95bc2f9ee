"""Graph validation before code generation: the generator trusts nothing in a flatbuffer.

:func:`check_graph` runs on the graph as read (:mod:`.reader`), before any rewrite, lowering or
write, and raises :class:`InvalidModelError` (naming the file, the operator or tensor, and what
was expected) at the first thing the generated C could not run safely:

1. **Interface.** One subgraph, one input, one output, at least one operator, every tensor index
   in range; every operator one the runtime implements, with its required inputs, exactly one
   output and the options table its opcode needs.
2. **Order.** Walking the operators in order, every tensor an operator reads was written before
   (by the graph input, a constant or an earlier operator); nothing writes a constant, the graph
   input, or a tensor written already; the graph input is not constant; the graph output is
   written by an operator.
3. **Tensors.** Static shapes with dimensions >= 1 and rank <= 5; int8 tensors with finite,
   positive scales in [2^-64, 2^64] and zero points in [-128, 127] (one per scale, along a
   quantised dimension that exists); activation tensors that fit the board's RAM and constants
   that fit its flash.
4. **Operators.** Shapes and element counts per operator: the output shape each operator implies
   (convolution and pooling arithmetic, broadcasting, paddings, permutations, reductions) equals
   the one the model declares, so no kernel reads or writes outside its buffers.
5. **Arithmetic.** Every requantisation multiplier gives a shift the kernels handle
   (-31..30, :data:`MAX_LEFT_SHIFT`), softmax's beta and input scale give a non-negative left
   shift, and no int32 accumulator (bias + sum of weight x input products) can overflow.

What the checks do not cover (operator options the runtime lacks, unsupported types) the
lowerings in :mod:`.ops` refuse with :class:`~.ops.UnsupportedOperatorError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .ops import LOWERINGS, UnsupportedOperatorError
from .quantize import MAX_SHIFT, QuantizationRangeError, quantize_multiplier
from .reader import ModelFormatError, TfliteGraph

__all__ = ["InvalidModelError", "BoardLimits", "check_graph", "DEFAULT_LIMITS", "MAX_LEFT_SHIFT"]

#: Largest left shift of a requantisation the kernels take (TFLite's QuantizeMultiplier
#: saturates at 30 too; 31 and above overflow the int32 product before the high multiply).
MAX_LEFT_SHIFT = MAX_SHIFT
MAX_RANK = 5
SCALE_RANGE = (2.0 ** -64, 2.0 ** 64)
INT32_MAX = 2 ** 31 - 1
#: Largest stride, kernel extent ((k - 1) * dilation + 1) and pooling window: keeps the kernels'
#: int32 index arithmetic far from overflow.
MAX_WINDOW = 65535
INDEX_TYPES = ("INT32", "INT64")

#: Inputs each operator must have (index >= 0); later ones are optional.
REQUIRED_INPUTS = {
    "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "AVERAGE_POOL_2D": 1,
    "MAX_POOL_2D": 1, "ADD": 2, "MUL": 2, "MEAN": 2, "SOFTMAX": 1, "RELU": 1, "RELU6": 1,
    "RESHAPE": 1, "PAD": 2, "PADV2": 2, "TRANSPOSE": 2, "QUANTIZE": 1,
}
#: The options table (schema class name) an operator's lowering reads.
OPTIONS = {
    "CONV_2D": "Conv2DOptionsT", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptionsT",
    "FULLY_CONNECTED": "FullyConnectedOptionsT", "AVERAGE_POOL_2D": "Pool2DOptionsT",
    "MAX_POOL_2D": "Pool2DOptionsT", "SOFTMAX": "SoftmaxOptionsT",
}


class InvalidModelError(ModelFormatError):
    """The model is structurally unsound for code generation; the message names the file, the
    operator (layer index and opcode) or tensor, and what was expected."""

    def __init__(self, path, reason: str, *, layer: int | None = None, opcode: str = "",
                 tensor: str | None = None):
        self.path, self.reason, self.layer, self.tensor = str(path), reason, layer, tensor
        where = f" layer {layer} ({opcode})" if layer is not None else ""
        what = f" tensor {tensor!r}" if tensor is not None else ""
        sep = ":" if where or what else ""
        super().__init__(f"{self.path}:{where}{what}{sep} {reason}. The model cannot be compiled "
                         "to C; re-export it with `dlink export RUN`.")


@dataclass(frozen=True)
class BoardLimits:
    """Memory the generated model may use: activations (RAM) and constants (flash), in bytes."""

    ram_bytes: int = 4 * 1024 * 1024
    flash_bytes: int = 4 * 1024 * 1024
    board: str = "the largest supported board"


DEFAULT_LIMITS = BoardLimits()


def check_graph(graph: TfliteGraph, *, limits: BoardLimits = DEFAULT_LIMITS) -> None:
    """Raise :class:`InvalidModelError` (or UnsupportedOperatorError) unless ``graph`` is safe to
    compile: see the module docstring for the list. Returns None; never modifies ``graph``."""
    _Checker(graph, limits).run()


class _Checker:
    def __init__(self, graph: TfliteGraph, limits: BoardLimits):
        self.g, self.limits = graph, limits

    # -- errors ---------------------------------------------------------------------------
    def fail(self, reason: str, op=None, tensor=None):
        raise InvalidModelError(self.g.path, reason, layer=None if op is None else op.index,
                                opcode="" if op is None else op.opcode,
                                tensor=None if tensor is None else tensor.name)

    def t(self, i: int):
        return self.g.tensors[i]

    # -- the checks -----------------------------------------------------------------------
    def run(self) -> None:
        self.interface()
        self.order()
        used = sorted({i for op in self.g.operators for i in (*op.inputs, *op.outputs) if i >= 0}
                      | set(self.g.inputs) | set(self.g.outputs))
        for i in used:
            self.tensor(self.t(i))
        flash = sum(self.t(i).data.nbytes for i in used if self.t(i).is_constant)
        if flash > self.limits.flash_bytes:
            self.fail(f"its constants take {flash} bytes, more than the {self.limits.flash_bytes} "
                      f"bytes of flash of {self.limits.board}")
        for op in self.g.operators:
            self.int8(op)
            check = getattr(self, "op_" + op.opcode.lower(), None)
            if check is not None:  # every lowering has one (tested)
                check(op)

    def int8(self, op) -> None:
        """Activations in and out of every operator are int8 (the runtime's only type)."""
        ins = self.ins(op)
        acts = [ins[0]] + [t for t in ins[1:2] if op.opcode in ("ADD", "MUL")] + [self.out(op)]
        for t in acts:
            if t.dtype != "INT8":
                raise UnsupportedOperatorError(
                    op.opcode, f"tensor type {t.dtype}", op.index, self.out(op).name,
                    f"tensor {t.name!r}; only int8 activations", file=str(self.g.path))

    def interface(self) -> None:
        g = self.g
        if g.n_subgraphs != 1:
            self.fail(f"it has {g.n_subgraphs} subgraphs; the generator compiles exactly one "
                      "(no control flow)")
        if len(g.inputs) != 1 or len(g.outputs) != 1:
            self.fail(f"it has {len(g.inputs)} inputs and {len(g.outputs)} outputs; the generated "
                      "API takes one input and one output tensor")
        if not g.operators:
            self.fail("its graph has no operators")
        n = len(g.tensors)
        for role, idx in (("input", g.inputs[0]), ("output", g.outputs[0])):
            if not 0 <= idx < n:
                self.fail(f"the graph {role} is tensor {idx}, but the model has {n} tensors")
            if self.t(idx).dtype != "INT8":
                raise UnsupportedOperatorError(
                    "MODEL", f"{role} type {self.t(idx).dtype}", -1, self.t(idx).name,
                    "export a full-integer model (inference_input_type/output_type = int8)",
                    file=str(g.path))
        for op in g.operators:
            if op.opcode not in LOWERINGS:
                out = self.t(op.outputs[0]).name if op.outputs and 0 <= op.outputs[0] < n else "?"
                raise UnsupportedOperatorError(op.opcode, "operator", op.index, out,
                                               file=str(g.path))
            for i in (*op.inputs, *op.outputs):
                if not -1 <= i < n:
                    self.fail(f"it refers to tensor {i}, but the model has {n} tensors", op)
            need = REQUIRED_INPUTS[op.opcode]
            if len(op.inputs) < need or any(i < 0 for i in op.inputs[:need]):
                self.fail(f"it needs {need} input tensor(s), got {op.inputs}", op)
            if len(op.outputs) != 1 or op.outputs[0] < 0:
                self.fail(f"it must have exactly one output tensor, got {op.outputs}", op)
            want = OPTIONS.get(op.opcode)
            if want is not None and type(op.options).__name__ != want:
                self.fail(f"its options are {type(op.options).__name__}, expected {want[:-1]}", op)

    def order(self) -> None:
        g = self.g
        tin, tout = self.t(g.inputs[0]), self.t(g.outputs[0])
        if tin.is_constant:
            self.fail("the graph input is a constant tensor (it holds data in the model)",
                      tensor=tin)
        written = {g.inputs[0]}
        for op in g.operators:
            for i in op.inputs:
                if i >= 0 and i not in written and not self.t(i).is_constant:
                    self.fail("it reads a tensor that no earlier operator writes (operators "
                              "missing or out of order)", op, self.t(i))
            o = op.outputs[0]
            out = self.t(o)
            if out.is_constant:
                self.fail("it writes a constant tensor", op, out)
            if o in written:
                what = "the graph input" if o == g.inputs[0] else "a tensor written before"
                self.fail(f"it writes {what}; every tensor is written once", op, out)
            written.add(o)
        if tout.is_constant or (g.outputs[0] not in written - {g.inputs[0]}):
            self.fail("the graph output is not written by any operator", tensor=tout)

    def tensor(self, t) -> None:
        if any(d < 1 for d in t.shape):
            self.fail(f"its shape {list(t.shape)} has a dimension < 1 (dynamic or empty)",
                      tensor=t)
        if len(t.shape) > MAX_RANK:
            self.fail(f"its rank {len(t.shape)} is above the runtime's {MAX_RANK}", tensor=t)
        if t.is_constant:
            if t.data.size != t.n_elements:
                self.fail(f"its data hold {t.data.size} values for shape {list(t.shape)}",
                          tensor=t)
        elif t.n_elements > self.limits.ram_bytes:
            self.fail(f"it has {t.n_elements} elements, more than the {self.limits.ram_bytes} "
                      f"bytes of RAM of {self.limits.board}", tensor=t)
        if t.dtype != "INT8":
            return
        scales = t.scales
        if scales.size == 0:
            self.fail("an int8 tensor without quantisation parameters (scale, zero point)",
                      tensor=t)
        lo, hi = SCALE_RANGE
        if not np.all(np.isfinite(scales)) or np.any(scales < lo) or np.any(scales > hi):
            bad = next(float(s) for s in scales if not (np.isfinite(s) and lo <= s <= hi))
            self.fail(f"scale {bad!r} is not finite and positive in [2^-64, 2^64]", tensor=t)
        zps = t.zero_points
        if zps.size not in (1, scales.size):
            self.fail(f"{zps.size} zero points for {scales.size} scales", tensor=t)
        if np.any(zps < -128) or np.any(zps > 127):
            bad = int(zps[(zps < -128) | (zps > 127)][0])
            self.fail(f"zero point {bad} is outside the int8 range [-128, 127]", tensor=t)
        if scales.size > 1:
            q = t.quantized_dimension
            if not 0 <= q < len(t.shape) or t.shape[q] != scales.size:
                self.fail(f"{scales.size} per-channel scales along dimension {q} of shape "
                          f"{list(t.shape)}", tensor=t)

    # -- helpers for the operators ----------------------------------------------------------
    def ins(self, op):
        return [self.t(i) if i >= 0 else None for i in op.inputs]

    def out(self, op):
        return self.t(op.outputs[0])

    def same_shape(self, op, a, b) -> None:
        if tuple(a.shape) != tuple(b.shape):
            self.fail(f"output shape {list(b.shape)} differs from input shape {list(a.shape)} "
                      f"({b.n_elements} vs {a.n_elements} elements)", op, b)

    def rank4(self, op, *tensors) -> None:
        for t in tensors:
            if len(t.shape) != 4:
                self.fail(f"shape {list(t.shape)}, expected 4-D (NHWC)", op, t)

    def const(self, op, t, what: str, dtype: str | tuple[str, ...]):
        types = (dtype,) if isinstance(dtype, str) else dtype
        if t is None or not t.is_constant or t.dtype not in types:
            self.fail(f"its {what} must be a constant {' or '.join(types)} tensor", op, t)
        return np.asarray(t.data).reshape(-1)

    def shift_ok(self, op, real: float, what: str, tensor=None) -> None:
        try:
            quantize_multiplier(real, max_shift=MAX_LEFT_SHIFT)
        except QuantizationRangeError as e:
            self.fail(f"its {what} scales are implausible: {e}", op, tensor)

    def spatial(self, op, inp, out, kh: int, kw: int, dil_h: int = 1, dil_w: int = 1) -> None:
        o = op.options
        if int(o.padding) not in (0, 1):
            raise UnsupportedOperatorError(op.opcode, f"padding PADDING_{o.padding}", op.index,
                                           out.name, file=str(self.g.path))
        values = (o.strideH, o.strideW, dil_h, dil_w, kh, kw)
        if min(values) < 1 or max(o.strideH, o.strideW, (kh - 1) * dil_h + 1,
                                  (kw - 1) * dil_w + 1) > MAX_WINDOW:
            self.fail(f"strides ({o.strideH}, {o.strideW}), dilations ({dil_h}, {dil_w}) and "
                      f"kernel ({kh}, {kw}) must be >= 1, with strides and dilated kernel "
                      f"extents <= {MAX_WINDOW}", op)
        expect = []
        for size, k, s, d in ((inp.shape[1], kh, o.strideH, dil_h),
                              (inp.shape[2], kw, o.strideW, dil_w)):
            eff = (k - 1) * d + 1
            expect.append((size + s - 1) // s if o.padding == 0 else (size - eff + s) // s)
        if tuple(expect) != tuple(out.shape[1:3]) or min(expect) < 1:
            self.fail(f"input {list(inp.shape)} with kernel ({kh}, {kw}) gives an output of "
                      f"spatial size {tuple(expect)}, the model declares {list(out.shape)}", op, out)
        if inp.shape[0] != out.shape[0]:
            self.fail(f"batch {out.shape[0]} differs from the input's {inp.shape[0]}", op, out)

    def accumulator(self, op, taps, w, bias, inp, n_out: int) -> None:
        """No int32 accumulator (bias + sum of weight x (input - zero point)) can overflow;
        ``taps`` holds each output channel's weights along its first axis."""
        sum_abs = np.abs(np.asarray(taps, np.int64).reshape(n_out, -1)).sum(axis=1)
        b = np.zeros(n_out, np.int64) if bias is None else \
            np.abs(np.asarray(bias.data, np.int64).reshape(-1))
        worst = sum_abs * (128 + abs(inp.zero_point)) + b
        if np.any(worst > INT32_MAX):
            c = int(np.argmax(worst))
            self.fail(f"output channel {c} can overflow its int32 accumulator (bias "
                      f"{int(b[c])}, sum of |weights| {int(sum_abs[c])}: up to {int(worst[c])})",
                      op, bias if bias is not None else w)

    def weights_and_bias(self, op, w, n_out: int, channel_axis: int):
        self.const(op, w, "weights", "INT8")
        if w.scales.size > 1 and (w.scales.size != n_out or w.quantized_dimension != channel_axis):
            self.fail(f"{w.scales.size} weight scales along dimension {w.quantized_dimension}, "
                      f"expected {n_out} along {channel_axis}", op, w)
        ins = self.ins(op)
        bias = ins[2] if len(ins) > 2 else None
        if bias is not None:
            self.const(op, bias, "bias", "INT32")
            if bias.n_elements != n_out:
                self.fail(f"{bias.n_elements} bias values for {n_out} output channels", op, bias)
        return bias

    def per_channel_shifts(self, op, inp, w, out, n_out: int) -> None:
        scales = w.scales if w.scales.size > 1 else np.repeat(w.scales, n_out)
        for s in scales:
            self.shift_ok(op, float(np.float32(inp.scale)) * float(np.float32(s)) /
                          float(np.float32(out.scale)), "output", out)

    # -- one method per operator ------------------------------------------------------------
    def _conv(self, op, *, depthwise: bool):
        inp, w = self.ins(op)[:2]
        out = self.out(op)
        self.rank4(op, inp, w, out)
        if depthwise:  # filter [1, kh, kw, in_c * multiplier]
            _, kh, kw, oc = w.shape
            bad = w.shape[0] != 1 or oc % inp.shape[3] != 0
        else:  # filter [out_c, kh, kw, in_c / groups]
            oc, kh, kw, kc = w.shape
            bad = inp.shape[3] % kc != 0 or oc % (inp.shape[3] // kc) != 0
        if bad or oc != out.shape[3]:
            self.fail(f"channels: input {list(inp.shape)}, filter {list(w.shape)}, output "
                      f"{list(out.shape)}", op, out)
        o = op.options
        self.spatial(op, inp, out, kh, kw, o.dilationHFactor, o.dilationWFactor)
        bias = self.weights_and_bias(op, w, oc, 3 if depthwise else 0)
        self.per_channel_shifts(op, inp, w, out, oc)
        # the taps of each output channel
        taps = np.moveaxis(np.asarray(w.data).reshape(kh * kw, oc), 1, 0) if depthwise else w.data
        self.accumulator(op, taps, w, bias, inp, oc)

    def op_conv_2d(self, op):
        self._conv(op, depthwise=False)

    def op_depthwise_conv_2d(self, op):
        self._conv(op, depthwise=True)

    def op_fully_connected(self, op):
        inp, w = self.ins(op)[:2]
        out = self.out(op)
        if len(w.shape) != 2:
            self.fail(f"weights of shape {list(w.shape)}, expected [n_out, n_in]", op, w)
        n_out, n_in = w.shape
        if inp.n_elements % n_in or out.n_elements != inp.n_elements // n_in * n_out:
            self.fail(f"input {list(inp.shape)} and weights {list(w.shape)} give "
                      f"{inp.n_elements // n_in * n_out} outputs, the model declares "
                      f"{list(out.shape)}", op, out)
        bias = self.weights_and_bias(op, w, n_out, 0)
        if w.scales.size > 1:
            self.per_channel_shifts(op, inp, w, out, n_out)
        else:
            product = float(np.float32(inp.scale) * np.float32(w.scale))
            self.shift_ok(op, product / float(np.float32(out.scale)), "output", out)
        self.accumulator(op, w.data, w, bias, inp, n_out)

    def _pool(self, op):
        inp, out = self.ins(op)[0], self.out(op)
        self.rank4(op, inp, out)
        if inp.shape[3] != out.shape[3]:
            self.fail(f"channels {out.shape[3]} differ from the input's {inp.shape[3]}", op, out)
        o = op.options
        self.spatial(op, inp, out, o.filterHeight, o.filterWidth)

    op_average_pool_2d = op_max_pool_2d = _pool

    def _binary(self, op):
        a, b = self.ins(op)[:2]
        out = self.out(op)
        try:
            shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        except ValueError:
            self.fail(f"input shapes {list(a.shape)} and {list(b.shape)} do not broadcast", op, out)
        if tuple(shape) != tuple(out.shape):
            self.fail(f"inputs {list(a.shape)} and {list(b.shape)} broadcast to {list(shape)}, "
                      f"the model declares {list(out.shape)}", op, out)
        return a, b, out

    def op_add(self, op):
        a, b, out = self._binary(op)
        twice_max = 2.0 * max(float(np.float32(a.scale)), float(np.float32(b.scale)))
        self.shift_ok(op, twice_max / (float(1 << 20) * float(np.float32(out.scale))), "output",
                      out)

    def op_mul(self, op):
        a, b, out = self._binary(op)
        self.shift_ok(op, float(np.float32(a.scale)) * float(np.float32(b.scale)) /
                      float(np.float32(out.scale)), "output", out)

    def op_mean(self, op):
        inp, axis = self.ins(op)[:2]
        out = self.out(op)
        axes = self.const(op, axis, "axis", INDEX_TYPES)
        rank = len(inp.shape)
        if axes.size == 0 or np.any(axes < -rank) or np.any(axes >= rank):
            self.fail(f"axes {axes.tolist()} for an input of rank {rank}", op, axis)
        keep = sorted({int(a) % rank for a in axes})
        count = int(np.prod([inp.shape[i] for i in keep]))
        if out.n_elements * count != inp.n_elements:
            self.fail(f"reducing {list(inp.shape)} over axes {keep} leaves "
                      f"{inp.n_elements // count} elements, the model declares {list(out.shape)}",
                      op, out)
        self.shift_ok(op, float(np.float32(inp.scale)) / float(np.float32(out.scale)), "output",
                      out)

    def op_softmax(self, op):
        inp, out = self.ins(op)[0], self.out(op)
        self.same_shape(op, inp, out)
        beta = float(op.options.beta)
        if not math.isfinite(beta) or beta <= 0:
            self.fail(f"beta {beta!r} must be finite and > 0", op)
        real = beta * float(np.float32(inp.scale)) * float(1 << 26)
        if real < 0.5:
            self.fail(f"beta x input scale = {beta * float(inp.scale):.3g} is below 2^-27: the "
                      "int8 softmax would need a negative left shift", op, inp)

    def _requantising_unary(self, op):
        inp, out = self.ins(op)[0], self.out(op)
        self.same_shape(op, inp, out)
        self.shift_ok(op, float(np.float32(inp.scale)) / float(np.float32(out.scale)), "output",
                      out)

    op_relu = op_quantize = _requantising_unary

    def op_relu6(self, op):
        inp, out = self.ins(op)[0], self.out(op)
        self.same_shape(op, inp, out)

    def op_reshape(self, op):
        inp, out = self.ins(op)[0], self.out(op)
        if inp.n_elements != out.n_elements:
            self.fail(f"reshape from {list(inp.shape)} ({inp.n_elements} elements) to "
                      f"{list(out.shape)} ({out.n_elements})", op, out)

    def op_pad(self, op):
        ins = self.ins(op)
        inp, pads, out = ins[0], ins[1], self.out(op)
        p = self.const(op, pads, "paddings", INDEX_TYPES)
        if p.size != 2 * len(inp.shape) or np.any(p < 0):
            self.fail(f"paddings {p.tolist()} for an input of rank {len(inp.shape)} (two "
                      "non-negative values per dimension)", op, pads)
        p = p.reshape(-1, 2)
        shape = [int(d + a + b) for d, (a, b) in zip(inp.shape, p)]
        if shape != list(out.shape):
            self.fail(f"input {list(inp.shape)} padded by {p.tolist()} is {shape}, the model "
                      f"declares {list(out.shape)}", op, out)
        if len(ins) > 2 and ins[2] is not None:
            v = self.const(op, ins[2], "constant value", "INT8")
            if v.size != 1:
                self.fail(f"the pad value has {v.size} elements, expected one", op, ins[2])

    op_padv2 = op_pad

    def op_transpose(self, op):
        inp, perm = self.ins(op)[:2]
        out = self.out(op)
        pv = self.const(op, perm, "permutation", INDEX_TYPES).tolist()
        if sorted(pv) != list(range(len(inp.shape))):
            self.fail(f"permutation {pv} for an input of rank {len(inp.shape)}", op, perm)
        shape = [inp.shape[i] for i in pv]
        if shape != list(out.shape):
            self.fail(f"input {list(inp.shape)} permuted by {pv} is {shape}, the model declares "
                      f"{list(out.shape)}", op, out)
