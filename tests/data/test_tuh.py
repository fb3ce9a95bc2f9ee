"""TUAB and TUEV loaders on small EDF trees written by the tests."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.data import load_dataset
from dlink.data._checks import DataFileError
from dlink.data.config import DataConfig
from dlink.data.montage import TCP_BIPOLAR, TUH_REFERENTIAL
from dlink.data.tuh import TUEV_CLASSES, read_rec, read_tuev_recording
from tests.data.conftest import write_edf

TUH_LABELS = [f"EEG {c.upper()}-REF" for c in TUH_REFERENTIAL] + ["EEG EKG1-REF", "PHOTIC-REF"]


def _tuab_tree(root):
    layout = {("train", "normal"): ["aaaaaaaa", "aaaaaaab"], ("train", "abnormal"): ["aaaaaaac", "aaaaaaad"],
              ("eval", "normal"): ["aaaaaaae"], ("eval", "abnormal"): ["aaaaaaaf"]}
    for i, ((part, label), subjects) in enumerate(layout.items()):
        for j, s in enumerate(subjects):
            d = root / "edf" / part / label / "01_tcp_ar"
            d.mkdir(parents=True, exist_ok=True)
            write_edf(d / f"{s}_s001_t000.edf", TUH_LABELS, sfreq_hz=250.0, duration_s=25.0, seed=10 * i + j)
    return root


def _tuev_file(d, name, events, seed=0):
    d.mkdir(parents=True, exist_ok=True)
    path = write_edf(d / f"{name}.edf", TUH_LABELS, sfreq_hz=250.0, duration_s=30.0, seed=seed)
    path.with_suffix(".rec").write_text("".join(f"{c},{a},{b},{lab}\n" for c, a, b, lab in events))
    return path


def test_tuab_windows_labels_and_split(tmp_path):
    root = _tuab_tree(tmp_path / "tuab")
    cfg = DataConfig(name="tuab", path=str(root), window_s=10, n_classes=2)
    ds = load_dataset(cfg, cache_dir=tmp_path / "cache")
    tr, va, te = ds["train"], ds["val"], ds["test"]
    assert tr.ch_names == list(TUH_REFERENTIAL) and tr.X.shape[1:] == (23, 2000)
    assert len(tr) + len(va) == 4 * 2 and len(te) == 2 * 2  # 25 s -> two 10-s windows
    assert te.class_counts() == {"normal": 2, "abnormal": 2}
    assert len(np.unique(va.subject)) == 1 and len(ds["pool"]) == 0
    assert not set(tr.subject.tolist()) & set(va.subject.tolist())
    assert not set(te.subject.tolist()) & set(tr.subject.tolist() + va.subject.tolist())
    rms_uv = 100 * float(np.sqrt(np.mean(tr.X ** 2)))
    assert 1 < rms_uv < 40  # written at 20 uV RMS, then band-passed


def test_tuab_bipolar_montage(tmp_path):
    root = _tuab_tree(tmp_path / "tuab")
    ref = load_dataset(DataConfig(name="tuab", path=str(root), window_s=10, n_classes=2), use_cache=False)
    bip = load_dataset(DataConfig(name="tuab", path=str(root), window_s=10, n_classes=2,
                                  montage="bipolar"), use_cache=False)
    assert bip["test"].ch_names[:2] == ["Fp1-F7", "F7-T3"] and bip["test"].n_chans == len(TCP_BIPOLAR)
    i, j = TUH_REFERENTIAL.index("Fp1"), TUH_REFERENTIAL.index("F7")
    np.testing.assert_allclose(bip["test"].X[:, 0], ref["test"].X[:, i] - ref["test"].X[:, j], atol=1e-5)


def test_tuev_event_windows(tmp_path):
    d = tmp_path / "tuev" / "edf" / "train" / "aaaaaaar"
    f = _tuev_file(d, "aaaaaaar_00000001", [(0, 10.0, 11.0, 1), (3, 20.0, 21.0, 6), (5, 0.5, 1.5, 4)])
    w = read_tuev_recording(f, DataConfig(name="tuev", window_s=5, n_classes=6), subject=7)
    assert w.class_names == TUEV_CLASSES and w.X.shape == (2, 23, 1000)  # the event at 0.5 s is dropped
    assert [w.class_names[k] for k in w.y] == ["spsw", "bckg"]
    assert w.subject.tolist() == [7, 7]


def test_tuev_split_by_corpus_folders(tmp_path):
    base = tmp_path / "tuev" / "edf"
    for k, s in enumerate(["aaaaaaar", "aaaaaaas", "aaaaaaat"]):
        _tuev_file(base / "train" / s, f"{s}_00000001", [(0, 10.0, 11.0, 1 + k), (1, 15.0, 16.0, 5)], seed=k)
    _tuev_file(base / "eval" / "aaaaaaau", "aaaaaaau_00000001", [(0, 12.0, 13.0, 2)], seed=9)
    ds = load_dataset(DataConfig(name="tuev", path=str(tmp_path / "tuev"), window_s=5, n_classes=6),
                      use_cache=False)
    assert len(ds["test"]) == 1 and ds["test"].y.tolist() == [1]
    assert len(ds["train"]) + len(ds["val"]) == 6 and len(ds["val"]) == 2


def test_tuh_bad_input(tmp_path):
    rec = tmp_path / "x.rec"
    rec.write_text("0,10.0,11.0,9\n")
    with pytest.raises(DataFileError, match=r"x\.rec:1: expected a label in 1-6"):
        read_rec(rec)
    with pytest.raises(FileNotFoundError, match=r"TUEV event file .*missing\.rec"):
        read_rec(tmp_path / "missing.rec")
    few = write_edf(tmp_path / "few.edf", TUH_LABELS[:20], sfreq_hz=250.0, duration_s=12.0)
    few.with_suffix(".rec").write_text("0,5.0,6.0,1\n")
    with pytest.raises(DataFileError, match=r"few\.edf: missing EEG channel\(s\) \['Pz', 'T1', 'T2'\]: "
                                            r"expected the 23 channels"):
        read_tuev_recording(few, DataConfig(name="tuev", window_s=5, n_classes=6))
    with pytest.raises(FileNotFoundError, match="expected a TUH tree with the folders train/ and eval/"):
        load_dataset(DataConfig(name="tuab", path=str(tmp_path), n_classes=2), use_cache=False)
    with pytest.raises(ValueError, match="data.path must point to the local TUH"):
        load_dataset(DataConfig(name="tuev", n_classes=6), use_cache=False)


def test_tuab_within_subject_keeps_a_recording_in_one_split(tmp_path):
    root = _tuab_tree(tmp_path / "tuab")
    cfg = DataConfig(name="tuab", path=str(root), window_s=10, n_classes=2, subjects=[1, 2, 3, 4],
                     splits={"by": "kfold", "folds": 2, "fold": 0, "val_fraction": 0.5})
    ds = load_dataset(cfg, cache_dir=tmp_path / "cache")
    assert sorted(set(ds["test"].subject.tolist()) | set(ds["train"].subject.tolist())
                  | set(ds["val"].subject.tolist())) == [1, 2, 3, 4]
    for name in ("train", "val", "test"):  # a subject's single recording never straddles two splits
        others = [k for k in ("train", "val", "test") if k != name]
        assert not set(ds[name].subject.tolist()) & {s for k in others for s in ds[k].subject.tolist()}
    assert set(ds["test"].session.tolist()) == {"s001"} and set(ds["test"].run.tolist()) == {0}
    assert sorted(ds["test"].class_counts().values()) == [1 * len(ds["test"]) // 2] * 2  # one per class
