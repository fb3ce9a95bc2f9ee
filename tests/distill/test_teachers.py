"""Teachers: numerics against the official reference outputs, names/shapes, the interface."""

from __future__ import annotations

import json

import pytest
import torch

from dlink.distill.teachers import CBraMod, LaBraM, TeacherOutput, build_teacher, labram_input_chans
from dlink.distill.teachers.config import TeacherConfig
from dlink.distill.teachers.reference import check_fixture
from tests.conftest import TEACHER_FIXTURES, needs_shared

ARCHS = ("labram", "cbramod")
BCI2A = ["Fz", "FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
         "CP3", "CP1", "CPz", "CP2", "CP4", "P1", "Pz", "P2", "POz"]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _manifest(arch):
    name = "labram_base_manifest.json" if arch == "labram" else "cbramod_manifest.json"
    return json.loads((TEACHER_FIXTURES / name).read_text())


@needs_shared
@pytest.mark.parametrize("arch", ARCHS)
def test_every_stage_matches_the_official_reference(arch):
    report = check_fixture(arch, TEACHER_FIXTURES / f"{arch}_tiny_stress")
    bad = {k: v for k, v in report["stages"].items() if not v["ok"]}
    assert bad == {}
    assert report["ok"]
    # the stages the README lists are all compared, including block outputs and logits
    assert {"block_out"} <= set(report["stages"])
    assert any(k.startswith("logits") for k in report["stages"])


@needs_shared
@pytest.mark.parametrize("arch", ARCHS)
def test_teacher_check_cli_prints_errors_and_exits_zero(arch, capsys):
    from dlink.cli import main

    rc = main(["teacher", "check", "--arch", arch, "--fixture", str(TEACHER_FIXTURES / f"{arch}_tiny_stress")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"] is True
    assert out["tolerance"] == 1e-6
    assert all(v is not None and v <= 1e-6 for v in out["max_abs_error"].values())


@needs_shared
def test_teacher_check_catches_a_wrong_qk_norm_epsilon(monkeypatch):
    """A q/k-norm epsilon of 1e-5 instead of the official 1e-6 moves LaBraM's outputs by ~8e-6:
    the check (absolute tolerance 1e-6) must fail on it, while the correct code is exact."""
    from dlink.distill.teachers import labram

    original = labram.Attention.__init__

    def wrong_eps(self, dim, num_heads, *, qkv_bias=False, eps=1e-6):
        original(self, dim, num_heads, qkv_bias=qkv_bias, eps=eps)
        self.q_norm.eps = self.k_norm.eps = 1e-5

    monkeypatch.setattr(labram.Attention, "__init__", wrong_eps)
    report = check_fixture("labram", TEACHER_FIXTURES / "labram_tiny_stress")
    assert not report["ok"]
    worst = max(v["max_abs_error"] for v in report["stages"].values())
    assert 1e-6 < worst < 1e-4
    assert report["stages"]["patch_embed"]["ok"]  # before the first block nothing changes
    assert not report["stages"]["block_out"]["ok"]


@needs_shared
def test_teacher_check_cli_fails_on_the_wrong_architecture(capsys):
    from dlink.cli import main

    rc = main(["teacher", "check", "--arch", "cbramod", "--fixture",
               str(TEACHER_FIXTURES / "labram_tiny_stress")])
    assert rc == 1
    assert "not a cbramod fixture" in capsys.readouterr().err


@needs_shared
def test_full_size_parameter_names_shapes_and_counts_match_the_manifests():
    lab = _manifest("labram")
    model = LaBraM(4, BCI2A, 800)  # LaBraM-Base defaults
    got = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert got == [[k, s] for k, s, _ in lab["state_dict"]]
    assert sum(p.numel() for p in model.parameters()) == lab["num_params_total"]

    cb = _manifest("cbramod")
    teacher = CBraMod(4, 22, 800, head="flatten")  # CBraMod defaults, official default head
    got = [[k, list(v.shape)] for k, v in teacher.state_dict().items()]
    down = cb["downstream_bciciv2a"]
    key = next(k for k in down if k.startswith("state_dict_all_patch_reps"))
    assert got == [[k, s] for k, s, _ in down[key]]
    mean_head = CBraMod(4, 22, 800, head="mean").state_dict()
    assert [[k, list(v.shape)] for k, v in mean_head.items() if k.startswith("classifier.")] == \
        [[k, s] for k, s, _ in down["classifier_keys_avgpooling_patch_reps"]]
    from dlink.distill.teachers import CBraModBackbone

    backbone = CBraModBackbone()
    assert [[k, list(v.shape)] for k, v in backbone.state_dict().items()] == \
        [[k, s] for k, s, _ in cb["state_dict"]]
    assert sum(p.numel() for p in backbone.parameters()) == cb["num_params_total"]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("head", ["mean", "channel", "flatten"])
def test_interface_logits_and_hidden_states(arch, head):
    cfg = TeacherConfig(arch=arch, depth=2, embed_dim=40, num_heads=4, head=head)
    names = ["C3", "Cz", "C4"]
    teacher = build_teacher(cfg, n_chans=3, n_times=600, n_outputs=5, ch_names=names).eval()
    x = torch.randn(2, 3, 600)
    with torch.no_grad():
        out = teacher(x)
        light = teacher(x, return_hidden=False)
    assert isinstance(out, TeacherOutput)
    assert out.logits.shape == (2, 5)
    assert teacher.n_layers == 2 and out.n_layers == 2 and teacher.width == 40
    assert teacher.patch_samples == 200
    assert [tuple(h.shape) for h in out.hidden_states] == [(2, 3, 3, 40)] * 3
    assert light.hidden_states == [] and torch.allclose(light.logits, out.logits)
    assert (out.features is None) == (head == "flatten")
    # a channel's tokens depend on its own data (hidden states are not all the same)
    assert not torch.allclose(out.hidden_states[-1][:, 0], out.hidden_states[-1][:, 2])


@pytest.mark.parametrize("arch", ARCHS)
def test_channel_head_pools_time_and_keeps_the_montage(arch):
    cfg = TeacherConfig(arch=arch, depth=1, embed_dim=40, num_heads=4, head="channel")
    names = ["C3", "Cz", "C4"]
    teacher = build_teacher(cfg, n_chans=3, n_times=600, n_outputs=5, ch_names=names).eval()
    head = {k: tuple(v.shape) for k, v in teacher.state_dict().items()
            if k.startswith(("head.", "classifier."))}
    key = "head" if arch == "labram" else "classifier.3"  # the official names of the mean head
    assert head == {f"{key}.weight": (5, 3 * 40), f"{key}.bias": (5,)}
    x = torch.randn(2, 3, 600)
    with torch.no_grad():
        out = teacher(x)
        shorter = teacher(x[:, :, :400])  # pools over time: any whole number of seconds
        swapped = teacher(x[:, [2, 1, 0]])
    assert out.features.shape == (2, 3 * 40) and shorter.logits.shape == (2, 5)
    assert not torch.allclose(out.logits, swapped.logits)  # the montage is kept


def test_labram_hidden_state_zero_is_the_embedding_with_positions():
    teacher = LaBraM(2, ["C3", "C4"], 400, depth=1, embed_dim=40, num_heads=2).eval()
    x = torch.randn(1, 2, 400)
    with torch.no_grad():
        h0 = teacher(x).hidden_states[0]
        _, tokens = teacher.embed(x.unflatten(2, (2, 200)))
    assert torch.equal(h0, tokens[:, 1:].unflatten(1, (2, 2)))
    # swapping the names changes the position rows, so the embedding changes
    other = LaBraM(2, ["C4", "C3"], 400, depth=1, embed_dim=40, num_heads=2).eval()
    other.load_state_dict(teacher.state_dict())
    with torch.no_grad():
        assert not torch.allclose(other(x).hidden_states[0], h0)


def test_input_shape_is_checked():
    teacher = LaBraM(2, ["C3", "C4"], 400, depth=1, embed_dim=40, num_heads=2)
    with pytest.raises(ValueError, match=r"n_chans=2"):
        teacher(torch.zeros(1, 3, 400))
    with pytest.raises(ValueError, match="multiple of 200"):
        teacher(torch.zeros(1, 2, 450))
    with pytest.raises(ValueError, match="at most 16 patches"):
        LaBraM(2, ["C3", "C4"], 200 * 17)


def test_channel_names_map_case_insensitively_with_aliases_and_decorations():
    ref = labram_input_chans(["FZ", "C3", "T7", "P7"])
    assert labram_input_chans(["Fz", "c3", "EEG T7-REF", "P7."]) == ref
    assert ref[0] == 0 and len(ref) == 5
    # old and new temporal names are distinct rows in LaBraM's list (both were pretrained)
    assert labram_input_chans(["T3"]) != labram_input_chans(["T7"])


def test_unknown_channel_name_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"'XYZ1'.*not one of LaBraM's 10-20 names"):
        labram_input_chans(["C3", "XYZ1"])
    with pytest.raises(ValueError, match=r"Did you mean 'CZ'"):
        labram_input_chans(["CZZ"])
    with pytest.raises(ValueError, match="same LaBraM position"):
        labram_input_chans(["C3", "EEG C3"])
    with pytest.raises(ValueError, match="needs ch_names"):
        build_teacher(TeacherConfig(depth=1, embed_dim=40, num_heads=2), n_chans=2, n_times=400,
                      n_outputs=2, ch_names=None)


def test_teacher_config_rejects_bad_sizes():
    from dlink.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match=r"embed_dim \(64\) must be divisible by teacher.num_heads \(5\)"):
        config_from_dict({"teacher": {"embed_dim": 64, "num_heads": 5}})
    with pytest.raises(ConfigError, match=r"layer_decay must be in \(0, 1\]"):
        config_from_dict({"teacher": {"layer_decay": 1.5}})
    cfg = config_from_dict({"teacher": {"arch": "cbramod", "depth": 2}})
    assert cfg.teacher.arch == "cbramod" and cfg.teacher.depth == 2
