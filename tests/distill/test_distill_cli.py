"""`dlink distill CONFIG --run DIR` end to end on a tiny config."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from dlink.cli import main
from dlink.config import config_to_dict, load_config
from dlink.distill.students import load_student_file
from dlink.rundir import RunDir

from ._tiny import tiny_config


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cli")
    cfg = tiny_config(root / "data", distill={"baselines": ["eegnet"]},
                      train={"baseline_epochs": 1})
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(cfg)))
    run = root / "run"
    assert main(["distill", str(config), "--run", str(run)]) == 0
    return config, RunDir(run)


def test_distill_writes_the_run_files(distilled):
    config, run = distilled
    for p in (run.config, run.teacher, run.student, run.metrics):
        assert p.is_file(), p
    assert load_config(run.config).train.epochs == load_config(config).train.epochs
    stamp = run.require_stage("distill")
    assert "config.yaml" in stamp["inputs"] and "student.pt" in stamp["outputs"]
    m = json.loads(run.metrics.read_text())
    for block in (m["teacher"], m["student"], m["baselines"]["eegnet"]):
        for key in ("balanced_accuracy", "kappa", "f1_weighted", "auroc", "auc_pr", "params", "macs"):
            assert key in block, key
    assert m["student"]["params"] <= 100_000
    w = m["router"]["layer_weights_mean"]
    assert len(w) == 2 and sum(w) == pytest.approx(1.0, abs=1e-5)
    assert len(m["router"]["layer_weights_std"]) == 2
    assert len(m["history"]["student"]["val_balanced_accuracy"]) >= 1
    model, meta = load_student_file(run.student)
    assert model(torch.zeros(2, meta["n_chans"], meta["n_times"])).shape == (2, 2)
    assert meta["input_unit"] == "100uV" and len(meta["ch_names"]) == meta["n_chans"]


def test_rerun_reuses_teacher_and_finished_training(distilled, capsys):
    config, run = distilled
    before = run.student.read_bytes()
    assert main(["distill", str(config), "--run", str(run.path)]) == 0
    m = json.loads(run.metrics.read_text())
    assert m["teacher"]["source"] == "reused"
    model_a = torch.load(run.student, weights_only=True)["state_dict"]
    assert len(before) > 0 and all(torch.equal(v, model_a[k]) for k, v in
                                   torch.load(__import__("io").BytesIO(before), weights_only=True)["state_dict"].items())
    out = capsys.readouterr().out
    assert '"balanced_accuracy"' in out


def test_missing_config_fails_with_a_clear_message(tmp_path, capsys):
    assert main(["distill", str(tmp_path / "nope.yaml"), "--run", str(tmp_path / "r")]) == 1
    assert "nope.yaml" in capsys.readouterr().err


def test_bad_distill_config_values_are_named(tmp_path):
    from dlink.config import ConfigError

    with pytest.raises(ConfigError, match="unknown baseline 'eegnet4'"):
        tiny_config(tmp_path, distill={"baselines": ["eegnet4"]})
    with pytest.raises(ConfigError, match="distill.top_k must be >= 1"):
        tiny_config(tmp_path, distill={"top_k": 0})
    with pytest.raises(ConfigError, match="'distill.target'"):
        tiny_config(tmp_path, distill={"target": "first"})
