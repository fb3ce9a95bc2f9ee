"""Write small full-int8 .tflite models directly (flatbuffers, the schema bundled with the
``tflite-micro`` wheel), without TensorFlow: the randomised kernel tests draw hundreds of operator
shapes and need a model for each in milliseconds.

The quantisation follows the converter's conventions: int8 activations with a scale and zero
point, int8 symmetric weights (per output channel for convolutions), int32 biases with scale
``input_scale * weight_scale``. Output scales are chosen from the layer's accumulator range so
that the outputs use the int8 range instead of saturating (the tests then mean something).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


@dataclass
class QTensor:
    """A tensor of the model being built: its index, shape, scale and zero point."""

    index: int
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    spread: float = 74.0  # about the std of its int8 values (uniform random input: 74)


class ModelBuilder:
    """Collects tensors and operators of one subgraph; :meth:`build` returns the flatbuffer."""

    def __init__(self, seed: int = 0):
        self.s = _schema()
        self.rng = np.random.default_rng(seed)
        self.tensors: list = []
        self.buffers = [self.s.BufferT()]  # buffer 0: empty, by convention
        self.operators: list = []
        self.opcodes: dict[int, int] = {}

    # tensors --------------------------------------------------------------------------------
    def _add(self, shape, ttype, *, scales=None, zero_points=None, axis=0, data=None,
             name="t") -> int:
        t = self.s.TensorT()
        t.shape = list(int(d) for d in shape)
        t.type = ttype
        t.name = f"{name}{len(self.tensors)}"
        t.buffer = 0
        if data is not None:
            b = self.s.BufferT()
            b.data = list(np.ascontiguousarray(data).tobytes())
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        if scales is not None:
            q = self.s.QuantizationParametersT()
            q.scale = [float(np.float32(v)) for v in np.atleast_1d(scales)]
            q.zeroPoint = [int(v) for v in np.atleast_1d(zero_points)]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def activation(self, shape, scale: float, zero_point: int) -> QTensor:
        i = self._add(shape, self.s.TensorType.INT8, scales=[scale], zero_points=[zero_point],
                      name="act")
        return QTensor(i, tuple(shape), float(np.float32(scale)), int(zero_point))

    def const_int32(self, values) -> int:
        v = np.asarray(values, np.int32)
        return self._add(v.shape, self.s.TensorType.INT32, data=v, name="c")

    # operators ------------------------------------------------------------------------------
    def _op(self, name: str, inputs, outputs, opt_type=None, options=None) -> None:
        code = getattr(self.s.BuiltinOperator, name)
        if code not in self.opcodes:
            self.opcodes[code] = len(self.opcodes)
        op = self.s.OperatorT()
        op.opcodeIndex = self.opcodes[code]
        op.inputs = list(inputs)
        op.outputs = list(outputs)
        if opt_type is not None:
            op.builtinOptionsType = getattr(self.s.BuiltinOptions, opt_type)
            op.builtinOptions = options
        self.operators.append(op)

    def _out_scale(self, x: QTensor, w_scales, acc_std: float, spread: float) -> float:
        """An output scale putting the accumulator's spread at about ``spread`` levels."""
        real_std = acc_std * x.scale * float(np.median(w_scales))
        return float(np.float32(max(real_std / spread, 1e-6)))

    def _conv_weights(self, n_out: int, per_out: int, axis_shape, axis: int):
        w = self.rng.integers(-127, 128, size=axis_shape, dtype=np.int64).astype(np.int8)
        w_scales = self.rng.uniform(0.002, 0.02, size=n_out).astype(np.float32)
        return w, w_scales

    def _bias(self, x: QTensor, w_scales, n_out: int, acc_std: float) -> int:
        b = self.rng.normal(0.0, acc_std / 4, size=n_out)
        bias = np.clip(np.round(b), -2**20, 2**20).astype(np.int32)
        scales = (np.float32(x.scale) * w_scales).astype(np.float32)
        return self._add((n_out,), self.s.TensorType.INT32, scales=scales,
                         zero_points=np.zeros(n_out, np.int64), data=bias, name="b")

    def depthwise(self, x: QTensor, *, kw: int, kh: int = 1, dm: int = 1, stride: int = 1,
                  stride_h: int | None = None, dilation: int = 1, padding: str = "SAME",
                  act: str = "NONE", out_zero_point: int | None = None,
                  spread: float = 30.0) -> QTensor:
        n, h, w_in, c = x.shape
        oc = c * dm
        w, w_scales = self._conv_weights(oc, kh * kw, (1, kh, kw, oc), 3)
        acc_std = x.spread * 73.0 * np.sqrt(kh * kw)
        sh = stride if stride_h is None else stride_h
        out_h, out_w = _out_hw(h, w_in, kh, kw, sh, stride, dilation, padding)
        scale, w_scales = self._out_scale_for(x, w_scales, acc_std, act, spread)
        w_t = self._add(w.shape, self.s.TensorType.INT8, scales=w_scales,
                        zero_points=np.zeros(oc, np.int64), axis=3, data=w, name="w")
        b_t = self._bias(x, w_scales, oc, acc_std)
        y = self._act_out((n, out_h, out_w, oc), scale, act, out_zero_point, spread)
        o = self.s.DepthwiseConv2DOptionsT()
        o.padding = getattr(self.s.Padding, padding)
        o.strideW, o.strideH = stride, sh
        o.depthMultiplier = dm
        o.dilationWFactor = o.dilationHFactor = dilation
        o.fusedActivationFunction = getattr(self.s.ActivationFunctionType, act)
        self._op("DEPTHWISE_CONV_2D", [x.index, w_t, b_t], [y.index],
                 "DepthwiseConv2DOptions", o)
        return y

    def conv(self, x: QTensor, *, n_out: int, kw: int = 1, kh: int = 1, stride: int = 1,
             padding: str = "SAME", act: str = "NONE", out_zero_point: int | None = None,
             spread: float = 30.0) -> QTensor:
        n, h, w_in, c = x.shape
        w, w_scales = self._conv_weights(n_out, kh * kw * c, (n_out, kh, kw, c), 0)
        acc_std = x.spread * 73.0 * np.sqrt(kh * kw * c)
        out_h, out_w = _out_hw(h, w_in, kh, kw, stride, stride, 1, padding)
        scale, w_scales = self._out_scale_for(x, w_scales, acc_std, act, spread)
        w_t = self._add(w.shape, self.s.TensorType.INT8, scales=w_scales,
                        zero_points=np.zeros(n_out, np.int64), axis=0, data=w, name="w")
        b_t = self._bias(x, w_scales, n_out, acc_std)
        y = self._act_out((n, out_h, out_w, n_out), scale, act, out_zero_point, spread)
        o = self.s.Conv2DOptionsT()
        o.padding = getattr(self.s.Padding, padding)
        o.strideW = o.strideH = stride
        o.dilationWFactor = o.dilationHFactor = 1
        o.fusedActivationFunction = getattr(self.s.ActivationFunctionType, act)
        self._op("CONV_2D", [x.index, w_t, b_t], [y.index], "Conv2DOptions", o)
        return y

    def _out_scale_for(self, x: QTensor, w_scales, acc_std: float, act: str, spread: float):
        """(output scale, weight scales): ReLU6 outputs get the converter's 6/255 scale, the
        weight scales shrunk to match, so six is not reached before the int8 range ends."""
        scale = self._out_scale(x, w_scales, acc_std, spread)
        if act == "RELU6" and scale > 6.0 / 255.0:
            w_scales = (w_scales * np.float32(6.0 / 255.0 / scale)).astype(np.float32)
            scale = float(np.float32(6.0 / 255.0))
        return scale, w_scales

    def _act_out(self, shape, scale: float, act: str, out_zero_point, spread) -> QTensor:
        if out_zero_point is None:
            out_zero_point = -128 if act in ("RELU", "RELU6") else int(self.rng.integers(-20, 21))
        y = self.activation(shape, scale, out_zero_point)
        y.spread = spread
        return y

    def transpose(self, x: QTensor, perm) -> QTensor:
        shape = tuple(x.shape[p] for p in perm)
        y = self.activation(shape, x.scale, x.zero_point)
        y.spread = x.spread
        self._op("TRANSPOSE", [x.index, self.const_int32(perm)], [y.index],
                 "TransposeOptions", self.s.TransposeOptionsT())
        return y

    def pad(self, x: QTensor, pads) -> QTensor:
        p = np.asarray(pads, np.int32).reshape(-1, 2)
        shape = tuple(int(d + a + b) for d, (a, b) in zip(x.shape, p))
        y = self.activation(shape, x.scale, x.zero_point)
        y.spread = x.spread
        self._op("PAD", [x.index, self.const_int32(p)], [y.index], "PadOptions",
                 self.s.PadOptionsT())
        return y

    def build(self, inputs: list[QTensor], outputs: list[QTensor]) -> bytes:
        import flatbuffers

        s = self.s
        sg = s.SubGraphT()
        sg.tensors = self.tensors
        sg.operators = self.operators
        sg.inputs = [t.index for t in inputs]
        sg.outputs = [t.index for t in outputs]
        sg.name = "main"
        codes = []
        for code, _ in sorted(self.opcodes.items(), key=lambda kv: kv[1]):
            oc = s.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = 1
            codes.append(oc)
        m = s.ModelT()
        m.version = 3
        m.operatorCodes = codes
        m.subgraphs = [sg]
        m.buffers = self.buffers
        m.description = "dlink test model"
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def _out_hw(h, w, kh, kw, sh, sw, dilation, padding):
    def one(size, k, s):
        eff = (k - 1) * dilation + 1
        return (size + s - 1) // s if padding == "SAME" else (size - eff + s) // s
    return one(h, kh, sh), one(w, kw, sw)
