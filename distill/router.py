"""The DLink router: input-conditioned weights over the teacher's layers.

For each window, per-layer summaries of the teacher's hidden states (mean and standard deviation
of every feature over the channel x patch token grid) are scored by a small shared network (plus
a learned per-layer bias); a softmax over the L layers (optionally keeping only the top-k,
the "dominant" layers, renormalised) gives the weights, and the distillation target is the
weighted sum of the layer states. A probe head on the routed target gives the router a task
signal, so that it favours layers that are discriminative for this task; the router and its
probe exist only during training (they are not part of the student).

Static modes for comparison: ``"last"`` (weight 1 on the last block) and ``"average"`` (1/L each).
Layer states are normalised per token (zero mean, unit variance over the width) before mixing so
that layers with larger activations do not dominate the sum.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dlink._check import check_option

MODES = ("router", "last", "average")


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
    mode : {"router", "last", "average"}
        Learned routing or a static baseline.
    top_k : int | None
        Keep the k largest weights per window (router mode only).
    hidden : int
        Hidden width of the scoring network.

    Shape
    -----
    ``hidden`` ``(B, L, C, P, D)`` (normalised layer states) -> weights ``(B, L)`` and target
    ``(B, C, P, D)``.
    """

    def __init__(self, n_layers: int, width: int, n_outputs: int, *, n_chans: int = 1,
                 mode: str = "router", top_k: int | None = None, hidden: int = 32):
        super().__init__()
        check_option("distill.target", mode, MODES)
        if top_k is not None and not 1 <= top_k <= n_layers:
            raise ValueError(f"distill.top_k must be between 1 and the teacher's {n_layers} layers, "
                             f"got {top_k!r}.")
        self.n_layers, self.width, self.mode, self.top_k = n_layers, width, mode, top_k
        self.score = nn.Sequential(nn.Linear(2 * width, hidden), nn.GELU(), nn.Linear(hidden, 1))
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
        if self.mode == "last":
            w = torch.zeros(b, n_layers, device=hidden.device)
            w[:, -1] = 1.0
            return w
        if self.mode == "average":
            return torch.full((b, n_layers), 1.0 / n_layers, device=hidden.device)
        flat = hidden.flatten(2, 3)  # (B, L, C*P, D)
        summary = torch.cat([flat.mean(2), flat.std(2)], dim=-1)  # (B, L, 2D)
        logits = self.score(summary).squeeze(-1) + self.layer_bias
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
        return self.mode == "router"
