"""EEGMMIDB through MNE's eegbci layout, on the real files of subject 1 (runs 4 and 6)."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.data import load_dataset
from dlink.data.config import DataConfig
from dlink.data.eegmmidb import CLASS_NAMES, load_eegmmidb, read_run, run_file
from tests.conftest import EEGBCI_DATA, needs_shared

pytestmark = [needs_shared, pytest.mark.shared]


def _cfg(**kw) -> DataConfig:
    base = dict(name="eegmmidb", path=str(EEGBCI_DATA), runs=[4, 6], splits={"train": [1, 1]})
    base.update(kw)
    return DataConfig(**base)


@pytest.fixture(scope="module")
def runs():
    cfg = _cfg()
    return {r: read_run(run_file(cfg.path, 1, r), r, cfg, subject=1) for r in (4, 6)}


def test_mne_finds_the_files_offline():
    import mne

    files = mne.datasets.eegbci.load_data(1, [4, 6], path=str(EEGBCI_DATA), update_path=False)
    assert [p.name for p in files] == [run_file(EEGBCI_DATA, 1, r).name for r in (4, 6)]


def test_fifteen_imagery_trials_per_run_with_the_right_labels(runs):
    w4, w6 = runs[4], runs[6]
    assert len(w4) == 15 and len(w6) == 15
    assert w4.class_counts() == {"left_fist": 8, "right_fist": 7, "both_fists": 0, "both_feet": 0}
    assert w6.class_counts() == {"left_fist": 0, "right_fist": 0, "both_fists": 7, "both_feet": 8}
    assert w4.class_names == w6.class_names == CLASS_NAMES  # one label set across runs


def test_windows_are_resampled_renamed_and_in_100uv(runs):
    w = runs[4]
    assert w.sfreq == 200.0 and w.X.shape == (15, 64, 800)
    assert {"C3", "Cz", "C4", "FC1", "Fpz", "AFz", "Iz"} <= set(w.ch_names)
    assert not any("." in c for c in w.ch_names)
    rms_uv = 100 * float(np.sqrt(np.mean(w.X ** 2)))
    assert 1 < rms_uv < 500 and np.isfinite(w.X).all()


def test_load_dataset_splits_and_two_class_option(tmp_path):
    ds = load_dataset(_cfg(), cache_dir=tmp_path)
    assert len(ds["train"]) == 30 and len(ds["test"]) == 0 and len(ds["pool"]) == 0
    assert ds["test"].ch_names == ds["train"].ch_names and ds["test"].n_times == 800
    assert np.unique(ds["train"].subject).tolist() == [1]
    two = load_eegmmidb(_cfg(n_classes=2))
    assert two["train"].class_names == ["left_fist", "right_fist"]
    assert two["train"].class_counts() == {"left_fist": 8, "right_fist": 7}


def test_missing_run_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"S001R08\.edf.*does not exist"):
        load_eegmmidb(_cfg(runs=[8]))
    with pytest.raises(ValueError, match="Invalid value for the 'data.runs' parameter: got 3"):
        load_eegmmidb(_cfg(runs=[3]))
