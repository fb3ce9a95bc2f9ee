"""The ``teacher:``, ``student:``, ``distill:`` and ``train:`` sections (owned by distill).

``teacher:`` is defined by the teacher code (:mod:`dlink.distill.teachers.config`) and re-exported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlink.distill.teachers.config import TeacherConfig  # noqa: F401  (re-exported)

#: Baseline models the ``distill`` stage can train alone beside the student: braindecode's
#: EEGNet and ShallowConvNet, and CSP + LDA (MNE + scikit-learn).
NEURAL_BASELINES = ("eegnet", "shallow")
BASELINES = NEURAL_BASELINES + ("csp_lda",)


@dataclass
class StudentConfig:
    #: Student architecture (one module per architecture in ``distill/students``).
    arch: str = field(default="mic", metadata={"choices": ("mic",)})
    #: Keyword arguments of the architecture (see :class:`dlink.distill.students.mic.MiC`), e.g.
    #: ``{mimic_width: 8, hidden_width: 32, lowpass: fixed}``; unknown keys are an error.
    options: dict = field(default_factory=dict)
    #: Initial spatial filters of the student (its C x C spatial layer): "identity" (stream c
    #: starts as channel c, as the teacher's per-channel tokens expect) or "csp" (the CSP filters
    #: of the training windows, 8-30 Hz: the start CSP + LDA has on a few dozen within-subject
    #: trials; see :mod:`dlink.distill.students.data_init`).
    spatial_init: str = field(default="identity", metadata={"choices": ("identity", "csp")})
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
    #: "bias" (learned per-layer weights, the same for every window: the router without input
    #: conditioning), "last" (last block only), "block" (block ``target_block`` only) or
    #: "average" (uniform average over the blocks).
    target: str = field(default="router",
                        metadata={"choices": ("router", "bias", "last", "block", "average")})
    #: The block (1-based) used with ``target: block``.
    target_block: int | None = None
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
    #: than the student itself): a uniform random subset, drawn afresh for every batch, so the
    #: terms are unbiased estimates of their whole-batch values. None: the whole batch.
    spectral_windows: int | None = 16
    #: Distil on the "pool" split too (unlabelled for the student: teacher targets only).
    use_pool: bool = True
    #: Baselines trained alone on the labelled split beside the student ("eegnet", "shallow":
    #: braindecode, with the student's step budget and recipe; "csp_lda": CSP + LDA on 8-30 Hz);
    #: their metrics go to metrics.json["baselines"].
    baselines: list = field(default_factory=list)
    #: Teacher gate: "auto" measures the teacher on val before distilling and trains the student
    #: alone (cross-entropy only) too; when the teacher is not better than chance on val, its
    #: terms are switched off and the student alone is kept; otherwise the student is distilled
    #: (also with a teacher below the student alone: through the pool it can still help) and the
    #: better of the distilled student and the student alone on val is kept.
    #: "on": always distil; "off": never (the student is trained alone).
    teacher_gate: str = field(default="auto", metadata={"choices": ("auto", "on", "off")})
    #: Where the teacher's per-layer hidden states are cached: "disk" (memory-mapped file in
    #: RUN/cache, reused by reruns) or "memory".
    cache: str = field(default="disk", metadata={"choices": ("disk", "memory")})

    def validate(self) -> None:
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"distill.top_k must be >= 1 or null, got {self.top_k!r}.")
        if self.router_hidden < 1:
            raise ValueError(f"distill.router_hidden must be >= 1, got {self.router_hidden!r}.")
        if self.target == "block" and (self.target_block is None or self.target_block < 1):
            raise ValueError(f"distill.target_block must be a block number >= 1 with distill.target "
                             f"'block', got {self.target_block!r}.")
        if self.spectral_windows is not None and self.spectral_windows < 1:
            raise ValueError(f"distill.spectral_windows must be >= 1 or null (the whole batch), "
                             f"got {self.spectral_windows!r}.")
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
class AugmentConfig:
    """The ``train.augment`` section (applied to the labelled training windows of every model
    trained by ``dlink distill``: the student and the braindecode baselines)."""

    #: Switch every augmentation on or off.
    enabled: bool = True
    #: Random circular time shift of each window, up to this many seconds either way (0: off).
    time_shift_s: float = 0.5
    #: Random gain per window, log-uniform in [1/(1+s), 1+s] (0: off).
    amplitude_scale: float = 0.2
    #: Probability that a channel of a window is set to zero (0: off).
    channel_dropout: float = 0.1
    #: Random sign per window.
    sign_flip: bool = True
    #: Gaussian noise, standard deviation as a fraction of each window's RMS (0: off).
    noise: float = 0.0

    def validate(self) -> None:
        for name in ("time_shift_s", "amplitude_scale", "noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.augment.{name} must be >= 0, got {getattr(self, name)!r}.")
        if not 0.0 <= self.channel_dropout < 1.0:
            raise ValueError(f"train.augment.channel_dropout must be in [0, 1), got {self.channel_dropout!r}.")


@dataclass
class TrainConfig:
    """The ``train:`` section: the recipe of every model ``dlink distill`` trains (the student,
    the student alone for the teacher gate, the braindecode baselines).

    Training counts optimisation steps, not epochs, so that a calibration set of 20 windows gets
    as many updates as a corpus: ``steps`` (or, when null, ``epochs`` passes over the training
    windows, but never fewer than ``min_steps``). Batches are class-balanced; the validation
    split is evaluated every ``eval_every_steps`` after the BatchNorm statistics were re-estimated
    on the training windows, and early stopping watches a smoothed validation loss and never
    stops before ``min_steps``.
    """

    #: Passes over the training windows when ``steps`` is null (the budget is then
    #: ``max(epochs * ceil(n_windows / batch_size), min_steps)``).
    epochs: int = 30
    #: Optimisation steps (null: from ``epochs``, at least ``min_steps``).
    steps: int | None = None
    #: The fewest steps a training gets: the floor of the budget and the earliest step at which
    #: early stopping may stop it.
    min_steps: int = 300
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    #: Linear learning-rate warm-up over this share of the steps, then cosine decay to 0.
    warmup_fraction: float = 0.05
    #: Validation every this many steps (null: once per pass over the training windows, but at
    #: most about 25 times per training).
    eval_every_steps: int | None = None
    #: Early stopping: evaluations without a new best smoothed validation loss before stopping
    #: (only after ``min_steps``).
    patience: int = 10
    #: Exponential smoothing of the validation loss (weight of the newest evaluation; 1: none).
    val_smoothing: float = 0.5
    #: Which weights are kept: those of the evaluation with the highest validation balanced
    #: accuracy, ties broken by the smoothed loss ("val_balanced_accuracy"), with the lowest
    #: smoothed validation loss ("val_loss"), or the last ones ("last": the end of the cosine
    #: schedule, or where early stopping stopped). "auto": "last" when the validation split has
    #: fewer than 40 windows (picking the best of ~25 evaluations on a handful of windows picks
    #: noise), else "val_balanced_accuracy".
    select: str = field(default="auto",
                        metadata={"choices": ("auto", "val_loss", "val_balanced_accuracy", "last")})
    #: Draw the labelled windows of each batch with equal probability per class.
    balanced_batches: bool = True
    #: Share of each batch given to labelled windows when unlabelled "pool" windows are mixed in
    #: (at least; more when the labelled windows are the larger part).
    labelled_share: float = 0.5
    #: Augmentation of the labelled training windows.
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    #: torch threads for training (the machines here have 2 cores).
    num_threads: int = 2
    #: Cap on the steps per pass when the budget comes from ``epochs`` (None: no cap).
    max_steps_per_epoch: int | None = None
    #: Steps for the braindecode baselines (null: the student's budget).
    baseline_steps: int | None = None

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "num_threads", "min_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)!r}.")
        for name in ("steps", "eval_every_steps", "baseline_steps"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"train.{name} must be >= 1 or null, got {v!r}.")
        if self.lr <= 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr!r}.")
        if self.patience < 1:
            raise ValueError(f"train.patience (validations without improvement before stopping) "
                             f"must be >= 1, got {self.patience!r}.")
        if self.weight_decay < 0:
            raise ValueError(f"train.weight_decay must be >= 0, got {self.weight_decay!r}.")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"train.max_steps_per_epoch must be >= 1 or null, got {self.max_steps_per_epoch!r}.")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"train.warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}.")
        if not 0.0 < self.val_smoothing <= 1.0:
            raise ValueError(f"train.val_smoothing must be in (0, 1], got {self.val_smoothing!r}.")
        if not 0.0 < self.labelled_share <= 1.0:
            raise ValueError(f"train.labelled_share must be in (0, 1], got {self.labelled_share!r}.")


def student_alone(dcfg: DistillConfig) -> DistillConfig:
    """``dcfg`` with every teacher term (and the pool) switched off: cross-entropy alone."""
    import dataclasses

    return dataclasses.replace(dcfg, w_kd=0.0, w_feature=0.0, w_spectral_mag=0.0,
                               w_spectral_phase=0.0, w_antialias=0.0, w_router_probe=0.0,
                               use_pool=False, w_ce=dcfg.w_ce or 1.0)


def uses_teacher(dcfg: DistillConfig) -> bool:
    """Whether any loss term of ``dcfg`` reads the teacher's outputs."""
    feat = dcfg.lambda1 > 0 and (dcfg.w_feature > 0 or dcfg.w_spectral_mag > 0 or dcfg.w_spectral_phase > 0)
    return bool(dcfg.w_kd > 0 or feat or (dcfg.w_router_probe > 0 and dcfg.target == "router"))
