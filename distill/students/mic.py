"""MiC: the mimic-then-compress student of DLink.

1. **Mimic** (front-end): the raw window is brought to the teacher's token grid: one token
   stream per EEG channel (the teacher's ``n_chans`` axis), ``steps_per_token`` steps per
   teacher patch (a finer time axis than the teacher's 1-s tokens), ``mimic_width`` features per
   channel. Layers: anti-aliased decimation of the raw input, a learned spatial re-referencing
   (C -> C, initialised to the identity, so stream c stays "channel c"), a per-channel temporal
   filter bank (depthwise conv with depth multiplier ``mimic_width``), ReLU6 (rectification), and
   an anti-aliased decimation to the mimic rate (an envelope, as a 1-s token summarises a patch).
   During training a separate projection (:class:`dlink.distill.train.Distiller`, not part of
   this module, not exported) maps these features to the teacher's width and they are aligned
   with the routed teacher target.
2. **Compress**: channel mixing of the ``n_chans * mimic_width`` streams into ``hidden_width``
   virtual channels (1x1 conv), separable temporal blocks each followed by a low-pass and a
   strided decimation, width reduction to ``final_width``, then the time mean and a linear head.

Deployed graph: Reshape, Conv2D / DepthwiseConv2D (+ folded BatchNorm), ReLU6, Mean,
FullyConnected. ``forward(x)`` returns logits only; :meth:`MiC.forward_train` also returns the
mimic features and the pre-decimation signals for the losses.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBN, LowpassDown, SeparableBlock, n_out_times


class MiC(nn.Module):
    """Mimic-then-compress student.

    Parameters
    ----------
    n_chans, n_outputs, n_times : int
        Input channels, classes, samples per window.
    sfreq : float
        Sampling rate of the input (Hz); the teacher's patches are ``token_samples`` long.
    token_samples : int
        Samples per teacher token (patch) at ``sfreq`` (200: 1-s patches at 200 Hz).
    steps_per_token : int
        Mimic steps per teacher token (the finer axis of the spectral loss).
    input_stride : int
        Anti-aliased decimation of the raw input before the filter bank.
    mimic_width : int
        Filters per EEG channel in the mimic front-end.
    temporal_kernel_samples : int
        Taps of the per-channel filter bank (odd), at ``sfreq / input_stride``.
    hidden_width : int
        Virtual channels after channel mixing.
    compress_strides : tuple of int
        Decimation of each compression block (each preceded by a low-pass).
    final_width : int
        Width before the head.
    lowpass : {"fixed", "learned"}
        Windowed-sinc low-pass filters fixed, or initialised so and trained.
    drop_prob : float
        Dropout before the head (identity in eval / export).
    filterbank_init : {"random", "bandpass"}
        Initial taps of the per-channel filter bank: PyTorch's default (random), or DC-free
        Hann-windowed cosines centred on ``mimic_width`` frequencies spread over 6-36 Hz (mu and
        beta, where motor imagery lives; :func:`bandpass_bank`), so that the student starts with
        band-power features.

    Shape
    -----
    ``x``: ``(batch, n_chans, n_times)`` -> logits ``(batch, n_outputs)``.

    Examples
    --------
    >>> m = MiC(22, 4, 800)
    >>> m(torch.zeros(2, 22, 800)).shape
    torch.Size([2, 4])
    """

    def __init__(self, n_chans: int, n_outputs: int, n_times: int, *, sfreq: float = 200.0,
                 token_samples: int = 200, steps_per_token: int = 10, input_stride: int = 2,
                 mimic_width: int = 8, temporal_kernel_samples: int = 13, hidden_width: int = 32,
                 compress_strides: tuple[int, ...] | list[int] = (2, 2), final_width: int = 16,
                 lowpass: str = "fixed", drop_prob: float = 0.25, filterbank_init: str = "random"):
        super().__init__()
        if lowpass not in ("fixed", "learned"):
            raise ValueError(f"MiC: lowpass must be 'fixed' or 'learned', got {lowpass!r}.")
        if filterbank_init not in ("random", "bandpass"):
            raise ValueError(f"MiC: filterbank_init must be 'random' or 'bandpass', got "
                             f"{filterbank_init!r}.")
        if n_times % token_samples:
            raise ValueError(f"MiC: n_times={n_times} must be a whole number of teacher tokens of "
                             f"token_samples={token_samples} samples.")
        if token_samples % (input_stride * steps_per_token):
            raise ValueError(
                f"MiC: token_samples={token_samples} must be a multiple of input_stride * "
                f"steps_per_token = {input_stride} * {steps_per_token}.")
        self.n_chans, self.n_outputs, self.n_times = int(n_chans), int(n_outputs), int(n_times)
        self.sfreq = float(sfreq)
        self.n_tokens = n_times // token_samples
        self.steps_per_token = int(steps_per_token)
        self.mimic_width = int(mimic_width)
        learned = lowpass == "learned"
        mimic_stride = token_samples // (input_stride * steps_per_token)
        self.n_mimic_steps = n_out_times(n_times, input_stride, mimic_stride)
        n_out_times(self.n_mimic_steps, *compress_strides)  # checks divisibility

        # -- mimic ---------------------------------------------------------------------------
        self.input_down = LowpassDown(n_chans, input_stride, learned=learned)
        self.spatial = nn.Conv2d(n_chans, n_chans, 1, bias=False)
        with torch.no_grad():
            self.spatial.weight.copy_(torch.eye(n_chans).view(n_chans, n_chans, 1, 1))
        self.filterbank = ConvBN(n_chans, n_chans * mimic_width, temporal_kernel_samples,
                                 groups=n_chans)
        if filterbank_init == "bandpass":
            with torch.no_grad():
                taps = bandpass_bank(mimic_width, temporal_kernel_samples, sfreq / input_stride)
                self.filterbank[0].weight.copy_(taps.repeat(n_chans, 1).view_as(self.filterbank[0].weight))
        self.mimic_down = LowpassDown(n_chans * mimic_width, mimic_stride, learned=learned)
        # -- compress ------------------------------------------------------------------------
        self.mix = ConvBN(n_chans * mimic_width, hidden_width, 1)
        self.blocks = nn.ModuleList(
            SeparableBlock(hidden_width, stride=s, learned_lowpass=learned) for s in compress_strides)
        self.reduce = ConvBN(hidden_width, final_width, 1)
        self.dropout = nn.Dropout(drop_prob)
        self.head = nn.Linear(final_width, n_outputs)

    def set_spatial_filters(self, weights) -> None:
        """Load ``(n_chans, n_chans)`` spatial filters (rows: output streams) into the spatial
        layer, e.g. the CSP filters of :func:`dlink.distill.students.data_init.csp_spatial_filters`."""
        w = torch.as_tensor(weights, dtype=self.spatial.weight.dtype)
        if tuple(w.shape) != (self.n_chans, self.n_chans):
            raise ValueError(f"MiC.set_spatial_filters: expected ({self.n_chans}, {self.n_chans}) "
                             f"filters, got {tuple(w.shape)}.")
        with torch.no_grad():
            self.spatial.weight.copy_(w.view_as(self.spatial.weight))

    @property
    def mimic_channels(self) -> int:
        """Channels of the mimic features (``n_chans * mimic_width``)."""
        return self.n_chans * self.mimic_width

    def _mimic(self, x: torch.Tensor, taps: list | None, sub: torch.Tensor | None = None) -> torch.Tensor:
        tracing = torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
        if not tracing and (x.ndim != 3 or x.shape[1] != self.n_chans or x.shape[2] != self.n_times):
            raise ValueError(f"MiC expects x of shape (batch, {self.n_chans}, {self.n_times}), "
                             f"got {tuple(x.shape)}.")
        h = x.reshape(-1, self.n_chans, 1, self.n_times)  # static shape: no Shape/Gather in ONNX
        if taps is not None and self.input_down.learned:  # a fixed filter on the raw input is constant
            taps.append((self.input_down.filtered(_rows(h, sub)), self.input_down.stride))
        h = self.input_down(h)
        h = self.filterbank(self.spatial(h))
        if taps is not None:
            taps.append((self.mimic_down.filtered(_rows(h, sub)), self.mimic_down.stride))
        return self.mimic_down(h)

    def _compress(self, m: torch.Tensor, taps: list | None, sub: torch.Tensor | None = None) -> torch.Tensor:
        h = self.mix(m)
        for block in self.blocks:
            h = block.pre_down(h)
            if taps is not None:
                taps.append((block.down.filtered(_rows(h, sub)), block.down.stride))
            h = block.down(h)
        h = self.reduce(h)
        h = h.mean(dim=(2, 3))
        return self.head(self.dropout(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_outputs)``: the deployed graph."""
        return self._compress(self._mimic(x, None), None)

    def forward_train(self, x: torch.Tensor, *, with_taps: bool = True,
                      taps_index: torch.Tensor | None = None) -> dict[str, torch.Tensor | list]:
        """Logits plus what the distillation losses need.

        ``with_taps=False`` skips the pre-decimation signals (each costs a full-rate filter
        pass); ``taps_index`` computes them for these windows of the batch only (the random
        subset of :func:`dlink.distill.losses.spectral_sample`; None: every window).

        Returns
        -------
        dict
            ``logits`` ``(B, n_outputs)``; ``mimic`` ``(B, n_chans * mimic_width, 1,
            n_mimic_steps)``; ``taps``: list of ``(signal before decimation, stride)`` for every
            downsampling (for the anti-aliasing loss).
        """
        taps: list | None = [] if with_taps else None
        m = self._mimic(x, taps, taps_index)
        return {"logits": self._compress(m, taps, taps_index), "mimic": m, "taps": taps or []}


def bandpass_bank(n_filters: int, kernel_samples: int, sfreq: float, *,
                  band_hz: tuple[float, float] = (6.0, 36.0)) -> torch.Tensor:
    """``(n_filters, kernel_samples)`` Hann-windowed cosines with their DC removed (band-passes),
    centres spaced evenly on a log axis over ``band_hz`` (capped below Nyquist). A short kernel
    cannot resolve the lowest centres: their pass-bands are wide and peak above the centre.

    >>> bandpass_bank(4, 13, 100.0).shape
    torch.Size([4, 13])
    """
    hi = min(band_hz[1], 0.8 * sfreq / 2)
    centres = torch.logspace(torch.log10(torch.tensor(band_hz[0])), torch.log10(torch.tensor(hi)),
                             n_filters, dtype=torch.float64)
    t = (torch.arange(kernel_samples, dtype=torch.float64) - (kernel_samples - 1) / 2) / sfreq
    window = torch.hann_window(kernel_samples + 2, periodic=False, dtype=torch.float64)[1:-1]
    taps = torch.cos(2 * torch.pi * centres[:, None] * t[None, :]) * window
    taps = taps - window * (taps.sum(dim=1, keepdim=True) / window.sum())  # no DC: band-pass
    return (taps / taps.abs().sum(dim=1, keepdim=True) * 2).float()


def _rows(h: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
    return h if index is None else h[index]
