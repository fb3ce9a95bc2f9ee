"""The DLink router: input-conditioned weights over the teacher's layers.

For each window, the router summarises every layer's hidden states (mean and standard deviation
of every feature over the channel x patch token grid), concatenates the L summaries and maps them
with a small gating network (``2*L*D -> hidden -> L``, plus a learned per-layer bias) to one
logit per layer; a softmax over the L layers (optionally keeping only the top-k, the "dominant"
layers, renormalised) gives the weights, and the distillation target is the weighted sum of the
layer states. A probe head on the routed target gives the router a task signal, so that it
favours layers that are discriminative for this task; the router and its probe exist only
during training (they are not part of the student).

Why a gate over all layers' summaries, not a score per layer: an earlier version scored each
layer from its own summary with one shared network. That cannot express "for windows like this
prefer block 1, for windows like that block 3" when those blocks look alike, which is exactly
when routing per input matters; it learned one fixed layer (``bench/routing_check.py`` shows the
controlled case: it stayed at chance where this gate reaches ~1).

Modes for comparison: ``"bias"`` learns the per-layer bias only (one set of weights for every
window: the router without its input conditioning, trained by the same probe), and the static
targets ``"last"`` (weight 1 on the last block), ``"block"`` (weight 1 on block ``block``) and
``"average"`` (1/L each).
Layer states are normalised per token (zero mean, unit variance over the width) before mixing so
that layers with larger activations do not dominate the sum.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dlink._check import check_option

MODES = ("router", "bias", "last", "block", "average")
#: Modes whose weights are learned (by the router's probe).
LEARNED_MODES = ("router", "bias")


def normalize_layers(hidden: torch.Tensor) -> torch.Tensor:
    """Per-token standardisation over the width. ``(B, L, C, P, D) -> same``."""
    return F.layer_norm(hidden.float(), hidden.shape[-1:])


class LayerRouter(nn.Module):
    """Weights over L teacher layers and the routed target.

    Parameters
    ----------
    n_layers : int
        Layers routed over (the teacher's blocks, L).
    width : int
        Teacher width D.
    n_outputs : int
        Classes (for the probe head).
    n_chans : int
        Channels of the token grid (the probe reads each channel's tokens).
    mode : {"router", "bias", "last", "block", "average"}
        Learned input-conditioned routing, learned bias only, or a static target.
    top_k : int | None
        Keep the k largest weights per window (learned modes only).
    block : int | None
        The block (1-based) of ``mode="block"``.
    hidden : int
        Hidden width of the gating network.

    Shape
    -----
    ``hidden`` ``(B, L, C, P, D)`` (normalised layer states) -> weights ``(B, L)`` and target
    ``(B, C, P, D)``.
    """

    def __init__(self, n_layers: int, width: int, n_outputs: int, *, n_chans: int = 1,
                 mode: str = "router", top_k: int | None = None, hidden: int = 32,
                 block: int | None = None):
        super().__init__()
        check_option("distill.target", mode, MODES)
        if top_k is not None and not 1 <= top_k <= n_layers:
            raise ValueError(f"distill.top_k must be between 1 and the teacher's {n_layers} layers, "
                             f"got {top_k!r}.")
        if mode == "block" and (block is None or not 1 <= block <= n_layers):
            raise ValueError(f"distill.target_block must be a block number from 1 to the teacher's "
                             f"{n_layers} blocks with distill.target 'block', got {block!r}.")
        self.n_layers, self.width, self.mode, self.top_k = n_layers, width, mode, top_k
        self.block = block
        self.score = nn.Sequential(nn.Linear(2 * width * n_layers, hidden), nn.GELU(),
                                   nn.Linear(hidden, n_layers))
        self.layer_bias = nn.Parameter(torch.zeros(n_layers))
        # the probe keeps the channel axis (motor imagery is lateralised: a channel mean would
        # hide it) and averages over time patches
        self.n_chans = n_chans
        self.probe = nn.Sequential(nn.LayerNorm(n_chans * width), nn.Linear(n_chans * width, n_outputs))

    def weights(self, hidden: torch.Tensor) -> torch.Tensor:
        """Layer weights ``(B, L)``, non-negative, summing to 1 per window."""
        b, n_layers = hidden.shape[:2]
        if n_layers != self.n_layers:
            raise ValueError(f"LayerRouter: expected {self.n_layers} layers, got {n_layers}.")
        if self.mode in ("last", "block"):
            w = torch.zeros(b, n_layers, device=hidden.device)
            w[:, -1 if self.mode == "last" else self.block - 1] = 1.0
            return w
        if self.mode == "average":
            return torch.full((b, n_layers), 1.0 / n_layers, device=hidden.device)
        if self.mode == "bias":  # no input conditioning: the same weights for every window
            logits = self.layer_bias.expand(b, n_layers)
        else:
            flat = hidden.flatten(2, 3)  # (B, L, C*P, D)
            summary = torch.cat([flat.mean(2), flat.std(2)], dim=-1)  # (B, L, 2D)
            logits = self.score(summary.flatten(1)) + self.layer_bias
        if self.top_k is not None and self.top_k < n_layers:
            kth = logits.topk(self.top_k, dim=1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return logits.softmax(dim=1)

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(weights (B, L), routed target (B, C, P, D))``."""
        w = self.weights(hidden)
        target = torch.einsum("bl,blcpd->bcpd", w, hidden)
        return w, target

    def probe_logits(self, target: torch.Tensor) -> torch.Tensor:
        """Task probe on the routed target ``(B, C, P, D)``: mean over patches, channels x width
        flattened -> LayerNorm -> linear. Returns ``(B, n_outputs)``."""
        return self.probe(target.mean(dim=2).flatten(1))

    @property
    def trainable(self) -> bool:
        return self.mode in LEARNED_MODES
