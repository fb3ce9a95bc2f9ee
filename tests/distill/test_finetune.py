"""Teacher task adaptation: lr schedule, layer-wise decay, learning, checkpoints and resume."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from dlink.distill.finetune import (augment, balanced_accuracy, finetune_teacher, lr_at,
                                    param_groups)
from dlink.distill.teachers import LaBraM, load_teacher_file
from dlink.distill.teachers.config import TeacherConfig

CHANS = ["C3", "Cz", "C4"]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _toy(n=48, seed=0):
    """Two classes: a 10 Hz rhythm on C3 (class 0) or on C4 (class 1), in noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.arange(400) / 200.0
    X = 0.3 * rng.standard_normal((n, 3, 400))
    phase = rng.uniform(0, 2 * np.pi, n)
    wave = np.sin(2 * np.pi * 10 * t[None, :] + phase[:, None])
    X[np.arange(n), np.where(y == 0, 0, 2)] += wave
    return X.astype(np.float32), y


def _teacher(seed=0):
    torch.manual_seed(seed)
    return LaBraM(2, CHANS, 400, depth=1, embed_dim=32, num_heads=2, drop_path=0.0)


CFG = TeacherConfig(finetune_epochs=4, lr=3e-3, layer_decay=0.9, warmup_epochs=1, patience=10,
                    batch_size=16, label_smoothing=0.0, augment=False, weight_decay=0.01)


def test_lr_schedule_warms_up_then_decays():
    kw = dict(total_steps=10, warmup_steps=2, lr=1.0, min_lr=0.0)
    lrs = [lr_at(s, **kw) for s in range(10)]
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert lrs[2] == pytest.approx(1.0) and all(a >= b for a, b in zip(lrs[2:], lrs[3:]))
    assert lrs[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 7 / 8)))


def test_layer_wise_lr_decay_and_no_decay_on_1d_parameters():
    teacher = LaBraM(2, CHANS, 400, depth=3, embed_dim=32, num_heads=2)
    groups = param_groups(teacher, lr=1.0, weight_decay=0.05, layer_decay=0.5)
    scale = {n: g["lr_scale"] for g in groups for n in g["names"]}
    decay = {n: g["weight_decay"] for g in groups for n in g["names"]}
    assert scale["head.weight"] == 1.0
    assert scale["blocks.2.attn.qkv.weight"] == 0.5
    assert scale["blocks.0.attn.qkv.weight"] == 0.5 ** 3
    assert scale["pos_embed"] == scale["patch_embed.conv1.weight"] == 0.5 ** 4
    assert decay["blocks.0.norm1.weight"] == 0.0 and decay["pos_embed"] == 0.0
    assert decay["blocks.0.mlp.fc1.weight"] == 0.05
    assert sum(len(g["params"]) for g in groups) == len(list(teacher.parameters()))


def test_balanced_accuracy_is_mean_recall():
    assert balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0]) == pytest.approx(0.5)
    assert balanced_accuracy([0, 1, 1, 1], [0, 1, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)


def test_augment_keeps_shape_and_channel_power():
    x = torch.randn(4, 3, 400)
    out = augment(x, torch.Generator().manual_seed(0), scale=0.0)
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert torch.allclose((out ** 2).sum(-1), (x ** 2).sum(-1), rtol=1e-5)


def test_finetune_reduces_loss_and_resumes_to_the_same_result(tmp_path):
    X, y = _toy()
    Xv, yv = _toy(n=24, seed=1)
    # uninterrupted reference run
    ref, ref_hist = finetune_teacher(_teacher(), (X, y), (Xv, yv), cfg=CFG, seed=3)
    assert ref_hist["train_loss"][-1] < ref_hist["train_loss"][0]
    assert len(ref_hist["val_balanced_accuracy"]) == CFG.finetune_epochs
    assert ref_hist["finished"] and not ref.training
    # interrupted after 2 epochs, then resumed from the checkpoint with a fresh model
    _, part = finetune_teacher(_teacher(), (X, y), (Xv, yv), cfg=CFG, seed=3,
                               checkpoint_dir=tmp_path, max_epochs=2)
    assert len(part["train_loss"]) == 2 and not part["finished"]
    assert (tmp_path / "teacher_finetune.pt").is_file()
    resumed, hist = finetune_teacher(_teacher(seed=99), (X, y), (Xv, yv), cfg=CFG, seed=3,
                                     checkpoint_dir=tmp_path)
    assert hist["train_loss"] == pytest.approx(ref_hist["train_loss"], rel=1e-5)
    assert hist["best_epoch"] == ref_hist["best_epoch"]
    for (k, a), b in zip(ref.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k


def test_changed_setup_does_not_resume_a_foreign_checkpoint(tmp_path):
    X, y = _toy(n=16)
    finetune_teacher(_teacher(), (X, y), (X, y), cfg=CFG, seed=0, checkpoint_dir=tmp_path,
                     max_epochs=1)
    other = dataclasses.replace(CFG, finetune_epochs=2, lr=1e-3)
    _, hist = finetune_teacher(_teacher(), (X, y), (X, y), cfg=other, seed=0,
                               checkpoint_dir=tmp_path)
    assert len(hist["train_loss"]) == 2  # started over: both epochs ran in this call


def test_empty_or_misshapen_split_is_an_error():
    X, y = _toy(n=8)
    with pytest.raises(ValueError, match="holds no windows"):
        finetune_teacher(_teacher(), (X[:0], y[:0]), (X, y), cfg=CFG)
    with pytest.raises(ValueError, match=r"X \(n, n_chans, n_times\)"):
        finetune_teacher(_teacher(), (X[0], y), (X, y), cfg=CFG)


def _tiny_finetune_config(tmp_path):
    return {"name": "t", "seed": 0,
           "data": {"name": "synthetic", "cache_dir": str(tmp_path / "cache"),
                    "synthetic": {"subjects": {"train": 1, "val": 1, "test": 1, "pool": 1},
                                  "trials_per_class": 2}},
           "teacher": {"arch": "labram", "depth": 1, "embed_dim": 32, "num_heads": 2,
                       "finetune_epochs": 1, "batch_size": 8, "num_threads": 1}}


def test_finetune_command_writes_teacher_pt_and_stamp(tmp_path, capsys):
    import json

    import yaml

    from dlink.cli import main

    cfg = _tiny_finetune_config(tmp_path)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["teacher", "finetune", str(path), "--run", str(run)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs_run"] == 1 and 0.0 <= summary["test_balanced_accuracy"] <= 1.0
    teacher = load_teacher_file(run / "teacher.pt")
    assert teacher.class_names == ["left_hand", "right_hand", "feet", "tongue"]
    obj = torch.load(run / "teacher.pt", weights_only=True)
    assert set(obj) >= {"arch", "kwargs", "state_dict", "ch_names", "class_names", "metrics"}
    assert obj["arch"] == "labram" and len(obj["ch_names"]) == 22
    assert (run / ".stamps" / "teacher.json").is_file()
    assert (run / "checkpoints" / "teacher" / "teacher_finetune.pt").is_file()


def test_two_fresh_finetune_runs_give_the_same_teacher(tmp_path):
    # fixed seeds: the initial weights too, not only the batch order (a fresh process each time
    # would otherwise start from another random initialisation)
    import yaml

    from dlink.cli import main

    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(_tiny_finetune_config(tmp_path)))
    states = []
    for name in ("a", "b"):
        torch.manual_seed(1000 + len(states))  # whatever the global state was before
        assert main(["teacher", "finetune", str(path), "--run", str(tmp_path / name)]) == 0
        states.append(torch.load(tmp_path / name / "teacher.pt", weights_only=True)["state_dict"])
    assert states[0].keys() == states[1].keys()
    for k, v in states[0].items():
        assert torch.equal(v, states[1][k]), k
    # and the files themselves: no wall-clock times or temporary names inside teacher.pt
    assert (tmp_path / "a" / "teacher.pt").read_bytes() == (tmp_path / "b" / "teacher.pt").read_bytes()
