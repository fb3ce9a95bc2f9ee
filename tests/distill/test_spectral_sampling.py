"""The spectral and anti-aliasing terms see a uniform random sample of each batch.

The trainer's batches mix the labelled "train" split (listed first) with the unlabelled "pool".
An earlier version sorted each batch by index and gave the spectral terms its first 16 windows,
so they saw almost only labelled windows; these tests fail on that sampling.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlink.distill.config import DistillConfig, TrainConfig
from dlink.distill.losses import spectral_sample
from dlink.distill.students.mic import MiC
from dlink.distill.train import Source, TrainData, train_model


class _Spy(nn.Module):
    """A student with ``forward_train`` that records which windows the spectral terms get."""

    def __init__(self):
        super().__init__()
        self.w = nn.Linear(1, 2)
        self.seen: list[np.ndarray] = []
        self.batches: list[np.ndarray] = []

    def forward(self, x):
        return self.w(x[:, :1, 0])

    def forward_train(self, x, *, with_taps, taps_index):
        self.batches.append(x[:, 0, 0].numpy().copy())
        self.seen.append(x[:, 0, 0].numpy().copy() if taps_index is None
                         else x[taps_index, 0, 0].numpy().copy())
        return {"logits": self(x), "taps": []}


class _Objective(nn.Module):
    """Cross-entropy on labelled windows; also checks the batch's spectral index."""

    uses_teacher_states = False

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg

    def forward(self, out, batch):
        sub = batch["spectral_index"]
        assert sub is not None and len(sub) == self.cfg.spectral_windows
        keep = batch["y"] >= 0
        loss = nn.functional.cross_entropy(out["logits"][keep], batch["y"][keep]) if keep.any() \
            else out["logits"].sum() * 0
        return loss, {"ce": float(loss.detach())}


def _data(n_train=300, n_pool=1020):
    # window i carries its global index in x[i, 0, 0]
    def src(lo, n, labelled):
        X = np.zeros((n, 2, 4), dtype=np.float32)
        X[:, 0, 0] = np.arange(lo, lo + n)
        y = np.arange(n) % 2 if labelled else np.full(n, -1)
        return Source(X, y.astype(np.int64), teacher_logits=np.zeros((n, 2), np.float32))
    val = np.zeros((4, 2, 4), np.float32)
    return TrainData([src(0, n_train, True), src(n_train, n_pool, False)], val, np.array([0, 1, 0, 1]))


def test_spectral_terms_see_pool_windows_in_proportion_and_every_index():
    data = _data()
    model = _Spy()
    cfg = DistillConfig(spectral_windows=16, w_kd=0.0)
    train_model(model, _Objective(cfg), data, train_cfg=TrainConfig(epochs=4, batch_size=64, patience=99),
                seed=0)
    seen = np.concatenate(model.seen).astype(int)
    batches = np.concatenate(model.batches).astype(int)
    # the sample has the batches' make-up: as many pool windows as the batches hold (the
    # recipe's labelled share puts about half of each batch in the pool); the old
    # first-16-of-a-sorted-batch sampling gave almost only labelled windows (indices < 300 sort
    # first)
    pool_share, batch_pool_share = float(np.mean(seen >= 300)), float(np.mean(batches >= 300))
    assert batch_pool_share > 0.3
    assert abs(pool_share - batch_pool_share) < 0.04, (pool_share, batch_pool_share)
    # windows late in the pool are sampled as often as the batches hold them (old sampling:
    # almost never above index ~480)
    late, batch_late = float(np.mean(seen >= 900)), float(np.mean(batches >= 900))
    assert batch_late > 0.1 and abs(late - batch_late) < 0.04, (late, batch_late)
    # and the sample reaches most of the pool, not a few of its windows
    assert len(np.unique(seen[seen >= 300])) > 0.5 * 1020


def test_batches_keep_the_order_they_were_asked_in():
    data = _data(10, 10)
    idx = np.array([15, 2, 11, 0, 19, 7])
    b = data.batch(idx, need_hidden=False, need_logits=True)
    np.testing.assert_array_equal(b["x"][:, 0, 0].numpy().astype(int), idx)
    np.testing.assert_array_equal(b["y"].numpy(), [-1, 0, -1, 0, -1, 1])


def test_spectral_sample_is_uniform_and_without_replacement():
    rng = np.random.default_rng(0)
    counts = np.zeros(64)
    for _ in range(2000):
        sub = spectral_sample(64, 16, rng).numpy()
        assert len(np.unique(sub)) == 16
        counts[sub] += 1
    # each position is picked ~ 2000 * 16 / 64 = 500 times
    assert counts.min() > 400 and counts.max() < 600
    assert spectral_sample(8, 16, rng) is None and spectral_sample(8, None, rng) is None
    with pytest.raises(ValueError, match="spectral_windows"):
        spectral_sample(8, 0, rng)


def test_student_taps_are_computed_on_the_sampled_windows():
    torch.manual_seed(0)
    m = MiC(4, 2, 400, mimic_width=2, hidden_width=8, final_width=4, lowpass="learned").eval()
    x = torch.randn(6, 4, 400)
    idx = torch.tensor([1, 4])
    full = m.forward_train(x, with_taps=True)
    part = m.forward_train(x, with_taps=True, taps_index=idx)
    assert len(part["taps"]) == len(full["taps"]) > 0
    for (a, sa), (b, sb) in zip(part["taps"], full["taps"]):
        assert sa == sb and a.shape[0] == 2
        torch.testing.assert_close(a, b[idx])
