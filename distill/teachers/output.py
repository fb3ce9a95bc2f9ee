"""What every teacher returns: :class:`TeacherOutput`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class TeacherOutput:
    """The result of ``teacher(x)`` for ``x`` of shape (batch, n_chans, n_times).

    Attributes
    ----------
    logits : torch.Tensor
        Class scores, shape (batch, n_outputs); no softmax.
    hidden_states : list of torch.Tensor
        ``n_layers + 1`` tensors of shape (batch, n_chans, n_patches, width). Index 0 is the
        patch embedding as it enters the first block (LaBraM: temporal-conv embedding plus the
        channel position and time embeddings; CBraMod: conv + spectral embedding plus the
        depthwise-conv positional encoding). Index ``i`` (1..L) is the output of block ``i``.
        LaBraM's [cls] token is left out (it is not a (channel, patch) token). Empty when the
        teacher was called with ``return_hidden=False``.
    features : torch.Tensor | None
        The pooled representation fed to a pooled head: (batch, width) for ``"mean"``,
        (batch, n_chans * width) for ``"channel"``; None for a flattened head.

    Notes
    -----
    ``n_patches = n_times // teacher.patch_samples`` (1-s patches at 200 Hz). The tensors are
    views of the forward pass: under ``torch.no_grad()`` they cost no extra computation; call
    ``.clone()`` if you modify them in place.
    """

    logits: torch.Tensor
    hidden_states: list[torch.Tensor] = field(default_factory=list)
    features: torch.Tensor | None = None

    @property
    def n_layers(self) -> int:
        """Number of blocks L (``len(hidden_states) - 1``)."""
        return len(self.hidden_states) - 1
