"""Students: small models that run on a Cortex-M (one architecture per module).

>>> m = build_student("mic", n_chans=22, n_times=800, n_outputs=4)
>>> count_params(m) <= 100_000 and count_macs(m, 22, 800) <= 10_000_000
True
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from dlink._check import check_file, check_option

#: Architectures: name -> "module:Class" (imported lazily).
ARCHS: dict[str, str] = {"mic": "dlink.distill.students.mic:MiC"}

#: Keys of student.pt besides the weights.
META_KEYS = ("arch", "kwargs", "n_chans", "n_times", "sfreq", "ch_names", "class_names", "input_unit")


def _arch_class(arch: str):
    import importlib

    check_option("student.arch", arch, ARCHS)
    mod, cls = ARCHS[arch].split(":")
    return getattr(importlib.import_module(mod), cls)


def build_student(arch: Any = "mic", *, n_chans: int, n_times: int, n_outputs: int,
                  sfreq: float = 200.0, **options: Any):
    """Build a student.

    Parameters
    ----------
    arch : str | StudentConfig
        Architecture name, or a ``student:`` config section (its ``options`` are merged under
        the explicit ``options``).
    n_chans, n_times, n_outputs : int
        Input channels, samples per window, classes.
    sfreq : float
        Sampling rate (Hz).
    **options
        Architecture keyword arguments; an unknown one is a TypeError naming the accepted ones.
    """
    if not isinstance(arch, str):  # a StudentConfig
        options = {**dict(getattr(arch, "options", {}) or {}), **options}
        arch = arch.arch
    cls = _arch_class(arch)
    accepted = [p for p in inspect.signature(cls.__init__).parameters
                if p not in ("self", "n_chans", "n_times", "n_outputs")]
    unknown = [k for k in options if k not in accepted]
    if unknown:
        from dlink._check import did_you_mean

        raise TypeError(f"student.options: unknown option(s) {unknown} for arch {arch!r}."
                        f"{did_you_mean(unknown[0], accepted)} Accepted: {', '.join(accepted)}.")
    return cls(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times, sfreq=sfreq, **options)


def count_params(model) -> int:
    """Number of parameters (trainable or not: fixed filters are weights on the device too)."""
    return int(sum(p.numel() for p in model.parameters()))


def count_macs(model, n_chans: int, n_times: int) -> int:
    """Multiply-accumulates of one forward pass on one window ``(1, n_chans, n_times)``.

    Counts convolutions and linear layers (what dominates on a Cortex-M); BatchNorm is folded at
    export, element-wise ops and pooling are not counted. Convolutions nested in a counted
    module (braindecode's CombinedConv) are not counted twice: that module does not call them.
    """
    import torch
    from torch import nn

    macs = [0]

    def conv_hook(mod, inp, out):
        k = 1
        for s in mod.kernel_size:
            k *= s
        macs[0] += out.numel() // out.shape[0] * (mod.in_channels // mod.groups) * k

    def linear_hook(mod, inp, out):
        macs[0] += out.numel() // out.shape[0] * mod.in_features

    def combined_hook(mod, inp, out):  # braindecode's CombinedConv: one conv, time x space kernel
        k = mod.conv_time.kernel_size[0] * mod.conv_spat.kernel_size[1]
        macs[0] += out.numel() // out.shape[0] * k

    hooks = []
    for m in model.modules():
        if type(m).__name__ == "CombinedConv" and hasattr(m, "conv_time"):
            hooks.append(m.register_forward_hook(combined_hook))
        elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, n_chans, n_times))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return int(macs[0])


def student_payload(model, *, arch: str, kwargs: dict, n_chans: int, n_times: int, sfreq: float,
                    ch_names: list[str], class_names: list[str]) -> dict:
    """The student.pt dictionary (layout in the team brief)."""
    return {"arch": arch, "kwargs": dict(kwargs), "state_dict": {k: v.detach().cpu() for k, v in
                                                                 model.state_dict().items()},
            "n_chans": int(n_chans), "n_times": int(n_times), "sfreq": float(sfreq),
            "ch_names": list(ch_names), "class_names": list(class_names), "input_unit": "100uV"}


def load_student_file(path: str | Path):
    """Load student.pt.

    Returns
    -------
    model : torch.nn.Module
        In eval mode; ``model(x)`` with ``x`` ``(B, n_chans, n_times)`` float32 in 100 uV -> logits.
    meta : dict
        Every key of student.pt except ``state_dict``.
    """
    import torch

    path = check_file(path, what="student checkpoint", fix="Run `dlink distill CONFIG --run RUN` first.")
    from dlink.io import load_torch_file

    payload = load_torch_file(path, what="student checkpoint", fix=(
        "Rebuild it with `dlink distill CONFIG --run RUN` (add --fresh to retrain from scratch)."))
    if not isinstance(payload, dict):
        raise ValueError(f"{path}: not a student checkpoint (it holds a {type(payload).__name__}, "
                         f"not a dict). Rebuild it with `dlink distill CONFIG --run RUN`.")
    missing = [k for k in ("arch", "kwargs", "state_dict", "n_chans", "n_times") if k not in payload]
    if missing:
        raise ValueError(f"{path}: not a student checkpoint, missing keys {missing}.")
    kw = dict(payload["kwargs"])
    model = build_student(payload["arch"], **kw)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, meta
