"""The braindecode baselines as built for training here."""

import pytest
import torch

from dlink.distill.baselines import BN_MOMENTUM, build_baseline


@pytest.mark.parametrize("name", ["eegnet", "shallow"])
def test_baseline_shapes_and_bn_momentum(name):
    model = build_baseline(name, n_chans=8, n_times=400, n_outputs=3)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.momentum == BN_MOMENTUM for m in bns)
    model.eval()
    assert model(torch.randn(2, 8, 400)).shape == (2, 3)


def test_eegnet_running_stats_follow_the_data_within_a_few_steps():
    # Thirty train-mode batches (six epochs of 300 windows): the first BatchNorm's running mean
    # must be close to the batch statistics, so eval mode scores what training saw. With
    # braindecode's own momentum (0.01) it would still be 74 % its initial value (0).
    torch.manual_seed(0)
    model = build_baseline("eegnet", n_chans=8, n_times=400, n_outputs=3)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    captured = {}
    bn.register_forward_hook(lambda mod, inp, out: captured.__setitem__("x", inp[0].detach()))
    x = 3.0 + torch.randn(64, 8, 400)
    model.train()
    with torch.no_grad():
        for _ in range(30):
            model(x)
    batch_mean = captured["x"].mean(dim=(0, 2, 3))
    assert torch.allclose(bn.running_mean, batch_mean, rtol=0.05, atol=0.02)


def test_bad_momentum_is_refused():
    with pytest.raises(ValueError, match="bn_momentum must be in"):
        build_baseline("eegnet", n_chans=8, n_times=400, n_outputs=3, bn_momentum=0.0)


def test_csp_lda_picks_its_components_on_val_and_beats_chance():
    import numpy as np

    from dlink.distill.csp_lda import CSPLDA, csp_lda_probabilities

    rng = np.random.default_rng(0)
    n, t = 60, 400
    y = np.repeat([0, 1, 2], n // 3)
    X = rng.standard_normal((n, 6, t))
    tt = np.arange(t) / 200.0
    for c in range(3):  # class c: a 12 Hz rhythm on channel c (inside CSP's 8-30 Hz band)
        X[y == c, c] += 3 * np.sin(2 * np.pi * 12 * tt + rng.uniform(0, 6, (int((y == c).sum()), 1)))
    tr, va = np.arange(0, n, 2), np.arange(1, n, 2)
    model = CSPLDA(200.0, n_components=(2, 4)).fit(X[tr], y[tr], X[va], y[va])
    assert model.n_components in (2, 4) and len(model.selection) == 2
    p = csp_lda_probabilities(model, X[va], 4)  # a 4th class never seen in training gets 0
    assert p.shape == (len(va), 4) and np.allclose(p[:, 3], 0)
    assert (p.argmax(1) == y[va]).mean() > 0.8
    assert model.n_params(6) == model.n_components * 6 + (model.n_components + 1) * 3
