"""Losses: spectral magnitude/phase, anti-aliasing, KD, masked CE, the objective's switches."""

from __future__ import annotations

import math

import pytest
import torch

from dlink.distill.config import DistillConfig
from dlink.distill.losses import DLinkObjective, kd_loss, masked_ce
from dlink.distill.spectral import antialias_penalty, spectral_losses, upsample_tokens


def _wave(shift_rad: float, n: int = 40) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float32)
    x = torch.sin(2 * math.pi * 3 * t / n + shift_rad) + 0.5 * torch.cos(2 * math.pi * 5 * t / n + shift_rad)
    return x.view(1, 1, n, 1).repeat(2, 3, 1, 4)  # (B, C, T, D), time on dim 2


def test_spectral_loss_zero_for_identical_inputs():
    x = torch.randn(2, 3, 40, 8)
    mag, phase = spectral_losses(x, x.clone(), dim=2)
    assert float(mag) == pytest.approx(0.0, abs=1e-6)
    assert float(phase) == pytest.approx(0.0, abs=1e-5)


def test_spectral_phase_grows_with_phase_shift_and_magnitude_does_not():
    ref = _wave(0.0)
    phases, mags = [], []
    for shift in (0.0, 0.3, 0.8, 1.6, 3.0):
        mag, phase = spectral_losses(_wave(shift), ref, dim=2)
        phases.append(float(phase))
        mags.append(float(mag))
    assert all(b > a for a, b in zip(phases, phases[1:])), phases
    assert max(mags) < 1e-3  # a phase shift keeps the magnitude spectrum


def test_spectral_magnitude_grows_with_amplitude_mismatch():
    ref = _wave(0.0)
    m = [float(spectral_losses(ref * g, ref, dim=2)[0]) for g in (1.0, 1.5, 3.0)]
    assert m[0] < m[1] < m[2]


def test_spectral_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shapes differ"):
        spectral_losses(torch.zeros(1, 2, 8, 3), torch.zeros(1, 2, 9, 3))


def test_upsample_tokens_keeps_constant_tokens():
    t = torch.ones(2, 3, 4, 5) * 2.0
    up = upsample_tokens(t, 40)
    assert up.shape == (2, 3, 40, 5)
    torch.testing.assert_close(up, torch.full_like(up, 2.0))


def test_antialias_penalty_low_for_slow_high_for_fast_signals():
    n = 64
    t = torch.arange(n, dtype=torch.float32)
    slow = torch.sin(2 * math.pi * 2 * t / n).view(1, 1, 1, n)   # bin 2: below n/(2*4)=8
    fast = torch.sin(2 * math.pi * 20 * t / n).view(1, 1, 1, n)  # bin 20: above
    assert float(antialias_penalty([(slow, 4)])) < 1e-3
    assert float(antialias_penalty([(fast, 4)])) > 0.99


def test_kd_and_masked_ce():
    z = torch.randn(6, 4)
    assert float(kd_loss(z, z, 4.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(kd_loss(z, -z, 4.0)) > 0
    y = torch.tensor([0, -1, 2, -1, 1, 3])
    keep = y >= 0
    torch.testing.assert_close(masked_ce(z, y), torch.nn.functional.cross_entropy(z[keep], y[keep]))
    assert float(masked_ce(z, torch.full((6,), -1))) == 0.0


def _objective(**kw):
    cfg = DistillConfig(**kw)
    return DLinkObjective(cfg, n_outputs=4, mimic_channels=6, n_chans=3, n_layers=2, width=8,
                          steps_per_token=5)


def _batch_out(b=4):
    g = torch.Generator().manual_seed(0)
    out = {"logits": torch.randn(b, 4, generator=g, requires_grad=True),
           "mimic": torch.randn(b, 6, 1, 20, generator=g, requires_grad=True),
           "taps": [(torch.randn(b, 6, 1, 40, generator=g), 2)]}
    batch = {"y": torch.tensor([0, 1, -1, 3]), "teacher_logits": torch.randn(b, 4, generator=g),
             "hidden": torch.randn(b, 2, 3, 4, 8, generator=g)}
    return out, batch


def test_objective_has_every_term_and_each_switches_off():
    torch.manual_seed(0)
    out, batch = _batch_out()
    loss, terms = _objective()(out, batch)
    assert set(terms) == {"ce", "kd", "feature", "spectral_mag", "spectral_phase", "antialias", "probe"}
    assert float(loss.detach()) == pytest.approx(sum(terms.values()), rel=1e-5)
    for w, term in [("w_kd", "kd"), ("w_feature", "feature"), ("w_spectral_mag", "spectral_mag"),
                    ("w_spectral_phase", "spectral_phase"), ("w_antialias", "antialias"),
                    ("w_router_probe", "probe"), ("w_ce", "ce")]:
        _, t = _objective(**{w: 0.0})(out, batch)
        assert term not in t and len(t) == 6
    _, t = _objective(target="last")(out, batch)
    assert "probe" not in t and "feature" in t  # static targets have no router to train
    loss.backward()
    assert out["mimic"].grad.abs().sum() > 0


def test_objective_without_terms_raises():
    out, batch = _batch_out()
    obj = DLinkObjective(DistillConfig(w_ce=0, w_kd=0, w_feature=0, w_spectral_mag=0,
                                       w_spectral_phase=0, w_antialias=0, w_router_probe=0),
                         n_outputs=4)
    with pytest.raises(ValueError, match="every loss weight is 0"):
        obj(out, batch)


class _Mimic(torch.nn.Module):
    """A stand-in student whose mimic features are given."""

    def __init__(self, mimic):
        super().__init__()
        self.mimic = mimic

    def forward_train(self, x, *, with_taps):
        return {"mimic": self.mimic[x[:, 0, 0].long()]}


def test_feature_r2_is_one_for_reproduced_tokens_and_matches_its_definition():
    import numpy as np

    from dlink.distill.losses import feature_r2
    from dlink.distill.router import normalize_layers

    g = torch.Generator().manual_seed(0)
    n, C, P, D, steps = 12, 2, 2, 3, 2
    hidden = torch.randn(n, 1, C, P, D, generator=g)
    target = normalize_layers(hidden)[:, 0]  # (n, C, P, D)
    obj = DLinkObjective(DistillConfig(target="block", target_block=1, w_router_probe=0.0),
                         n_outputs=2, mimic_channels=C * D, n_chans=C, n_layers=1, width=D,
                         steps_per_token=steps, n_tokens=P)
    with torch.no_grad():
        obj.project.weight.copy_(torch.eye(D))
    # mimic (n, C*F, 1, P*steps): each token's target, held for its steps
    mimic = target.repeat_interleave(steps, dim=2).permute(0, 1, 3, 2).reshape(n, C * D, 1, P * steps)
    X = np.zeros((n, 1, 1), np.float32)
    X[:, 0, 0] = np.arange(n)
    assert feature_r2(_Mimic(mimic), obj, X, hidden.numpy(), batch_size=5) == pytest.approx(1.0, abs=1e-6)
    # a mimic of zeros predicts 0 everywhere: R^2 = 1 - sum(t^2) / sum((t - mean_over_windows)^2)
    t = target.double().numpy()
    expected = 1 - (t ** 2).sum() / ((t - t.mean(0)) ** 2).sum()
    got = feature_r2(_Mimic(torch.zeros_like(mimic)), obj, X, hidden.numpy(), batch_size=5)
    assert got == pytest.approx(expected, rel=1e-6) and got < 0
