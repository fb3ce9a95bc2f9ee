"""bench/causal_benchmark.py: pairing, summary and the CSP + LDA reference (fast cases)."""

from __future__ import annotations

import json

import numpy as np


def _r(mode, decoder, seed, fold, test, val, source=None, preds=None):
    return {"mode": mode, "decoder": decoder, "seed": seed, "fold": fold, "test_balanced_accuracy": test,
            "val_balanced_accuracy": val, "source": source, "test_predictions_per_class": preds}


def test_summary_pairs_the_same_seed_fold_and_run():
    from dlink.bench.causal_benchmark import summarise

    runs = [_r("zero_phase", "student_alone", s, f, 0.6 + 0.1 * s, 0.7) for s in (0, 1) for f in (0, 1)]
    runs += [_r("causal", "student_alone", s, f, 0.55 + 0.1 * s, 0.7, preds=[6, 0] if f else [3, 3])
             for s in (0, 1) for f in (0, 1)]
    out = summarise(runs)
    rows = {(r["decoder"], r["mode"]): r for r in out["rows"]}
    assert rows[("student_alone", "causal")]["test"]["n"] == 4
    assert rows[("student_alone", "causal")]["collapsed_runs"] == 2  # all predictions in one class
    (p,) = out["paired"]
    assert p["pairs"] == 4 and abs(p["test_diff"]["mean"] + 0.05) < 1e-9 and p["test_diff"]["sd"] < 1e-9
    lo, hi = p["test_diff_ci95"]
    assert abs(lo + 0.05) < 1e-9 and abs(hi + 0.05) < 1e-9
    # results of another run are not paired with these
    runs.append(_r("causal", "student_alone", 0, 0, 0.9, 0.9, source="other"))
    assert summarise(runs)["paired"][0]["pairs"] == 4


def test_pool_writes_one_table_from_several_runs(tmp_path):
    from dlink.bench.causal_benchmark import pool

    for i in (0, 1):
        d = tmp_path / f"r{i}"
        d.mkdir()
        meta = {"config": "c.yaml", "overrides": {}, "seeds": 1, "folds": None, "n_test": 10,
                "n_classes": 4, "wall_s": 1.0}
        runs = [_r("zero_phase", "csp_lda", 0, None, 0.5 + i / 10, 0.5), _r("causal", "csp_lda", 0, None, 0.5, 0.5)]
        (d / "causal_benchmark.json").write_text(json.dumps({"meta": meta, "runs": runs}))
    assert pool([str(tmp_path / "r0"), str(tmp_path / "r1")], tmp_path / "pooled") == 0
    j = json.loads((tmp_path / "pooled" / "causal_benchmark.json").read_text())
    assert j["paired"][0]["pairs"] == 2 and abs(j["paired"][0]["test_diff"]["mean"] + 0.05) < 1e-9
    assert "| csp_lda | causal |" in (tmp_path / "pooled" / "causal_benchmark.md").read_text()


def test_csp_lda_separates_lateralised_band_power():
    from dlink.bench.causal_benchmark import csp_lda
    from dlink.data.windows import EEGWindows

    rng = np.random.default_rng(0)
    t = np.arange(400) / 200

    def windows(n):
        y = np.arange(n) % 2
        X = 0.3 * rng.standard_normal((n, 4, 400))
        amp = np.where(y[:, None] == 0, [2.0, 0.2, 1, 1], [0.2, 2.0, 1, 1])  # mu on channel 0 or 1
        X += amp[:, :, None] * np.sin(2 * np.pi * 11 * t + rng.uniform(0, 6, (n, 4, 1)))
        return EEGWindows(X.astype(np.float32), y, np.zeros(n), ["C3", "C4", "Cz", "Pz"], 200.0, ["l", "r"])

    ba = csp_lda({"train": windows(40), "val": windows(20), "test": windows(20)}, l_freq_hz=0.5,
                 h_freq_hz=40.0, n_components=2)
    assert ba["test"] > 0.9 and ba["val"] > 0.9
