"""The distillation benchmark script, reduced: two rows, one seed, the tiny config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from dlink.config import config_to_dict

from ._tiny import tiny_config

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "distill_benchmark.py"


def test_benchmark_writes_table_and_teacher_layer_diagnostics(tmp_path):
    cfg = tiny_config(tmp_path / "data")
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(cfg)))
    run = tmp_path / "bench"
    proc = subprocess.run([sys.executable, str(SCRIPT), str(config), "--run", str(run),
                           "--seeds", "1", "--jobs", "1", "--rows", "student_alone,dlink"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| DLink (full) |" in proc.stdout
    result = json.loads((run / "distill_benchmark.json").read_text())
    rows = {r["row"]: r for r in result["rows"]}
    assert set(rows) == {"teacher", "student_alone", "dlink"}
    n_classes = result["meta"]["n_classes"]
    # the tiny task is strongly separable: the distilled student must beat chance clearly
    assert rows["dlink"]["balanced_accuracy_mean"] > 1.0 / n_classes + 0.15
    assert sum(rows["dlink"]["router_layer_weights_mean"]) > 0.999
    layers = result["teacher_layers"]
    assert [p["block"] for p in layers["probe"]] == [1, 2]
    assert all(0.0 <= p["val_balanced_accuracy"] <= 1.0 for p in layers["probe"])
    assert abs(layers["cka"][1][1] - 1.0) < 1e-4
    md = (run / "distill_benchmark.md").read_text()
    assert "| DLink (full) |" in md and "## Teacher layers" in md
    assert "| MiC student alone |" in md
