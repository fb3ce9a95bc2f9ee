"""Self-supervised pretraining of the teachers (``dlink teacher pretrain``).

    corpus.py      unlabelled recordings (MNE) and synthetic subjects -> memory-mapped windows
    masking.py     which (channel, patch) tokens are hidden, seeded per step
    objectives.py  LaBraM: masked Fourier amplitude/phase prediction; CBraMod: masked patch
                   reconstruction
    layout.py      the official checkpoint layouts, written and read back (continued pretraining)
    train.py       the loop: one process or torchrun/DistributedDataParallel, resumable
    config.py      the ``pretrain:`` config section

The output, ``RUN/pretrained.pth``, loads as ``teacher.checkpoint`` exactly like LaBraM's
``labram-base.pth`` or CBraMod's ``pretrained_weights.pth``. Names are imported lazily so that
``dlink --help`` does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "PretrainConfig": ".config",
    "build_corpus": ".corpus", "Corpus": ".corpus", "split_corpus": ".corpus",
    "exact_ratio_mask": ".masking", "bernoulli_mask": ".masking",
    "LaBraMPretrainer": ".objectives", "CBraModPretrainer": ".objectives",
    "build_pretrainer": ".objectives", "fourier_targets": ".objectives",
    "save_official": ".layout", "official_state": ".layout", "load_into_pretrainer": ".layout",
    "pretrain": ".train", "pretrain_run": ".train", "plot_losses": ".train",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
