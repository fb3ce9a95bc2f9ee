"""EEGMMIDB through MNE's eegbci layout, on the real files of subject 1 (runs 4 and 6)."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.data import load_dataset
from dlink.data.config import DataConfig
from dlink.data._checks import DataFileError
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
    two = load_eegmmidb(_cfg(n_classes=2, runs=[4]))
    assert two["train"].class_names == ["left_fist", "right_fist"]
    assert two["train"].class_counts() == {"left_fist": 8, "right_fist": 7}


def test_two_classes_with_a_feet_run_is_refused_when_the_config_loads(tmp_path):
    # runs [4, 6] with n_classes 2 used to drop run 6 without a word
    from dlink.config import ConfigError, load_config

    path = tmp_path / "c.yaml"
    path.write_text("data:\n  name: eegmmidb\n  runs: [4, 6]\n  n_classes: 2\n  path: /nowhere\n")
    with pytest.raises(ConfigError, match=r"data.runs=\[4, 6\] with data.n_classes=2: run\(s\) \[6\] "
                                          r"hold both fists/both feet.*runs: \[4\]"):
        load_config(path)
    with pytest.raises(ValueError, match=r"run\(s\) \[6\]"):
        load_eegmmidb(_cfg(n_classes=2))


def test_tmin_shifts_the_window_relative_to_the_cue():
    cfg = _cfg(runs=[4])
    w0 = read_run(run_file(cfg.path, 1, 4), 4, cfg, subject=1)
    w1 = read_run(run_file(cfg.path, 1, 4), 4, _cfg(runs=[4], tmin_s=0.5), subject=1)
    assert w1.X.shape == w0.X.shape
    np.testing.assert_array_equal(w1.X[:, :, :700], w0.X[:, :, 100:])  # 0.5 s = 100 samples


def test_missing_run_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"S001R08\.edf.*does not exist"):
        load_eegmmidb(_cfg(runs=[8]))
    with pytest.raises(ValueError, match="Invalid value for the 'data.runs' parameter: got 2.*baselines"):
        load_eegmmidb(_cfg(runs=[2]))


def test_within_subject_kfold_on_subject_1(tmp_path):
    """Runs 4 and 6 (30 trials, 4 classes), 5 stratified folds: 18 train / 6 val / 6 test."""
    seen = []
    for fold in range(5):
        ds = load_dataset(_cfg(subjects=[1], splits={"by": "kfold", "folds": 5, "fold": fold}),
                          cache_dir=tmp_path)
        assert [len(ds[k]) for k in ("train", "val", "test", "pool")] == [18, 6, 6, 0]
        assert sorted(set(ds["test"].run.tolist())) == [4, 6]
        seen += [(int(r), int(t)) for r, t in zip(ds["test"].run, ds["test"].trial)]
    assert len(set(seen)) == 30 == len(seen)  # every trial is tested exactly once
    assert len(list(tmp_path.glob("*.npz"))) == 1  # the folds share one cache file


def test_executed_runs_as_the_teacher_pool_and_board_channels(tmp_path):
    """A copy of run 4 posing as executed-movement run 3 goes to the pool by its run number."""
    import shutil

    src = run_file(EEGBCI_DATA, 1, 4)
    root = tmp_path / "data"
    dst = run_file(root, 1, 3).parent
    dst.mkdir(parents=True)
    for r in (3, 4):
        shutil.copyfile(src, dst / f"S001R{r:02d}.edf")
    channels = ["FC3", "FC4", "C3", "Cz", "C4", "CP3", "CP4", "Pz"]
    cfg = _cfg(path=str(root), runs=[4], subjects=[1], n_classes=2, channels=channels,
               splits={"by": "kfold", "folds": 3, "fold": 0, "pool": {"runs": [3]}})
    from dlink.data.leakage import SharedWindowsError

    with pytest.raises(SharedWindowsError, match=r"5 of the 5 test windows also occur in pool"):
        load_dataset(cfg, cache_dir=tmp_path / "cache")  # the copy is a leak into the teacher's pool
    cfg.allow_shared_windows = True
    ds = load_dataset(cfg, cache_dir=tmp_path / "cache")
    assert any("also occur in pool (allowed" in n for n in ds.notes)
    assert len(ds["pool"]) == 15 and set(ds["pool"].run.tolist()) == {3}
    assert ds["pool"].class_counts() == {"left_fist": 8, "right_fist": 7}  # T1/T2 of an executed run
    assert sum(len(ds[k]) for k in ("train", "val", "test")) == 15
    assert all(ds[k].ch_names == channels and ds[k].n_chans == 8 for k in ds)
    with pytest.raises(DataFileError, match=r"S001R04\.edf: channel\(s\) \['A1'\] of data.channels"):
        load_dataset(_cfg(path=str(root), runs=[4], subjects=[1], channels=["C3", "A1"],
                          splits={"by": "kfold", "folds": 3}), use_cache=False)
