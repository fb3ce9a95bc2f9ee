"""Building blocks shared by the students: export-friendly layers on ``[B, C, 1, T]`` tensors.

Every block here maps onto int8 TFLite-Micro builtins: ``Conv2d`` with ``groups == 1`` (CONV_2D)
or ``groups == in_channels`` (DEPTHWISE_CONV_2D, any depth multiplier), ``BatchNorm2d`` (folded
into the convolution at export), ``ReLU``/``ReLU6``. Time runs along the last axis and the height
is 1, which the NCHW -> NHWC conversion turns into ``[B, 1, T, C]`` without transposes inside the
graph.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def sinc_lowpass(kernel_samples: int, cutoff: float) -> torch.Tensor:
    """Hamming-windowed sinc low-pass FIR, unit DC gain.

    Parameters
    ----------
    kernel_samples : int
        Odd number of taps.
    cutoff : float
        Cut-off in cycles per sample (0 < cutoff <= 0.5).

    Returns
    -------
    torch.Tensor
        Shape ``(kernel_samples,)``.
    """
    n = torch.arange(kernel_samples, dtype=torch.float64) - (kernel_samples - 1) / 2
    h = 2 * cutoff * torch.sinc(2 * cutoff * n)
    h = h * torch.hamming_window(kernel_samples, periodic=False, dtype=torch.float64)
    return (h / h.sum()).float()


class LowpassDown(nn.Module):
    """Anti-aliased temporal downsampling: a low-pass FIR and decimation in one strided
    depthwise convolution.

    The FIR is a windowed sinc with its cut-off at the new Nyquist frequency. ``learned=False``
    keeps it fixed (not trained); ``learned=True`` starts from it and trains it, and the
    anti-aliasing loss (:func:`dlink.distill.spectral.antialias_penalty`) keeps it a low-pass.

    Parameters
    ----------
    n_channels : int
        Channels (each filtered on its own).
    stride : int
        Decimation factor (>= 1; 1 is the identity).
    learned : bool
        Train the filter taps.

    Shape
    -----
    ``[B, n_channels, 1, T] -> [B, n_channels, 1, T // stride]`` (T a multiple of ``stride``).
    """

    def __init__(self, n_channels: int, stride: int, *, learned: bool = False):
        super().__init__()
        if stride < 1:
            raise ValueError(f"LowpassDown: stride must be >= 1, got {stride!r}.")
        self.stride = int(stride)
        self.learned = bool(learned)
        if stride == 1:
            self.conv = None
            return
        k = 4 * stride + 1
        self.conv = nn.Conv2d(n_channels, n_channels, (1, k), stride=(1, stride),
                              padding=(0, k // 2), groups=n_channels, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(sinc_lowpass(k, 0.5 / stride).view(1, 1, 1, k)
                                   .expand_as(self.conv.weight))
        self.conv.weight.requires_grad_(self.learned)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.conv is None else self.conv(x)

    def filtered(self, x: torch.Tensor) -> torch.Tensor:
        """The filter's output before decimation (training only: the anti-aliasing loss)."""
        if self.conv is None:
            return x
        return F.conv2d(x, self.conv.weight, None, stride=1, padding=self.conv.padding,
                        groups=self.conv.groups)


class ConvBN(nn.Sequential):
    """Conv2d (no bias) + BatchNorm2d + optional ReLU6, on ``[B, C, 1, T]``.

    ``groups`` must be 1 or ``in_channels`` (depthwise), the two cases TFLite-Micro has kernels for.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_samples: int = 1, *,
                 groups: int = 1, relu: bool = True):
        if groups not in (1, in_channels):
            raise ValueError(f"ConvBN: groups must be 1 or in_channels={in_channels}, got {groups}.")
        if kernel_samples % 2 != 1:
            raise ValueError(f"ConvBN: kernel_samples must be odd, got {kernel_samples}.")
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, (1, kernel_samples),
                      padding=(0, kernel_samples // 2), groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if relu:
            layers.append(nn.ReLU6())
        super().__init__(*layers)


class SeparableBlock(nn.Module):
    """Depthwise temporal conv + pointwise conv (+BN, ReLU6), then anti-aliased downsampling.

    Shape
    -----
    ``[B, width, 1, T] -> [B, width, 1, T // stride]``.
    """

    def __init__(self, width: int, *, kernel_samples: int = 5, stride: int = 2,
                 learned_lowpass: bool = False):
        super().__init__()
        self.depthwise = ConvBN(width, width, kernel_samples, groups=width, relu=False)
        self.pointwise = ConvBN(width, width, 1)
        self.down = LowpassDown(width, stride, learned=learned_lowpass)

    def pre_down(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.pre_down(x))


def n_out_times(n_times: int, *strides: int) -> int:
    """Length of the time axis after the given decimations (each must divide it)."""
    t = n_times
    for s in strides:
        if t % s:
            raise ValueError(f"a time axis of {t} samples cannot be decimated by {s}: choose "
                             f"strides whose product divides n_times.")
        t //= s
    return t

