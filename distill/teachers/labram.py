"""LaBraM (Jiang et al., ICLR 2024), the fine-tuning model, written to load the official weights.

Layout (parameter names and shapes follow the official fine-tuning model, so the official
state_dicts load strictly; see ``../shared/fixtures/teachers/labram_base_manifest.json``):

* ``patch_embed``: per 1-s patch (200 samples), Conv(1->8, k15, s8, p7) -> GroupNorm(4, 8) -> GELU,
  then twice Conv(8->8, k3, p1) -> GroupNorm -> GELU: 25 steps x 8 maps, flattened time-major
  (feature ``t * 8 + c``). The convolutions run over all (channel, patch) rows of a sample at
  once, so GroupNorm statistics are pooled over the whole sample.
* tokens: [cls] + one token per (channel, patch), channel-major. ``pos_embed`` row
  ``input_chans[c]`` (by 10-20 name, see :mod:`.channels`) is added to every patch of channel c and
  row 0 to [cls]; ``time_embed[p]`` is added to patch p.
* ``blocks``: pre-norm transformer blocks with LayerScale (``gamma_1``/``gamma_2``), a bias-free
  qkv projection, LayerNorm on each head's queries and keys, exact GELU MLP.
* head (``"mean"``): LayerNorm (``fc_norm``) of the mean patch token, then ``head`` (Linear).

References
----------
W. Jiang, L. Zhao, B. Lu. Large Brain Model for Learning Generic Representations with
Tremendous EEG Data in BCI. ICLR 2024.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .channels import labram_input_chans
from .heads import HEAD_KINDS, flatten_head
from .output import TeacherOutput


class TemporalConv(nn.Module):
    """Patch embedding: (batch, n_rows, patch_samples) -> (batch, n_rows, n_steps * conv_chans)."""

    def __init__(self, conv_chans: int = 8, groups: int = 4):
        super().__init__()
        self.conv1 = nn.Conv2d(1, conv_chans, kernel_size=(1, 15), stride=(1, 8), padding=(0, 7))
        self.norm1 = nn.GroupNorm(groups, conv_chans)
        self.conv2 = nn.Conv2d(conv_chans, conv_chans, kernel_size=(1, 3), padding=(0, 1))
        self.norm2 = nn.GroupNorm(groups, conv_chans)
        self.conv3 = nn.Conv2d(conv_chans, conv_chans, kernel_size=(1, 3), padding=(0, 1))
        self.norm3 = nn.GroupNorm(groups, conv_chans)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(1)                                   # (B, 1, rows, samples)
        h = F.gelu(self.norm1(self.conv1(h)))
        h = F.gelu(self.norm2(self.conv2(h)))
        h = F.gelu(self.norm3(self.conv3(h)))                # (B, maps, rows, steps)
        return h.permute(0, 2, 3, 1).flatten(2)              # time-major: t * maps + c


class Attention(nn.Module):
    """Multi-head self-attention with per-head LayerNorm on queries and keys."""

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool = False, eps: float = 1e-6):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim ({dim}) must be divisible by num_heads ({num_heads}).")
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        if qkv_bias:  # the official q/v biases (k has none); absent from LaBraM-Base's file
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = self.v_bias = None
        self.q_norm = nn.LayerNorm(head_dim, eps=eps)
        self.k_norm = nn.LayerNorm(head_dim, eps=eps)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        bias = None
        if self.q_bias is not None:
            bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).view(b, n, 3, self.num_heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)       # each (B, heads, N, head_dim)
        q = self.q_norm(q) * self.scale
        k = self.k_norm(k)
        attn = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DropPath(nn.Module):
    """Stochastic depth: drop a sample's residual branch with probability ``p`` (training only)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class Block(nn.Module):
    """Pre-norm block: x += g1 * Attn(LN(x)); x += g2 * MLP(LN(x))."""

    def __init__(self, dim: int, num_heads: int, *, mlp_ratio: float = 4.0, qkv_bias: bool = False,
                 init_values: float = 0.1, drop_path: float = 0.0, eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, eps=eps)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.gamma_1 = nn.Parameter(torch.full((dim,), float(init_values)))
        self.gamma_2 = nn.Parameter(torch.full((dim,), float(init_values)))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.gamma_1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x)))


class LaBraM(nn.Module):
    """LaBraM teacher: (batch, n_chans, n_times) in 100 uV -> :class:`TeacherOutput`.

    Parameters
    ----------
    n_outputs : int
        Number of classes.
    ch_names : list of str
        The data's channel names (10-20; mapped to position-embedding rows by name).
    n_times : int
        Window length in samples (a multiple of ``patch_samples``, at most ``max_patches``
        patches). Fixed for the ``"flatten"`` head; the mean head accepts shorter windows.
    depth, embed_dim, num_heads : int
        Blocks, width and attention heads (LaBraM-Base: 12, 200, 10).
    head : {"mean", "channel", "flatten"}
        Classification head (see :mod:`.heads`).
    mlp_ratio, qkv_bias, init_values, drop_path, init_scale
        As in the official model (LaBraM-Base: 4, False, 0.1, 0.1, 0.001).
    conv_chans : int
        Maps of the temporal-conv patch embedding (8). When ``n_steps * conv_chans`` differs from
        ``embed_dim`` (reduced models), a Linear ``patch_embed.proj`` maps one to the other.

    Shape
    -----
    x: (batch, n_chans, n_times) -> logits (batch, n_outputs); hidden states
    (batch, n_chans, n_times // 200, embed_dim), ``depth + 1`` of them.

    >>> m = LaBraM(4, ["C3", "CZ", "C4"], n_times=400, depth=2, embed_dim=40, num_heads=2)
    >>> out = m(torch.zeros(2, 3, 400))
    >>> tuple(out.logits.shape), len(out.hidden_states), tuple(out.hidden_states[-1].shape)
    ((2, 4), 3, (2, 3, 2, 40))
    """

    arch = "labram"
    patch_samples = 200

    def __init__(self, n_outputs: int, ch_names: list[str], n_times: int, *, depth: int = 12,
                 embed_dim: int = 200, num_heads: int = 10, head: str = "mean",
                 mlp_ratio: float = 4.0, qkv_bias: bool = False, init_values: float = 0.1,
                 drop_path: float = 0.1, init_scale: float = 0.001, conv_chans: int = 8,
                 max_patches: int = 16, n_pos_rows: int = 128, head_dropout: float = 0.1):
        super().__init__()
        if head not in HEAD_KINDS:
            raise ValueError(f"head must be one of {HEAD_KINDS}, got {head!r}.")
        self.kwargs = dict(n_outputs=int(n_outputs), ch_names=list(ch_names), n_times=int(n_times),
                           depth=depth, embed_dim=embed_dim, num_heads=num_heads, head=head,
                           mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, init_values=init_values,
                           drop_path=drop_path, init_scale=init_scale, conv_chans=conv_chans,
                           max_patches=max_patches, n_pos_rows=n_pos_rows, head_dropout=head_dropout)
        self.n_chans, self.n_times, self.n_outputs = len(ch_names), int(n_times), int(n_outputs)
        self.ch_names = list(ch_names)
        self.max_patches = max_patches
        _check_n_times(self.n_times, self.patch_samples, max_patches)
        self.n_layers, self.width, self.head_kind = depth, embed_dim, head
        # rows of pos_embed used by this montage (not saved: it follows from ch_names)
        self.register_buffer("input_chans", torch.tensor(
            labram_input_chans(ch_names, n_rows=n_pos_rows), dtype=torch.long), persistent=False)

        self.patch_embed = TemporalConv(conv_chans)
        n_feat = (self.patch_samples // 8) * conv_chans
        if n_feat != embed_dim:
            self.patch_embed.proj = nn.Linear(n_feat, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n_pos_rows + 1, embed_dim))
        self.time_embed = nn.Parameter(torch.zeros(1, max_patches, embed_dim))
        rates = torch.linspace(0, drop_path, depth).tolist() if depth > 0 else []
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                  init_values=init_values, drop_path=r) for r in rates)
        if head in ("mean", "channel"):  # "channel": fc_norm on each channel's mean token
            self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6)
            self.head = nn.Linear(embed_dim * (self.n_chans if head == "channel" else 1), n_outputs)
        else:
            self.fc_norm = None
            self.head = flatten_head(self.n_chans, self.n_times // self.patch_samples, embed_dim,
                                     n_outputs, dropout=head_dropout)
        self._init_weights(init_scale)

    # -- init (as the official model: trunc-normal .02, rescaled residual projections) --------
    def _init_weights(self, init_scale: float) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                _trunc_normal(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for p in (self.cls_token, self.pos_embed, self.time_embed):
            _trunc_normal(p)
        for i, blk in enumerate(self.blocks, start=1):
            blk.attn.proj.weight.data.div_(math.sqrt(2.0 * i))
            blk.mlp.fc2.weight.data.div_(math.sqrt(2.0 * i))
        if self.head_kind in ("mean", "channel"):
            self.head.weight.data.mul_(init_scale)
            self.head.bias.data.mul_(init_scale)

    def layer_id(self, name: str) -> int:
        """Depth of parameter ``name`` for layer-wise lr decay: 0 embedding .. L+1 head."""
        if name.startswith(("cls_token", "pos_embed", "time_embed", "patch_embed")):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.n_layers + 1

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token", "time_embed"}

    # -- forward --------------------------------------------------------------------------------
    def embed(self, x4: torch.Tensor, input_chans: torch.Tensor | None = None, *,
              mask: torch.Tensor | None = None):
        """Official-layout embedding of x4 (batch, n_chans, n_patches, patch_samples).

        Returns the raw patch embedding (batch, C*P, n_feat) and the tokens entering block 0
        (batch, 1 + C*P, D), channel-major. ``mask`` (batch, C*P) bool, for masked-EEG
        pretraining only: the tokens where it is True are replaced by ``self.mask_token`` (which
        the pretraining model adds) before the position and time embeddings, as the official
        pretraining model does.
        """
        b, c, p, _ = x4.shape
        patch = self.patch_embed(x4.reshape(b, c * p, -1))
        tok = patch if not hasattr(self.patch_embed, "proj") else self.patch_embed.proj(patch)
        if mask is not None:
            w = mask.reshape(b, c * p, 1).to(tok.dtype)
            tok = tok * (1.0 - w) + self.mask_token * w
        rows = self.input_chans if input_chans is None else input_chans
        pos = self.pos_embed[0, rows]                            # (1 + C, D)
        tok = tok.view(b, c, p, -1) + pos[1:, None, :]
        tok = tok + self.time_embed[0, :p]
        cls = (self.cls_token + pos[:1]).expand(b, -1, -1)
        return patch, torch.cat([cls, tok.flatten(1, 2)], dim=1)

    def forward_stages(self, x4: torch.Tensor, input_chans: torch.Tensor | None = None) -> dict:
        """Every stage in the official layouts (for checking against reference outputs)."""
        patch, x = self.embed(x4, input_chans)
        out = {"patch_embed": patch, "tokens_in": x}
        blocks = []
        for blk in self.blocks:
            x = blk(x)
            blocks.append(x)
        out["block_out"] = torch.stack(blocks, dim=0)
        if self.head_kind == "mean":
            out["patch_tokens_fc_norm"] = self.fc_norm(x[:, 1:])
            out["features"] = self.fc_norm(x[:, 1:].mean(1))
            out["logits"] = self.head(out["features"])
        return out

    def forward(self, x: torch.Tensor, *, return_hidden: bool = True) -> TeacherOutput:
        x4 = _to_patches(x, self.n_chans, self.patch_samples, self.max_patches)
        b, c, p, _ = x4.shape
        _, h = self.embed(x4)
        hidden = [h[:, 1:].unflatten(1, (c, p))] if return_hidden else []
        for blk in self.blocks:
            h = blk(h)
            if return_hidden:
                hidden.append(h[:, 1:].unflatten(1, (c, p)))
        tokens = h[:, 1:]
        if self.head_kind == "mean":
            feats = self.fc_norm(tokens.mean(1))
            return TeacherOutput(self.head(feats), hidden, feats)
        if self.head_kind == "channel":
            feats = self.fc_norm(tokens.unflatten(1, (c, p)).mean(2)).flatten(1)
            return TeacherOutput(self.head(feats), hidden, feats)
        _check_fixed_n_times(p * self.patch_samples, self.n_times)
        return TeacherOutput(self.head(tokens.unflatten(1, (c, p))), hidden, None)


@torch.no_grad()
def _trunc_normal(t: torch.Tensor, std: float = 0.02) -> None:
    """N(0, std) truncated to [-2, 2] (timm's defaults: absolute bounds, 100 sigma here), done as
    normal + clamp, which is the same distribution and much faster than inverse-CDF sampling."""
    t.normal_(0.0, std).clamp_(-2.0, 2.0)


def _check_n_times(n_times: int, patch_samples: int, max_patches: int) -> None:
    if n_times <= 0 or n_times % patch_samples or n_times // patch_samples > max_patches:
        raise ValueError(
            f"n_times must be a positive multiple of {patch_samples} samples (1-s patches at "
            f"200 Hz) of at most {max_patches} patches, got {n_times}. Resample to 200 Hz and use "
            f"windows of whole seconds.")


def _check_fixed_n_times(got: int, expected: int) -> None:
    if got != expected:
        raise ValueError(f"The flattened head was built for n_times={expected}; got input with "
                         f"n_times={got}. Use the same window length, or the 'mean' head.")


def _to_patches(x: torch.Tensor, n_chans: int, patch_samples: int, max_patches: int) -> torch.Tensor:
    """(batch, n_chans, n_times) -> (batch, n_chans, n_patches, patch_samples), checked."""
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[1] != n_chans:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"Teacher input must have shape (batch, n_chans={n_chans}, n_times), "
                         f"got {shape}.")
    _check_n_times(x.shape[2], patch_samples, max_patches)
    return x.unflatten(2, (-1, patch_samples))
