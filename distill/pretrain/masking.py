"""Masks for masked-EEG pretraining: which (channel, patch) tokens of each window are hidden.

Both functions are pure: the mask of a step depends only on the generator passed in, which the
trainer seeds from (seed, step), so a resumed run and a run split over several processes draw
the same masks as one uninterrupted process.
"""

from __future__ import annotations

import torch


def step_generator(seed: int, step: int, *, stream: int = 0) -> torch.Generator:
    """A CPU generator for one optimisation step (``stream`` separates independent uses)."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step)) * 7 + int(stream))


def exact_ratio_mask(n_windows: int, n_tokens: int, ratio: float, gen: torch.Generator) -> torch.Tensor:
    """Hide exactly ``n_tokens - int(n_tokens * (1 - ratio))`` random tokens per window (LaBraM).

    Returns
    -------
    torch.Tensor of bool, shape (n_windows, n_tokens)
        True where the token is masked.

    >>> m = exact_ratio_mask(3, 8, 0.5, torch.Generator().manual_seed(0))
    >>> tuple(m.shape), m.sum(1).tolist()
    ((3, 8), [4, 4, 4])
    """
    n_keep = int(n_tokens * (1.0 - ratio))
    order = torch.rand(n_windows, n_tokens, generator=gen).argsort(dim=1)
    mask = torch.ones(n_windows, n_tokens, dtype=torch.bool)
    mask.scatter_(1, order[:, :n_keep], False)
    return mask


def bernoulli_mask(n_windows: int, n_chans: int, n_patches: int, ratio: float,
                   gen: torch.Generator) -> torch.Tensor:
    """Hide each (channel, patch) token independently with probability ``ratio`` (CBraMod).

    Returns
    -------
    torch.Tensor of bool, shape (n_windows, n_chans, n_patches)

    >>> m = bernoulli_mask(2, 3, 4, 0.5, torch.Generator().manual_seed(0))
    >>> tuple(m.shape), m.dtype
    ((2, 3, 4), torch.bool)
    """
    return torch.rand(n_windows, n_chans, n_patches, generator=gen) < ratio
