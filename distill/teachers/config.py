"""The ``teacher:`` section of a config (owned by the teachers)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Sampling rate the teachers take (LaBraM and CBraMod: 1-s patches of 200 samples).
TEACHER_SFREQ_HZ = 200.0


@dataclass
class TeacherConfig:
    arch: str = field(default="labram", metadata={"choices": ("labram", "cbramod")})
    #: Reduced teachers for tests and the offline demo; None = the official size
    #: (LaBraM-Base: depth 12, embed_dim 200, num_heads 10; CBraMod: 12, 200, 8).
    depth: int | None = None
    embed_dim: int | None = None
    num_heads: int | None = None
    #: CBraMod's MLP width (None: 4 * embed_dim, i.e. 800 for the official model).
    dim_feedforward: int | None = None
    #: Pretrained checkpoint passed in by the user (never downloaded): LaBraM's labram-base.pth
    #: or CBraMod's pretrained_weights.pth, loaded as the official code loads them.
    checkpoint: str | None = field(default=None, metadata={"path": True})
    #: Classification head: "mean" (mean-pooled tokens + linear), "channel" (each channel's
    #: tokens averaged over time, channels kept, + linear) or "flatten" (official 3-layer head
    #: on all tokens; see dlink.distill.teachers.heads).
    head: str = field(default="mean", metadata={"choices": ("mean", "channel", "flatten")})
    #: Stochastic depth rate (LaBraM fine-tuning uses 0.1).
    drop_path: float = 0.1
    #: LaBraM scales its fresh head's initial weights by this (official 0.001, made for a
    #: pretrained backbone; use 1.0 when training a teacher from scratch).
    head_init_scale: float = 0.001
    #: Task adaptation.
    finetune_epochs: int = 10
    lr: float = 5e-4
    min_lr: float = 1e-6
    layer_decay: float = 0.65
    warmup_epochs: int = 1
    patience: int = 5
    weight_decay: float = 0.05
    batch_size: int = 64
    label_smoothing: float = 0.1
    #: Random circular time shift, sign flip and gain per training window (see finetune.augment).
    augment: bool = False
    #: Split(s) the teacher is fitted on, joined by "+" (e.g. "pool+train"; "pool": extra
    #: labelled subjects whose labels the student never sees; empty splits are skipped) and the
    #: early-stopping split.
    finetune_split: str = "pool"
    val_split: str = "val"
    #: CPU threads for fine-tuning (None: leave torch's default).
    num_threads: int | None = 2

    def validate(self) -> None:
        for name in ("depth", "embed_dim", "num_heads", "dim_feedforward"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ValueError(f"teacher.{name} must be a positive integer or null, got {v!r}.")
        if self.embed_dim is not None and self.num_heads is not None and self.embed_dim % self.num_heads:
            raise ValueError(f"teacher.embed_dim ({self.embed_dim}) must be divisible by "
                             f"teacher.num_heads ({self.num_heads}).")
        for name in ("finetune_epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"teacher.{name} must be >= 1, got {getattr(self, name)!r}.")
        if not 0.0 < self.layer_decay <= 1.0:
            raise ValueError(f"teacher.layer_decay must be in (0, 1], got {self.layer_decay!r}.")
        if self.lr <= 0:
            raise ValueError(f"teacher.lr must be > 0, got {self.lr!r}.")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"teacher.min_lr must be >= 0 and <= teacher.lr ({self.lr!r}), got "
                             f"{self.min_lr!r}.")
        for name in ("warmup_epochs", "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"teacher.{name} must be >= 0, got {getattr(self, name)!r}.")
        if self.patience < 1:
            raise ValueError(f"teacher.patience (epochs without improvement before stopping) must "
                             f"be >= 1, got {self.patience!r}.")
        for name in ("drop_path", "label_smoothing"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"teacher.{name} must be in [0, 1), got {getattr(self, name)!r}.")
        if self.head_init_scale <= 0:
            raise ValueError(f"teacher.head_init_scale must be > 0, got {self.head_init_scale!r}.")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"teacher.num_threads must be >= 1 or null, got {self.num_threads!r}.")
        for name in ("finetune_split", "val_split"):
            if not getattr(self, name).strip():
                raise ValueError(f"teacher.{name} must name a split (e.g. 'pool', 'val'), got "
                                 f"{getattr(self, name)!r}.")
