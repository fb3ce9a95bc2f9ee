"""Self-supervised pretraining: masks, objectives, corpus, official layouts, resume, torchrun."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from dlink.config import config_from_dict
from dlink.data.montage import BCI2A_CH_NAMES
from dlink.distill.pretrain import (CBraModPretrainer, LaBraMPretrainer, bernoulli_mask,
                                    build_corpus, exact_ratio_mask, fourier_targets,
                                    load_into_pretrainer, official_state, pretrain, pretrain_run)
from dlink.distill.pretrain.masking import step_generator
from dlink.distill.teachers import CheckpointMismatchError, build_teacher
from tests.conftest import REPO, TEACHER_FIXTURES, needs_shared
from tests.data.conftest import write_edf

BCI2A = list(BCI2A_CH_NAMES)


def _cfg(tmp_path, arch="labram", **pretrain):
    size = ({"depth": 2, "embed_dim": 16, "num_heads": 2} if arch == "labram"
            else {"depth": 2, "embed_dim": 16, "num_heads": 4, "dim_feedforward": 32})
    return config_from_dict({
        "name": "tiny", "seed": 0,
        "data": {"name": "synthetic", "window_s": 2, "n_classes": 2,
                 "cache_dir": str(tmp_path / "cache"),
                 "synthetic": {"subjects": {"train": 2, "val": 1, "test": 1, "pool": 1},
                               "trials_per_class": 4}},
        "teacher": {"arch": arch, **size},
        "pretrain": {"synthetic_subjects": 4, "epochs": 2, "batch_size": 8, "warmup_steps": 2,
                     "num_threads": 1, "checkpoint_every_steps": 2, **pretrain},
    }, file="<tiny>")


# -- masks and targets ---------------------------------------------------------------------------
def test_masks_hide_the_asked_fraction_and_depend_only_on_the_generator():
    m = exact_ratio_mask(5, 88, 0.5, step_generator(3, 7))
    assert m.dtype == torch.bool and m.sum(1).tolist() == [44] * 5
    assert torch.equal(m, exact_ratio_mask(5, 88, 0.5, step_generator(3, 7)))
    assert not torch.equal(m, exact_ratio_mask(5, 88, 0.5, step_generator(3, 8)))
    b = bernoulli_mask(200, 22, 4, 0.3, step_generator(0, 0))
    assert b.shape == (200, 22, 4) and abs(b.float().mean().item() - 0.3) < 0.02


def test_fourier_targets_are_standardised_amplitude_and_phase_per_window():
    t = torch.arange(200) / 200.0
    sine = torch.sin(2 * torch.pi * 10 * t + 0.3).expand(1, 3, 4, 200)
    noise = torch.randn(1, 3, 4, 200, generator=torch.Generator().manual_seed(0))
    amp, _ = fourier_targets(sine + 0.01 * noise)
    assert int(amp[0, 0, 0].argmax()) == 10  # 10 Hz at 1 Hz per bin
    x4 = torch.cat([noise, 5.0 * noise])     # the scale does not change standardised targets
    amp, pha = fourier_targets(x4)
    assert amp.shape == (2, 3, 4, 101)
    assert torch.allclose(amp[0], amp[1], atol=1e-4) and torch.allclose(pha[0], pha[1], atol=1e-4)
    assert abs(float(amp[0].mean())) < 1e-5 and abs(float(amp[0].std()) - 1.0) < 1e-5


def test_cbramod_prediction_of_a_masked_patch_ignores_its_content():
    torch.manual_seed(0)
    m = CBraModPretrainer(4, 400, depth=1, embed_dim=16, num_heads=4, dim_feedforward=32).eval()
    x = torch.randn(1, 4, 400)
    mask = torch.zeros(1, 4, 2, dtype=torch.bool)
    mask[0, 2, 1] = True
    x2 = x.clone()
    x2[0, 2, 200:] += 5.0   # change only the masked patch
    with torch.no_grad():
        e1, e2 = m(x, mask)["masked"], m(x2, mask)["masked"]
        bb = m.backbone
        pred = lambda v: bb.proj_out(bb.encoder.layers[0](bb.patch_embedding(torch.where(  # noqa: E731
            mask[..., None], bb.patch_embedding.mask_encoding, v.unflatten(2, (-1, 200))))))
        assert torch.equal(pred(x), pred(x2))   # the input of the masked patch is gone
    assert not torch.isclose(e1, e2)            # but it is the target


def test_labram_masked_tokens_enter_the_encoder_as_the_mask_token():
    torch.manual_seed(0)
    m = LaBraMPretrainer(["C3", "Cz", "C4"], 400, depth=1, embed_dim=16, num_heads=2).eval()
    s = m.student
    x4 = torch.randn(2, 3, 2, 200)
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[:, 3] = True                                   # channel 1 (Cz), patch 1
    _, tok = s.embed(x4, mask=mask)
    expected = s.mask_token[0, 0] + s.pos_embed[0, s.input_chans[2]] + s.time_embed[0, 1]
    assert torch.allclose(tok[0, 1 + 3], expected) and torch.allclose(tok[1, 1 + 3], expected)
    assert not torch.allclose(tok[0, 1 + 2], tok[1, 1 + 2])
    parts = m(x4.flatten(2), mask)
    assert set(parts) == {"masked", "symmetric"} and all(v.item() > 0 for v in parts.values())
    assert m.mask_counts(mask) == {"masked": 2, "symmetric": 10}


# -- official layouts --------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["labram", "cbramod"])
def test_pretrain_writes_the_official_layout_that_the_teacher_loads(arch, tmp_path):
    cfg = _cfg(tmp_path, arch, epochs=1)
    summary = pretrain_run(cfg, tmp_path / "run")
    path = tmp_path / "run" / "pretrained.pth"
    assert summary["output"] == str(path) and summary["finished"]
    obj = torch.load(path, weights_only=True)
    if arch == "labram":
        assert set(obj) == {"model", "epoch", "dlink"}
        assert all(k.startswith("student.") for k in obj["model"])
        assert {"student.mask_token", "student.norm.weight", "student.lm_head.weight"} <= set(obj["model"])
        state = {k[len("student."):]: v for k, v in obj["model"].items()}
    else:
        assert "proj_out.0.weight" in obj and "patch_embedding.mask_encoding" in obj
        state = obj
    teacher = build_teacher(dataclasses.replace(cfg.teacher, checkpoint=str(path)),
                            n_chans=22, n_times=800, n_outputs=3, ch_names=BCI2A)
    sd = teacher.state_dict()
    prefix = "" if arch == "labram" else "backbone."
    shared = [k for k in state if prefix + k in sd]
    assert len(shared) >= len(state) - 5
    for k in shared:
        assert torch.equal(sd[prefix + k], state[k]), k
    hist = json.loads((tmp_path / "run" / "pretrain" / "history.json").read_text())["history"]
    assert len(hist["step_loss"]) == hist["steps"] and len(hist["val_loss"]) == 1
    assert (tmp_path / "run" / "pretrain" / "loss.png").stat().st_size > 1000
    assert (tmp_path / "run" / ".stamps" / "pretrain.json").is_file()


def _random_state(entries, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.randn(shape[-1], generator=g).expand(shape).clone()
                if torch.Size(shape).numel() > 4096 else torch.randn(shape, generator=g))
            for k, shape, _ in entries}


@needs_shared
def test_continued_pretraining_starts_from_the_released_labram_layout(tmp_path):
    import argparse

    man = json.loads((TEACHER_FIXTURES / "labram_base_manifest.json").read_text())
    state = _random_state(man["pretrained_checkpoint"]["pretrain_state_dict"])
    path = tmp_path / "labram-base.pth"
    torch.save({"model": state, "epoch": 49, "args": argparse.Namespace(lr=5e-4)}, path)
    model = LaBraMPretrainer(BCI2A, 800, depth=12, embed_dim=200, num_heads=10)
    report = load_into_pretrainer(model, path)
    assert report["fresh"] == ["lm_head.bias", "lm_head.weight"]  # the 8192-code head
    sd = model.student.state_dict()
    for k in ("mask_token", "norm.weight", "blocks.11.mlp.fc2.bias", "pos_embed"):
        assert torch.equal(sd[k], state["student." + k]), k
    out = official_state(model)["model"]
    assert set(out) == {k for k in state if k.startswith("student.")}
    small = LaBraMPretrainer(BCI2A, 800, depth=2, embed_dim=200, num_heads=10)
    with pytest.raises(CheckpointMismatchError, match=r"unexpected key.*blocks\.2\."):
        load_into_pretrainer(small, path)


@needs_shared
def test_continued_pretraining_starts_from_the_released_cbramod_layout(tmp_path):
    man = json.loads((TEACHER_FIXTURES / "cbramod_manifest.json").read_text())
    state = _random_state(man["state_dict"], seed=1)
    path = tmp_path / "pretrained_weights.pth"
    torch.save(state, path)
    model = CBraModPretrainer(22, 800, depth=12, embed_dim=200, num_heads=8, dim_feedforward=800)
    assert load_into_pretrainer(model, path)["fresh"] == []
    assert torch.equal(model.backbone.proj_out[0].weight, state["proj_out.0.weight"])
    assert set(official_state(model)) == set(state)
    del state["proj_out.0.bias"]
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match="proj_out.0.bias"):
        load_into_pretrainer(model, path)


# -- training: resume and torchrun -------------------------------------------------------------
def test_resumed_pretraining_equals_an_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    cfg = _cfg(tmp_path)
    corpus = build_corpus(cfg.pretrain, cfg.data)

    def model():
        torch.manual_seed(0)
        from dlink.distill.pretrain import build_pretrainer
        return build_pretrainer(cfg.teacher, cfg.pretrain, ch_names=corpus.ch_names,
                                n_times=corpus.n_times)

    _, full = pretrain(model(), corpus, pcfg=cfg.pretrain, seed=0)
    _, part = pretrain(model(), corpus, pcfg=cfg.pretrain, seed=0, checkpoint_dir=tmp_path / "ck",
                       max_steps_this_call=4)  # mid-epoch 2
    assert not part["finished"] and len(part["step_loss"]) == 4
    _, rest = pretrain(model(), corpus, pcfg=cfg.pretrain, seed=0, checkpoint_dir=tmp_path / "ck")
    assert rest["finished"] and rest["steps"] == full["steps"] == 6  # 30 windows, batch 8, 2 epochs
    assert rest["step_loss"] == full["step_loss"]
    assert rest["val_loss"] == full["val_loss"]
    assert full["step_loss"][-1] < full["step_loss"][0]


@pytest.mark.parametrize("arch", ["labram", "cbramod"])
def test_torchrun_two_processes_give_the_same_loss_curve_as_one(arch, tmp_path):
    """The same global batch split over two CPU processes (gloo, DistributedDataParallel)."""
    cfg_file = tmp_path / "cfg.yaml"
    import yaml

    from dlink.config import config_to_dict

    cfg = _cfg(tmp_path, arch, drop_path=0.0, dropout=0.0)
    cfg_file.write_text(yaml.safe_dump(config_to_dict(cfg)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "dlink", "teacher", "pretrain", str(cfg_file), "--run-dir", str(tmp_path / "two")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pretrain_run(cfg, tmp_path / "one")
    one = json.loads((tmp_path / "one" / "pretrain" / "history.json").read_text())["history"]
    two = json.loads((tmp_path / "two" / "pretrain" / "history.json").read_text())["history"]
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert len(one["step_loss"]) == len(two["step_loss"]) == 6
    np.testing.assert_allclose(two["step_loss"], one["step_loss"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(two["val_loss"], one["val_loss"], rtol=1e-4, atol=1e-6)
    a = torch.load(tmp_path / "one" / "pretrained.pth", weights_only=True)
    b = torch.load(tmp_path / "two" / "pretrained.pth", weights_only=True)
    a, b = (x["model"] if "model" in x else x for x in (a, b))
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4


# -- corpus --------------------------------------------------------------------------------------
def test_corpus_reads_recordings_lazily_inside_the_asked_annotations(tmp_path, caplog):
    folder = tmp_path / "archive" / "sub"
    folder.mkdir(parents=True)
    names = ["C3", "Cz", "C4", "Fz"]
    # 160 Hz, two rest periods of 4.5 s and 9 s, a task period between them
    write_edf(folder / "a.edf", names, sfreq_hz=160.0, duration_s=30.0,
              annotations=[(1.0, 4.5, "T0"), (6.0, 4.0, "T1"), (11.0, 9.0, "T0")])
    write_edf(folder / "b.edf", ["C3", "C4"], sfreq_hz=160.0, duration_s=30.0, seed=1)  # lacks Cz
    (folder / "notes.txt").write_text("not a recording")
    cfg = _cfg(tmp_path, corpus=[str(tmp_path / "archive")], synthetic_subjects=0,
               channels=["C4", "Cz", "C3"], annotations=["T0"], window_s=2, stride_s=1)
    data = cfg.data
    data.name, data.synthetic = "eegmmidb", {}
    corpus = build_corpus(cfg.pretrain, data)
    # 4.5 s -> 3 windows of 2 s at a 1-s hop; 9 s -> 8; b.edf is skipped (no Cz)
    assert len(corpus) == 11 and corpus.n_sources == 1 and corpus.n_listed == 2
    assert [s["source"].endswith("b.edf") for s in corpus.skipped] == [True]
    assert corpus.ch_names == ["C4", "Cz", "C3"] and corpus.n_times == 400
    shard = corpus._shard(0)
    assert isinstance(shard, np.memmap)
    w = corpus.windows([0, 10])
    assert w.shape == (2, 3, 400) and w.dtype == np.float32
    assert 0.05 < float(w.std()) < 0.5   # 20 uV random EEG, band-passed, in units of 100 uV
    mtime = corpus.shards[0][0].stat().st_mtime_ns
    again = build_corpus(cfg.pretrain, data, build=False)   # reuses the shards
    assert len(again) == 11 and again.shards[0][0].stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(again.windows([3]), corpus.windows([3]))


def test_synthetic_pretraining_subjects_are_outside_every_split(tmp_path):
    from dlink.data.synthetic import (PRETRAIN_FIRST_SUBJECT, pretraining_subject_ids,
                                      subject_ids, unlabelled_windows)

    opts = {"subjects": {"train": 5, "val": 3, "test": 5, "pool": 17}}
    ids = pretraining_subject_ids(opts, 3)
    used = {s for v in subject_ids(__import__("dlink.data.synthetic", fromlist=["x"])
                                   .SyntheticOptions.from_dict(opts)).values() for s in v}
    assert ids[0] == PRETRAIN_FIRST_SUBJECT and not used & set(ids)
    X = unlabelled_windows({"trials_per_class": 2}, ids[0], window_s=2)
    assert X.shape == (8, 22, 400) and X.dtype == np.float32
    cfg = _cfg(tmp_path, channels=["Cz", "C3"])
    corpus = build_corpus(cfg.pretrain, cfg.data)
    assert corpus.ch_names == ["Cz", "C3"] and len(corpus) == 4 * 8
    full = unlabelled_windows(cfg.data.synthetic, ids[0], window_s=2, n_classes=2)
    np.testing.assert_array_equal(corpus.windows([0])[0], full[0][[BCI2A.index("Cz"), BCI2A.index("C3")]])


def test_pretrain_refuses_bad_settings_with_clear_messages(tmp_path):
    from dlink.config import ConfigError

    with pytest.raises(ConfigError, match="pretrain.mask_ratio must be in"):
        _cfg(tmp_path, mask_ratio=1.0)
    with pytest.raises(ValueError, match="pretrain needs data"):
        build_corpus(_cfg(tmp_path, synthetic_subjects=0).pretrain, _cfg(tmp_path).data)
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist"):
        build_corpus(_cfg(tmp_path, corpus=[str(tmp_path / "nowhere")]).pretrain, _cfg(tmp_path).data)
    with pytest.raises(ValueError, match="not in the synthetic montage"):
        build_corpus(_cfg(tmp_path, channels=["O1"]).pretrain, _cfg(tmp_path).data)
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        cfg = _cfg(tmp_path, batch_size=7)
        from dlink.distill.pretrain.train import Dist
        corpus = build_corpus(cfg.pretrain, cfg.data)
        pretrain(None, corpus, pcfg=cfg.pretrain, dist=Dist(0, 2, 0, "cpu"))
