"""The ``bench:`` section (owned by bench)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Runtimes the bench can measure (see dlink.bench.runtimes).
RUNTIME_NAMES = ("pytorch", "ort_float", "ort_int8", "tflite_int8", "tflm_host", "c_host")


@dataclass
class BenchConfig:
    #: Timed single-window inferences per runtime (the teacher gets half), after the warm-up ones.
    latency_repeats: int = 50
    latency_warmup: int = 5
    #: Boards whose results (RUN/firmware/<board>/run.json) the report reads; missing ones are
    #: reported as "not measured". `dlink bench --boards` builds and runs them.
    boards: list[str] = field(default_factory=lambda: ["mps2-an386"])
    #: Runtimes measured on the test split (all by default).
    runtimes: list[str] = field(default_factory=lambda: list(RUNTIME_NAMES))
    #: Cap on the test windows (a seeded random subset); None: the whole split.
    max_test_windows: int | None = None
    #: CI gate thresholds for `dlink check` (export writes them into the gate bundle).
    #: Balanced accuracy of the int8 model; null: chance (1 / n_classes) + min_above_chance, so a
    #: model that guesses never passes whatever its number of classes.
    min_balanced_accuracy: float | None = None
    min_above_chance: float = 0.1
    #: int8/float argmax agreement.
    min_agreement: float = 0.95
    #: Test windows that export stores in the gate bundle (RUN/export/gate/windows.npz), chosen
    #: stratified by class; null: the whole test split; 0: none (the gate then needs --npz).
    gate_windows: int | None = None

    def validate(self) -> None:
        for name in self.runtimes:
            if name not in RUNTIME_NAMES:
                from dlink._check import did_you_mean

                raise ValueError(f"bench.runtimes: unknown runtime {name!r}; choose from "
                                 f"{', '.join(RUNTIME_NAMES)}.{did_you_mean(name, RUNTIME_NAMES)}")
        if self.latency_repeats < 1:
            raise ValueError(f"bench.latency_repeats must be >= 1, got {self.latency_repeats}.")
        if self.latency_warmup < 0:
            raise ValueError(f"bench.latency_warmup must be >= 0, got {self.latency_warmup}.")
        if self.max_test_windows is not None and self.max_test_windows < 2:
            raise ValueError(f"bench.max_test_windows must be >= 2 or null, got {self.max_test_windows}.")
        for name, v in (("min_balanced_accuracy", self.min_balanced_accuracy),
                        ("min_above_chance", self.min_above_chance),
                        ("min_agreement", self.min_agreement)):
            if v is not None and not 0.0 <= v <= 1.0:  # NaN fails this too
                raise ValueError(f"bench.{name} must be between 0 and 1, got {v}.")
        if self.gate_windows is not None and self.gate_windows < 0:
            raise ValueError(f"bench.gate_windows must be >= 0 or null, got {self.gate_windows}.")
