"""The distillation benchmark script, reduced: a few rows, one teacher, two seeds, the tiny config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from dlink.config import config_to_dict

from ._tiny import tiny_config

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "distill_benchmark.py"
ROWS = "csp_lda,student_alone,feature_block1,router_bias,dlink_no_spectral,dlink"


def _run(config, run, *extra):
    return subprocess.run([sys.executable, str(SCRIPT), str(config), "--run", str(run),
                           "--teacher-seeds", "1", "--seeds-per-teacher", "2", "--jobs", "1",
                           "--rows", ROWS, "--shifts-s", "0.25", "--n-boot", "200", *extra],
                          capture_output=True, text=True, timeout=900)


def test_benchmark_tables_paired_cis_and_resume(tmp_path):
    cfg = tiny_config(tmp_path / "data", train={"epochs": 3})
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(cfg)))
    run = tmp_path / "bench"
    proc = _run(config, run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| DLink (full) |" in proc.stdout
    result = json.loads((run / "distill_benchmark.json").read_text())
    main = {r["row"]: r for r in result["main"]}
    assert set(main) == {"teacher", *ROWS.split(",")}
    n_classes = result["meta"]["n_classes"]
    # the tiny task is strongly separable: the distilled student must beat chance clearly
    assert main["dlink"]["balanced_accuracy_mean"] > 1.0 / n_classes + 0.15
    # the share of the most frequent predicted class: in [1/K, 1] for every row
    assert all(1.0 / n_classes <= r["top_class_share"] <= 1.0 for r in main.values())
    assert main["dlink"]["n_runs"] == 2 and len(result["runs_paired"]) == 2
    # every row but the reference carries a paired difference to full DLink with its interval
    for key, r in main.items():
        if key != "dlink":
            d = r["vs_dlink"]
            assert d["lo"] <= d["diff"] <= d["hi"], (key, d)
            per_run = np.array(r["per_run"]) - np.array(main["dlink"]["per_run"])
            assert abs(d["diff"] - per_run.mean()) < 1e-9
    cmp = {(c["a"], c["b"]) for c in result["comparisons"]}
    assert ("dlink", "student_alone") in cmp and ("dlink_no_spectral", "router_bias") in cmp
    assert ("dlink", "csp_lda") in cmp and main["csp_lda"]["params"] == 0
    # the question of issue 15: is the teacher itself better than the student trained alone?
    t_vs = next(c for c in result["comparisons"] if (c["a"], c["b"]) == ("teacher", "student_alone"))
    assert t_vs["diff"] == pytest.approx(main["teacher"]["balanced_accuracy_mean"]
                                         - main["student_alone"]["balanced_accuracy_mean"])
    assert result["best_block"] == "feature_block1"
    # feature R^2 on val and test for every row with a feature term, in [-inf, 1]
    r2 = {r["row"]: r for r in result["feature_r2"]}
    assert {"feature_block1", "router_bias", "dlink"} <= set(r2)
    assert all(r["val_mean"] <= 1 and r["test_mean"] <= 1 for r in r2.values())
    # jitter table: every student and the teacher, at the one shift asked for
    jit = {r["row"]: r for r in result["jitter"]}
    assert {"teacher", "dlink", "dlink_no_spectral"} <= set(jit)
    assert set(jit["dlink"]["per_shift"]) == {"50"}
    routers = {r["row"]: r for r in result["routers"]}
    assert abs(sum(routers["dlink"]["mean"]) - 1) < 1e-4 and "router_bias" in routers
    layers = result["layers"]
    assert [b["block"] for b in layers] == [1, 2]
    assert abs(layers[1]["cka_to_last"][0] - 1.0) < 1e-4
    assert 0 < layers[0]["rank_ceiling"]["4"] <= layers[0]["rank_ceiling"]["8"] <= 1
    md = (run / "distill_benchmark.md").read_text()
    for section in ("## Comparisons", "## Feature R²", "## Jitter robustness", "## Teacher layers"):
        assert section in md
    # a second call reuses every finished run (nothing is trained again) and gives the same table
    again = _run(config, run)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((run / "distill_benchmark.json").read_text())["main"] == result["main"]
