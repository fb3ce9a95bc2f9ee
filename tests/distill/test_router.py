"""The DLink router: weights over layers, top-k, static modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlink.distill.router import LayerRouter, normalize_layers


def _hidden(b=5, n_layers=4, c=3, p=4, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return normalize_layers(torch.randn(b, n_layers, c, p, d, generator=g))


def test_router_weights_are_a_distribution_and_input_conditioned():
    torch.manual_seed(0)
    r = LayerRouter(4, 8, 3)
    h = _hidden()
    w = r.weights(h)
    assert w.shape == (5, 4)
    assert torch.all(w >= 0)
    torch.testing.assert_close(w.sum(1), torch.ones(5))
    # different windows get different weights (input-conditioned)
    assert (w - w[0]).abs().max() > 1e-4


def test_top_k_keeps_k_layers_and_renormalises():
    torch.manual_seed(0)
    r = LayerRouter(4, 8, 3, top_k=2)
    w = r.weights(_hidden())
    assert ((w > 0).sum(1) == 2).all()
    torch.testing.assert_close(w.sum(1), torch.ones(5))
    full = LayerRouter(4, 8, 3)
    full.load_state_dict(r.state_dict())
    wf = full.weights(_hidden())
    # the kept layers are the two largest of the full softmax
    assert torch.equal((w > 0), wf >= wf.topk(2, dim=1).values[:, -1:])


def test_routed_target_is_weighted_sum_of_layers():
    torch.manual_seed(0)
    r = LayerRouter(4, 8, 3, n_chans=3)
    h = _hidden()
    w, target = r(h)
    expected = sum(w[:, i, None, None, None] * h[:, i] for i in range(4))
    torch.testing.assert_close(target, expected)
    assert r.probe_logits(target).shape == (5, 3)


def test_static_modes():
    h = _hidden()
    w_last, t_last = LayerRouter(4, 8, 3, mode="last")(h)
    assert torch.equal(w_last[:, -1], torch.ones(5)) and w_last[:, :-1].abs().sum() == 0
    torch.testing.assert_close(t_last, h[:, -1])
    w_avg, t_avg = LayerRouter(4, 8, 3, mode="average")(h)
    torch.testing.assert_close(w_avg, torch.full((5, 4), 0.25))
    torch.testing.assert_close(t_avg, h.mean(1))
    w_blk, t_blk = LayerRouter(4, 8, 3, mode="block", block=2)(h)
    assert torch.equal(w_blk[:, 1], torch.ones(5)) and float(w_blk.sum()) == 5.0
    torch.testing.assert_close(t_blk, h[:, 1])


def test_bias_mode_gives_every_window_the_same_learned_weights():
    torch.manual_seed(0)
    r = LayerRouter(4, 8, 3, mode="bias")
    with torch.no_grad():
        r.layer_bias.copy_(torch.tensor([0.0, 1.0, 2.0, -1.0]))
    w = r.weights(_hidden())
    torch.testing.assert_close(w, torch.tensor([0.0, 1.0, 2.0, -1.0]).softmax(0).expand(5, 4))
    assert r.trainable and not LayerRouter(4, 8, 3, mode="block", block=1).trainable


def test_router_gets_gradient_from_its_probe():
    torch.manual_seed(0)
    r = LayerRouter(4, 8, 3, n_chans=3)
    w, target = r(_hidden())
    torch.nn.functional.cross_entropy(r.probe_logits(target), torch.tensor([0, 1, 2, 0, 1])).backward()
    assert r.score[0].weight.grad.abs().sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="top_k"):
        LayerRouter(4, 8, 3, top_k=5)
    with pytest.raises(ValueError, match="distill.target"):
        LayerRouter(4, 8, 3, mode="first")
    with pytest.raises(ValueError, match="expected 4 layers"):
        LayerRouter(4, 8, 3).weights(_hidden(n_layers=3))
    with pytest.raises(ValueError, match="target_block"):
        LayerRouter(4, 8, 3, mode="block", block=5)
    with pytest.raises(ValueError, match="target_block"):
        LayerRouter(4, 8, 3, mode="block")


def test_router_trained_by_its_probe_moves_to_the_layer_that_carries_the_label():
    # Four layers of noise; only layer 2 (0-based) has a class-dependent channel. Trained on the
    # probe loss alone (as in DLink), the router must put most of its weight there.
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    n, n_layers, C, P, D = 256, 4, 3, 2, 8
    y = torch.randint(0, 2, (n,), generator=g)
    h = torch.randn(n, n_layers, C, P, D, generator=g)
    h[:, 2, 1, :, :4] += (2.0 * (2 * y - 1)).view(n, 1, 1).float()
    h = normalize_layers(h)
    torch.manual_seed(0)
    r = LayerRouter(n_layers, D, 2, n_chans=C)
    opt = torch.optim.Adam(r.parameters(), lr=0.01)
    for _ in range(300):
        w, target = r(h)
        loss = torch.nn.functional.cross_entropy(r.probe_logits(target), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    w = r.weights(h).mean(0)
    assert w.argmax().item() == 2 and w[2] > 0.6, w


def test_only_the_input_conditioned_router_wins_when_blocks_carry_the_label_per_group():
    # bench/routing_check.py: group A's label is in block 1 (and reversed in block 3), group B's
    # the other way round; every fixed weighting cancels the label in one group.
    from dlink.bench.routing_check import controlled_states, evaluate_router, train_router

    torch.set_num_threads(1)
    h_tr, y_tr, _ = controlled_states(384, seed=1000)
    h_te, y_te, g_te = controlled_states(384, seed=2000)
    routed = evaluate_router(train_router("router", h_tr, y_tr, steps=200), h_te, y_te, g_te)
    assert routed["balanced_accuracy"] > 0.95, routed
    assert routed["routes_groups_apart"], routed  # group A and group B go to different blocks
    for g in ("group_A", "group_B"):
        assert max(routed["weights"][g]) > 0.8, routed
    bias = evaluate_router(train_router("bias", h_tr, y_tr, steps=200), h_te, y_te, g_te)
    assert bias["balanced_accuracy"] < 0.6, bias
    assert np.allclose(bias["weights"]["group_A"], bias["weights"]["group_B"], atol=1e-6)
    for block in (1, 3):
        fixed = evaluate_router(train_router("block", h_tr, y_tr, block=block, steps=200),
                                h_te, y_te, g_te)
        assert fixed["balanced_accuracy"] < 0.6, (block, fixed)
