"""Your own recordings: any file MNE reads, an event map, tmin, resampling, nothing dropped silently."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from dlink.config import ConfigError, load_config
from dlink.data import load_dataset
from dlink.data._checks import DataFileError
from dlink.data.config import DataConfig
from dlink.data.leakage import SharedWindowsError
from dlink.data.recordings import read_recording
from tests.conftest import needs_shared
from tests.data.conftest import EEGBCI_RUN_DIR, write_edf

HEADSET = ["FC3", "FC4", "C3", "Cz", "C4", "CP3", "CP4", "Pz"]
#: Entries for the config checks (read_recording is given its file directly).
SPLITS = [{"file": "x", "split": s} for s in ("train", "val", "test")]
CUES = [(2.0, 4.0, "T1"), (9.0, 4.0, "T2"), (16.0, 4.0, "T0"), (23.0, 4.0, "T1"), (30.0, 4.0, "T2")]


def _cfg(files, **kw) -> DataConfig:
    base = dict(name="recordings", recordings=files, events={"T1": "left", "T2": "right"}, n_classes=2)
    base.update(kw)
    cfg = DataConfig(**base)
    cfg.validate()
    return cfg


@pytest.fixture
def headset_edf(tmp_path):
    """An 8-channel EDF at 250 Hz (an ADS1299 headset's rate) with T0/T1/T2 cue annotations."""
    return write_edf(tmp_path / "calib.edf", HEADSET, sfreq_hz=250.0, duration_s=40.0, annotations=CUES)


def _write_config(tmp_path, data: dict):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"data": data}))
    return path


# -- the config is checked when it is loaded, before any file is read -------------------------
@pytest.mark.parametrize("data, match", [
    ({"events": {}}, r"data.events must map annotation descriptions"),
    ({"events": {"T1": "left", "T2": "left"}}, r"every event to the one class 'left'"),
    ({"n_classes": 4}, r"data.n_classes=4 but data.events maps to 2 classes \['left', 'right'\]; "
                       r"set data.n_classes: 2"),
    ({"rename_channels": {"EXG1": "C33"}}, r"'C33' is not a standard 10-05 electrode name"),
    ({"recordings": ["a.edf", "b.edf"]}, r"have no split: give each entry a split"),
    ({"recordings": [{"file": "a.edf", "split": "train"}, {"file": "b.edf", "split": "val"}]},
     r"no recording goes to the \['test'\] split"),
    ({"recordings": [{"file": "a.edf", "split": "tarin"}]}, r"split must be one of .*Did you mean 'train'"),
    ({"recordings": [{"fiel": "a.edf"}]}, r"unknown key 'fiel'"),
    ({"stim_channel": "STI 014"}, r"reads integer event codes, but the event maps have text keys"),
    ({"tmin_s": float("nan")}, r"data.tmin_s must be a finite number"),
])
def test_bad_recordings_config_is_refused_when_loaded(tmp_path, data, match):
    base = {"name": "recordings", "n_classes": 2, "events": {"T1": "left", "T2": "right"},
            "recordings": [{"file": "missing_a.edf", "split": "train"},
                           {"file": "missing_b.edf", "split": "val"},
                           {"file": "missing_c.edf", "split": "test"}]}
    base.update(data)
    with pytest.raises(ConfigError, match=match):
        load_config(_write_config(tmp_path, base))  # the files do not exist: none is read


def test_a_good_config_loads_without_reading_files(tmp_path):
    cfg = load_config(_write_config(tmp_path, {
        "name": "recordings", "n_classes": 2, "events": {769: "left", 770: "right"},
        "recordings": [{"file": f"A0{s}T.gdf", "subject": s} for s in (1, 2, 3, 4)],
        "splits": {"train": [1, 2], "val": [3, 3], "test": [4, 4]},  # by subject ranges
        "tmin_s": -0.5}))
    assert cfg.data.events == {769: "left", 770: "right"} and cfg.data.tmin_s == -0.5


def test_recordings_keys_belong_to_the_recordings_dataset(tmp_path):
    with pytest.raises(ConfigError, match=r"data.events is only read by data.name: recordings"):
        load_config(_write_config(tmp_path, {"name": "synthetic", "events": {"T1": "a"}}))


def test_missing_files_are_all_named_before_any_is_read(tmp_path, headset_edf):
    cfg = _cfg([{"file": str(headset_edf), "split": "train"},
                {"file": str(tmp_path / "nope_val.edf"), "split": "val"},
                {"file": str(tmp_path / "nope_*.edf"), "split": "test"}])
    with pytest.raises(FileNotFoundError, match=r"no file matches \[.*nope_val\.edf', .*nope_\*\.edf'\]"):
        load_dataset(cfg, use_cache=False)


# -- reading -------------------------------------------------------------------------------------
def test_250hz_edf_is_resampled_windowed_at_cues_and_counts_what_it_ignores(headset_edf):
    w, info = read_recording(headset_edf, _cfg(SPLITS))
    assert w.X.shape == (4, 8, 800) and w.sfreq == 200.0 and w.ch_names == HEADSET
    assert w.y.tolist() == [0, 1, 0, 1] and w.class_names == ["left", "right"]
    assert info["source_sfreq_hz"] == 250.0 and info["events"] == {"left": 2, "right": 2}
    assert info["ignored_events"] == {"T0": 1}  # counted, not silently skipped
    assert info["outside_recording"] == 0 and info["channels_dropped"] == []
    rms_uv = 100 * float(np.sqrt(np.mean(w.X ** 2)))
    assert 5 < rms_uv < 25  # the file holds 20 uV white noise; the band-pass keeps most of it


def test_tmin_shifts_the_window_and_windows_outside_are_counted(headset_edf):
    w0, _ = read_recording(headset_edf, _cfg(SPLITS))
    w1, info = read_recording(headset_edf, _cfg(SPLITS, tmin_s=0.5))
    np.testing.assert_array_equal(w1.X[:, :, :700], w0.X[:, :, 100:])  # 0.5 s = 100 samples later
    _, late = read_recording(headset_edf, _cfg(SPLITS, tmin_s=-2.5))  # the first cue is at 2 s
    assert late["outside_recording"] == 1 and late["windows"] == 3


def test_bad_annotations_and_extra_channels_are_counted(tmp_path):
    path = write_edf(tmp_path / "r.edf", [*HEADSET, "EOG"], sfreq_hz=250.0, duration_s=40.0,
                     annotations=[*CUES, (10.0, 1.0, "BAD_blink")])
    w, info = read_recording(path, _cfg(SPLITS), channels=HEADSET)
    assert info["overlapping_bad"] == 1 and info["windows"] == 3  # the T2 window at 9-13 s
    assert info["channels_dropped"] == ["EOG"] and w.ch_names == HEADSET


def test_channels_pick_and_order_and_a_missing_one_names_the_file(headset_edf):
    w, info = read_recording(headset_edf, _cfg(SPLITS), channels=["C4", "C3"])
    assert w.ch_names == ["C4", "C3"] and len(info["channels_dropped"]) == 6
    with pytest.raises(DataFileError, match=r"calib\.edf: missing EEG channel\(s\) \['O1'\]"):
        read_recording(headset_edf, _cfg(SPLITS), channels=["C3", "O1"])


def test_headset_labels_are_renamed_to_10_20_names(tmp_path):
    path = write_edf(tmp_path / "raw.edf", ["EXG1", "EXG2", "EXG3"], sfreq_hz=250.0, duration_s=40.0,
                     annotations=CUES)
    cfg = _cfg(SPLITS, rename_channels={"EXG1": "C3", "EXG2": "Cz", "EXG3": "C4"})
    w, _ = read_recording(path, cfg)
    assert w.ch_names == ["C3", "Cz", "C4"]


def test_integer_event_codes_of_a_stim_channel_in_a_fif_file(tmp_path):
    import mne

    sfreq = 500.0
    data = np.random.default_rng(0).standard_normal((4, int(40 * sfreq))) * 2e-5
    data[3] = 0
    for onset_s, code in ((2, 769), (9, 770), (16, 1), (23, 769)):
        data[3, int(onset_s * sfreq):int(onset_s * sfreq) + 5] = code
    info = mne.create_info(["C3", "Cz", "C4", "STI 014"], sfreq, ["eeg", "eeg", "eeg", "stim"])
    path = tmp_path / "session_raw.fif"
    mne.io.RawArray(data, info, verbose="error").save(path, verbose="error")
    w, info_ = read_recording(path, _cfg(SPLITS, events={769: "left", 770: "right"}))
    assert w.X.shape == (3, 3, 800) and w.y.tolist() == [0, 1, 0]
    assert info_["events_source"] == "stim channel STI 014"
    assert info_["ignored_events"] == {"code 1": 1} and info_["channels_dropped"] == ["STI 014"]


def test_a_file_without_any_mapped_event_says_what_it_has(tmp_path):
    path = write_edf(tmp_path / "rest.edf", HEADSET, duration_s=20.0, annotations=[(1.0, 4.0, "T0")])
    with pytest.raises(DataFileError, match=r"rest\.edf: none of the events of data.events "
                                            r"\(\['T1', 'T2'\]\) occurs: the file's annotations are "
                                            r"\{'T0': 1\}"):
        read_recording(path, _cfg(SPLITS))


def test_unsupported_format_lists_what_mne_reads(tmp_path):
    path = tmp_path / "x.xyz"
    path.write_text("nothing")
    with pytest.raises(DataFileError, match=r"unsupported recording format '\.xyz'; expected one of .*\.vhdr"):
        read_recording(path, _cfg(SPLITS))


# -- splits, notes, cache, leakage ----------------------------------------------------------------
def _three_files(tmp_path):
    return [write_edf(tmp_path / f"{n}.edf", HEADSET, sfreq_hz=250.0, duration_s=40.0, annotations=CUES,
                      seed=i) for i, n in enumerate(("a", "b", "c"))]


def test_load_dataset_puts_files_in_their_splits_and_keeps_notes_through_the_cache(tmp_path):
    a, b, c = _three_files(tmp_path)
    cfg = _cfg([{"file": str(a), "split": "train", "subject": 7}, {"file": str(b), "split": "val"},
                {"file": str(c), "split": "test"}])
    ds = load_dataset(cfg, cache_dir=tmp_path / "cache")
    assert {k: len(v) for k, v in ds.items()} == {"train": 4, "val": 4, "test": 4, "pool": 0}
    assert ds["train"].subject.tolist() == [7] * 4 and ds["pool"].ch_names == HEADSET
    assert len(ds.notes) == 3 and all("T0 x1" in n for n in ds.notes)
    again = load_dataset(cfg, cache_dir=tmp_path / "cache")  # from the cache: the notes too
    assert again.notes == ds.notes and np.array_equal(again["test"].X, ds["test"].X)


def test_a_test_file_that_is_also_a_training_file_is_refused(tmp_path):
    a, b, _ = _three_files(tmp_path)
    copy = tmp_path / "copy_of_a.edf"
    copy.write_bytes(a.read_bytes())  # another name, the same recording
    files = [{"file": str(a), "split": "train"}, {"file": str(b), "split": "val"},
             {"file": str(copy), "split": "test", "subject": 2}]
    with pytest.raises(SharedWindowsError, match=r"train/test leak: 4 of the 4 test windows also occur "
                                                 r"in train"):
        load_dataset(_cfg(files), use_cache=False)
    ds = load_dataset(_cfg(files, allow_shared_windows=True), use_cache=False)
    assert any("4 of the 4 test windows also occur in train (allowed" in n for n in ds.notes)


@needs_shared
def test_the_8_channel_250hz_headset_file_made_from_s001(tmp_path):
    src = EEGBCI_RUN_DIR / "S001R04.edf"
    if not src.is_file():
        pytest.skip("../shared/data is absent")
    from examples.make_headset_edf import make_headset_edf

    path = make_headset_edf(src, tmp_path / "S001R04_8ch.edf")
    w, info = read_recording(path, _cfg(SPLITS, events={"T1": "left_fist", "T2": "right_fist"}))
    assert info["source_sfreq_hz"] == 250.0 and w.X.shape == (15, 8, 800) and w.ch_names == HEADSET
    assert info["events"] == {"left_fist": 8, "right_fist": 7} and info["ignored_events"] == {"T0": 15}


def test_an_entry_with_its_own_event_map_adds_its_classes(tmp_path):
    a, b, c = _three_files(tmp_path)
    feet = {"T1": "both_fists", "T2": "both_feet"}  # EEGMMIDB runs 6/10/14 reuse T1/T2
    files = [{"file": str(a), "split": "train"}, {"file": str(b), "split": "train", "events": feet},
             {"file": str(c), "split": "val"}, {"file": str(c), "split": "test"}]
    with pytest.raises(ValueError, match=r"data.n_classes=2 but data.events maps to 4 classes"):
        _cfg(files)
    cfg = _cfg(files, n_classes=4, allow_shared_windows=True)
    ds = load_dataset(cfg, use_cache=False)
    assert ds["train"].class_names == ["left", "right", "both_fists", "both_feet"]
    assert ds["train"].class_counts() == {"left": 2, "right": 2, "both_fists": 2, "both_feet": 2}


def test_within_subject_kfold_over_the_trials_of_every_recording(tmp_path):
    a, b, c = _three_files(tmp_path)
    files = [str(a), str(b), {"file": str(c), "session": "day2"}]
    seen = []
    for fold in range(3):
        cfg = _cfg(files, splits={"by": "kfold", "folds": 3, "fold": fold}, channels=["C4", "C3", "Cz"])
        ds = load_dataset(cfg, cache_dir=tmp_path / "cache")
        assert sum(len(ds[k]) for k in ("train", "val", "test")) == 12 and len(ds["pool"]) == 0
        assert ds["test"].ch_names == ["C4", "C3", "Cz"]
        assert sorted(set(ds["train"].run.tolist())) == [1, 2, 3]  # runs: the order of the entries
        seen += [(int(r), int(t)) for r, t in zip(ds["test"].run, ds["test"].trial)]
        assert len(ds.notes) == 3  # the loader's notes survive the split
    assert len(seen) == len(set(seen)) == 12  # every trial tested once
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1  # the folds share one cache file
    assert set(load_dataset(cfg, cache_dir=tmp_path / "cache")["train"].session.tolist()) <= {"", "day2"}


def test_within_subject_by_run_and_the_checks_that_go_with_it(tmp_path):
    a, b, c = _three_files(tmp_path)
    cfg = _cfg([str(a), str(b), {"file": str(c), "run": 7}], splits={"by": "run", "train": [1, 2], "test": [7]})
    ds = load_dataset(cfg, use_cache=False)
    assert set(ds["test"].run.tolist()) == {7} and len(ds["test"]) == 4
    assert len(ds["val"]) > 0 and set(ds["val"].run.tolist()) <= {1, 2}  # carved out of train
    with pytest.raises(ValueError, match=r"have a split: entry, but data.splits.by = 'kfold'"):
        _cfg([{"file": str(a), "split": "train"}], splits={"by": "kfold"})
    with pytest.raises(ValueError, match=r"two entries share subject, session and run"):
        _cfg([str(a), {"file": str(b), "run": 1}], splits={"by": "kfold"})
    with pytest.raises(ValueError, match=r"data.subjects \[3\] match no entry"):
        _cfg([str(a), str(b)], splits={"by": "kfold"}, subjects=[3])


def test_causal_preprocessing_of_recordings_needs_the_adc_rate_and_runs_the_front_end(headset_edf):
    with pytest.raises(ValueError, match=r"needs data.causal.input_sfreq_hz for recordings"):
        _cfg(SPLITS, preprocessing="causal")
    from dlink.data.config import CausalConfig

    w, info = read_recording(headset_edf, _cfg(SPLITS, preprocessing="causal",
                                                causal=CausalConfig(input_sfreq_hz=250.0)))
    z, _ = read_recording(headset_edf, _cfg(SPLITS))
    assert w.X.shape == z.X.shape == (4, 8, 800) and info["source_sfreq_hz"] == 250.0
    assert not np.allclose(w.X, z.X)  # the causal front end, not MNE's zero-phase filters
