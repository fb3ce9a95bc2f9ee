"""load_dataset, the disk cache, EEGWindows and the data config checks."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.config import ConfigError, config_from_dict
from dlink.data import EEGWindows, load_dataset
from dlink.data import synthetic as synthetic_mod
from dlink.data.cache import cache_file, config_key
from tests.data.conftest import small_synthetic


def test_load_dataset_caches_and_second_load_reads_the_cache(tmp_path, monkeypatch):
    cfg = small_synthetic()
    first = load_dataset(cfg, cache_dir=tmp_path)
    path = cache_file(cfg, tmp_path)
    assert path.is_file()

    def fail(*args, **kwargs):
        raise AssertionError("the generator ran although the windows were cached")

    monkeypatch.setattr(synthetic_mod, "make_synthetic", fail)
    second = load_dataset(cfg, cache_dir=tmp_path)
    assert sorted(second) == ["pool", "test", "train", "val"]
    for k in first:
        np.testing.assert_array_equal(first[k].X, second[k].X)
        np.testing.assert_array_equal(first[k].y, second[k].y)
        np.testing.assert_array_equal(first[k].subject, second[k].subject)
        assert second[k].ch_names == first[k].ch_names and second[k].class_names == first[k].class_names


def test_cache_key_follows_the_config_and_defaults(tmp_path):
    a, b = small_synthetic(), small_synthetic(seed=3)
    assert config_key(a) != config_key(b)
    explicit = small_synthetic(erd_depth=synthetic_mod.SyntheticOptions().erd_depth)
    assert config_key(a) == config_key(explicit)  # resolved options, not the spelling
    moved = small_synthetic()
    moved.cache_dir = str(tmp_path / "elsewhere")
    assert config_key(a) == config_key(moved)


def test_corrupt_cache_is_rebuilt(tmp_path, caplog):
    cfg = small_synthetic()
    path = cache_file(cfg, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not an npz")
    ds = load_dataset(cfg, cache_dir=tmp_path)
    assert len(ds["train"]) == 2 * 4 * 4
    assert "unreadable data cache" in caplog.text
    assert path.stat().st_size > 1000


def test_no_cache_writes_nothing(tmp_path):
    load_dataset(small_synthetic(), cache_dir=tmp_path, use_cache=False)
    assert list(tmp_path.iterdir()) == []


def test_load_dataset_rejects_a_non_config():
    with pytest.raises(TypeError, match="cfg must be an instance of DataConfig"):
        load_dataset({"name": "synthetic"})


def test_eegwindows_checks_shapes_and_labels():
    X = np.zeros((3, 2, 10), np.float32)
    with pytest.raises(ValueError, match=r"EEGWindows.y must have shape \(3,\)"):
        EEGWindows(X, np.zeros(2), np.zeros(3), ["C3", "C4"], 200.0, ["a", "b"])
    with pytest.raises(ValueError, match="ch_names has 1 names but X has 2 channels"):
        EEGWindows(X, np.zeros(3), np.zeros(3), ["C3"], 200.0, ["a", "b"])
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\]"):
        EEGWindows(X, np.array([0, 1, 2]), np.zeros(3), ["C3", "C4"], 200.0, ["a", "b"])
    w = EEGWindows(X, np.array([0, 1, 1]), np.array([1, 1, 2]), ["C3", "C4"], 200.0, ["a", "b"])
    assert (w.n_chans, w.n_times, len(w)) == (2, 10, 3)
    assert w.summary()["classes"] == {"a": 1, "b": 2} and w.summary()["subjects"] == [1, 2]
    both = EEGWindows.concat([w, w.subset(w.y == 1)])
    assert len(both) == 5
    with pytest.raises(ValueError, match="Cannot concatenate"):
        EEGWindows.concat([w, EEGWindows.empty(["C3"], 200.0, 10, ["a", "b"])])


@pytest.mark.parametrize("data, match", [
    ({"name": "eegmmidb", "splits": {"train": [5, 1]}}, r"data.splits.train must be an inclusive subject range"),
    ({"name": "eegmmidb", "splits": {"tarin": [1, 5]}}, r"unknown split 'tarin'.*Did you mean 'train'"),
    ({"h_freq_hz": 120.0}, r"above the Nyquist frequency"),
    ({"synthetic": {"trials": 3}}, r"data.synthetic: unknown key 'trials'"),
    ({"window_s": 0}, r"window_s must be a whole number of seconds"),
    ({"splits": {"train": [1, 2]}}, r"data.splits is not used by the synthetic dataset"),
])
def test_data_config_validation_names_the_key(data, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict({"data": data})


def test_overlapping_subject_ranges_are_rejected():
    with pytest.raises(ConfigError, match="overlap; splits must be disjoint"):
        config_from_dict({"data": {"name": "eegmmidb", "splits": {"train": [1, 10], "test": [10, 12]}}})
    cfg = config_from_dict({"data": {"name": "eegmmidb"}})
    with pytest.raises(ValueError, match="overlap; splits must be disjoint"):
        cfg.data.split_ranges({"train": (1, 10), "test": (10, 12)})
