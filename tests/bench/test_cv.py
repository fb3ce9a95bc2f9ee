"""`dlink cv`: every fold end to end on a tiny within-subject synthetic config, resumable per fold."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from dlink.cli import main
from dlink.config import config_to_dict
from tests.distill._tiny import tiny_config


@pytest.fixture(scope="module")
def cv_dir(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cv")
    cfg = tiny_config(root / "data",
                      data={"synthetic": {"subjects": {"train": 1, "val": 0, "test": 0, "pool": 2},
                                          "trials_per_class": 9, "erd_depth": 1.0,
                                          "erd_depth_spread": 0.0, "trial_jitter": 0.1},
                            "splits": {"by": "kfold", "folds": 3, "seed": 0},
                            "channels": ["C3", "Cz", "C4", "CP3", "CP4"]},
                      teacher={"finetune_split": "pool"},
                      distill={"baselines": ["csp_lda"]},
                      train={"steps": 12, "min_steps": 12, "baseline_steps": 4})
    config = root / "cv.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(cfg)))
    out = root / "run"
    assert main(["cv", str(config), "--folds", "3", "--run", str(out), "--export-folds", "",
                 "--jobs", "2"]) == 0
    return config, out


def test_every_fold_runs_and_the_summary_has_mean_and_sd(cv_dir):
    config, out = cv_dir
    m = json.loads((out / "metrics.json").read_text())
    assert [f["fold"] for f in m["per_fold"]] == [0, 1, 2]
    for f in m["per_fold"]:
        assert f["n_test"] == 6  # 18 trials, 3 folds
        assert {"student", "teacher", "csp_lda"} <= set(f["models"])
        assert f["teacher_gate"]["decision"] in ("on", "off")
    s = m["summary"]["student"]
    assert len(s["per_fold"]) == 3 and s["balanced_accuracy_sd"] is not None
    assert s["balanced_accuracy_mean"] == pytest.approx(sum(s["per_fold"]) / 3)
    for k in range(3):
        fold = yaml.safe_load((out / f"fold-{k}" / "config.yaml").read_text())
        assert fold["data"]["splits"]["fold"] == k and fold["data"]["channels"][0] == "C3"
    report = (out / "bench" / "report.md").read_text()
    assert "mean ± sd" in report and "CSP + LDA" in report and "Teacher gate per fold" in report
    stamp = json.loads((out / ".stamps" / "cv.json").read_text())  # what the summary read
    assert {f"fold-{k}/metrics.json" for k in range(3)} <= set(stamp["inputs"])
    assert set(stamp["outputs"]) == {"metrics.json", "bench/report.json", "bench/report.md"}


def test_a_rerun_reads_finished_folds(cv_dir, capsys):
    config, out = cv_dir
    before = (out / "fold-1" / "metrics.json").read_bytes()
    assert main(["cv", str(config), "--folds", "3", "--run", str(out), "--export-folds", ""]) == 0
    assert (out / "fold-1" / "metrics.json").read_bytes() == before
    assert "mean ± sd" in capsys.readouterr().out


def test_cv_refuses_a_split_that_is_not_k_fold(tmp_path, capsys):
    cfg = tiny_config(tmp_path / "data")
    config = tmp_path / "x.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(cfg)))
    assert main(["cv", str(config), "--folds", "3", "--run", str(tmp_path / "r")]) == 1
    assert "dlink cv needs a k-fold split" in capsys.readouterr().err
