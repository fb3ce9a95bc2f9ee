"""The ``teacher:``, ``student:``, ``distill:`` and ``train:`` sections (owned by distill)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlink.distill.teachers.config import TeacherConfig  # noqa: F401  (re-exported)


@dataclass
class StudentConfig:
    arch: str = "mic"
    options: dict = field(default_factory=dict)


@dataclass
class DistillConfig:
    #: Router over the teacher's layers: "router" (learned), "last", "average".
    target: str = field(default="router", metadata={"choices": ("router", "last", "average")})
    top_k: int | None = None
    temperature: float = 4.0
    w_ce: float = 1.0
    w_kd: float = 1.0
    w_feature: float = 1.0
    w_spectral_mag: float = 0.5
    w_spectral_phase: float = 0.5
    w_antialias: float = 0.1
    w_router_probe: float = 1.0
    lambda1: float = 1.0
    lambda2: float = 1.0


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 10
    num_threads: int = 2
