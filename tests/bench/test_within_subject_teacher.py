"""bench/within_subject_teacher.py on S001 (../shared/data), reduced: 2 folds, 1 epoch per arm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlink.bench import within_subject_teacher as wst
from dlink.bench.arm_cli import parse_arm
from tests.conftest import needs_shared

REPO = Path(__file__).resolve().parents[2]


def test_an_arm_needs_a_name_and_key_value_pairs():
    assert parse_arm("scratch:teacher.checkpoint=null,teacher.lr=0.01") == (
        "scratch", {"teacher.checkpoint": None, "teacher.lr": 0.01})
    with pytest.raises(ValueError, match="needs a name"):
        parse_arm(":teacher.lr=0.1")
    with pytest.raises(ValueError, match="expected NAME:key=value"):
        parse_arm("x:teacher.lr")


@needs_shared
def test_folds_cover_every_trial_once_and_each_arm_is_scored(tmp_path):
    rc = wst.main([str(REPO / "configs" / "s001.yaml"), "--run", str(tmp_path), "--folds", "2",
                   "--repeats", "1", "--select", "last",
                   "--arm", "a:teacher.checkpoint=null,teacher.finetune_epochs=1",
                   "--arm", "b:teacher.finetune_epochs=1"])
    assert rc == 0
    out = json.loads((tmp_path / "within_subject.json").read_text())
    assert out["meta"]["n_trials"] == 30 and len(out["meta"]["channels"]) == 22
    assert sum(f["n_test"] for f in out["folds"]) == 30
    for f in out["folds"]:
        assert set(f["arms"]) == {"a", "b"} and 0.0 <= f["csp_lda"] <= 1.0
        assert all(1 <= a["predicted_classes"] <= 4 for a in f["arms"].values())
    assert set(out["summary"]) == {"csp_lda", "a", "b"}
    assert "chance 0.250" in (tmp_path / "within_subject.md").read_text()
