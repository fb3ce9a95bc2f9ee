"""Label-preserving EEG augmentation for band-power tasks (motor imagery), per window.

Small pure functions on ``(batch, n_chans, n_times)`` tensors, each drawing from a
``torch.Generator`` so that a training step is reproducible (and a resumed training continues
exactly). :func:`augment_windows` applies the ones a :class:`AugmentConfig` switches on; the
student's trainer uses it on labelled windows, the teacher's fine-tuning uses
:func:`time_shift`, :func:`sign_flip` and :func:`amplitude_scale` through
:func:`dlink.distill.finetune.augment`.

Why these: motor-imagery classes live in the mu/beta power of sensorimotor channels. A circular
time shift moves the window's content but not its band power; a sign flip leaves every power
spectrum unchanged; a random gain mimics electrode impedance and between-session amplitude
drift; zeroing whole channels (channel dropout) makes the model spread its weight over several
electrodes instead of one (a bad electrode on a headset then costs less); Gaussian noise at a
fraction of the window's RMS is the sensor noise floor moving.
"""

from __future__ import annotations

import math

import torch

from dlink.distill.config import AugmentConfig  # noqa: F401  (re-exported; defined there so that loading a config imports no torch)


def _check(x: torch.Tensor) -> None:
    if x.ndim != 3:
        raise ValueError(f"augmentation expects x of shape (batch, n_chans, n_times), got {tuple(x.shape)}.")


def time_shift(x: torch.Tensor, gen: torch.Generator, *, max_shift_samples: int | None = None) -> torch.Tensor:
    """Circular shift of each window by a random number of samples in
    ``[-max_shift_samples, max_shift_samples]`` (None: any shift).

    Examples
    --------
    >>> time_shift(torch.zeros(2, 3, 10), torch.Generator().manual_seed(0), max_shift_samples=2).shape
    torch.Size([2, 3, 10])
    """
    _check(x)
    n, c, t = x.shape
    if max_shift_samples is None:
        k = torch.randint(0, t, (n, 1), generator=gen)
    else:
        m = int(min(max_shift_samples, t - 1))
        k = torch.randint(-m, m + 1, (n, 1), generator=gen) % t
    idx = (torch.arange(t)[None, :] + k) % t
    return x.gather(2, idx[:, None, :].expand(n, c, t))


def sign_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Multiply each window by a random sign."""
    _check(x)
    return x * (torch.randint(0, 2, (x.shape[0], 1, 1), generator=gen) * 2 - 1).to(x.dtype)


def amplitude_scale(x: torch.Tensor, gen: torch.Generator, *, scale: float) -> torch.Tensor:
    """Multiply each window by a log-uniform random gain in ``[1/(1+scale), 1+scale]``."""
    _check(x)
    lo = math.log1p(scale)
    return x * torch.empty(x.shape[0], 1, 1).uniform_(-lo, lo, generator=gen).exp().to(x.dtype)


def channel_dropout(x: torch.Tensor, gen: torch.Generator, *, p: float) -> torch.Tensor:
    """Set each channel of each window to zero with probability ``p`` (no rescaling: a dead
    electrode reads zero, not a louder signal elsewhere)."""
    _check(x)
    keep = torch.rand(x.shape[0], x.shape[1], 1, generator=gen) >= p
    return x * keep.to(x.dtype)


def gaussian_noise(x: torch.Tensor, gen: torch.Generator, *, fraction: float) -> torch.Tensor:
    """Add white noise with a standard deviation of ``fraction`` times each window's RMS."""
    _check(x)
    rms = x.pow(2).mean(dim=(1, 2), keepdim=True).sqrt()
    return x + fraction * rms * torch.randn(x.shape, generator=gen).to(x.dtype)


def augment_windows(x: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig, *,
                    sfreq: float) -> torch.Tensor:
    """Apply the augmentations of ``cfg`` (time shift, sign, gain, channel dropout, noise).

    Shape
    -----
    ``x``: ``(batch, n_chans, n_times)``, returned with the same shape.

    Examples
    --------
    >>> augment_windows(torch.ones(4, 2, 200), torch.Generator().manual_seed(0), AugmentConfig(),
    ...                 sfreq=200.0).shape
    torch.Size([4, 2, 200])
    """
    _check(x)
    if not cfg.enabled or x.shape[0] == 0:
        return x
    if cfg.time_shift_s > 0:
        x = time_shift(x, gen, max_shift_samples=int(round(cfg.time_shift_s * sfreq)))
    if cfg.sign_flip:
        x = sign_flip(x, gen)
    if cfg.amplitude_scale > 0:
        x = amplitude_scale(x, gen, scale=cfg.amplitude_scale)
    if cfg.channel_dropout > 0:
        x = channel_dropout(x, gen, p=cfg.channel_dropout)
    if cfg.noise > 0:
        x = gaussian_noise(x, gen, fraction=cfg.noise)
    return x
