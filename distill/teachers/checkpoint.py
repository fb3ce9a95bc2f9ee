"""Loading the official pretrained files, exactly as the official fine-tuning code reads them.

* LaBraM (``labram-base.pth``): the state_dict is the file's ``'model'`` entry, else its
  ``'module'`` entry, else the file itself. Only keys starting with ``'student.'`` are kept (the
  prefix is stripped; the top-level pretraining heads ``lm_head.*``/``projection_head.*`` are
  dropped). Keys containing ``relative_position_index`` are deleted, and so are ``head.*`` keys
  whose shape differs from the model's. The pretraining-only encoder parts (``mask_token``,
  ``lm_head.*``, the final ``norm.*``) are ignored; ``fc_norm.*`` and ``head.*`` keep their
  fresh initialisation.
* CBraMod (``pretrained_weights.pth``): a bare backbone state_dict, loaded strictly (a uniform
  ``'module.'`` DataParallel prefix is stripped); then ``proj_out`` (the pretraining
  reconstruction head) is thrown away and ``classifier.*`` keeps its fresh initialisation.

Where the official code loads non-strictly and only prints what did not fit, this loader
accepts exactly the differences listed above and raises :class:`CheckpointMismatchError` for
anything else, listing the missing keys, the unexpected keys and the shape mismatches. A LaBraM
file without any ``'student.'`` key (which the official loader would silently skip) is an error.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from dlink._check import check_file

log = logging.getLogger(__name__)

#: Encoder parts that exist only in LaBraM's pretraining model (ignored by the official loader).
LABRAM_PRETRAIN_ONLY = ("mask_token", "lm_head.weight", "lm_head.bias", "norm.weight", "norm.bias")
#: Prefixes of LaBraM fine-tuning parameters that are not in the pretrained file.
LABRAM_FRESH_PREFIXES = ("fc_norm.", "head.")
_MAX_LISTED = 40
#: The only non-tensor classes an official checkpoint may hold, allowed while unpickling with
#: ``weights_only=True``: LaBraM's ``utils.save_model`` stores the run's ``argparse.Namespace``
#: under ``'args'`` beside ``'model'``, ``'optimizer'``, ``'epoch'`` and ``'scaler'``. Nothing
#: else is allowed (no ``weights_only=False``): a file holding any other object is refused.
SAFE_GLOBALS = (argparse.Namespace,)


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model; ``missing``, ``unexpected`` and ``mismatched`` say how."""

    def __init__(self, path, what: str, missing: list[str], unexpected: list[str],
                 mismatched: list[tuple[str, tuple, tuple]], hint: str = ""):
        self.path, self.missing, self.unexpected, self.mismatched = path, missing, unexpected, mismatched
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s) (in the model, not in the file): "
                         f"{_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) (in the file, not in the model): "
                         f"{_listing(unexpected)}")
        if mismatched:
            parts.append(f"{len(mismatched)} shape mismatch(es): " + _listing(
                [f"{k}: file {tuple(f)} vs model {tuple(m)}" for k, f, m in mismatched]))
        super().__init__(f"Checkpoint {str(path)!r} does not fit {what}: " + "; ".join(parts)
                         + (f". {hint}" if hint else "."))


def _listing(items: list[str]) -> str:
    shown = ", ".join(repr(i) for i in items[:_MAX_LISTED])
    more = f", ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return f"[{shown}{more}]"


def read_checkpoint(path: str | Path) -> Mapping:
    """``torch.load`` a checkpoint safely (``weights_only=True``, on the CPU).

    Only the classes of :data:`SAFE_GLOBALS` may be unpickled besides tensors and plain
    containers, so LaBraM's released files (which pickle an ``argparse.Namespace``) load as they
    are, and a file that would run other code is refused.
    """
    path = check_file(path, what="checkpoint", fix="Pass the pretrained file of the teacher.")
    from dlink.io import load_torch_file

    obj = load_torch_file(path, what="checkpoint", safe_globals=SAFE_GLOBALS, fix=(
        "Pass the official pretrained file (LaBraM's labram-base.pth, CBraMod's "
        "pretrained_weights.pth), downloaded again if it may be damaged."))
    if not isinstance(obj, Mapping):
        raise ValueError(f"Checkpoint {str(path)!r} holds a {type(obj).__name__}; expected a dict "
                         f"(a state_dict, or one under a 'model'/'module' entry).")
    return obj


def compare_state(model_state: Mapping, file_state: Mapping):
    """Return (missing, unexpected, shape mismatches) of ``file_state`` against ``model_state``."""
    missing = [k for k in model_state if k not in file_state]
    unexpected = [k for k in file_state if k not in model_state]
    mismatched = [(k, tuple(file_state[k].shape), tuple(v.shape)) for k, v in model_state.items()
                  if k in file_state and tuple(file_state[k].shape) != tuple(v.shape)]
    return missing, unexpected, mismatched


def _describe(model: nn.Module) -> str:
    kw = getattr(model, "kwargs", {})
    size = ", ".join(f"{k}={kw[k]}" for k in ("depth", "embed_dim", "num_heads") if k in kw)
    return f"the {getattr(model, 'arch', type(model).__name__)} teacher ({size})"


def labram_state_from_file(obj: Mapping, *, model_key: str = "model|module",
                           filter_name: str = "student.") -> tuple[dict, list[str]]:
    """Pick LaBraM's state_dict out of a loaded file as the official loader does.

    Returns the filtered state_dict (prefix stripped) and the keys that were dropped.
    """
    state = obj
    for key in model_key.split("|"):
        if key in obj:
            state = obj[key]
            log.info("LaBraM checkpoint: using the %r entry", key)
            break
    if not isinstance(state, Mapping):
        raise ValueError(f"The checkpoint's state_dict is a {type(state).__name__}, expected a dict.")
    if not filter_name:
        return dict(state), []
    kept = {k[len(filter_name):]: v for k, v in state.items() if k.startswith(filter_name)}
    dropped = [k for k in state if not k.startswith(filter_name)]
    return kept, dropped


def load_labram_pretrained(model: nn.Module, path: str | Path, *,
                           filter_name: str = "student.") -> dict:
    """Load LaBraM's official pretrained file into a :class:`~.labram.LaBraM` teacher.

    Returns a report ``{"loaded": [...], "dropped": [...], "ignored": [...], "fresh": [...]}``.
    Raises :class:`CheckpointMismatchError` for any difference the official loader does not expect.
    """
    obj = read_checkpoint(path)
    state, dropped = labram_state_from_file(obj, filter_name=filter_name)
    if not state:
        raise CheckpointMismatchError(
            path, _describe(model), [], sorted(dropped)[:_MAX_LISTED], [],
            hint=f"It has no {filter_name!r}-prefixed keys, so the official loader would load "
                 f"nothing from it; is it LaBraM's labram-base.pth?")
    for k in [k for k in state if "relative_position_index" in k]:
        dropped.append(k)
        del state[k]
    model_state = model.state_dict()
    for k in ("head.weight", "head.bias"):
        if k in state and (k not in model_state or state[k].shape != model_state[k].shape):
            log.info("LaBraM checkpoint: removing %s of shape %s (new head)", k, tuple(state[k].shape))
            dropped.append(k)
            del state[k]
    missing, unexpected, mismatched = compare_state(model_state, state)
    ignored = [k for k in unexpected if k in LABRAM_PRETRAIN_ONLY]
    fresh = [k for k in missing if k.startswith(LABRAM_FRESH_PREFIXES)]
    bad_missing = [k for k in missing if k not in fresh]
    bad_unexpected = [k for k in unexpected if k not in ignored]
    if bad_missing or bad_unexpected or mismatched:
        raise CheckpointMismatchError(
            path, _describe(model), bad_missing, bad_unexpected, mismatched,
            hint="Build the teacher with the checkpoint's size (LaBraM-Base: depth 12, "
                 "embed_dim 200, num_heads 10, qkv_bias False).")
    for k in ignored:
        del state[k]
    model.load_state_dict(state, strict=False)
    log.info("LaBraM checkpoint %s: %d tensors loaded, %d ignored, fresh: %s",
             path, len(state), len(ignored), fresh)
    return {"loaded": sorted(state), "dropped": dropped, "ignored": ignored, "fresh": fresh}


def load_cbramod_pretrained(model: nn.Module, path: str | Path) -> dict:
    """Load CBraMod's official backbone file into a :class:`~.cbramod.CBraMod` teacher.

    The file must hold exactly the backbone's keys (``proj_out.0.*`` included), as the official
    strict ``load_state_dict`` requires; ``proj_out`` is then dropped.
    """
    state = dict(read_checkpoint(path))
    if state and all(k.startswith("module.") for k in state):
        log.info("CBraMod checkpoint: stripping the DataParallel 'module.' prefix")
        state = {k[len("module."):]: v for k, v in state.items()}
    expected = {k: v for k, v in model.backbone.state_dict().items()}
    proj = {k: v for k, v in state.items() if k.startswith("proj_out.")}
    missing, unexpected, mismatched = compare_state(
        expected, {k: v for k, v in state.items() if k not in proj})
    if not proj:
        missing = missing + ["proj_out.0.weight", "proj_out.0.bias"]
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(
            path, _describe(model), missing, unexpected, mismatched,
            hint="CBraMod's pretrained_weights.pth is a bare backbone state_dict of "
                 "CBraMod(d_model=200, dim_feedforward=800, n_layer=12, nhead=8).")
    model.backbone.load_state_dict({k: v for k, v in state.items() if k not in proj}, strict=True)
    fresh = [k for k in model.state_dict() if k.startswith("classifier.")]
    log.info("CBraMod checkpoint %s: %d tensors loaded; proj_out dropped", path, len(state) - len(proj))
    return {"loaded": sorted(k for k in state if k not in proj), "dropped": sorted(proj),
            "ignored": [], "fresh": fresh}


def load_pretrained(model: nn.Module, path: str | Path) -> dict:
    """Load an official pretrained file into a teacher built by ``build_teacher``."""
    arch = getattr(model, "arch", None)
    if arch == "labram":
        return load_labram_pretrained(model, path)
    if arch == "cbramod":
        return load_cbramod_pretrained(model, path)
    raise TypeError(f"load_pretrained needs a LaBraM or CBraMod teacher, got {type(model).__name__}.")
