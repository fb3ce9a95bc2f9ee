"""The ``export:`` section (owned by export)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExportConfig:
    opset: int = 17
    #: Calibration windows taken from the training split, stratified by class.
    n_calibration: int = 200
    #: Test windows written as int8 test vectors (.npz and C arrays).
    n_test_vectors: int = 16
