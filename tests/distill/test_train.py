"""A reduced distillation run: the loss falls, the student beats chance, resume is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlink.data import load_dataset
from dlink.distill.pipeline import build_caches, distill_student, evaluate, router_weights
from dlink.distill.teachers import build_teacher

from ._tiny import tiny_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    cfg = tiny_config(tmp_path_factory.mktemp("data"))
    splits = load_dataset(cfg.data)
    tr = splits["train"]
    torch.manual_seed(0)
    teacher = build_teacher(cfg.teacher, n_chans=tr.n_chans, n_times=tr.n_times,
                            n_outputs=len(tr.class_names), ch_names=tr.ch_names).eval()
    caches = build_caches(teacher, splits, cache_root=tmp_path_factory.mktemp("cache"))
    return cfg, splits, caches


def test_teacher_cache_shapes_and_reuse(setup, tmp_path):
    from dlink.distill.teacher_cache import build_teacher_cache

    cfg, splits, caches = setup
    c = caches["train"]
    n = len(splits["train"])
    assert c.hidden.shape == (n, 2, 22, 2, 16) and c.hidden.dtype == np.float16
    assert c.logits.shape == (n, 2)
    tr = splits["train"]
    torch.manual_seed(0)
    teacher = build_teacher(cfg.teacher, n_chans=tr.n_chans, n_times=tr.n_times, n_outputs=2,
                            ch_names=tr.ch_names).eval()
    X = tr.X[:8]
    first = build_teacher_cache(teacher, X, path=tmp_path / "c")
    again = build_teacher_cache(teacher, X, path=tmp_path / "c")
    assert again.fingerprint == first.fingerprint and isinstance(again.hidden, np.memmap)
    np.testing.assert_array_equal(np.asarray(again.hidden), np.asarray(first.hidden))
    with torch.no_grad():
        next(teacher.parameters()).add_(1.0)  # another teacher: the cache is rebuilt
    assert build_teacher_cache(teacher, X, path=tmp_path / "c").fingerprint != first.fingerprint


def test_reduced_distillation_reduces_loss_and_beats_chance(setup):
    cfg, splits, caches = setup
    student, objective, hist = distill_student(cfg, cfg.distill, splits, caches, seed=0,
                                               checkpoint_dir=None)
    assert len(hist["train_loss"]) == 4
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert {"ce", "kd", "feature", "spectral_mag", "spectral_phase", "antialias", "probe"} <= set(hist["terms"][0])
    m = evaluate(student, splits)
    assert m["balanced_accuracy"] > 0.6  # chance is 0.5 (2 balanced classes)
    rw = router_weights(objective, caches["test"])
    assert len(rw["layer_weights_mean"]) == 2
    assert sum(rw["layer_weights_mean"]) == pytest.approx(1.0, abs=1e-5)


def test_resume_after_interruption_matches_uninterrupted_run(setup, tmp_path):
    from dlink.distill import train as train_mod

    cfg, splits, caches = setup
    full, _, h_full = distill_student(cfg, cfg.distill, splits, caches, seed=1,
                                      checkpoint_dir=tmp_path / "a")
    # interrupted after one validation, then resumed by a second call
    orig = train_mod.train_model

    def one_epoch(*a, **kw):
        return orig(*a, max_evals=1, **kw)

    train_mod.train_model = one_epoch
    try:
        _, _, h1 = distill_student(cfg, cfg.distill, splits, caches, seed=1,
                                   checkpoint_dir=tmp_path / "b")
    finally:
        train_mod.train_model = orig
    assert len(h1["train_loss"]) == 1 and not h1["finished"]
    resumed, _, h2 = distill_student(cfg, cfg.distill, splits, caches, seed=1,
                                     checkpoint_dir=tmp_path / "b")
    assert len(h2["train_loss"]) == 4 and h2["finished"]
    assert h2["train_loss"] == pytest.approx(h_full["train_loss"], rel=1e-5)
    for k, v in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, msg=k)
