"""Official checkpoint layouts (built from the manifests) load; files that do not fit are refused."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from dlink.distill.teachers import (CBraMod, CheckpointMismatchError, LaBraM, build_teacher,
                                    load_pretrained, load_teacher_file, save_teacher_file)
from dlink.distill.teachers.config import TeacherConfig
from tests.conftest import TEACHER_FIXTURES, needs_shared

BCI2A = ["Fz", "FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
         "CP3", "CP1", "CPz", "CP2", "CP4", "P1", "Pz", "P2", "POz"]


def _manifest(name):
    return json.loads((TEACHER_FIXTURES / name).read_text())


def _random_state(entries, seed=0):
    """Random tensors of the manifest shapes; large ones repeat one random row (stride 0), so
    the files stay small and fast to write while every key keeps its full shape."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, shape, _ in entries:
        n = torch.Size(shape).numel()
        out[k] = (torch.randn(shape[-1], generator=g).expand(shape) if n > 4096
                  else torch.randn(shape, generator=g))
    return out


@pytest.fixture(scope="module")
def labram_pretrain_state():
    if not TEACHER_FIXTURES.is_dir():
        pytest.skip("../shared is absent")
    man = _manifest("labram_base_manifest.json")["pretrained_checkpoint"]
    return man, _random_state(man["pretrain_state_dict"])


@needs_shared
@pytest.mark.parametrize("layout", ["model", "module", "bare"])
def test_labram_official_layout_loads_as_the_official_code(layout, labram_pretrain_state, tmp_path):
    man, state = labram_pretrain_state
    path = tmp_path / "labram-base.pth"
    torch.save(state if layout == "bare" else {layout: state, "epoch": 99}, path)
    model = LaBraM(4, BCI2A, 800)
    report = load_pretrained(model, path)
    assert sorted(report["loaded"]) == sorted(man["loaded_into_finetune_after_stripping_student."])
    assert sorted(report["ignored"]) == sorted(man["unexpected_in_finetune (ignored)"])
    assert sorted(report["fresh"]) == sorted(man["missing_in_finetune (keep fresh init)"])
    assert set(man["dropped_not_student_prefix"]) <= set(report["dropped"])
    sd = model.state_dict()
    for k in report["loaded"]:
        assert torch.equal(sd[k], state["student." + k]), k
    assert torch.equal(sd["fc_norm.weight"], torch.ones(200))  # fresh LayerNorm


@needs_shared
def test_labram_release_layout_with_a_pickled_namespace_loads(labram_pretrain_state, tmp_path):
    """LaBraM's save_model writes {'model', 'optimizer', 'epoch', 'scaler', 'args'}, where 'args'
    is the run's argparse.Namespace: it loads with weights_only=True (Namespace allowed, nothing
    else), and any other pickled class is still refused."""
    import argparse

    man, state = labram_pretrain_state
    args = argparse.Namespace(model="labram_base_patch200_1600_8k_vocab", lr=5e-4, epochs=50,
                              opt_betas=[0.9, 0.98], clip_grad=3.0, resume="", seed=0,
                              device="cuda", distributed=True, input_size=1600)
    path = tmp_path / "labram-base.pth"
    torch.save({"model": state, "optimizer": {"state": {}, "param_groups": []}, "epoch": 49,
                "scaler": {"scale": 65536.0, "growth_factor": 2.0}, "args": args}, path)
    with pytest.raises(Exception, match="Namespace"):  # what plain weights_only loading says
        torch.load(path, weights_only=True)
    model = LaBraM(4, BCI2A, 800)
    report = load_pretrained(model, path)
    assert sorted(report["loaded"]) == sorted(man["loaded_into_finetune_after_stripping_student."])
    assert torch.equal(model.state_dict()["blocks.0.attn.qkv.weight"],
                       state["student.blocks.0.attn.qkv.weight"])
    torch.save({"model": state, "args": _Evil()}, path)
    with pytest.raises(ValueError, match="weights_only=True"):
        load_pretrained(model, path)


@needs_shared
def test_build_teacher_loads_the_checkpoint_named_in_the_config(labram_pretrain_state, tmp_path):
    _, state = labram_pretrain_state
    path = tmp_path / "labram-base.pth"
    torch.save({"model": state}, path)
    teacher = build_teacher(TeacherConfig(checkpoint=str(path)), n_chans=22, n_times=800,
                            n_outputs=4, ch_names=BCI2A)
    assert torch.equal(teacher.pos_embed, state["student.pos_embed"])


@needs_shared
def test_labram_wrong_size_file_is_refused_with_the_key_lists(labram_pretrain_state, tmp_path):
    _, state = labram_pretrain_state
    path = tmp_path / "labram-base.pth"
    torch.save({"model": state}, path)
    small = LaBraM(4, BCI2A, 800, depth=2, embed_dim=40, num_heads=4)
    with pytest.raises(CheckpointMismatchError, match=r"unexpected key.*blocks\.2\.") as info:
        load_pretrained(small, path)
    err = info.value
    assert "blocks.11.mlp.fc2.bias" in err.unexpected
    assert ("pos_embed", (1, 129, 200), (1, 129, 40)) in err.mismatched
    assert "shape mismatch" in str(err) and "file (1, 129, 200) vs model (1, 129, 40)" in str(err)


@needs_shared
def test_labram_file_without_student_keys_is_refused(labram_pretrain_state, tmp_path):
    _, state = labram_pretrain_state
    path = tmp_path / "finetuned.pth"
    torch.save({"model": {k.replace("student.", "encoder."): v for k, v in state.items()}}, path)
    with pytest.raises(CheckpointMismatchError, match="no 'student.'-prefixed keys"):
        load_pretrained(LaBraM(4, BCI2A, 800), path)


@needs_shared
def test_labram_file_missing_a_block_tensor_lists_it(labram_pretrain_state, tmp_path):
    _, state = labram_pretrain_state
    broken = {k: v for k, v in state.items() if k != "student.blocks.3.attn.qkv.weight"}
    path = tmp_path / "labram-base.pth"
    torch.save({"model": broken}, path)
    with pytest.raises(CheckpointMismatchError, match=r"1 missing key.*blocks\.3\.attn\.qkv\.weight"):
        load_pretrained(LaBraM(4, BCI2A, 800), path)


@pytest.fixture(scope="module")
def cbramod_state():
    if not TEACHER_FIXTURES.is_dir():
        pytest.skip("../shared is absent")
    return _random_state(_manifest("cbramod_manifest.json")["state_dict"], seed=1)


@needs_shared
@pytest.mark.parametrize("prefix", ["", "module."])
def test_cbramod_bare_backbone_loads_and_proj_out_is_dropped(prefix, cbramod_state, tmp_path):
    path = tmp_path / "pretrained_weights.pth"
    torch.save({prefix + k: v for k, v in cbramod_state.items()}, path)
    teacher = CBraMod(4, 22, 800)
    report = load_pretrained(teacher, path)
    assert report["dropped"] == ["proj_out.0.bias", "proj_out.0.weight"]
    assert report["fresh"] == ["classifier.3.weight", "classifier.3.bias"]
    sd = teacher.state_dict()
    assert not any("proj_out" in k for k in sd)
    for k in report["loaded"]:
        assert torch.equal(sd["backbone." + k], cbramod_state[k]), k


@needs_shared
def test_cbramod_wrong_file_is_refused_with_the_key_lists(cbramod_state, tmp_path):
    bad = {k: v for k, v in cbramod_state.items() if not k.startswith("proj_out")}
    bad["encoder.layers.0.linear1.weight"] = torch.zeros(10, 200)
    bad["extra.weight"] = torch.zeros(3)
    path = tmp_path / "pretrained_weights.pth"
    torch.save(bad, path)
    with pytest.raises(CheckpointMismatchError) as info:
        load_pretrained(CBraMod(4, 22, 800), path)
    err = info.value
    assert err.missing == ["proj_out.0.weight", "proj_out.0.bias"]
    assert err.unexpected == ["extra.weight"]
    assert err.mismatched == [("encoder.layers.0.linear1.weight", (10, 200), (800, 200))]
    assert "missing key" in str(err) and "unexpected key" in str(err)


def test_unsafe_or_non_dict_files_are_refused(tmp_path):
    model = LaBraM(2, ["C3", "C4"], 400, depth=1, embed_dim=40, num_heads=2)
    code = tmp_path / "code.pth"
    with open(code, "wb") as f:  # a pickle that would call a function: weights_only refuses it
        pickle.dump(_Evil(), f)
    with pytest.raises(ValueError, match="weights_only=True"):
        load_pretrained(model, code)
    listing = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listing)
    with pytest.raises(ValueError, match="holds a list; expected a dict"):
        load_pretrained(model, listing)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_pretrained(model, tmp_path / "nope.pth")


class _Evil:
    def __reduce__(self):
        return (print, ("unsafe",))


@pytest.mark.parametrize("arch", ["labram", "cbramod"])
def test_teacher_file_round_trip_and_mismatch(arch, tmp_path):
    cfg = TeacherConfig(arch=arch, depth=1, embed_dim=40, num_heads=4)
    teacher = build_teacher(cfg, n_chans=2, n_times=400, n_outputs=3, ch_names=["C3", "C4"]).eval()
    path = save_teacher_file(tmp_path / "teacher.pt", teacher, class_names=["a", "b", "c"],
                             metrics={"val": {"balanced_accuracy": 0.5}})
    again = load_teacher_file(path)
    assert not again.training and again.class_names == ["a", "b", "c"]
    x = torch.randn(2, 2, 400)
    with torch.no_grad():
        assert torch.equal(again(x).logits, teacher(x).logits)
    obj = torch.load(path, weights_only=True)
    obj["state_dict"]["unknown.weight"] = torch.zeros(1)
    torch.save(obj, path)
    with pytest.raises(CheckpointMismatchError, match="unknown.weight"):
        load_teacher_file(path)


def test_the_demo_teacher_loads_its_shipped_pretrained_weights():
    """configs/demo.yaml names the shipped file relative to itself; every encoder tensor of the
    official layout is loaded, only the classification head starts fresh."""
    from pathlib import Path

    from dlink.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "demo.yaml")
    ckpt = torch.load(cfg.teacher.checkpoint, weights_only=True)
    teacher = build_teacher(cfg.teacher, n_chans=22, n_times=800, n_outputs=4, ch_names=BCI2A)
    sd = teacher.state_dict()
    assert torch.equal(sd["blocks.3.attn.qkv.weight"], ckpt["model"]["student.blocks.3.attn.qkv.weight"])
    fresh = [k for k in sd if "student." + k not in ckpt["model"] and "relative_position" not in k]
    assert sorted(fresh) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
