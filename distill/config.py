"""The ``teacher:``, ``student:``, ``distill:`` and ``train:`` sections (owned by distill).

``teacher:`` is defined by the teacher code (:mod:`dlink.distill.teachers.config`) and re-exported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlink.distill.teachers.config import TeacherConfig  # noqa: F401  (re-exported)

#: Baseline models the ``distill`` stage can train alone beside the student (braindecode).
BASELINES = ("eegnet", "shallow")


@dataclass
class StudentConfig:
    #: Student architecture (one module per architecture in ``distill/students``).
    arch: str = field(default="mic", metadata={"choices": ("mic",)})
    #: Keyword arguments of the architecture (see :class:`dlink.distill.students.mic.MiC`), e.g.
    #: ``{mimic_width: 8, hidden_width: 32, lowpass: fixed}``; unknown keys are an error.
    options: dict = field(default_factory=dict)
    #: Budget the deployable student must meet (checked when it is built by ``dlink distill``).
    max_params: int = 100_000
    max_macs: int = 10_000_000

    def validate(self) -> None:
        """Option names and value types against the architecture's signature (read from its
        source, so checking a config imports no torch); the values themselves are checked by
        building the student, which ``dlink distill`` does before any training."""
        from .students.options import check_options

        check_options(self.arch, self.options)
        for name in ("max_params", "max_macs"):
            if getattr(self, name) < 1:
                raise ValueError(f"student.{name} must be >= 1, got {getattr(self, name)!r}.")


@dataclass
class DistillConfig:
    #: Distillation target over the teacher's layers: "router" (learned, input-conditioned),
    #: "last" (last block only) or "average" (uniform average over the blocks).
    target: str = field(default="router", metadata={"choices": ("router", "last", "average")})
    #: Keep only the k highest router weights per window ("dominant" layers); None keeps all.
    top_k: int | None = None
    #: Hidden width of the router's scoring network.
    router_hidden: int = 32
    #: Let the student's feature/spectral losses back-propagate into the router weights too
    #: (off: the router is driven by its task probe only, so it cannot pick the easiest layer).
    router_grad_from_student: bool = False
    #: Logit-KD temperature.
    temperature: float = 4.0
    #: Loss weights; a weight of 0 switches its term off (its computation is skipped).
    w_ce: float = 1.0
    w_kd: float = 1.0
    w_feature: float = 1.0
    w_spectral_mag: float = 0.5
    w_spectral_phase: float = 0.5
    w_antialias: float = 0.1
    w_router_probe: float = 1.0
    #: total = w_ce*CE + w_kd*KD + lambda1*(w_feature*feat + w_spectral_*spec)
    #:         + lambda2*w_antialias*antialias + w_router_probe*probe
    lambda1: float = 1.0
    lambda2: float = 1.0
    #: Windows of each batch used for the spectral and anti-aliasing terms (their FFTs cost more
    #: than the student itself; a sub-batch gives an unbiased estimate). None: the whole batch.
    spectral_windows: int | None = 16
    #: Distil on the "pool" split too (unlabelled for the student: teacher targets only).
    use_pool: bool = True
    #: Baselines trained alone on the labelled split beside the student (braindecode models);
    #: their metrics go to metrics.json["baselines"].
    baselines: list = field(default_factory=list)
    #: Where the teacher's per-layer hidden states are cached: "disk" (memory-mapped file in
    #: RUN/cache, reused by reruns) or "memory".
    cache: str = field(default="disk", metadata={"choices": ("disk", "memory")})

    def validate(self) -> None:
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"distill.top_k must be >= 1 or null, got {self.top_k!r}.")
        if self.router_hidden < 1:
            raise ValueError(f"distill.router_hidden must be >= 1, got {self.router_hidden!r}.")
        if self.spectral_windows is not None and self.spectral_windows < 1:
            raise ValueError(f"distill.spectral_windows must be >= 1 or null, got "
                             f"{self.spectral_windows!r}.")
        if self.temperature <= 0:
            raise ValueError(f"distill.temperature must be > 0, got {self.temperature!r}.")
        for name in ("w_ce", "w_kd", "w_feature", "w_spectral_mag", "w_spectral_phase",
                     "w_antialias", "w_router_probe", "lambda1", "lambda2"):
            if getattr(self, name) < 0:
                raise ValueError(f"distill.{name} must be >= 0, got {getattr(self, name)!r}.")
        for b in self.baselines:
            if b not in BASELINES:
                raise ValueError(f"distill.baselines: unknown baseline {b!r}; choose from "
                                 f"{', '.join(map(repr, BASELINES))}.")


@dataclass
class TrainConfig:
    #: Maximum number of epochs (early stopping on val balanced accuracy may stop sooner).
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    #: Epochs without val improvement before stopping.
    patience: int = 10
    #: torch threads for training (the machines here have 2 cores).
    num_threads: int = 2
    #: Stop an epoch early after this many optimisation steps (None: the whole split).
    max_steps_per_epoch: int | None = None
    #: Epochs for the braindecode baselines (None: same as ``epochs``).
    baseline_epochs: int | None = None

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "num_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)!r}.")
        if self.lr <= 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr!r}.")
        if self.weight_decay < 0:
            raise ValueError(f"train.weight_decay must be >= 0, got {self.weight_decay!r}.")
        if self.patience < 1:
            raise ValueError(f"train.patience (epochs without improvement before stopping) must "
                             f"be >= 1, got {self.patience!r}.")
        for name in ("max_steps_per_epoch", "baseline_epochs"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"train.{name} must be >= 1 or null, got {v!r}.")
