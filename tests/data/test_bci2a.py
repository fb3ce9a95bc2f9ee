"""BCI IV 2a: GDF-session windows (in-memory recordings shaped like the GDF files) and labels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import savemat

from dlink.data import bci2a
from dlink.data._checks import DataFileError
from dlink.data.config import DataConfig
from dlink.data.montage import BCI2A_CH_NAMES

GDF_NAMES = ["EEG-Fz"] + [f"EEG-{i}" for i in range(21)] + ["EOG-left", "EOG-central", "EOG-right"]
CFG = DataConfig(name="bci2a", n_classes=4)


def _session_raw(cues: list[str], *, seed: int = 0, n_chans: int = 25):
    """A recording like A0xT/E.gdf: 250 Hz, trials of 8 s, cue at t = 2 s of each trial."""
    import mne

    rng = np.random.default_rng(seed)
    n_trials = len(cues)
    data = rng.standard_normal((n_chans, int(250 * (8 * n_trials + 2)))) * 1e-5
    raw = mne.io.RawArray(data, mne.create_info(GDF_NAMES[:n_chans], 250.0, "eeg"), verbose="error")
    starts = [1.0 + 8 * i for i in range(n_trials)]
    onsets = starts + [s + 2.0 for s in starts]
    raw.set_annotations(mne.Annotations(onsets, [0.0] * len(onsets), ["768"] * n_trials + cues))
    return raw


def test_training_session_labels_channels_and_window():
    raw = _session_raw(["769", "770", "771", "772", "769"])
    w = bci2a.session_windows(raw, "A01T.gdf", CFG, subject=1)
    assert w.ch_names == list(BCI2A_CH_NAMES) and w.X.shape == (5, 22, 800)  # EOG dropped
    assert w.y.tolist() == [0, 1, 2, 3, 0] and w.class_names == bci2a.CLASS_NAMES


def test_evaluation_session_takes_the_true_labels():
    raw = _session_raw(["783"] * 4, seed=1)
    w = bci2a.session_windows(raw, "A01E.gdf", CFG, subject=1, true_labels=np.array([[4], [3], [2], [1]]))
    assert w.y.tolist() == [3, 2, 1, 0]
    with pytest.raises(DataFileError, match=r"A01E\.gdf: the true-label file holds 3 labels"):
        bci2a.session_windows(_session_raw(["783"] * 4), "A01E.gdf", CFG, subject=1,
                              true_labels=np.array([1, 2, 3]))


def test_bad_sessions_are_named():
    with pytest.raises(DataFileError, match=r"A02T\.gdf: too few channels for BCI IV 2a: expected 25"):
        bci2a.session_windows(_session_raw(["769"], n_chans=20), "A02T.gdf", CFG, subject=2)
    with pytest.raises(DataFileError, match=r"A02T\.gdf: no BCI IV 2a cue \(769-772\) annotations"):
        bci2a.session_windows(_session_raw(["783"]), "A02T.gdf", CFG, subject=2)
    raw = _session_raw(["769"])
    raw._data[3, :] = np.nan
    with pytest.raises(DataFileError, match=r"A02T\.gdf: channel\(s\) \['FCz'\] hold more than 1% NaN"):
        bci2a.session_windows(raw, "A02T.gdf", CFG, subject=2)


def test_few_nan_samples_are_interpolated():
    raw = _session_raw(["769", "770"])
    raw._data[0, 1000:1005] = np.nan
    w = bci2a.session_windows(raw, "A01T.gdf", CFG, subject=1)
    assert np.isfinite(w.X).all() and len(w) == 2


def test_local_loader_finds_true_labels_and_splits_by_subject(tmp_path, monkeypatch):
    for s in (1, 2, 3):
        (tmp_path / "true_labels").mkdir(exist_ok=True)
        savemat(tmp_path / "true_labels" / f"A0{s}E.mat", {"classlabel": np.array([[1], [2]])})
        for sess in "TE":
            (tmp_path / f"A0{s}{sess}.gdf").write_bytes(b"placeholder")

    def fake_read_raw(file, **kwargs):
        return _session_raw(["783", "783"] if file.name.endswith("E.gdf") else ["771", "772"])

    monkeypatch.setattr(bci2a, "read_raw", fake_read_raw)
    cfg = DataConfig(name="bci2a", path=str(tmp_path), splits={"train": [1, 2], "test": [3, 3]})
    ds = bci2a.load_bci2a(cfg)
    assert len(ds["train"]) == 8 and len(ds["test"]) == 4 and len(ds["val"]) == 0
    assert ds["test"].y.tolist() == [2, 3, 0, 1]  # T: feet, tongue; E: labels 1, 2 from the .mat
    assert sorted(set(ds["train"].subject.tolist())) == [1, 2]
    (tmp_path / "true_labels" / "A03E.mat").unlink()
    with pytest.raises(FileNotFoundError, match=r"true labels of A03E\.gdf were not found"):
        bci2a.load_bci2a(cfg)


def test_within_subject_split_by_session(tmp_path, monkeypatch):
    (tmp_path / "A01E.mat").parent.mkdir(exist_ok=True)
    savemat(tmp_path / "A01E.mat", {"classlabel": np.array([[1], [2], [3]])})
    for sess in "TE":
        (tmp_path / f"A01{sess}.gdf").write_bytes(b"placeholder")

    def fake_read_raw(file, **kwargs):
        return _session_raw(["783"] * 3 if file.name.endswith("E.gdf") else ["769", "770", "771", "772"])

    monkeypatch.setattr(bci2a, "read_raw", fake_read_raw)
    cfg = DataConfig(name="bci2a", path=str(tmp_path), subjects=[1], channels=["C4", "C3", "Cz"],
                     splits={"by": "session", "train": ["T"], "test": ["E"], "val_fraction": 0.25})
    from dlink.data import load_dataset

    ds = load_dataset(cfg, use_cache=False)
    assert len(ds["test"]) == 3 and set(ds["test"].session) == {"E"} and ds["test"].y.tolist() == [0, 1, 2]
    assert len(ds["train"]) + len(ds["val"]) == 4 and set(ds["train"].session) == {"T"}
    assert ds["train"].ch_names == ["C4", "C3", "Cz"] and ds["train"].n_chans == 3
    assert ds["test"].trial.tolist() == [0, 1, 2]
    assert [bci2a.moabb_session_name(s) for s in ("0train", "1test", "session_T", "session_E")] == \
        ["T", "E", "T", "E"]
