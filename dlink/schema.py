"""The root config: one section per stage, each owned by its stage's ``config`` module."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlink.bench.config import BenchConfig
from dlink.data.config import DataConfig
from dlink.distill.config import DistillConfig, StudentConfig, TeacherConfig, TrainConfig
from dlink.distill.pretrain.config import PretrainConfig
from dlink.export.config import ExportConfig
from dlink.firmware.config import FirmwareConfig


@dataclass
class Config:
    """Everything a run needs. Saved resolved (all defaults filled in) as ``config.yaml``."""

    name: str = "run"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    firmware: FirmwareConfig = field(default_factory=FirmwareConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)

    def validate(self) -> None:
        """Checks across sections, when the config is loaded (before any data is read)."""
        from dlink.distill.teachers.config import TEACHER_SFREQ_HZ

        if abs(self.data.sfreq_hz - TEACHER_SFREQ_HZ) > 1e-6:
            raise ValueError(
                f"data.sfreq_hz={self.data.sfreq_hz:g}: the teachers ({self.teacher.arch}) take "
                f"{TEACHER_SFREQ_HZ:g} Hz EEG (1-s patches of {TEACHER_SFREQ_HZ:g} samples), and the "
                f"student is trained on the teacher's windows. Set data.sfreq_hz: {TEACHER_SFREQ_HZ:g}; "
                "recordings at any other rate (e.g. a 250 Hz headset) are resampled to it.")
        d, depth = self.distill, self.teacher.depth
        if d.target == "block" and depth is not None and d.target_block is not None \
                and d.target_block > depth:
            raise ValueError(f"distill.target_block={d.target_block}: the teacher has "
                             f"{depth} blocks (teacher.depth); choose a block 1..{depth}.")
