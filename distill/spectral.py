"""Spectral distillation terms and the anti-aliasing penalty.

Which temporal axis? A 4-s window gives the teacher only 4 one-second tokens per channel; an FFT
over 4 points has 3 bins (DC, 0.25 and 0.5 cycles/token) and says almost nothing. We compare
spectra on the **student's finer mimic axis** instead (``steps_per_token`` steps per teacher
token, 40 steps for 4 s at the default 10 steps/token, i.e. a 10 Hz feature rate, 0.25 Hz
resolution): the routed teacher target is brought to that rate by linear interpolation between
token centres, and both are Fourier-transformed along that axis.

What this measures: the target, interpolated from 1-s tokens, is a smooth, band-limited
trajectory; its spectrum has the token-scale dynamics (DC and the first bins) and little above.
The **magnitude** term (L1 on ``log1p |X|``) asks the student's projected mimic features to have
the same slow dynamics *and* no spurious fast fluctuation (energy in bins where the target has
none costs ``log1p`` of it), so it acts as a spectrally-shaped alignment beyond the token-pooled
MSE of the feature term. The **phase** term (``1 - cos`` of the phase difference, weighted by the
target's magnitude) aligns *when* those slow changes happen, which the magnitude ignores and the
pooled MSE only sees at four points. Both are zero for identical sequences.

The **anti-aliasing** term looks at the signal just before each later decimation (after the
low-pass filter, before dropping samples) and penalises the fraction of its (non-DC) energy above
the new Nyquist frequency: that energy would fold back into the band. With fixed filters it
pushes upstream features to stay band-limited; with learned filters it keeps them low-pass.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def upsample_tokens(target: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Bring ``(B, C, P, D)`` tokens to ``(B, C, n_steps, D)`` by linear interpolation in time."""
    b, c, p, d = target.shape
    t = target.permute(0, 1, 3, 2).reshape(b * c, d, p)
    t = F.interpolate(t, size=n_steps, mode="linear", align_corners=False)
    return t.reshape(b, c, d, n_steps).permute(0, 1, 3, 2)


def spectral_losses(student: torch.Tensor, target: torch.Tensor, *, dim: int = 2,
                    eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-magnitude and magnitude-weighted phase losses along ``dim``.

    Parameters
    ----------
    student, target : torch.Tensor
        Same shape; ``dim`` is the time axis.

    Returns
    -------
    (magnitude_loss, phase_loss) : tuple of scalar tensors
        ``mean |log1p|S| - log1p|T||`` and ``sum_k |T_k| (1 - cos(phi_S - phi_T)) / sum_k |T_k|``.
    """
    if student.shape != target.shape:
        raise ValueError(f"spectral_losses: shapes differ: student {tuple(student.shape)} vs "
                         f"target {tuple(target.shape)}.")
    s = torch.fft.rfft(student.float(), dim=dim, norm="ortho")
    t = torch.fft.rfft(target.float(), dim=dim, norm="ortho")
    s_mag, t_mag = s.abs(), t.abs()
    mag = (torch.log1p(s_mag) - torch.log1p(t_mag)).abs().mean()
    cos = (s * t.conj()).real / (s_mag * t_mag + eps)
    w = t_mag.detach()
    phase = (w * (1.0 - cos)).sum() / (w.sum() + eps)
    return mag, phase


def antialias_penalty(taps: list[tuple[torch.Tensor, int]]) -> torch.Tensor:
    """Mean fraction of non-DC energy above the new Nyquist, over the given decimations.

    Parameters
    ----------
    taps : list of (signal, stride)
        ``signal`` ``(B, C, 1, T)`` just before a decimation by ``stride``.
    """
    if not taps:
        return torch.zeros(())
    out = []
    for h, stride in taps:
        n = h.shape[-1]
        power = torch.fft.rfft(h.float(), dim=-1).abs().pow(2)[..., 1:]  # drop DC
        cutoff = n // (2 * stride)  # bins 1..cutoff are below the new Nyquist
        above = power[..., cutoff:].sum(-1)
        out.append((above / (power.sum(-1) + 1e-8)).mean())
    return torch.stack(out).mean()
