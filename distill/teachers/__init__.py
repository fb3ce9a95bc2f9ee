"""Teacher foundation models (LaBraM, CBraMod), re-implemented to load the official checkpoints.

    from dlink.distill.teachers import build_teacher, load_teacher_file, TeacherOutput
    teacher = build_teacher(cfg.teacher, n_chans=22, n_times=800, n_outputs=4, ch_names=names)
    out = teacher(x)            # x (batch, n_chans, n_times) in 100 uV -> TeacherOutput
    out.logits                  # (batch, n_outputs)
    out.hidden_states           # L + 1 tensors (batch, n_chans, n_patches, width)
    teacher.n_layers, teacher.width, teacher.patch_samples

Names are imported lazily: the config module lives here, and ``dlink --help`` must not import
torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "build_teacher": ".build", "load_teacher_file": ".build", "save_teacher_file": ".build",
    "teacher_file_dict": ".build", "build_from_kwargs": ".build",
    "TeacherOutput": ".output",
    "LaBraM": ".labram", "CBraMod": ".cbramod", "CBraModBackbone": ".cbramod",
    "load_pretrained": ".checkpoint", "CheckpointMismatchError": ".checkpoint",
    "labram_input_chans": ".channels", "LABRAM_CHANNELS": ".channels",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
