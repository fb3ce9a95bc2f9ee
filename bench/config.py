"""The ``bench:`` section (owned by bench)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BenchConfig:
    latency_repeats: int = 50
    latency_warmup: int = 5
    boards: list[str] = field(default_factory=lambda: ["mps2-an386"])
    #: CI gate thresholds for `dlink check`.
    min_balanced_accuracy: float = 0.4
    min_agreement: float = 0.95
