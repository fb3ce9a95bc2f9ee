"""The ``pretrain:`` section of a config: self-supervised pretraining of the teacher.

The architecture and its size come from the ``teacher:`` section (``arch``, ``depth``,
``embed_dim``, ``num_heads``, ``dim_feedforward``); the filters and the sampling rate from
``data:`` (the same preprocessing as the windows the teacher is later fine-tuned on). This
section says what to pretrain on and how long.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PretrainConfig:
    #: Unlabelled recordings: folders (searched recursively) or files, EDF/BDF/GDF/FIF, read
    #: through MNE one at a time (band-passed, resampled to 200 Hz, in 100 uV, cut into windows).
    #: Relative paths are relative to the config file's folder.
    corpus: list[str] = field(default_factory=list, metadata={"path": True})
    #: Synthetic subjects drawn from the config's synthetic generator (``data.synthetic``), with
    #: subject ids from 100001 on: outside every split of the dataset, so no evaluation window is
    #: ever pretrained on. Their labels are thrown away.
    synthetic_subjects: int = 0
    #: Channels, by 10-20 name, in this order. A recording lacking one of them is skipped (with
    #: a warning). None: the channels every source has, in the order of the first one.
    channels: list[str] | None = None
    #: Window length and hop in whole seconds (None: ``data.window_s``; hop None: = window).
    window_s: int | None = None
    stride_s: float | None = None
    #: Only cut windows inside annotations with these descriptions (e.g. ``[T0]``: the rest
    #: periods of PhysioNet EEGMMIDB runs, so that no cue-locked trial is pretrained on).
    #: None: the whole recording.
    annotations: list[str] | None = None
    #: At most this many windows per recording (None: all).
    max_windows_per_recording: int | None = None
    #: Fraction of the windows held out for the validation loss (per epoch).
    val_fraction: float = 0.05
    #: Fraction of the (channel, patch) tokens masked per window. LaBraM masks exactly this
    #: fraction per window (and, with ``symmetric``, trains on the complement too); CBraMod
    #: draws each token independently (Bernoulli), as their official code does.
    mask_ratio: float = 0.5
    symmetric: bool = True
    #: Official layout checkpoint to start from (continued pretraining): LaBraM's
    #: ``labram-base.pth`` or CBraMod's ``pretrained_weights.pth``, or an earlier output
    #: (relative to the config file's folder).
    init_checkpoint: str | None = field(default=None, metadata={"path": True})
    #: Optimisation (AdamW, linear warm-up then cosine decay per step). ``batch_size`` is the
    #: global batch: under torchrun each of the W processes takes batch_size / W windows.
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 64
    lr: float = 5e-4
    min_lr: float = 1e-5
    warmup_steps: int = 100
    weight_decay: float = 0.05
    clip_grad: float | None = 3.0
    #: Regularisation while pretraining: LaBraM's stochastic depth, CBraMod's dropout (None:
    #: the architecture's default, 0.1). Both draw differently in each process under torchrun.
    drop_path: float = 0.1
    dropout: float | None = None
    #: LaBraM's LayerScale initial value (the official pretraining script's
    #: --layer_scale_init_value, 0.1): each block's residual branches start scaled by it. The
    #: learned scales are saved in the checkpoint, so fine-tuning starts from them whatever this is.
    layer_scale_init: float = 0.1
    #: Checkpoint (for resuming) every this many optimisation steps, and at every epoch's end.
    checkpoint_every_steps: int = 200
    #: "auto": the GPU of this process's local rank when CUDA is available, else the CPU.
    device: str = field(default="auto", metadata={"choices": ("auto", "cpu", "cuda")})
    #: CPU threads per process (None: leave torch's default).
    num_threads: int | None = 2

    def validate(self) -> None:
        if self.synthetic_subjects < 0:
            raise ValueError(f"pretrain.synthetic_subjects must be >= 0, got {self.synthetic_subjects!r}.")
        if self.window_s is not None and self.window_s < 1:
            raise ValueError(f"pretrain.window_s must be a whole number of seconds >= 1, got "
                             f"{self.window_s!r}.")
        if self.stride_s is not None and self.stride_s <= 0:
            raise ValueError(f"pretrain.stride_s must be > 0, got {self.stride_s!r}.")
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"pretrain.mask_ratio must be in (0, 1), got {self.mask_ratio!r}.")
        if not 0.0 <= self.val_fraction < 0.5:
            raise ValueError(f"pretrain.val_fraction must be in [0, 0.5), got {self.val_fraction!r}.")
        for name in ("epochs", "batch_size", "checkpoint_every_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"pretrain.{name} must be >= 1, got {getattr(self, name)!r}.")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"pretrain.max_steps must be >= 1 or null, got {self.max_steps!r}.")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ValueError(f"pretrain.lr must be > 0 and pretrain.min_lr in [0, lr]; got "
                             f"lr={self.lr!r}, min_lr={self.min_lr!r}.")
        if self.warmup_steps < 0:
            raise ValueError(f"pretrain.warmup_steps must be >= 0, got {self.warmup_steps!r}.")
        if not 0.0 <= self.drop_path < 1.0 or (self.dropout is not None and not 0.0 <= self.dropout < 1.0):
            raise ValueError(f"pretrain.drop_path and pretrain.dropout must be in [0, 1); got "
                             f"{self.drop_path!r} and {self.dropout!r}.")
        if self.layer_scale_init <= 0:
            raise ValueError(f"pretrain.layer_scale_init must be > 0, got {self.layer_scale_init!r}.")
        if self.max_windows_per_recording is not None and self.max_windows_per_recording < 1:
            raise ValueError(f"pretrain.max_windows_per_recording must be >= 1 or null, got "
                             f"{self.max_windows_per_recording!r}.")
