"""The ``teacher:`` section of a config (owned by the teachers)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TeacherConfig:
    arch: str = field(default="labram", metadata={"choices": ("labram", "cbramod")})
    #: Reduced teachers for tests and the offline demo; the official sizes are the defaults of
    #: the model classes.
    depth: int | None = None
    embed_dim: int | None = None
    num_heads: int | None = None
    #: Pretrained checkpoint passed in by the user (never downloaded).
    checkpoint: str | None = None
    #: Classification head: "mean" (mean-pooled tokens + linear) or "flatten" (official).
    head: str = field(default="mean", metadata={"choices": ("mean", "flatten")})
    #: Task adaptation.
    finetune_epochs: int = 10
    lr: float = 5e-4
    layer_decay: float = 0.65
    warmup_epochs: int = 1
    patience: int = 5
    weight_decay: float = 0.05
    batch_size: int = 64
