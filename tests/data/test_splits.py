"""Within-subject splits (by run, by session, stratified k-fold over trials) and board channel sets."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.config import ConfigError, config_from_dict
from dlink.data import EEGWindows, load_dataset
from dlink.data._checks import DataFileError
from dlink.data.cache import load_splits, save_splits
from dlink.data.config import DataConfig
from dlink.data.montage import channel_index, pick_windows
from dlink.data.splits import SplitSpec, carve_fraction, kfold_of_trials, split_windows, trial_groups

HEADSET_8CH = ["FC3", "FC4", "C3", "Cz", "C4", "CP3", "CP4", "Pz"]


def _windows(n_per_class=(8, 7, 7, 8), *, runs=(4, 6), subject=1, windows_per_trial=1, seed=0):
    """Trials of one subject over two runs; each trial may be cut into several windows."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)])
    y = rng.permutation(y)
    run = np.array([runs[i % len(runs)] for i in range(len(y))])
    trial = np.arange(len(y))
    rep = windows_per_trial
    X = rng.standard_normal((len(y) * rep, 3, 8)).astype(np.float32)
    return EEGWindows(X, np.repeat(y, rep), np.full(len(y) * rep, subject), ["C3", "Cz", "C4"], 200.0,
                      ["a", "b", "c", "d"], run=np.repeat(run, rep), trial=np.repeat(trial, rep),
                      session=np.repeat(np.where(run == runs[0], "T", "E"), rep))


def test_kfold_test_folds_partition_the_trials_and_are_stratified():
    w = _windows()
    tests = []
    for k in range(5):
        s = split_windows(w, {"by": "kfold", "folds": 5, "fold": k, "seed": 0})
        assert [len(s[n]) for n in ("train", "val", "test", "pool")] == [18, 6, 6, 0]
        # every class in every test fold (each class has >= 5 trials)
        assert (np.bincount(s["test"].y, minlength=4) >= 1).all()
        keys = lambda part: {(int(r), int(t)) for r, t in zip(part.run, part.trial)}  # noqa: E731
        assert not keys(s["train"]) & keys(s["test"]) and not keys(s["val"]) & keys(s["test"])
        tests.append(keys(s["test"]))
        nxt = split_windows(w, {"by": "kfold", "folds": 5, "fold": (k + 1) % 5})
        assert keys(s["val"]) == keys(nxt["test"])  # val is the next fold
    assert len(set().union(*tests)) == 30 and sum(len(t) for t in tests) == 30


def test_kfold_is_seeded_and_keeps_windows_of_a_trial_together():
    w = _windows(windows_per_trial=3)
    f0 = kfold_of_trials(w, folds=5, seed=0)
    assert np.array_equal(f0, kfold_of_trials(w, folds=5, seed=0))
    assert not np.array_equal(f0, kfold_of_trials(w, folds=5, seed=1))
    trial_of, label = trial_groups(w)
    assert len(label) == 30
    for t in range(30):
        assert len(set(f0[trial_of == t].tolist())) == 1
    s = split_windows(w, {"by": "kfold", "folds": 5, "fold": 0, "val_fraction": 0.25})
    assert len(s["test"]) == 18 and len(s["val"]) + len(s["train"]) == 72 and len(s["val"]) % 3 == 0


def test_by_run_and_session_with_val_carved_from_train_and_a_pool():
    w = _windows(runs=(3, 4, 7, 8))
    s = split_windows(w, {"by": "run", "train": [4, 8], "test": [7], "pool": [3], "seed": 1})
    assert set(s["train"].run) | set(s["val"].run) <= {4, 8}
    assert set(s["test"].run) == {7} and set(s["pool"].run) == {3}
    n_train_runs = int(np.isin(w.run, [4, 8]).sum())
    assert len(s["train"]) + len(s["val"]) == n_train_runs and len(s["val"]) >= 4  # >= 1 per class
    s2 = split_windows(_windows(), {"by": "session", "train": ["T"], "test": ["E"]})
    assert set(s2["test"].session) == {"E"} and set(s2["train"].session) == {"T"}
    with pytest.raises(ValueError, match=r"data.splits.test \(runs \[12\]\) selects no window.*runs \[4, 6\]"):
        split_windows(_windows(), {"by": "run", "train": [4], "test": [12]})


def test_carve_fraction_takes_a_share_of_every_class():
    w = _windows((10, 10, 10, 10))
    m = carve_fraction(w, 0.2, seed=0)
    assert np.bincount(w.y[m], minlength=4).tolist() == [2, 2, 2, 2]


def test_external_pool_and_subject_ranges():
    w = EEGWindows.concat([_windows(subject=1), _windows(subject=2, seed=1)])
    pool = _windows(subject=9, seed=2)
    s = split_windows(w, {"by": "kfold", "folds": 3, "fold": 0, "pool": {"subjects": [2, 2]}}, pool=pool)
    assert set(s["pool"].subject) == {2, 9} and set(s["test"].subject) == {1}
    r = split_windows(w, {"train": [1, 1], "test": [2, 2]})
    assert set(r["train"].subject) == {1} and set(r["test"].subject) == {2} and len(r["val"]) == 0


@pytest.mark.parametrize("splits, match", [
    ({"by": "fold"}, r"data.splits.by = 'fold' is not a split mode.*Did you mean 'kfold'"),
    ({"by": "kfold", "fold": 5}, r"data.splits.fold must be in \[0, 4\]"),
    ({"by": "kfold", "folds": 1}, r"data.splits.folds must be >= 2"),
    ({"by": "kfold", "train": [4]}, r"by: kfold makes train, val and test from the folds"),
    ({"by": "kfold", "pool": [3]}, r"pool must be a selector such as \{runs: \[3, 7, 11\]\}"),
    ({"by": "run", "train": [4, 8], "test": [8]}, r"'train' and 'test' share runs \[8\]"),
    ({"by": "run", "train": [4]}, r"by: run needs a 'test' entry"),
    ({"by": "run", "train": [4], "val": [6], "test": [8], "val_fraction": 0.2}, r"either a 'val' entry or"),
    ({"by": "run", "train": [4], "test": [8], "val_fraction": 1.5}, r"val_fraction must be a number in \(0, 1\)"),
    ({"train": [1, 5], "folds": 3}, r"data.splits.folds needs a within-subject mode"),
    ({"by": "kfold", "pool": {"run": [3]}}, r"a selector has the keys subjects, runs, sessions"),
])
def test_bad_split_specs_are_named(splits, match):
    with pytest.raises(ValueError, match=match):
        SplitSpec.from_config(splits)


def test_data_config_checks_subjects_and_channels():
    with pytest.raises(ConfigError, match=r"data.subjects=\[1\] is for within-subject splits"):
        config_from_dict({"data": {"name": "eegmmidb", "subjects": [1]}})
    with pytest.raises(ConfigError, match=r"data.channels names \['C3'\] more than once"):
        config_from_dict({"data": {"channels": ["C3", "c3"]}})
    cfg = config_from_dict({"data": {"channels": ["fc3", "CZ"], "splits": {"by": "kfold"}}})
    assert cfg.data.channels == ["FC3", "Cz"]  # standard spellings


def test_channel_index_orders_by_name_and_names_the_missing_channel():
    assert channel_index(["Fc3.", "C3..", "Cz.."], ["Cz", "FC3"], source="x.edf") == [2, 0]
    w = _windows()
    p = pick_windows(w, ["C4", "C3"], source="x.edf")
    assert p.ch_names == ["C4", "C3"] and np.array_equal(p.X[:, 0], w.X[:, 2])
    assert np.array_equal(p.run, w.run) and np.array_equal(p.trial, w.trial)
    with pytest.raises(DataFileError, match=r"S009R04\.edf: channel\(s\) \['Pz'\] of data.channels are not"):
        pick_windows(w, ["C3", "Pz"], source="S009R04.edf")


def test_metadata_survives_subset_concat_and_the_cache(tmp_path):
    w = _windows()
    both = EEGWindows.concat([w, w.subset(w.y == 1)])
    assert both.run[-1] == w.run[w.y == 1][-1] and both.session.dtype.kind == "U"
    save_splits(tmp_path / "c.npz", {"windows": w})
    back = load_splits(tmp_path / "c.npz")["windows"]
    assert np.array_equal(back.run, w.run) and np.array_equal(back.session, w.session)
    assert np.array_equal(back.trial, w.trial)
    with pytest.raises(ValueError, match=r"EEGWindows.run must have shape \(30,\)"):
        EEGWindows(w.X, w.y, w.subject, w.ch_names, w.sfreq, w.class_names, run=np.zeros(3))


def test_synthetic_within_subject_kfold_with_board_channels(tmp_path):
    cfg = DataConfig(synthetic={"subjects": {"train": 1, "val": 0, "test": 0, "pool": 2},
                                "trials_per_class": 5, "runs": 2},
                     splits={"by": "kfold", "folds": 5, "fold": 1}, channels=HEADSET_8CH)
    ds = load_dataset(cfg, cache_dir=tmp_path)
    assert [len(ds[k]) for k in ("train", "val", "test", "pool")] == [12, 4, 4, 40]
    assert all(ds[k].ch_names == HEADSET_8CH for k in ds)
    assert set(ds["test"].subject) == {1} and set(ds["pool"].subject) == {2, 3}
    assert np.bincount(ds["test"].y).tolist() == [1, 1, 1, 1]
    # every fold reads the same cache file; subject mode still refuses a missing test subject
    n_files = len(list(tmp_path.glob("*.npz")))
    load_dataset(DataConfig(**{**cfg.__dict__, "splits": {"by": "kfold", "fold": 3}}), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == n_files
    by_run = load_dataset(DataConfig(**{**cfg.__dict__, "splits": {"by": "run", "train": [1], "test": [2]}}),
                          cache_dir=tmp_path)
    assert set(by_run["test"].run) == {2} and len(by_run["test"]) == 10
    with pytest.raises(ConfigError, match="needs test >= 1 for a cross-subject split"):
        config_from_dict({"data": {"synthetic": {"subjects": {"train": 1, "test": 0}}}})


def test_within_subject_ids_lists_the_subjects_then_the_pool_subjects_once():
    cfg = config_from_dict({"data": {"name": "eegmmidb", "subjects": [3, 1, 3],
                                     "splits": {"by": "kfold", "pool": {"subjects": [2, 4]}}}})
    assert cfg.data.within_subject_ids() == [3, 1, 2, 4]
    cfg = config_from_dict({"data": {"name": "eegmmidb", "splits": {"by": "kfold"}}})
    with pytest.raises(ValueError, match=r"data.subjects must list the subject\(s\).*'kfold'"):
        cfg.data.within_subject_ids()
