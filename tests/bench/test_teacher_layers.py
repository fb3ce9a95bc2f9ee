"""bench/teacher_layers.py: frozen-encoder probes and CKA per block, before any task training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from dlink.bench import teacher_layers as tl
from dlink.distill.teachers import save_teacher_file

from ..distill._tiny import TINY


def _config(tmp_path) -> str:
    cfg = {**TINY, "data": {**TINY["data"], "cache_dir": str(tmp_path / "cache")}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _tiny_teacher(seed: int, tmp_path):
    from dlink.config import load_config
    from dlink.data import load_dataset

    cfg = load_config(_config(tmp_path), {"seed": seed})
    from dlink.distill.finetune import initial_teacher

    return initial_teacher(cfg, load_dataset(cfg.data)["train"]).eval()


def test_the_checkpoint_arm_reads_the_checkpoint_and_a_teacher_file_reads_the_same_weights(tmp_path):
    config = _config(tmp_path)
    other = _tiny_teacher(1, tmp_path)  # the weights the checkpoint and the file carry
    ckpt = tmp_path / "labram-like.pth"
    torch.save({"model": {"student." + k: v for k, v in other.state_dict().items()
                          if not k.startswith("head.")}, "epoch": 0}, ckpt)
    save_teacher_file(tmp_path / "teacher.pt", other)
    rc = tl.main([config, "--run", str(tmp_path / "out"),
                  "--arm", "seed 0:", "--arm", "seed 1:seed=1",
                  "--arm", f"checkpoint:teacher.checkpoint={ckpt}",
                  "--teacher-file", f"file:{tmp_path / 'teacher.pt'}"])
    assert rc == 0
    out = json.loads((tmp_path / "out" / "teacher_layers.json").read_text())
    arms = out["arms"]
    assert list(arms) == ["seed 0", "seed 1", "checkpoint", "file"]
    assert arms["file"]["source"] == "teacher file" and arms["checkpoint"]["source"].startswith("config")
    n = len(arms["seed 0"]["blocks"])
    assert n == TINY["teacher"]["depth"]
    for a in arms.values():
        last = a["blocks"][-1]
        assert last["cka_to_last"] == pytest.approx(1.0, abs=1e-6)
        for b in a["blocks"]:
            assert 0.0 <= b["probe_val"] <= 1.0 and 0.0 <= b["probe_test"] <= 1.0
        val = [b["probe_val"] for b in a["blocks"]]
        assert a["probe_val_range"] == pytest.approx(max(val) - min(val))
        assert a["best_block_val"] == int(np.argmax(val)) + 1
    # the checkpoint and the file hold seed 1's encoder: same hidden states, same numbers
    for name in ("checkpoint", "file"):
        np.testing.assert_allclose(arms[name]["cka"], arms["seed 1"]["cka"], atol=1e-6)
        assert [b["probe_val"] for b in arms[name]["blocks"]] == [b["probe_val"] for b in arms["seed 1"]["blocks"]]
    # and they are not seed 0's (the checkpoint was read, not ignored)
    assert ([b["probe_val"] for b in arms["checkpoint"]["blocks"]]
            != [b["probe_val"] for b in arms["seed 0"]["blocks"]])
    md = (tmp_path / "out" / "teacher_layers.md").read_text()
    assert "chance 0.500" in md and "## checkpoint" in md


def test_a_missing_teacher_file_is_refused_with_its_path(tmp_path, capsys):
    with pytest.raises(SystemExit):
        tl.main([_config(tmp_path), "--run", str(tmp_path / "out"),
                 "--teacher-file", f"ft:{tmp_path / 'nope.pt'}"])
    assert "nope.pt is not a file" in capsys.readouterr().err


def test_nothing_to_read_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one --arm or --teacher-file"):
        tl.run_arms(_config(tmp_path), [], [])
