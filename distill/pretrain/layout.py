"""Pretrained weights in the official file layouts, written and read back.

* LaBraM (as ``labram-base.pth``): ``{"model": {"student.<name>": tensor, ...}, "epoch": int,
  "dlink": {...}}``. The ``student.`` keys are the encoder of the official pretraining model:
  the teacher's own parameters plus ``mask_token``, the final ``norm`` and ``lm_head`` (here the
  amplitude/phase head, where the official file has its 8192-code vocabulary head); the
  fine-tuning loader (:func:`dlink.distill.teachers.checkpoint.load_labram_pretrained`) drops
  those three as it does for the released file.
* CBraMod (as ``pretrained_weights.pth``): the bare backbone state_dict, ``proj_out`` included.

``"dlink"`` holds plain values only (the run's pretraining settings and losses), so the file
loads with ``weights_only=True`` and needs no allowed globals.
"""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from dlink.io import atomic_torch_save

log = logging.getLogger(__name__)

#: Parts of the pretraining model that may start fresh when continuing from a file: the
#: prediction head (the official LaBraM file holds a codebook classifier of another shape).
_FRESH_OK = ("lm_head.weight", "lm_head.bias")


def official_state(model: nn.Module, *, epoch: int = 0, meta: dict | None = None) -> dict:
    """The object to ``torch.save`` for ``model`` (a LaBraM or CBraMod pretrainer)."""
    if model.arch == "labram":
        state = {"student." + k: v.detach().cpu().clone() for k, v in model.student.state_dict().items()}
        return {"model": state, "epoch": int(epoch), "dlink": dict(meta or {})}
    return {k: v.detach().cpu().clone() for k, v in model.backbone.state_dict().items()}


def save_official(model: nn.Module, path: str | Path, **kwargs) -> Path:
    """Write :func:`official_state` atomically."""
    return atomic_torch_save(official_state(model, **kwargs), path)


def load_into_pretrainer(model: nn.Module, path: str | Path) -> dict:
    """Start pretraining from an official-layout file (continued pretraining).

    LaBraM: the file's ``student.`` keys (``'model'`` or ``'module'`` entry, or the file itself),
    strictly, except the prediction head, which stays fresh when the file's differs (the
    official codebook head). CBraMod: the whole backbone with ``proj_out``, strictly (a
    ``module.`` prefix is stripped).

    Returns ``{"loaded": [...], "fresh": [...]}``; raises :class:`CheckpointMismatchError`.
    """
    from dlink.distill.teachers.checkpoint import (CheckpointMismatchError, compare_state,
                                                   labram_state_from_file, read_checkpoint)

    obj = read_checkpoint(path)
    if model.arch == "labram":
        state, _ = labram_state_from_file(obj)
        state = {k: v for k, v in state.items() if "relative_position_index" not in k}
        target = model.student
    else:
        state = dict(obj)
        if state and all(k.startswith("module.") for k in state):
            state = {k[len("module."):]: v for k, v in state.items()}
        target = model.backbone
    own = target.state_dict()
    missing, unexpected, mismatched = compare_state(own, state)
    fresh = [k for k in missing if k in _FRESH_OK] + [k for k, _, _ in mismatched if k in _FRESH_OK]
    missing = [k for k in missing if k not in fresh]
    mismatched = [m for m in mismatched if m[0] not in fresh]
    if model.arch == "labram":
        unexpected = [k for k in unexpected if k not in _FRESH_OK]
    if missing or unexpected or mismatched:
        size = ", ".join(f"{k}={v}" for k, v in model.kwargs.items())
        raise CheckpointMismatchError(
            path, f"the {model.arch} pretraining model ({size})", missing, unexpected, mismatched,
            hint="Set the teacher: section's size to the checkpoint's (LaBraM-Base: depth 12, "
                 "embed_dim 200, num_heads 10; CBraMod: 12, 200, 8, dim_feedforward 800).")
    target.load_state_dict({k: v for k, v in state.items() if k in own and k not in fresh},
                           strict=False)
    if fresh:
        log.info("continued pretraining from %s: %s start fresh (the file's head differs)", path, fresh)
    return {"loaded": sorted(k for k in own if k not in fresh), "fresh": sorted(fresh)}
