"""Building a teacher from the config, and the ``teacher.pt`` file of a run.

``teacher.pt`` = ``{"arch", "kwargs" (rebuilds it), "state_dict", "ch_names", "class_names",
"metrics", "history"}``; read back with :func:`load_teacher_file`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlink._check import check_file, check_option
from dlink.io import atomic_torch_save

from .checkpoint import CheckpointMismatchError, compare_state, load_pretrained

log = logging.getLogger(__name__)

ARCHS = ("labram", "cbramod")
#: Official sizes (LaBraM-Base; CBraMod) used where the config leaves a size unset.
DEFAULT_SIZES = {"labram": dict(depth=12, embed_dim=200, num_heads=10),
                 "cbramod": dict(depth=12, embed_dim=200, num_heads=8)}


def teacher_class(arch: str) -> type[nn.Module]:
    check_option("arch", arch, ARCHS)
    if arch == "labram":
        from .labram import LaBraM
        return LaBraM
    from .cbramod import CBraMod
    return CBraMod


def build_from_kwargs(arch: str, kwargs: dict[str, Any]) -> nn.Module:
    """Rebuild a teacher from the ``kwargs`` it records about itself."""
    return teacher_class(arch)(**kwargs)


def build_teacher(cfg, *, n_chans: int, n_times: int, n_outputs: int,
                  ch_names: list[str] | None = None, load_checkpoint: bool = True) -> nn.Module:
    """Build the teacher the ``teacher:`` config section describes.

    Parameters
    ----------
    cfg : TeacherConfig
        The config section (arch, sizes, head, checkpoint).
    n_chans, n_times, n_outputs : int
        Channels, window length in samples (whole seconds at 200 Hz) and classes.
    ch_names : list of str | None
        10-20 channel names (required by LaBraM, whose position embedding is indexed by name).
    load_checkpoint : bool
        Load ``cfg.checkpoint`` (when set) as the official code does.

    Returns
    -------
    nn.Module
        The teacher in train mode; ``teacher(x)`` returns a :class:`TeacherOutput`.
    """
    arch = check_option("teacher.arch", cfg.arch, ARCHS)
    size = {k: (getattr(cfg, k) if getattr(cfg, k) is not None else v)
            for k, v in DEFAULT_SIZES[arch].items()}
    if arch == "labram":
        if not ch_names:
            raise ValueError("LaBraM needs ch_names (its position embedding is indexed by 10-20 "
                             "channel name); pass the dataset's channel names.")
        if len(ch_names) != n_chans:
            raise ValueError(f"ch_names has {len(ch_names)} names but n_chans={n_chans}.")
        model = teacher_class(arch)(n_outputs, list(ch_names), n_times, head=cfg.head,
                                    drop_path=cfg.drop_path, init_scale=cfg.head_init_scale,
                                    **size)
    else:
        model = teacher_class(arch)(n_outputs, n_chans, n_times, head=cfg.head,
                                    dim_feedforward=cfg.dim_feedforward,
                                    ch_names=list(ch_names) if ch_names else None, **size)
    if load_checkpoint and cfg.checkpoint:
        report = load_pretrained(model, cfg.checkpoint)
        log.info("loaded %s: %d tensors; fresh: %s", cfg.checkpoint, len(report["loaded"]),
                 report["fresh"])
    return model


def teacher_file_dict(model: nn.Module, *, class_names: list[str] | None = None,
                      metrics: dict | None = None, history: dict | None = None) -> dict:
    """The ``teacher.pt`` payload for ``model`` (tensors on the CPU)."""
    return {
        "arch": model.arch,
        "kwargs": dict(model.kwargs),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "ch_names": list(getattr(model, "ch_names", None) or []),
        "class_names": list(class_names or []),
        "metrics": dict(metrics or {}),
        "history": dict(history or {}),
    }


def save_teacher_file(path: str | Path, model: nn.Module, **meta) -> Path:
    """Write ``teacher.pt`` atomically (see :func:`teacher_file_dict`)."""
    return atomic_torch_save(teacher_file_dict(model, **meta), path)


def load_teacher_file(path: str | Path) -> nn.Module:
    """Read a ``teacher.pt`` and return the teacher in eval mode.

    The file's ``class_names`` and ``metrics`` are attached as attributes of the same names.
    """
    path = check_file(path, what="teacher file", fix="Run `dlink teacher finetune CONFIG --run RUN`.")
    from dlink.io import load_torch_file

    obj = load_torch_file(path, what="teacher file", fix=(
        "Rebuild it with `dlink teacher finetune CONFIG --run RUN` (or pass another --teacher)."))
    missing = [k for k in ("arch", "kwargs", "state_dict") if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise ValueError(f"Teacher file {str(path)!r} lacks the entries {missing}; expected "
                         f"{{'arch', 'kwargs', 'state_dict', ...}} as written by dlink.")
    model = build_from_kwargs(obj["arch"], obj["kwargs"])
    miss, unexp, mism = compare_state(model.state_dict(), obj["state_dict"])
    if miss or unexp or mism:
        raise CheckpointMismatchError(path, f"the {obj['arch']} teacher it describes", miss, unexp, mism)
    model.load_state_dict(obj["state_dict"], strict=True)
    model.class_names = list(obj.get("class_names", []))
    model.metrics = dict(obj.get("metrics", {}))
    return model.eval()
