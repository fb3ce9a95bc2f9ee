"""Float ONNX -> int8 ONNX QDQ with onnxruntime's static quantizer (the CI path).

Weights int8 per output channel (symmetric), activations int8 per tensor (asymmetric), min/max
calibration on the calibration windows (:mod:`dlink.export.calibration`: train + val, clipped at a
percentile of |x|). The QDQ format keeps the float graph's structure, so every
float tensor has an int8 counterpart (``<name>_DequantizeLinear_Output``) for the per-layer report.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_path

logger = logging.getLogger(__name__)


def quantize_qdq(float_onnx: str | Path, out_path: str | Path, calibration: np.ndarray) -> dict[str, Any]:
    """Quantize ``float_onnx`` into a QDQ int8 model calibrated on ``calibration``.

    Parameters
    ----------
    float_onnx : str | Path
        The float model (one input).
    out_path : str | Path
        The QDQ model to write (atomically).
    calibration : ndarray, shape (n, n_chans, n_times)
        Calibration windows, float32, in the float model's input layout.

    Returns
    -------
    dict
        ``format``, ``per_channel``, ``activation_type``, ``weight_type``, ``calibrate_method``,
        ``n_calibration``, ``quantized_node_types`` (op types with a QDQ pair around them).
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)

    if calibration.ndim != 3 or len(calibration) == 0:
        raise ValueError(f"calibration must have shape (n>0, n_chans, n_times), got {calibration.shape}.")
    input_name = onnx.load(str(float_onnx)).graph.input[0].name

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(calibration[i:i + 1].astype(np.float32) for i in range(len(calibration)))

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {input_name: x}

    root = logging.getLogger()
    quiet = _DropPreprocessHint()
    root.addFilter(quiet)
    try:
        with atomic_path(out_path) as tmp:
            quantize_static(str(float_onnx), str(tmp), _Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    finally:
        root.removeFilter(quiet)
    proto = onnx.load(str(out_path))
    dq_inputs = {n.output[0] for n in proto.graph.node if n.op_type == "DequantizeLinear"}
    quantized = sorted({n.op_type for n in proto.graph.node
                        if n.op_type not in ("QuantizeLinear", "DequantizeLinear")
                        and any(i in dq_inputs for i in n.input)})
    logger.info("QDQ int8 model: %s (quantized ops: %s)", out_path, ", ".join(quantized))
    return {"format": "QDQ", "per_channel": True, "activation_type": "int8", "weight_type": "int8",
            "calibrate_method": "MinMax", "n_calibration": int(len(calibration)),
            "quantized_node_types": quantized}


class _DropPreprocessHint(logging.Filter):
    """onnxruntime logs a "consider pre-processing" hint on the root logger for every model; the
    student graph is already shape-inferred and simplified by onnxsim."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

