"""bench/teacher_recipe.py: recipes scored on held-out subjects of the fine-tuning split, never on test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from dlink.bench import teacher_recipe as tr

from ..distill._tiny import TINY


def test_folds_are_disjoint_cover_every_subject_and_depend_on_the_seed():
    subjects = np.repeat([3, 4, 7, 9, 11, 12, 20], 5)
    folds = tr.subject_folds(subjects, 3, seed=0)
    flat = [s for f in folds for s in f]
    assert sorted(flat) == [3, 4, 7, 9, 11, 12, 20] and len(set(flat)) == len(flat)
    assert sorted(len(f) for f in folds) == [2, 2, 3]
    assert folds == tr.subject_folds(subjects, 3, seed=0)
    assert folds != tr.subject_folds(subjects, 3, seed=1)
    for bad in (1, 8):
        with pytest.raises(ValueError, match="--folds must lie in 2..7"):
            tr.subject_folds(subjects, bad, seed=0)


def _tiny(tmp_path):
    cfg = {**TINY, "data": {**TINY["data"], "cache_dir": str(tmp_path / "cache")},
           "teacher": {**TINY["teacher"], "finetune_split": "pool+train"}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_every_window_is_predicted_by_a_teacher_that_never_saw_its_subject(tmp_path, monkeypatch):
    import dlink.distill.finetune as ft

    seen = []
    real = ft.finetune_teacher

    def spy(teacher, train, val, **kw):
        seen.append((set(np.asarray(train.subject).tolist()), set(np.asarray(val.subject).tolist())))
        return real(teacher, train, val, **kw)

    monkeypatch.setattr(ft, "finetune_teacher", spy)
    path = _tiny(tmp_path)
    argv = [str(path), "--run", str(tmp_path / "out"), "--arm", "a:", "--arm",
            "b:teacher.lr=0.003", "--folds", "3", "--seeds", "2", "--n-boot", "200"]
    assert tr.main(argv) == 0
    out = json.loads((tmp_path / "out" / "teacher_recipe.json").read_text())
    folds = out["meta"]["fold_subjects"]
    assert len(seen) == 2 * 3 * 2 and len(out["runs"]) == 12
    fit_subjects = set(s for f in folds for s in f)
    assert len(fit_subjects) == 6  # train 3 + pool 3; val (2) and test (2) are not folded
    for r in out["runs"]:
        assert r["held_out_subjects"] == folds[r["fold"]]
    for train_subj, val_subj in seen:
        assert train_subj < fit_subjects and not (val_subj & fit_subjects)
        assert any(train_subj == fit_subjects - set(f) for f in folds)
    table = out["table"]
    a, b = table["arms"]["a"], table["arms"]["b"]
    assert a["mean"] == pytest.approx(np.mean(a["balanced_accuracy"]))
    assert len(a["fold_balanced_accuracy"]) == 3 * 2
    d = b["vs_first"]
    assert d["lo"] <= d["diff"] <= d["hi"]
    assert d["diff"] == pytest.approx(b["mean"] - a["mean"])
    assert 0 <= d["subjects_ahead"] <= 6
    md = (tmp_path / "out" / "teacher_recipe.md").read_text()
    assert "chance 0.500" in md and "Δ vs a" in md and "test split was not loaded" in md
    # a rerun trains nothing; a third arm trains only its own folds
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "results").iterdir()}
    n = len(seen)
    assert tr.main(argv) == 0
    assert len(seen) == n
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "results").iterdir()} == stamp


def test_the_test_split_is_never_handed_to_the_teacher(tmp_path, monkeypatch):
    import dlink.data as data

    real = data.load_dataset
    test_subjects = []

    def loader(*a, **kw):
        splits = real(*a, **kw)
        test_subjects.extend(np.asarray(splits["test"].subject).tolist())
        return splits

    monkeypatch.setattr(data, "load_dataset", loader)
    import dlink.distill.finetune as ft
    real_ft = ft.finetune_teacher
    touched = []

    def spy(teacher, train, val, **kw):
        touched.extend(np.asarray(train.subject).tolist() + np.asarray(val.subject).tolist())
        return real_ft(teacher, train, val, **kw)

    monkeypatch.setattr(ft, "finetune_teacher", spy)
    path = _tiny(tmp_path)
    assert tr.main([str(path), "--run", str(tmp_path / "o"), "--arm", "a:", "--folds", "2",
                    "--n-boot", "50"]) == 0
    assert test_subjects and not set(test_subjects) & set(touched)
    out = json.loads((tmp_path / "o" / "teacher_recipe.json").read_text())
    held_out = [s for r in out["runs"] for s in r["held_out_subjects"]]
    assert not set(held_out) & set(test_subjects)


def test_arms_that_move_the_splits_and_bad_folds_are_refused(tmp_path):
    path = _tiny(tmp_path)
    with pytest.raises(SystemExit):
        tr.main([str(path), "--run", str(tmp_path / "o"), "--arm", "a:", "--arm",
                 "b:teacher.finetune_split=pool", "--folds", "2"])
    with pytest.raises(SystemExit):
        tr.main([str(path), "--run", str(tmp_path / "o"), "--arm", "a:", "--folds", "7"])
    for argv in (["--arm", "a:", "--arm", "a:teacher.lr=0.01"], ["--arm", "a:", "--seeds", "0"],
                 ["--arm", "a:teacher.lr"]):
        with pytest.raises(SystemExit):
            tr.main([str(path), "--run", str(tmp_path / "o"), *argv])
    assert not (tmp_path / "o").exists()  # refused before anything was trained or written
