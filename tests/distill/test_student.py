"""The MiC student: budget, pinned size, deployable operators, save/load, input checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlink.distill.students import (build_student, count_macs, count_params, load_student_file,
                                    student_payload)
from dlink.distill.students.blocks import LowpassDown
from dlink.io import atomic_torch_save

N_CHANS, N_TIMES, N_OUTPUTS = 22, 800, 4

#: Pinned size of the default deployable student (22 ch x 800 samples, 4 classes). Changing the
#: architecture changes these on purpose: update them together with DESIGN/README figures.
PINNED_PARAMS = 20046
PINNED_MACS = 1_786_784

#: Modules allowed in the deployed graph (int8 TFLite-Micro builtins once exported).
ALLOWED_LEAVES = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Linear, nn.Dropout,
                  nn.Identity, nn.AvgPool2d)
#: aten ops allowed in the traced forward (conv, folded BN, ReLU/ReLU6 (hardtanh), mean, linear,
#: reshape, dropout (identity in eval), add, mul).
ALLOWED_ATEN = {"aten::_convolution", "aten::batch_norm", "aten::relu", "aten::hardtanh",
                "aten::mean", "aten::linear", "aten::reshape", "aten::view", "aten::dropout",
                "aten::add", "aten::mul", "aten::flatten", "aten::avg_pool2d"}


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    return build_student("mic", n_chans=N_CHANS, n_times=N_TIMES, n_outputs=N_OUTPUTS).eval()


def test_default_student_meets_budget_and_pinned_size(student):
    params = count_params(student)
    macs = count_macs(student, N_CHANS, N_TIMES)
    assert params <= 100_000 and macs <= 10_000_000
    assert params == PINNED_PARAMS
    assert macs == PINNED_MACS


def test_forward_returns_logits_only(student):
    y = student(torch.randn(3, N_CHANS, N_TIMES))
    assert isinstance(y, torch.Tensor) and y.shape == (3, N_OUTPUTS)
    out = student.forward_train(torch.randn(2, N_CHANS, N_TIMES))
    assert out["mimic"].shape == (2, N_CHANS * student.mimic_width, 1, student.n_mimic_steps)
    assert student.n_mimic_steps == student.n_tokens * student.steps_per_token
    torch.testing.assert_close(out["logits"], student(torch.randn(2, N_CHANS, N_TIMES)) * 0 + out["logits"])


def test_student_modules_are_deployable(student):
    for name, m in student.named_modules():
        if len(list(m.children())) > 0:
            continue
        assert isinstance(m, ALLOWED_LEAVES), f"{name}: {type(m).__name__} is not deployable"
        if isinstance(m, nn.Conv2d):
            assert m.groups in (1, m.in_channels), f"{name}: grouped conv (TFLM has no kernel)"
            assert m.kernel_size[0] == 1, f"{name}: temporal convs run on [B, C, 1, T]"
    for name, m in student.named_modules():
        assert not isinstance(m, (nn.ELU, nn.GELU, nn.LayerNorm, nn.MultiheadAttention))


def test_student_traced_graph_uses_allowed_ops_only(student):
    graph = torch.jit.trace(student, torch.zeros(1, N_CHANS, N_TIMES)).inlined_graph
    kinds = {n.kind() for n in graph.nodes() if n.kind().startswith("aten::")}
    assert "aten::_convolution" in kinds and "aten::linear" in kinds
    bad = kinds - ALLOWED_ATEN
    assert not bad, f"non-deployable ops in the traced student: {bad}"


def test_lowpass_down_is_a_lowpass():
    d = LowpassDown(1, 4)
    t = torch.arange(256, dtype=torch.float32)
    slow = torch.sin(2 * torch.pi * 4 * t / 256).view(1, 1, 1, -1)
    fast = torch.sin(2 * torch.pi * 100 * t / 256).view(1, 1, 1, -1)  # above the new Nyquist
    assert d(slow).shape == (1, 1, 1, 64)
    assert d(fast)[..., 4:-4].abs().max() < 0.05 < d(slow)[..., 4:-4].abs().max()
    assert not d.conv.weight.requires_grad and LowpassDown(1, 4, learned=True).conv.weight.requires_grad


def test_save_and_load_roundtrip(student, tmp_path):
    payload = student_payload(student, arch="mic",
                              kwargs={"n_chans": N_CHANS, "n_times": N_TIMES, "n_outputs": N_OUTPUTS,
                                      "sfreq": 200.0},
                              n_chans=N_CHANS, n_times=N_TIMES, sfreq=200.0,
                              ch_names=[f"E{i}" for i in range(N_CHANS)], class_names=list("abcd"))
    path = atomic_torch_save(payload, tmp_path / "student.pt")
    model, meta = load_student_file(path)
    x = torch.randn(2, N_CHANS, N_TIMES)
    torch.testing.assert_close(model(x), student(x))
    assert meta["input_unit"] == "100uV" and meta["class_names"] == list("abcd")
    assert not model.training


def test_errors_name_the_problem(student, tmp_path):
    with pytest.raises(ValueError, match=r"shape \(batch, 22, 800\)"):
        student(torch.zeros(1, 21, 800))
    with pytest.raises(TypeError, match="unknown option"):
        build_student("mic", n_chans=22, n_times=800, n_outputs=4, mimic_widht=4)
    with pytest.raises(ValueError, match="student.arch"):
        build_student("mlp", n_chans=22, n_times=800, n_outputs=4)
    with pytest.raises(ValueError, match="whole number of teacher tokens"):
        build_student("mic", n_chans=22, n_times=700, n_outputs=4)
    with pytest.raises(FileNotFoundError, match="student checkpoint"):
        load_student_file(tmp_path / "missing.pt")


def test_options_change_size():
    small = build_student("mic", n_chans=8, n_times=400, n_outputs=2, mimic_width=4, hidden_width=16)
    assert small(torch.zeros(1, 8, 400)).shape == (1, 2)
    assert count_params(small) < PINNED_PARAMS
