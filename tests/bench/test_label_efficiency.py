"""bench/label_efficiency.py: teacher arms fine-tuned on the same stratified label subsets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from dlink.bench import label_efficiency as le

from ..distill._tiny import TINY


def test_sizes_parse_and_bad_ones_are_refused():
    assert le.parse_sizes("40, 160,all") == [40, 160, None]
    for bad in ("0", "ten", ",", "-4"):
        with pytest.raises(ValueError, match="--sizes"):
            le.parse_sizes(bad)


def test_the_subset_is_stratified_seeded_and_never_too_small():
    y = np.repeat([0, 1, 2, 3], [50, 30, 30, 5])
    idx = le.stratified_subset(y, 22, seed=3)
    assert len(idx) == 22 and len(set(idx)) == 22 and np.all(np.diff(idx) > 0)
    counts = np.bincount(y[idx], minlength=4)
    assert counts.max() - counts.min() <= 1
    assert np.array_equal(idx, le.stratified_subset(y, 22, seed=3))
    assert not np.array_equal(idx, le.stratified_subset(y, 22, seed=4))
    assert np.array_equal(le.stratified_subset(y, None, seed=0), np.arange(len(y)))
    assert np.bincount(y[le.stratified_subset(y, 80, seed=0)], minlength=4)[3] == 5  # all it has
    with pytest.raises(ValueError, match="one window of each of the 4 classes"):
        le.stratified_subset(y, 3, seed=0)


def test_arms_share_subsets_results_resume_and_the_table_pairs_them(tmp_path, capsys):
    cfg = {**TINY, "data": {**TINY["data"], "cache_dir": str(tmp_path / "cache")},
           "teacher": {**TINY["teacher"], "finetune_split": "pool+train"}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    argv = [str(path), "--run", str(tmp_path / "out"), "--arm", "a:", "--arm",
            "b:teacher.lr=0.003", "--sizes", "8,all", "--seeds", "2", "--n-boot", "200"]
    assert le.main(argv) == 0
    out = json.loads((tmp_path / "out" / "label_efficiency.json").read_text())
    runs = out["runs"]
    assert len(runs) == 2 * 2 * 2
    fit_windows = out["meta"]["fit_windows"]
    assert sorted({r["size"] for r in runs}) == [8, fit_windows]
    for size in (8, fit_windows):
        for seed in (0, 1):
            shas = {r["subset_sha"] for r in runs if r["size"] == size and r["seed"] == seed}
            assert len(shas) == 1  # both arms saw the same windows
    assert len({r["subset_sha"] for r in runs if r["size"] == 8}) == 2  # seeds draw differently
    rows = {row["size"]: row for row in out["table"]}
    for row in rows.values():
        assert set(row["arms"]) == {"a", "b"} and "vs_first" in row["arms"]["b"]
        a = row["arms"]["a"]
        assert a["mean"] == pytest.approx(np.mean(a["balanced_accuracy"]))
        d = row["arms"]["b"]["vs_first"]
        assert d["lo"] <= d["diff"] <= d["hi"]
        assert d["diff"] == pytest.approx(row["arms"]["b"]["mean"] - a["mean"])
    md = (tmp_path / "out" / "label_efficiency.md").read_text()
    assert "chance 0.500" in md and "Δ b − a" in md
    # a rerun reuses every finished run instead of training again
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "results").iterdir()}
    assert le.main(argv) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "results").iterdir()} == stamp


def test_a_subset_gets_the_whole_splits_number_of_steps():
    from dlink.distill.teachers.config import TeacherConfig

    t = TeacherConfig(finetune_epochs=15, batch_size=32, patience=5, warmup_epochs=1)
    full = le.equal_step_budget(t, 1320, 1320)
    assert (full.finetune_epochs, full.patience) == (15, 5)
    small = le.equal_step_budget(t, 40, 1320)  # 2 batches per epoch instead of 42
    assert small.finetune_epochs * 2 >= 15 * 42 > (small.finetune_epochs - 15) * 2
    assert small.patience == 5 * small.finetune_epochs // 15 and small.warmup_epochs == small.finetune_epochs // 15
