"""Classification heads on a teacher's token grid (batch, n_chans, n_patches, width).

Two kinds, as the FM papers use them:

* ``"mean"`` (default): average every (channel, patch) token, then one linear layer. This is
  CBraMod's ``avgpooling_patch_reps`` head and, with a LayerNorm in front, LaBraM's official
  fine-tuning head (``fc_norm`` + ``head``).
* ``"flatten"``: the official CBraMod ``all_patch_reps`` head: flatten all tokens, then
  Linear(C*P*D, P*D) -> ELU -> Dropout -> Linear(P*D, D) -> ELU -> Dropout -> Linear(D, K). It is
  what DLink's student avoids (its first layer alone has C*P*D*P*D weights).

Module indices inside the ``nn.Sequential`` follow the official files, so their state_dict keys
are ``classifier.3.*`` (mean) and ``classifier.{1,4,7}.*`` (flatten).
"""

from __future__ import annotations

import torch
from torch import nn

HEAD_KINDS = ("mean", "flatten")


class TokenMean(nn.Module):
    """(batch, n_chans, n_patches, width) -> (batch, width): mean over channels and patches."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2))


class _Identity(nn.Module):
    """A parameter-free placeholder that keeps the official module indices."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def mean_head(width: int, n_outputs: int) -> nn.Sequential:
    """Mean-pooled tokens + linear; keys ``3.weight``/``3.bias`` as in the official CBraMod file."""
    return nn.Sequential(_Identity(), TokenMean(), _Identity(), nn.Linear(width, n_outputs))


def flatten_head(n_chans: int, n_patches: int, width: int, n_outputs: int, *,
                 dropout: float = 0.1) -> nn.Sequential:
    """The official flattened 3-layer head (keys ``1.*``, ``4.*``, ``7.*``)."""
    return nn.Sequential(
        nn.Flatten(1),
        nn.Linear(n_chans * n_patches * width, n_patches * width),
        nn.ELU(),
        nn.Dropout(dropout),
        nn.Linear(n_patches * width, width),
        nn.ELU(),
        nn.Dropout(dropout),
        nn.Linear(width, n_outputs),
    )
