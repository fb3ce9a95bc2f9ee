"""The ``export:`` section (owned by export)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExportConfig:
    #: ONNX opset of student.onnx (the TorchScript exporter honours it; checked after export).
    opset: int = 17
    #: Calibration windows taken from the training split, stratified by class.
    n_calibration: int = 200
    #: Test windows written as int8 test vectors (.npz and C arrays).
    n_test_vectors: int = 16
    #: Run onnxsim on the exported graph (constant folding, BatchNorm folding, dead nodes).
    simplify: bool = True
    #: Test windows used by the validation report (None: the whole test split).
    max_eval_windows: int | None = None
    #: Test windows used for the per-layer float-vs-int8 errors (intermediate tensors are kept).
    n_layer_windows: int = 32
    #: Largest max-abs error between onnxruntime float and PyTorch logits before export fails.
    max_onnx_abs_err: float = 1e-3

    def validate(self) -> None:
        if self.opset < 13 or self.opset > 20:
            raise ValueError(f"export.opset must be in 13..20 (what onnx2tf and onnxruntime's "
                             f"quantizer both handle), got {self.opset!r}.")
        for name in ("n_calibration", "n_test_vectors", "n_layer_windows"):
            if getattr(self, name) < 1:
                raise ValueError(f"export.{name} must be >= 1, got {getattr(self, name)!r}.")
        if self.max_eval_windows is not None and self.max_eval_windows < 1:
            raise ValueError(f"export.max_eval_windows must be >= 1 or null, "
                             f"got {self.max_eval_windows!r}.")
        if self.max_onnx_abs_err <= 0:
            raise ValueError(f"export.max_onnx_abs_err must be > 0, got {self.max_onnx_abs_err!r}.")
