"""The training recipe for calibration-sized data: steps, schedule, balanced batches, augmentation,
settled BatchNorm, early stopping that a tiny validation split cannot trigger, collapse detection,
and the teacher gate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dlink.data import load_dataset
from dlink.distill import augment as aug
from dlink.distill.config import DistillConfig, TrainConfig, student_alone, uses_teacher
from dlink.distill.losses import DLinkObjective
from dlink.distill.metrics import classification_metrics
from dlink.distill.train import (Source, TrainData, draw_batch, lr_at_step, plan_steps,
                                 recalibrate_batchnorm, train_model)

from ._tiny import tiny_config


def test_budget_counts_steps_not_epochs():
    small = plan_steps(TrainConfig(epochs=30, min_steps=300), n_labelled=27, n_unlabelled=0)
    assert small.total_steps == 300 and small.min_steps == 300  # 30 epochs of 1 step would be 30
    assert small.labelled_per_batch == 27 and small.eval_every == 12  # about 25 validations
    big = plan_steps(TrainConfig(epochs=15, min_steps=300), n_labelled=300, n_unlabelled=1020)
    assert big.total_steps == 15 * 21 and big.eval_every == 21  # one validation per pass
    assert (big.labelled_per_batch, big.unlabelled_per_batch) == (32, 32)  # at least half labelled
    assert plan_steps(TrainConfig(steps=50), n_labelled=5, n_unlabelled=0).total_steps == 50
    assert plan_steps(TrainConfig(), n_labelled=5, n_unlabelled=0).labelled_per_batch == 16


def test_warm_up_then_cosine_to_zero():
    lrs = [lr_at_step(s, lr=1.0, total_steps=100, warmup_steps=10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[55] == pytest.approx(0.5, abs=0.02)
    assert lrs[-1] < 0.01 and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def test_batches_are_class_balanced_and_mix_in_the_pool():
    y = np.array([0] * 20 + [1] * 4 + [-1] * 50)  # 5:1 imbalance, plus unlabelled windows
    plan = plan_steps(TrainConfig(batch_size=16), n_labelled=24, n_unlabelled=50)
    counts = np.zeros(2)
    n_unl = 0
    for s in range(300):
        idx = draw_batch(y, plan, np.random.default_rng(s), balanced=True)
        counts += np.bincount(y[idx][y[idx] >= 0], minlength=2)
        n_unl += int((y[idx] < 0).sum())
    assert 0.45 < counts[1] / counts.sum() < 0.55  # the rare class is drawn as often
    assert n_unl == 300 * plan.unlabelled_per_batch
    idx = draw_batch(y, plan, np.random.default_rng(0), balanced=False)
    assert len(idx) == 16


def test_augmentations_keep_labels_meaningful():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8, 4, 200)
    shifted = aug.time_shift(x, gen, max_shift_samples=20)
    torch.testing.assert_close(shifted.pow(2).sum(2), x.pow(2).sum(2))  # power per channel kept
    dropped = aug.channel_dropout(torch.ones(200, 4, 10), gen, p=0.25)
    zero = (dropped.abs().sum(2) == 0).float().mean()
    assert 0.15 < float(zero) < 0.35 and set(dropped.unique().tolist()) <= {0.0, 1.0}
    flipped = aug.sign_flip(x, gen)
    assert torch.equal(flipped.abs(), x.abs())
    scaled = aug.amplitude_scale(torch.ones(100, 1, 1), gen, scale=0.2)
    assert float(scaled.min()) >= 1 / 1.2 - 1e-6 and float(scaled.max()) <= 1.2 + 1e-6
    cfg = aug.AugmentConfig(noise=0.1)
    out = aug.augment_windows(x, gen, cfg, sfreq=200.0)
    assert out.shape == x.shape and not torch.equal(out, x)
    assert torch.equal(aug.augment_windows(x, gen, dataclasses.replace(cfg, enabled=False), sfreq=200.0), x)
    with pytest.raises(ValueError, match=r"augmentation expects x of shape \(batch, n_chans, n_times\)"):
        aug.time_shift(torch.zeros(3, 4), gen)


def test_batchnorm_statistics_are_re_estimated_on_the_given_windows():
    net = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 1, bias=False), torch.nn.BatchNorm1d(3), torch.nn.Dropout(0.5))
    X = (5.0 + 2.0 * np.random.default_rng(0).standard_normal((64, 2, 50))).astype(np.float32)
    assert recalibrate_batchnorm(net, X, batch_size=16)
    with torch.no_grad():
        z = net[0](torch.from_numpy(X))
    torch.testing.assert_close(net[1].running_mean, z.mean(dim=(0, 2)), rtol=1e-4, atol=1e-4)
    assert net[1].momentum == 0.1 and net.training  # momentum and mode restored
    assert not recalibrate_batchnorm(torch.nn.Linear(2, 2), X)


def test_collapse_is_detected_and_counted():
    m = classification_metrics([0, 1, 1, 0], np.tile([0.1, 0.9], (4, 1)), 2)
    assert m["collapsed"] and m["predicted_counts"] == [0, 4] and m["balanced_accuracy"] == 0.5
    ok = classification_metrics([0, 1], [[0.9, 0.1], [0.2, 0.8]], 2)
    assert not ok["collapsed"] and ok["predicted_counts"] == [1, 1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.set_num_threads(1)
    cfg = tiny_config(tmp_path_factory.mktemp("data"))
    return cfg, load_dataset(cfg.data)


def _student_data(splits, n_train=None):
    tr, va = splits["train"], splits["val"]
    idx = slice(None) if n_train is None else slice(0, n_train)
    return TrainData([Source(tr.X[idx], tr.y[idx])], va.X[:4], va.y[:4], sfreq=tr.sfreq)


def test_a_four_window_validation_split_cannot_stop_training_early(tiny):
    from dlink.distill.students import build_student

    cfg, splits = tiny
    tr = splits["train"]
    torch.manual_seed(0)
    model = build_student(cfg.student, n_chans=tr.n_chans, n_times=tr.n_times, n_outputs=2, sfreq=tr.sfreq)
    tcfg = dataclasses.replace(cfg.train, steps=24, min_steps=16, eval_every_steps=4, patience=1)
    objective = DLinkObjective(student_alone(cfg.distill), n_outputs=2)
    _, h = train_model(model, objective, _student_data(splits, 12), train_cfg=tcfg, seed=0)
    assert h["steps"] >= 16  # patience 1 would have stopped at step 8 otherwise
    assert h["step"][:4] == [4, 8, 12, 16] and len(h["val_pred_counts"][0]) == 2
    assert all(len(s) == len(h["step"]) for s in (h["val_loss"], h["val_loss_smoothed"], h["lr"]))
    # the smoothed loss lags the raw one by the configured weight
    a = tcfg.val_smoothing
    assert h["val_loss_smoothed"][1] == pytest.approx(a * h["val_loss"][1] + (1 - a) * h["val_loss"][0])


def chance_of(n_classes: int) -> float:
    return 1.0 / n_classes


def test_teacher_gate_switches_a_chance_teacher_off_and_keeps_a_good_one(tiny, tmp_path):
    from dlink.distill.pipeline import build_caches, gate_and_distill
    from dlink.distill.teachers import build_teacher
    from dlink.rundir import RunDir

    cfg, splits = tiny
    tr = splits["train"]
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=8, min_steps=8))
    torch.manual_seed(0)
    teacher = build_teacher(cfg.teacher, n_chans=tr.n_chans, n_times=tr.n_times, n_outputs=2,
                            ch_names=tr.ch_names).eval()
    caches = build_caches(teacher, splits, cache_root=None)
    y_val = splits["val"].y
    caches["val"].logits[:] = np.eye(2, dtype=np.float32)[np.zeros_like(y_val)]  # one class: chance
    out = gate_and_distill(cfg, splits, caches, RunDir(tmp_path / "a"))
    g = out["gate"]
    assert g["decision"] == "off" and "not better than chance" in g["reason"]
    assert out["kept"] == "student_alone" and out["student"] is out["alone"]
    caches["val"].logits[:] = 5 * np.eye(2, dtype=np.float32)[y_val]  # a perfect teacher on val
    out = gate_and_distill(cfg, splits, caches, RunDir(tmp_path / "b"))
    assert out["gate"]["decision"] == "on" and out["gate"]["teacher_val_balanced_accuracy"] == 1.0
    assert out["gate"]["kept"] in ("distilled", "student_alone") and out["alone"] is not None
    assert "distilled_val_balanced_accuracy" in out["gate"]
    off = dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, teacher_gate="off"))
    assert gate_and_distill(off, splits, caches, RunDir(tmp_path / "c"))["gate"]["decision"] == "off"
    # a teacher above chance but weaker than the student alone is still tried (through the pool
    # it can make a better student than itself); the better of the two on val is kept
    wrong = np.arange(len(y_val)) % 4 == 0  # right on 3 of 4 val windows
    caches["val"].logits[:] = 5 * np.eye(2, dtype=np.float32)[np.where(wrong, 1 - y_val, y_val)]
    out = gate_and_distill(cfg, splits, caches, RunDir(tmp_path / "d"))
    g = out["gate"]
    assert g["decision"] == "on" and chance_of(2) < g["teacher_val_balanced_accuracy"] < 1.0
    d, a = g["distilled_val_balanced_accuracy"], g["student_alone_val_balanced_accuracy"]
    assert out["kept"] == ("student_alone" if a > d else "distilled") or a == d
    if out["kept"] == "distilled" and g["teacher_val_balanced_accuracy"] <= a:
        assert "distilled anyway" in g["reason"]
    assert uses_teacher(DistillConfig()) and not uses_teacher(student_alone(DistillConfig()))
