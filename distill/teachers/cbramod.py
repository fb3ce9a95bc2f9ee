"""CBraMod (Wang et al., ICLR 2025), written to load the official weights.

Layout (names and shapes follow the official backbone; see
``../shared/fixtures/teachers/cbramod_manifest.json``):

* ``patch_embedding``: per 1-s patch (200 samples), ``proj_in`` = Conv(1->25, k49, s25, p24) ->
  GroupNorm(5, 25) -> GELU, then twice Conv(25->25, k3, p1) -> GroupNorm -> GELU: 25 maps x 8 steps,
  flattened map-major (feature ``c * 8 + t``), GroupNorm pooled over the whole sample; plus
  ``spectral_proj`` = Linear(101 -> d_model) of ``|rfft(patch)| / 200``; plus a depthwise
  Conv2d(k(19, 7)) over the (channel, patch) grid (``positional_encoding``).
* ``encoder.layers``: pre-norm criss-cross blocks. The first half of the features attends across
  channels at each patch (``self_attn_s``), the second half across patches of each channel
  (``self_attn_t``), each with nhead/2 heads; concatenated; then a GELU MLP.
* ``proj_out``: the pretraining reconstruction head; downstream models replace it by Identity
  (the teacher here drops it after loading).

The teacher wrapper :class:`CBraMod` holds ``backbone`` + ``classifier`` exactly like the
official downstream models (``models/model_for_*.py``).

References
----------
J. Wang et al. CBraMod: A Criss-Cross Brain Foundation Model for EEG Decoding. ICLR 2025.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .heads import HEAD_KINDS, channel_head, flatten_head, mean_head
from .labram import _check_fixed_n_times, _to_patches
from .output import TeacherOutput


class PatchEmbedding(nn.Module):
    """(batch, C, P, patch_samples) -> (batch, C, P, d_model)."""

    def __init__(self, patch_samples: int = 200, d_model: int = 200):
        super().__init__()
        self.d_model = d_model
        self.positional_encoding = nn.Sequential(
            nn.Conv2d(d_model, d_model, kernel_size=(19, 7), padding=(9, 3), groups=d_model))
        # only used to mask patches in pretraining; kept because the checkpoint stores it
        self.mask_encoding = nn.Parameter(torch.zeros(patch_samples), requires_grad=False)
        self.proj_in = nn.Sequential(
            nn.Conv2d(1, 25, kernel_size=(1, 49), stride=(1, 25), padding=(0, 24)),
            nn.GroupNorm(5, 25), nn.GELU(),
            nn.Conv2d(25, 25, kernel_size=(1, 3), padding=(0, 1)),
            nn.GroupNorm(5, 25), nn.GELU(),
            nn.Conv2d(25, 25, kernel_size=(1, 3), padding=(0, 1)),
            nn.GroupNorm(5, 25), nn.GELU(),
        )
        n_feat = 25 * ((patch_samples + 2 * 24 - 49) // 25 + 1)
        if n_feat != d_model:  # reduced models only
            self.proj = nn.Linear(n_feat, d_model)
        self.spectral_proj = nn.Sequential(nn.Linear(patch_samples // 2 + 1, d_model), nn.Dropout(0.1))

    def stages(self, x: torch.Tensor) -> dict:
        b, c, p, t = x.shape
        conv = self.proj_in(x.reshape(b, 1, c * p, t))                 # (B, 25, C*P, steps)
        emb = conv.permute(0, 2, 1, 3).reshape(b, c, p, -1)            # map-major features
        if hasattr(self, "proj"):
            emb = self.proj(emb)
        spec = torch.fft.rfft(x, dim=-1, norm="forward").abs()
        spectral = self.spectral_proj(spec)
        emb = emb + spectral
        pos = self.positional_encoding(emb.permute(0, 3, 1, 2))        # (B, D, C, P)
        return {"proj_in_out": conv, "spectral_emb": spectral, "positional_conv_out": pos,
                "patch_embedding": emb + pos.permute(0, 2, 3, 1)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)["patch_embedding"]


class CrissCrossLayer(nn.Module):
    """Pre-norm layer: spatial attention on features [:D/2], temporal on [D/2:], then MLP."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, *, dropout: float = 0.1,
                 eps: float = 1e-5):
        super().__init__()
        if d_model % 2 or (d_model // 2) % max(nhead // 2, 1) or nhead < 2:
            raise ValueError(f"d_model/2 ({d_model // 2}) must be divisible by nhead/2 "
                             f"({nhead // 2}); got d_model={d_model}, nhead={nhead}.")
        half = d_model // 2
        self.self_attn_s = nn.MultiheadAttention(half, nhead // 2, dropout=dropout, batch_first=True)
        self.self_attn_t = nn.MultiheadAttention(half, nhead // 2, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _criss_cross(self, h: torch.Tensor) -> torch.Tensor:
        b, c, p, d = h.shape
        half = d // 2
        hs = h[..., :half].transpose(1, 2).reshape(b * p, c, half)     # across channels
        ht = h[..., half:].reshape(b * c, p, half)                      # across patches
        hs = self.self_attn_s(hs, hs, hs, need_weights=False)[0]
        ht = self.self_attn_t(ht, ht, ht, need_weights=False)[0]
        hs = hs.reshape(b, p, c, half).transpose(1, 2)
        return torch.cat([hs, ht.reshape(b, c, p, half)], dim=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout1(self._criss_cross(self.norm1(x)))
        ff = self.linear2(self.dropout(F.gelu(self.linear1(self.norm2(x)))))
        return x + self.dropout2(ff)


class _Encoder(nn.Module):
    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class CBraModBackbone(nn.Module):
    """The official backbone (the pretrained file's exact key set, ``proj_out`` included)."""

    def __init__(self, *, patch_samples: int = 200, d_model: int = 200, dim_feedforward: int = 800,
                 n_layer: int = 12, nhead: int = 8, out_dim: int = 200):
        super().__init__()
        self.patch_embedding = PatchEmbedding(patch_samples, d_model)
        self.encoder = _Encoder([CrissCrossLayer(d_model, nhead, dim_feedforward)
                                 for _ in range(n_layer)])
        self.proj_out = nn.Sequential(nn.Linear(d_model, out_dim))

    def forward_stages(self, x4: torch.Tensor) -> dict:
        out = self.patch_embedding.stages(x4)
        h, blocks = out["patch_embedding"], []
        for layer in self.encoder.layers:
            h = layer(h)
            blocks.append(h)
        out["block_out"] = torch.stack(blocks, dim=0)
        out["features"] = h
        out["proj_out"] = self.proj_out(h)
        return out


class CBraMod(nn.Module):
    """CBraMod teacher: (batch, n_chans, n_times) in 100 uV -> :class:`TeacherOutput`.

    Parameters
    ----------
    n_outputs : int
        Number of classes.
    n_chans, n_times : int
        Channels and window length in samples (a multiple of 200).
    depth, embed_dim, num_heads, dim_feedforward : int
        Layers, width, heads (split half spatial, half temporal) and MLP width
        (CBraMod: 12, 200, 8, 800).
    head : {"mean", "channel", "flatten"}
        Classification head (see :mod:`.heads`).
    ch_names : list of str | None
        Kept for the record; CBraMod needs no channel names.

    Shape
    -----
    x: (batch, n_chans, n_times) -> logits (batch, n_outputs); hidden states
    (batch, n_chans, n_times // 200, embed_dim), ``depth + 1`` of them.

    >>> m = CBraMod(4, 3, 400, depth=1, embed_dim=40, num_heads=4, dim_feedforward=80)
    >>> out = m(torch.zeros(2, 3, 400))
    >>> tuple(out.logits.shape), len(out.hidden_states), tuple(out.hidden_states[0].shape)
    ((2, 4), 2, (2, 3, 2, 40))
    """

    arch = "cbramod"
    patch_samples = 200

    def __init__(self, n_outputs: int, n_chans: int, n_times: int, *, depth: int = 12,
                 embed_dim: int = 200, num_heads: int = 8, dim_feedforward: int | None = None,
                 head: str = "mean", ch_names: list[str] | None = None, max_patches: int = 120,
                 head_dropout: float = 0.1):
        super().__init__()
        if head not in HEAD_KINDS:
            raise ValueError(f"head must be one of {HEAD_KINDS}, got {head!r}.")
        dim_feedforward = int(dim_feedforward or 4 * embed_dim)
        self.kwargs = dict(n_outputs=int(n_outputs), n_chans=int(n_chans), n_times=int(n_times),
                           depth=depth, embed_dim=embed_dim, num_heads=num_heads,
                           dim_feedforward=dim_feedforward, head=head,
                           ch_names=list(ch_names) if ch_names else None,
                           max_patches=max_patches, head_dropout=head_dropout)
        self.n_chans, self.n_times, self.n_outputs = int(n_chans), int(n_times), int(n_outputs)
        self.ch_names = list(ch_names) if ch_names else None
        self.max_patches = max_patches
        _to_patches(torch.empty(0, self.n_chans, self.n_times), self.n_chans, self.patch_samples,
                    max_patches)  # validates n_times
        self.n_layers, self.width, self.head_kind = depth, embed_dim, head
        self.backbone = CBraModBackbone(patch_samples=self.patch_samples, d_model=embed_dim,
                                        dim_feedforward=dim_feedforward, n_layer=depth,
                                        nhead=num_heads)
        self.backbone.proj_out = nn.Identity()  # as the official downstream models do
        n_patches = self.n_times // self.patch_samples
        self.classifier = (mean_head(embed_dim, n_outputs) if head == "mean" else
                           channel_head(self.n_chans, embed_dim, n_outputs) if head == "channel" else
                           flatten_head(self.n_chans, n_patches, embed_dim, n_outputs,
                                        dropout=head_dropout))

    def layer_id(self, name: str) -> int:
        """Depth of parameter ``name`` for layer-wise lr decay: 0 embedding .. L+1 head."""
        if name.startswith("backbone.patch_embedding"):
            return 0
        if name.startswith("backbone.encoder.layers."):
            return int(name.split(".")[3]) + 1
        return self.n_layers + 1

    def no_weight_decay(self) -> set[str]:
        return set()

    def forward(self, x: torch.Tensor, *, return_hidden: bool = True) -> TeacherOutput:
        x4 = _to_patches(x, self.n_chans, self.patch_samples, self.max_patches)
        h = self.backbone.patch_embedding(x4)
        hidden = [h] if return_hidden else []
        for layer in self.backbone.encoder.layers:
            h = layer(h)
            if return_hidden:
                hidden.append(h)
        if self.head_kind in ("mean", "channel"):
            feats = h.mean(dim=(1, 2)) if self.head_kind == "mean" else h.mean(dim=2).flatten(1)
            return TeacherOutput(self.classifier[3](feats), hidden, feats)
        _check_fixed_n_times(x4.shape[2] * self.patch_samples, self.n_times)
        return TeacherOutput(self.classifier(h), hidden, None)
