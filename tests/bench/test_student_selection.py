"""bench/student_selection.py: variants x folds, scored on validation windows only."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from dlink.bench import student_selection as sel


def test_val_scores_are_computed_from_the_logits():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0], [1.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    s = sel.score_on_val(logits, y)
    assert s["balanced_accuracy"] == pytest.approx(0.75)
    assert s["predicted_counts"] == [3, 1]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert s["cross_entropy"] == pytest.approx(-np.log(p[np.arange(4), y]).mean())


def test_every_variant_is_trained_on_every_fold_and_scored_on_val(tmp_path):
    cfg = {"name": "tiny-within", "seed": 0,
           "data": {"name": "synthetic", "window_s": 2, "n_classes": 2,
                    "cache_dir": str(tmp_path / "cache"),
                    "synthetic": {"subjects": {"train": 1, "val": 0, "test": 0, "pool": 0},
                                  "trials_per_class": 6, "erd_depth": 1.0},
                    "splits": {"by": "kfold", "folds": 3, "fold": 0, "seed": 0}},
           "student": {"options": {"mimic_width": 2, "hidden_width": 8, "final_width": 4}},
           "train": {"min_steps": 4, "epochs": 1, "batch_size": 8, "num_threads": 1}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rc = sel.main([str(path), "--run", str(tmp_path / "out"), "--folds", "3",
                   "--variant", "a:student.spatial_init=identity",
                   "--variant", "b:student.spatial_init=csp,student.options={filterbank_init: bandpass}"])
    assert rc == 0
    out = json.loads((tmp_path / "out" / "student_selection.json").read_text())
    assert set(out["variants"]) == {"a", "b"}
    assert out["variants"]["b"]["overrides"]["student.spatial_init"] == "csp"
    for v in out["variants"].values():
        assert [r["fold"] for r in v["per_fold"]] == [0, 1, 2]
        for r in v["per_fold"]:
            assert 0.0 <= r["balanced_accuracy"] <= 1.0 and r["cross_entropy"] > 0
            assert sum(r["predicted_counts"]) == r["n_val"]
        assert [r["n_val"] for r in v["per_fold"]] == [4, 4, 4]  # 12 trials, 3 folds
    assert "chance 0.500" in (tmp_path / "out" / "student_selection.md").read_text()
