"""The DLink router: weights over layers, top-k, static modes."""

from __future__ import annotations

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


def test_router_trained_by_its_probe_moves_to_the_layer_that_carries_the_label():
    # Four layers of noise; only layer 2 (0-based) has a class-dependent channel. Trained on the
    # probe loss alone (as in DLink), the router must put most of its weight there.
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
