"""Check a teacher implementation against reference outputs of the official code.

A fixture is a pair ``<prefix>_state_dict.pt`` + ``<prefix>_io.pt`` (see
``../shared/fixtures/teachers/README.txt``): a state_dict of a reduced official model, its
input, and the output of every stage. :func:`check_fixture` loads the state_dict strictly into
our model, runs the input through it, and returns the max absolute (and relative) error per stage.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from dlink._check import check_file, check_option

from .checkpoint import CheckpointMismatchError, compare_state

log = logging.getLogger(__name__)

#: Absolute tolerance per stage. The check runs in float32 on one thread, where the
#: re-implementation reproduces the official outputs exactly (max error 0.0); 1e-6 still leaves
#: room for a different BLAS, while a real bug such as a q/k-norm epsilon of 1e-5 instead of
#: 1e-6 (an error of ~8e-6 on the stress fixture) fails.
TOLERANCE = 1e-6


def _load_fixture(prefix: str | Path) -> tuple[dict, dict, Path]:
    prefix = Path(prefix)
    files = [Path(f"{prefix}_state_dict.pt"), Path(f"{prefix}_io.pt")]
    for f in files:
        check_file(f, what="fixture file",
                   fix="--fixture takes the common prefix, e.g. ../shared/fixtures/teachers/"
                       "labram_tiny_stress (for labram_tiny_stress_state_dict.pt and _io.pt).")
    state = torch.load(files[0], map_location="cpu", weights_only=True)
    io = torch.load(files[1], map_location="cpu", weights_only=True)
    return state, io, files[0]


def _strict_load(model, state, path, what):
    miss, unexp, mism = compare_state(model.state_dict(), state)
    if miss or unexp or mism:
        raise CheckpointMismatchError(path, what, miss, unexp, mism)
    model.load_state_dict(state, strict=True)


def run_fixture(arch: str, prefix: str | Path) -> tuple[dict, dict]:
    """Return (our outputs, reference outputs) per stage for fixture ``prefix``."""
    check_option("arch", arch, ("labram", "cbramod"))
    state, io, sd_path = _load_fixture(prefix)
    x4 = io["input"].float()
    b, c, p, t = x4.shape
    ctor = io.get("constructor", {})
    ref = dict(io["outputs"])
    key = {"labram": "patch_embed.conv1.weight", "cbramod": "patch_embedding.proj_in.0.weight"}[arch]
    if key not in state or (arch == "labram" and "channel_names" not in io):
        raise ValueError(f"{str(sd_path)!r} is not a {arch} fixture (its state_dict has no {key!r}"
                         f"{' or its io file no channel_names' if arch == 'labram' else ''}); "
                         f"check --arch.")
    if arch == "labram":
        from .labram import LaBraM

        n_out = state["head.weight"].shape[0]
        model = LaBraM(n_out, list(io["channel_names"]), p * t, depth=int(ctor.get("depth", 2)),
                       embed_dim=int(ctor.get("embed_dim", 200)),
                       num_heads=int(ctor.get("num_heads", 10)),
                       qkv_bias=bool(ctor.get("qkv_bias", False)),
                       init_values=float(ctor.get("init_values", 0.1)))
        _strict_load(model, state, sd_path, "the LaBraM re-implementation")
        model.eval()
        ours = {}
        if "input_chans" in io and not torch.equal(model.input_chans, io["input_chans"].long()):
            raise ValueError(f"Channel mapping differs from the reference: ours "
                             f"{model.input_chans.tolist()} vs {io['input_chans'].tolist()}.")
        with torch.no_grad():
            ours = model.forward_stages(x4, io.get("input_chans"))
            out = model(x4.flatten(2))
        # the teacher interface: hidden states are the official tokens without [cls]
        ours["interface_logits"], ref["interface_logits"] = out.logits, ref["logits"]
        ours["interface_hidden"] = torch.stack(out.hidden_states)
        ref["interface_hidden"] = torch.cat([ref["tokens_in"][None], ref["block_out"]])[:, :, 1:] \
            .unflatten(2, (c, p))
    else:
        from .cbramod import CBraMod, CBraModBackbone

        backbone = CBraModBackbone(d_model=int(ctor.get("d_model", 200)),
                                   dim_feedforward=int(ctor.get("dim_feedforward", 800)),
                                   n_layer=int(ctor.get("n_layer", 2)), nhead=int(ctor.get("nhead", 8)),
                                   out_dim=int(ctor.get("out_dim", 200)))
        _strict_load(backbone, state, sd_path, "the CBraMod re-implementation")
        backbone.eval()
        head = io.get("avgpool_head_state_dict", {})
        with torch.no_grad():
            ours = backbone.forward_stages(x4)
            if head:
                teacher = CBraMod(head["classifier.3.weight"].shape[0], c, p * t,
                                  depth=len(backbone.encoder.layers),
                                  embed_dim=int(ctor.get("d_model", 200)),
                                  num_heads=int(ctor.get("nhead", 8)),
                                  dim_feedforward=int(ctor.get("dim_feedforward", 800)))
                body = {"backbone." + k: v for k, v in state.items() if not k.startswith("proj_out.")}
                _strict_load(teacher, {**body, **head}, sd_path, "the CBraMod teacher (+ avg-pool head)")
                out = teacher.eval()(x4.flatten(2))
                ours["logits_avgpool"] = out.logits
                ours["interface_hidden"] = torch.stack(out.hidden_states)
                ref["interface_hidden"] = torch.cat([ref["patch_embedding"][None], ref["block_out"]])
    return ours, ref


def check_fixture(arch: str, prefix: str | Path, *, tol: float = TOLERANCE) -> dict:
    """Max abs / rel error per stage against the fixture; ``ok`` when all are within ``tol``.

    A stage passes when ``|ours - ref| <= tol`` everywhere (absolute tolerance, no relative
    term) and shapes agree. Stages of the reference that we do not produce fail.
    """
    ours, ref = run_fixture(arch, prefix)
    stages, ok = {}, True
    for name, r in ref.items():
        o = ours.get(name)
        if o is None or tuple(o.shape) != tuple(r.shape):
            stages[name] = {"max_abs_error": None, "ok": False,
                            "why": "missing" if o is None else f"shape {tuple(o.shape)} vs {tuple(r.shape)}"}
            ok = False
            continue
        err = (o.double() - r.double()).abs()
        rel = (err / r.double().abs().clamp_min(1e-12)).max().item()
        good = bool(torch.allclose(o, r, atol=tol, rtol=0.0))
        stages[name] = {"max_abs_error": err.max().item(), "max_rel_error": rel, "ok": good}
        ok = ok and good
    return {"arch": arch, "fixture": str(prefix), "tolerance": tol, "ok": ok, "stages": stages}
