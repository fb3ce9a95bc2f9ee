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
    cfg = tiny_config(root / "data", distill={"baselines": ["eegnet", "csp_lda"], "teacher_gate": "on"},
                      train={"baseline_steps": 4})
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
    assert run.require_stage("distill")["extra"]["teacher_source"] == "reused"
    assert len(before) > 0 and run.student.read_bytes() == before  # byte-identical: export stays valid
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


def test_kill_9_then_the_same_command_resumes_to_the_same_student(distilled, tmp_path):
    """kill -9 at two points of `dlink distill` (as soon as it starts, and mid-training once a
    checkpoint exists): no stamp is left, so export refuses the run; the same command then
    finishes and gives the uninterrupted run's exact bytes."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from dlink.export.pipeline import export_run
    from dlink.rundir import StageError

    config, done = distilled
    run = RunDir(tmp_path / "killed run")
    # the fine-tuned teacher is reused (same data, teacher config and seed): only the student
    # and the baseline train again
    shutil.copytree(done.path, run.path, ignore=shutil.ignore_patterns("checkpoints", "student.pt"))
    ckpt = run.checkpoints_dir / "student" / "last.pt"
    for when in ("start", "checkpoint"):
        proc = subprocess.Popen([sys.executable, "-m", "dlink.cli", "distill", str(config),
                                 "--run", str(run.path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=dict(os.environ))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if not run.stamp_path("distill").exists() and (when == "start" or ckpt.exists()):
                break
            time.sleep(0.005)
        assert proc.poll() is None, f"distill finished before the kill ({when})"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not run.stamp_path("distill").exists()
        with pytest.raises(StageError, match=r"'distill' stage has not been run"):
            export_run(run.path)
    assert main(["distill", str(config), "--run", str(run.path)]) == 0
    assert run.student.read_bytes() == done.student.read_bytes()
    assert run.metrics.read_bytes() == done.metrics.read_bytes()  # no times, no "reused" in it
    assert run.require_stage("distill")


def test_a_truncated_training_checkpoint_names_the_file_and_fresh(distilled, tmp_path):
    """The message names the checkpoint and --fresh; --fresh retrains from scratch to the same
    bytes (training and student.pt are reproducible)."""
    import shutil

    config, done = distilled
    run = RunDir(tmp_path / "r")
    shutil.copytree(done.path, run.path)
    ckpt = run.checkpoints_dir / "student" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    run.student.unlink()
    from dlink.io import CheckpointReadError

    with pytest.raises(CheckpointReadError, match=r"training checkpoint '.*last\.pt' is truncated "
                                                  r"or corrupted.*--fresh"):
        from dlink.distill.pipeline import distill_run

        distill_run(load_config(config), run.path)
    assert main(["distill", str(config), "--run", str(run.path), "--fresh"]) == 0
    assert run.student.read_bytes() == done.student.read_bytes()


def test_student_options_that_do_not_fit_fail_before_the_teacher(tmp_path, capsys):
    cfg = tiny_config(tmp_path / "data", student={"options": {"token_samples": 300}})
    config = tmp_path / "bad options.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(cfg)))
    run = tmp_path / "run"
    assert main(["distill", str(config), "--run", str(run)]) == 1
    err = capsys.readouterr().err
    assert "bad options.yaml: student.options" in err and "token_samples" in err
    assert not (run / "teacher.pt").exists() and not (run / "config.yaml").exists()
