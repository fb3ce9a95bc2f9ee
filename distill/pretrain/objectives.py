"""The self-supervised objectives of the two teachers, as modules that hold the pretraining model.

* :class:`LaBraMPretrainer`, masked EEG modelling as in LaBraM: the masked (channel, patch)
  tokens are replaced by a learned ``mask_token`` after the temporal-conv patch embedding; the
  encoder (the teacher's own blocks), a final LayerNorm ``norm`` and a linear ``lm_head`` predict,
  for every masked token, the Fourier amplitude and phase of its 1-s patch. These are the targets
  LaBraM's neural tokenizer is trained to reconstruct (``|FFT|`` and ``angle(FFT)``, each
  standardised over all channels, patches and frequencies of a window); here the encoder regresses
  them directly instead of predicting the tokenizer's codebook index (the vector-quantised
  tokenizer is not built). We use the 101 non-redundant bins of the real FFT of a 200-sample
  patch (the official tokenizer decodes all 200 bins, half of which mirror the others). With
  ``symmetric`` the complement of the mask is trained as well, as the official model does.
* :class:`CBraModPretrainer`, masked patch reconstruction as in CBraMod: masked patches are
  replaced by ``mask_encoding`` (a fixed zero vector of the checkpoint) before the patch
  embedding; the backbone and its ``proj_out`` head reconstruct the raw 200 samples of every
  masked patch (mean squared error, masked patches only).

``forward(x, mask)`` returns, per loss part, the *sum* of the per-token errors and the number of
tokens; the trainer divides by the token count of the whole (global) batch, so that a batch split
over several processes gives the same loss and gradients as one process.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .masking import bernoulli_mask, exact_ratio_mask

PATCH_SAMPLES = 200
N_BINS = PATCH_SAMPLES // 2 + 1


def _to_patches(x: torch.Tensor, n_chans: int) -> torch.Tensor:
    if x.ndim != 3 or x.shape[1] != n_chans or x.shape[2] % PATCH_SAMPLES or x.shape[2] == 0:
        raise ValueError(f"Pretraining input must have shape (batch, n_chans={n_chans}, n_times) "
                         f"with n_times a positive multiple of {PATCH_SAMPLES}, got {tuple(x.shape)}.")
    return x.unflatten(2, (-1, PATCH_SAMPLES))


def standardize(x: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std over every axis but the first (one window), as LaBraM's ``std_norm``."""
    dims = tuple(range(1, x.ndim))
    return (x - x.mean(dim=dims, keepdim=True)) / x.std(dim=dims, keepdim=True).clamp_min(1e-8)


def fourier_targets(x4: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised amplitude and phase of each patch's real FFT.

    Shape
    -----
    x4: (batch, n_chans, n_patches, 200) -> two tensors (batch, n_chans, n_patches, 101).

    >>> a, p = fourier_targets(torch.randn(2, 3, 4, 200))
    >>> tuple(a.shape), round(float(a[0].mean()), 6), round(float(p[0].std()), 4)
    ((2, 3, 4, 101), 0.0, 1.0)
    """
    spec = torch.fft.rfft(x4, dim=-1)
    return standardize(spec.abs()), standardize(torch.angle(spec))


class LaBraMPretrainer(nn.Module):
    """LaBraM with its masked-EEG-modelling head; ``self.student`` carries the official names.

    Parameters
    ----------
    ch_names : list of str
        10-20 names of the corpus channels (rows of the position embedding).
    n_times : int
        Window length in samples (whole seconds at 200 Hz, at most 16 patches).
    depth, embed_dim, num_heads : int
        The teacher's size (LaBraM-Base: 12, 200, 10).
    drop_path : float
        Stochastic depth while pretraining.
    mask_ratio : float
        Fraction of tokens masked in every window.
    layer_scale_init : float
        Initial LayerScale of every residual branch (official 0.1).
    symmetric : bool
        Also predict the unmasked tokens from a second pass in which they are the masked ones.

    Shape
    -----
    x: (batch, n_chans, n_times); mask: (batch, n_chans * n_patches) bool, channel-major.
    """

    arch = "labram"
    mask_shape = "tokens"

    def __init__(self, ch_names: list[str], n_times: int, *, depth: int, embed_dim: int,
                 num_heads: int, drop_path: float = 0.1, mask_ratio: float = 0.5,
                 symmetric: bool = True, layer_scale_init: float = 0.1):
        super().__init__()
        from dlink.distill.teachers.labram import LaBraM, _trunc_normal

        student = LaBraM(1, list(ch_names), n_times, depth=depth, embed_dim=embed_dim,
                         num_heads=num_heads, head="mean", drop_path=drop_path,
                         init_values=layer_scale_init)
        # the pretraining model has no classification head; it has a mask token, a final norm
        # and the prediction head (names as in the official NeuralTransformerForMaskedEEGModeling)
        del student.fc_norm, student.head
        student.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        _trunc_normal(student.mask_token)
        student.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        student.lm_head = nn.Linear(embed_dim, 2 * N_BINS)
        _trunc_normal(student.lm_head.weight)
        nn.init.zeros_(student.lm_head.bias)
        self.student = student
        self.n_chans, self.n_times = len(ch_names), int(n_times)
        self.n_layers, self.mask_ratio, self.symmetric = depth, float(mask_ratio), bool(symmetric)
        self.kwargs = dict(depth=depth, embed_dim=embed_dim, num_heads=num_heads)

    def layer_id(self, name: str) -> int:
        return 0

    def no_weight_decay(self) -> set[str]:
        return {"student.cls_token", "student.pos_embed", "student.time_embed", "student.mask_token"}

    def make_mask(self, n_windows: int, gen: torch.Generator) -> torch.Tensor:
        n_tokens = self.n_chans * (self.n_times // PATCH_SAMPLES)
        return exact_ratio_mask(n_windows, n_tokens, self.mask_ratio, gen)

    def mask_counts(self, mask: torch.Tensor) -> dict[str, int]:
        counts = {"masked": int(mask.sum())}
        if self.symmetric:
            counts["symmetric"] = int((~mask).sum())
        return counts

    def _errors(self, x4: torch.Tensor, mask: torch.Tensor, amp: torch.Tensor,
                pha: torch.Tensor) -> torch.Tensor:
        s = self.student
        _, h = s.embed(x4, mask=mask)
        for blk in s.blocks:
            h = blk(h)
        pred = s.lm_head(s.norm(h[:, 1:]))                              # (B, C*P, 2 * bins)
        err = (F.mse_loss(pred[..., :N_BINS], amp, reduction="none").mean(-1)
               + F.mse_loss(pred[..., N_BINS:], pha, reduction="none").mean(-1))
        return err[mask].sum()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        x4 = _to_patches(x, self.n_chans)
        amp, pha = (t.flatten(1, 2) for t in fourier_targets(x4))
        mask = mask.to(x.device)
        parts = {"masked": self._errors(x4, mask, amp, pha)}
        if self.symmetric:
            parts["symmetric"] = self._errors(x4, ~mask, amp, pha)
        return parts


class CBraModPretrainer(nn.Module):
    """CBraMod's backbone (``proj_out`` included) with masked patch reconstruction.

    Parameters
    ----------
    n_chans, n_times : int
        Channels and window length in samples.
    depth, embed_dim, num_heads, dim_feedforward : int
        The teacher's size (CBraMod: 12, 200, 8, 800).
    dropout : float | None
        Dropout of every layer while pretraining (None: the architecture's 0.1).
    mask_ratio : float
        Probability that a (channel, patch) token is masked.

    Shape
    -----
    x: (batch, n_chans, n_times); mask: (batch, n_chans, n_patches) bool.
    """

    arch = "cbramod"
    mask_shape = "grid"

    def __init__(self, n_chans: int, n_times: int, *, depth: int, embed_dim: int, num_heads: int,
                 dim_feedforward: int | None = None, dropout: float | None = None,
                 mask_ratio: float = 0.5):
        super().__init__()
        from dlink.distill.teachers.cbramod import CBraModBackbone

        dff = int(dim_feedforward or 4 * embed_dim)
        self.backbone = CBraModBackbone(patch_samples=PATCH_SAMPLES, d_model=embed_dim,
                                        dim_feedforward=dff, n_layer=depth, nhead=num_heads,
                                        out_dim=PATCH_SAMPLES)
        if dropout is not None:
            for m in self.backbone.modules():
                if isinstance(m, nn.Dropout):
                    m.p = float(dropout)
                elif isinstance(m, nn.MultiheadAttention):
                    m.dropout = float(dropout)
        self.n_chans, self.n_times = int(n_chans), int(n_times)
        self.n_layers, self.mask_ratio, self.symmetric = depth, float(mask_ratio), False
        self.kwargs = dict(depth=depth, embed_dim=embed_dim, num_heads=num_heads, dim_feedforward=dff)

    def layer_id(self, name: str) -> int:
        return 0

    def no_weight_decay(self) -> set[str]:
        return set()

    def make_mask(self, n_windows: int, gen: torch.Generator) -> torch.Tensor:
        return bernoulli_mask(n_windows, self.n_chans, self.n_times // PATCH_SAMPLES,
                              self.mask_ratio, gen)

    def mask_counts(self, mask: torch.Tensor) -> dict[str, int]:
        return {"masked": int(mask.sum())}

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        x4 = _to_patches(x, self.n_chans)
        mask = mask.to(x.device)
        bb = self.backbone
        h = bb.patch_embedding(torch.where(mask[..., None], bb.patch_embedding.mask_encoding, x4))
        for layer in bb.encoder.layers:
            h = layer(h)
        err = F.mse_loss(bb.proj_out(h), x4, reduction="none").mean(-1)   # (B, C, P)
        return {"masked": err[mask].sum()}


def build_pretrainer(teacher_cfg, pretrain_cfg, *, ch_names: list[str], n_times: int) -> nn.Module:
    """The pretraining model for the ``teacher:`` section's architecture and size."""
    from dlink._check import check_option
    from dlink.distill.teachers.build import ARCHS, DEFAULT_SIZES

    arch = check_option("teacher.arch", teacher_cfg.arch, ARCHS)
    size = {k: (getattr(teacher_cfg, k) if getattr(teacher_cfg, k) is not None else v)
            for k, v in DEFAULT_SIZES[arch].items()}
    if arch == "labram":
        return LaBraMPretrainer(ch_names, n_times, drop_path=pretrain_cfg.drop_path,
                                mask_ratio=pretrain_cfg.mask_ratio, symmetric=pretrain_cfg.symmetric,
                                layer_scale_init=pretrain_cfg.layer_scale_init, **size)
    return CBraModPretrainer(len(ch_names), n_times, dim_feedforward=teacher_cfg.dim_feedforward,
                             dropout=pretrain_cfg.dropout, mask_ratio=pretrain_cfg.mask_ratio, **size)
