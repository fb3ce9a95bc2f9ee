"""Classification heads on a teacher's token grid (batch, n_chans, n_patches, width).

Three kinds:

* ``"mean"`` (default): average every (channel, patch) token, then one linear layer. This is
  CBraMod's ``avgpooling_patch_reps`` head and, with a LayerNorm in front, LaBraM's official
  fine-tuning head (``fc_norm`` + ``head``).
* ``"channel"``: average each channel's tokens over time (the patches), keep the channels,
  then one linear layer on the concatenation (``n_chans * width`` inputs; for LaBraM with
  ``fc_norm`` on each channel's mean first). It pools like ``"mean"`` but keeps the montage, which
  carries the class in motor imagery (which hemisphere desynchronises): with a pretrained backbone
  it needs ``n_chans * width * n_outputs`` weights (5.6 k for the demo) where the flattened head
  needs 1.46 M.
* ``"flatten"``: the official CBraMod ``all_patch_reps`` head: flatten all tokens, then
  Linear(C*P*D, P*D) -> ELU -> Dropout -> Linear(P*D, D) -> ELU -> Dropout -> Linear(D, K). It is
  what DLink's student avoids (its first layer alone has C*P*D*P*D weights).

Module indices inside the ``nn.Sequential`` follow the official files, so their state_dict keys
are ``classifier.3.*`` (mean) and ``classifier.{1,4,7}.*`` (flatten).
"""

from __future__ import annotations

import torch
from torch import nn

HEAD_KINDS = ("mean", "channel", "flatten")


class TokenMean(nn.Module):
    """(batch, n_chans, n_patches, width) -> (batch, width): mean over channels and patches."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2))


class PatchMean(nn.Module):
    """(batch, n_chans, n_patches, width) -> (batch, n_chans * width): each channel's mean over
    patches (time), channels concatenated."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=2).flatten(1)


class _Identity(nn.Module):
    """A parameter-free placeholder that keeps the official module indices."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def mean_head(width: int, n_outputs: int) -> nn.Sequential:
    """Mean-pooled tokens + linear; keys ``3.weight``/``3.bias`` as in the official CBraMod file."""
    return nn.Sequential(_Identity(), TokenMean(), _Identity(), nn.Linear(width, n_outputs))


def channel_head(n_chans: int, width: int, n_outputs: int) -> nn.Sequential:
    """Per-channel mean over patches + linear; keys ``3.weight``/``3.bias`` like :func:`mean_head`."""
    return nn.Sequential(_Identity(), PatchMean(), _Identity(), nn.Linear(n_chans * width, n_outputs))


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
