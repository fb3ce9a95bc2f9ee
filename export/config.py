"""The ``export:`` section (owned by export)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Splits whose windows may calibrate the int8 ranges (never the test split).
CALIBRATION_SPLITS = ("train", "val", "pool")


@dataclass
class ExportConfig:
    #: ONNX opset of student.onnx (the TorchScript exporter honours it; checked after export).
    opset: int = 17
    #: Calibration windows, stratified by class, drawn from ``calibration_splits``.
    n_calibration: int = 200
    #: Splits the calibration windows come from: the labelled non-test windows by default
    #: (train and val: on calibration-sized data 18 training windows alone give ranges that
    #: other windows of the same person leave); "pool" adds the teacher's pool.
    calibration_splits: list[str] = field(default_factory=lambda: ["train", "val"])
    #: Before the int8 ranges are measured (min/max), the calibration windows are clipped at
    #: this percentile of |x| over all their samples: a few artefact samples then no longer set
    #: the input and first-layer ranges (one int8 step for every sample of every channel);
    #: samples beyond it saturate in int8 as they would in an ADC. null: plain min/max.
    calibration_clip_percentile: float | None = 99.95
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
        if not self.calibration_splits:
            raise ValueError(f"export.calibration_splits must name at least one of "
                             f"{', '.join(CALIBRATION_SPLITS)}, got an empty list.")
        for name in self.calibration_splits:
            if name not in CALIBRATION_SPLITS:
                raise ValueError(f"export.calibration_splits: {name!r} is not allowed; choose from "
                                 f"{', '.join(CALIBRATION_SPLITS)} (the test split never calibrates).")
        p = self.calibration_clip_percentile
        if p is not None and not 90.0 <= p <= 100.0:
            raise ValueError(f"export.calibration_clip_percentile must be in 90..100 or null, got {p!r} "
                             f"(99.95 clips the rarest 0.05% of samples; 100 or null: plain min/max).")
        if self.max_eval_windows is not None and self.max_eval_windows < 1:
            raise ValueError(f"export.max_eval_windows must be >= 1 or null, "
                             f"got {self.max_eval_windows!r}.")
        if self.max_onnx_abs_err <= 0:
            raise ValueError(f"export.max_onnx_abs_err must be > 0, got {self.max_onnx_abs_err!r}.")
