"""Fixtures of the data tests: small synthetic configs, the real EEGMMIDB files, EDF writers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dlink.data.config import DataConfig
from tests.conftest import EEGBCI_DATA

EEGBCI_RUN_DIR = EEGBCI_DATA / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"


def small_synthetic(**options) -> DataConfig:
    """A synthetic config small enough for unit tests (a few subjects, few trials)."""
    opts = {"subjects": {"train": 2, "val": 1, "test": 1, "pool": 2}, "trials_per_class": 4}
    opts.update(options)
    return DataConfig(synthetic=opts)


@pytest.fixture
def real_edf(tmp_path) -> Path:
    """A writable copy of the real EEGMMIDB run 4 of subject 1 (skips where ../shared is absent)."""
    src = EEGBCI_RUN_DIR / "S001R04.edf"
    if not src.is_file():
        pytest.skip("../shared/data (EEGMMIDB subject 1) is absent")
    dst = tmp_path / "S001R04.edf"
    shutil.copyfile(src, dst)
    dst.chmod(0o644)
    return dst


def write_edf(path: Path, ch_names: list[str], *, sfreq_hz: float = 250.0, duration_s: float = 20.0,
              annotations: list[tuple[float, float, str]] = (), seed: int = 0,
              amplitude_v: float = 2e-5) -> Path:
    """Write a small EDF file of random EEG (volts) with MNE (edfio backend)."""
    import mne

    rng = np.random.default_rng(seed)
    n = int(round(sfreq_hz * duration_s))
    info = mne.create_info(list(ch_names), sfreq_hz, "eeg")
    raw = mne.io.RawArray(rng.standard_normal((len(ch_names), n)) * amplitude_v, info, verbose="error")
    if annotations:
        on, dur, desc = zip(*annotations)
        raw.set_annotations(mne.Annotations(list(on), list(dur), list(desc)))
    raw.export(path, fmt="edf", overwrite=True, verbose="error")
    return path
