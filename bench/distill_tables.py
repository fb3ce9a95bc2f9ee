"""The distillation benchmark's tables: the one place where test predictions become numbers.

:func:`build` takes every run's validation metrics and test predictions and returns the tables
(main table with paired CIs against full DLink, the comparisons that answer one question each,
feature R^2, jitter robustness, router weights, teacher layers, the mimic-width curve);
:func:`markdown` renders them. Choices that depend on results (the best fixed block of a
comparison) are made on validation metrics here, before any test number is computed.
"""

from __future__ import annotations

import math

import numpy as np

from .paired_bootstrap import PairedBootstrap, balanced_accuracy, class_counts

#: (A, B, question): each comparison is A - B, paired run by run. "best_block" is the fixed
#: block whose feature-KD row has the best mean *validation* balanced accuracy.
COMPARISONS = [
    ("dlink", "student_alone", "Distillation as a whole: full DLink vs the student alone"),
    ("logit_kd", "student_alone", "Logit KD (with the unlabelled pool) vs the student alone"),
    ("oracle", "dlink", "Headroom: true pool labels vs full DLink"),
    ("best_block", "logit_kd", "Feature KD on the best fixed block (chosen on val) over logit KD"),
    ("feature_average", "logit_kd", "Feature KD on the block average over logit KD"),
    ("dlink_no_spectral", "best_block", "Input-conditioned router vs the best fixed block (val)"),
    ("dlink_no_spectral", "router_bias", "Input conditioning: router vs bias-only router"),
    ("dlink_no_spectral", "feature_average", "Router vs the block average"),
    ("dlink_mag", "dlink_no_spectral", "Spectral magnitude term"),
    ("dlink_phase", "dlink_no_spectral", "Spectral phase term"),
    ("dlink_antialias", "dlink_no_spectral", "Anti-aliasing term"),
    ("dlink", "dlink_no_spectral", "All three spectral terms"),
    ("dlink", "eegnet", "Full DLink vs EEGNet"),
    ("dlink", "shallow", "Full DLink vs ShallowConvNet"),
    ("dlink", "csp_lda", "Full DLink vs CSP + LDA"),
    ("dlink", "teacher", "Full DLink vs its teacher"),
    ("teacher", "student_alone", "A teacher worth distilling: the fine-tuned teacher vs the student alone"),
    ("teacher", "csp_lda", "The fine-tuned teacher vs CSP + LDA"),
]

#: Jitter comparisons: (A, B) on the mean balanced accuracy over all time shifts, and on the drop.
JITTER_COMPARISONS = [("dlink", "dlink_no_spectral"), ("dlink_mag", "dlink_no_spectral"),
                      ("dlink_phase", "dlink_no_spectral"), ("dlink_antialias", "dlink_no_spectral"),
                      ("dlink_no_spectral", "student_alone")]


def _verdict(c: dict) -> str:
    if c["lo"] > 0:
        return "A better"
    if c["hi"] < 0:
        return "B better"
    return "not resolved"


def build(rows, teachers: list[dict], results: list[dict], preds: dict, test, meta: dict) -> dict:
    """Every table of the benchmark (see the module docstring). ``preds[(row, teacher, seed)]``
    holds ``test`` and ``shift<n>`` prediction arrays; ``test`` is the test split."""
    subjects = sorted(np.unique(test.subject).tolist())
    k = meta["n_classes"]
    total = class_counts(test.y, test.y, test.subject, subjects, k)[1]
    runs = sorted({(r["teacher_seed"], r["seed"]) for r in results})
    by_row = {}
    for r in results:
        by_row.setdefault(r["row"], {})[(r["teacher_seed"], r["seed"])] = r
    teacher_by_seed = {t["teacher_seed"]: t for t in teachers}
    labels = {"teacher": "Teacher (fine-tuned)", **{row.key: row.label for row in rows}}
    kinds = {"teacher": "teacher", **{row.key: row.kind for row in rows}}

    def counts(row_key: str, name: str = "test", rs=runs) -> np.ndarray | None:
        out = []
        for t, s in rs:
            if row_key == "teacher":
                p = teacher_by_seed[t]["preds"].get(name)
            else:
                p = preds.get((row_key, t, s), {}).get(name)
            if p is None:
                return None
            out.append(class_counts(test.y, p, test.subject, subjects, k)[0])
        return np.stack(out)

    def top_class_share(row_key: str) -> float:
        """Mean over runs of the share of test windows given the most frequent predicted class
        (1/K for a balanced predictor; near 1: a model that predicts one class, a failure)."""
        shares = []
        for t, s in runs:
            p = (teacher_by_seed[t]["preds"] if row_key == "teacher"
                 else preds[(row_key, t, s)])["test"]
            shares.append(np.bincount(np.asarray(p, dtype=np.int64), minlength=k).max() / len(p))
        return float(np.mean(shares))

    def shifted(row_key: str) -> np.ndarray | None:
        cs = [counts(row_key, f"shift{s}") for s in meta["shifts_samples"]]
        return None if not cs or any(c is None for c in cs) else np.mean(cs, axis=0)

    present = ["teacher"] + [row.key for row in rows if row.key in by_row and row.table == "main"]
    boot = PairedBootstrap(total, len(runs), n_boot=meta["n_boot"], seed=0)
    cnt = {key: counts(key) for key in present}
    ref = "dlink" if cnt.get("dlink") is not None else None

    # -- choices made on validation only ----------------------------------------------------
    def val_mean(key):
        if key == "teacher":
            return float(np.mean([t["val"]["balanced_accuracy"] for t in teachers]))
        return float(np.mean([r["val"]["balanced_accuracy"] for r in by_row[key].values()]))

    blocks = [key for key in present if key.startswith("feature_block")]
    best_block = max(blocks, key=val_mean) if blocks else None

    # -- main table --------------------------------------------------------------------------
    main = []
    for key in present:
        if key != "teacher" and next(r for r in rows if r.key == key).table != "main":
            continue
        c = cnt[key]
        if c is None:
            continue
        ba = balanced_accuracy(c, total)
        entry = {"row": key, "label": labels[key], "kind": kinds[key], "n_runs": len(ba),
                 "val_balanced_accuracy": val_mean(key),
                 "balanced_accuracy_mean": float(ba.mean()),
                 "balanced_accuracy_sd": float(ba.std(ddof=1)) if len(ba) > 1 else 0.0,
                 "balanced_accuracy_ci": boot.interval(c), "per_run": ba.tolist(),
                 "top_class_share": top_class_share(key)}
        if key == "teacher":
            entry.update(params=teachers[0]["params"], macs=teachers[0]["macs"],
                         train_s=float(np.nanmean([t["train_s"] for t in teachers])))
        else:
            rs = list(by_row[key].values())
            entry.update(params=rs[0]["params"], macs=rs[0]["macs"],
                         train_s=float(np.mean([r["train_s"] for r in rs])),
                         max_steps=int(rs[0].get("max_steps", 0)),
                         steps_run=float(np.mean([r.get("steps_run", 0) for r in rs])))
        if ref is not None and key != ref:
            entry["vs_dlink"] = boot.difference(c, cnt[ref])
        main.append(entry)

    # -- comparisons -------------------------------------------------------------------------
    comparisons = []
    for a, b, question in COMPARISONS:
        a_key = best_block if a == "best_block" else a
        b_key = best_block if b == "best_block" else b
        if cnt.get(a_key) is None or cnt.get(b_key) is None:
            continue
        c = boot.difference(cnt[a_key], cnt[b_key])
        comparisons.append({"a": a_key, "b": b_key, "question": question, **c,
                            "half_width": (c["hi"] - c["lo"]) / 2, "verdict": _verdict(c)})

    # -- feature R^2 -------------------------------------------------------------------------
    r2 = []
    for row in rows:
        rs = [r for r in by_row.get(row.key, {}).values() if "feature_r2" in r]
        if not rs:
            continue
        v = np.array([r["feature_r2"]["val"] for r in rs])
        t = np.array([r["feature_r2"]["test"] for r in rs])
        r2.append({"row": row.key, "label": row.label, "val_mean": float(v.mean()),
                   "val_sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                   "test_mean": float(t.mean()), "test_sd": float(t.std(ddof=1)) if len(t) > 1 else 0.0})

    # -- jitter robustness -------------------------------------------------------------------
    jitter, jitter_cmp, sh = [], [], {}
    for key in present:
        if kinds[key] in ("baseline", "classical") or key.startswith("dlink_mimic"):
            continue
        s = shifted(key)
        if s is None or cnt[key] is None:
            continue
        sh[key] = s
        per_shift = {int(x): float(balanced_accuracy(counts(key, f"shift{x}"), total).mean())
                     for x in meta["shifts_samples"]}
        jitter.append({"row": key, "label": labels[key],
                       "unshifted": float(balanced_accuracy(cnt[key], total).mean()),
                       "per_shift": per_shift,
                       "shifted_mean": float(balanced_accuracy(s, total).mean())})
    for a, b in JITTER_COMPARISONS:
        if a in sh and b in sh:
            c = boot.difference(sh[a], sh[b])
            drop = boot.contrast([(1, sh[a]), (-1, cnt[a]), (-1, sh[b]), (1, cnt[b])])
            jitter_cmp.append({"a": a, "b": b, "shifted": {**c, "verdict": _verdict(c)},
                               "drop": {**drop, "verdict": _verdict(drop)}})

    # -- router weights ----------------------------------------------------------------------
    routers = []
    for row in rows:
        rs = [r["router"]["test"] for r in by_row.get(row.key, {}).values() if r.get("router")]
        if rs:
            routers.append({"row": row.key, "label": row.label,
                            "mean": np.mean([r["layer_weights_mean"] for r in rs], 0).tolist(),
                            "std_over_windows": np.mean([r["layer_weights_std"] for r in rs], 0).tolist(),
                            "top_share": np.mean([r.get("top_layer_share", [math.nan])
                                                  for r in rs], 0).tolist()})

    # -- mimic-width curve -------------------------------------------------------------------
    curve = []
    for row in rows:
        if row.table != "curve" or row.key not in by_row:
            continue
        rs = list(by_row[row.key].values())
        c = counts(row.key, rs=sorted(by_row[row.key]))
        ba = balanced_accuracy(c, total)
        curve.append({"row": row.key, "mimic_width": row.student.get("mimic_width"),
                      "params": rs[0]["params"], "macs": rs[0]["macs"],
                      "r2_val": float(np.mean([r["feature_r2"]["val"] for r in rs])),
                      "r2_test": float(np.mean([r["feature_r2"]["test"] for r in rs])),
                      "val_balanced_accuracy": val_mean(row.key),
                      "balanced_accuracy_mean": float(ba.mean()),
                      "balanced_accuracy_sd": float(ba.std(ddof=1)) if len(ba) > 1 else 0.0,
                      "n_runs": len(ba),
                      "within_budget": bool(rs[0]["params"] <= meta["max_params"]
                                            and rs[0]["macs"] <= meta["max_macs"])})

    return {"main": main, "comparisons": comparisons, "feature_r2": r2, "jitter": jitter,
            "jitter_comparisons": jitter_cmp, "routers": routers, "curve": curve,
            "layers": _layers(teachers), "best_block": best_block, "runs_paired": runs}


def _layers(teachers: list[dict]) -> list[dict]:
    """Per block, mean (and sd over teacher seeds) of probe accuracy, similarity, rank ceilings."""
    n = teachers[0]["n_layers"]
    out = []
    for i in range(n):
        def stat(fn):
            v = np.array([fn(t["layers"]) for t in teachers], dtype=float)
            return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
        ranks = sorted(teachers[0]["layers"]["rank_ceiling"][i]["ceiling"], key=int)
        out.append({"block": i + 1,
                    "probe_val": stat(lambda L: L["probe"][i]["val_balanced_accuracy"]),
                    "probe_test": stat(lambda L: L["probe"][i]["test_balanced_accuracy"]),
                    "cka_to_last": stat(lambda L: L["cka"][i][n - 1]),
                    "cosine_to_last": stat(lambda L: L["cosine"][i][n - 1]),
                    "rank_ceiling": {int(r): stat(lambda L, r=r: L["rank_ceiling"][i]["ceiling"][r])[0]
                                     for r in ranks}})
    return out


def _count(n) -> str:
    """A parameter or MAC count; "—" where none is counted (CSP + LDA)."""
    return f"{n:,}" if n else "—"


def _ci(c: dict) -> str:
    return f"{c['diff']:+.3f} [{c['lo']:+.3f}, {c['hi']:+.3f}]"


def markdown(t: dict, meta: dict) -> str:
    chance = 1.0 / meta["n_classes"]
    n_runs = len(t["runs_paired"])
    lines = [f"# Distillation benchmark: {meta['config']}", "",
             f"Subjects: {meta['subjects']}; windows: {meta['windows']}; {meta['n_classes']} classes "
             f"(chance balanced accuracy {chance:.3f}). {meta['teacher_seeds']} teacher seeds x "
             f"{meta['seeds_per_teacher']} student seeds = {n_runs} paired runs per row. Max "
             f"epochs {meta['epochs']} over train + pool (labelled-only rows: at least as many "
             f"steps{'' if meta['equal_steps'] else ' -- off for this run'}). Wall time "
             f"{meta['wall_s'] / 60:.1f} min with {meta['jobs']} jobs, load average "
             f"{meta['load_average']} at the end (the machine was shared).", "",
             "Test balanced accuracy: mean ± sd over runs, 95 % bootstrap CI of the mean (test "
             "subjects x runs); difference to full DLink with its 95 % paired CI. Val: mean "
             "validation balanced accuracy (what any choice looked at). Top class: share of the "
             f"test windows given the most frequent predicted class ({1 / meta['n_classes']:.2f} "
             "for a balanced predictor; marked ⚠ above 0.6: close to predicting one class, a "
             "failure rather than a number).", "",
             "| Model | Val | Test (mean ± sd) | 95 % CI | Δ vs DLink [95 % CI] | Top class | Params | "
             "MACs | Max steps | Train s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in t["main"]:
        d = _ci(r["vs_dlink"]) if "vs_dlink" in r else "—"
        lo, hi = r["balanced_accuracy_ci"]
        lines.append(f"| {r['label']} | {r['val_balanced_accuracy']:.3f} | "
                     f"{r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_sd']:.3f} | "
                     f"[{lo:.3f}, {hi:.3f}] | {d} | {r['top_class_share']:.2f}"
                     f"{' ⚠' if r['top_class_share'] > 0.6 else ''} | {_count(r['params'])} | {_count(r['macs'])} | "
                     f"{r.get('max_steps') or '—'} | {r['train_s']:.0f} |")
    lines += ["", "## Comparisons (A - B, paired; 95 % bootstrap CI over test subjects and runs)", "",
              f"Best fixed block chosen on validation: `{t['best_block']}`.", "",
              "| Question | A | B | A - B [95 % CI] | P(A > B) | Verdict |", "|---|---|---|---|---|---|"]
    for c in t["comparisons"]:
        lines.append(f"| {c['question']} | {c['a']} | {c['b']} | {_ci(c)} | {c['p_a_better']:.2f} | "
                     f"{c['verdict']} |")
    if t["feature_r2"]:
        lines += ["", "## Feature R² of the mimic stage", "",
                  "How much of the routed teacher tokens the student's projected mimic features "
                  "reproduce (1 - SSE/SST over the tokens of the split's windows, SST around the mean "
                  "token at each channel and position: the part of the tokens that depends on the "
                  "input).", "",
                  "| Row | R² val (mean ± sd) | R² test (mean ± sd) |", "|---|---|---|"]
        for r in t["feature_r2"]:
            lines.append(f"| {r['label']} | {r['val_mean']:.3f} ± {r['val_sd']:.3f} | "
                         f"{r['test_mean']:.3f} ± {r['test_sd']:.3f} |")
    if t["curve"]:
        lines += ["", "## Mimic width: budget against mimicry", "",
                  f"Full DLink at each mimic width (features per EEG channel; the projection's rank "
                  f"is at most the width). Budget: {meta['max_params']:,} parameters, "
                  f"{meta['max_macs']:,} MACs per window.", "",
                  "| Mimic width | Params | MACs | Within budget | R² val | R² test | Val | Test (mean ± sd) | Runs |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in t["curve"]:
            lines.append(f"| {r['mimic_width']} | {r['params']:,} | {r['macs']:,} | "
                         f"{'yes' if r['within_budget'] else 'no'} | {r['r2_val']:.3f} "
                         f"| {r['r2_test']:.3f} | {r['val_balanced_accuracy']:.3f} | "
                         f"{r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_sd']:.3f} | {r['n_runs']} |")
    if t["jitter"]:
        shifts = meta["shifts_samples"]
        sf = meta["sfreq"]
        lines += ["", "## Jitter robustness: test windows rolled in time", "",
                  "Balanced accuracy (mean over runs) with the test windows shifted by each amount "
                  "(circular roll).", "",
                  "| Model | 0 s | " + " | ".join(f"{s / sf:+g} s" for s in shifts) + " | mean shifted |",
                  "|---|---|" + "---|" * len(shifts) + "---|"]
        for r in t["jitter"]:
            lines.append(f"| {r['label']} | {r['unshifted']:.3f} | " +
                         " | ".join(f"{r['per_shift'][s]:.3f}" for s in shifts) +
                         f" | {r['shifted_mean']:.3f} |")
        if t["jitter_comparisons"]:
            lines += ["", "| A | B | Shifted: A - B [95 % CI] | Drop under shift: A - B [95 % CI] |",
                      "|---|---|---|---|"]
            for c in t["jitter_comparisons"]:
                lines.append(f"| {c['a']} | {c['b']} | {_ci(c['shifted'])} ({c['shifted']['verdict']}) "
                             f"| {_ci(c['drop'])} ({c['drop']['verdict']}) |")
    if t["routers"]:
        lines += ["", "## Router weights (test windows)", "",
                  "| Row | Mean weight per block | Sd over windows | Share of windows whose top block is k |",
                  "|---|---|---|---|"]
        for r in t["routers"]:
            f = lambda v: " ".join(f"{x:.2f}" for x in v)  # noqa: E731
            lines.append(f"| {r['label']} | {f(r['mean'])} | {f(r['std_over_windows'])} | {f(r['top_share'])} |")
    lines += ["", "## Teacher layers", "",
              "Linear probe on each block's per-channel token means (fitted on train, L2 chosen on "
              "val), similarity to the last block (linear CKA, mean token cosine), and the best R² "
              "a rank-k mimic projection could reach on the block's tokens (val). Mean ± sd over "
              "teacher seeds.", "",
              "| Block | Probe val | Probe test | CKA to last | Cosine to last | Rank-k ceiling |",
              "|---|---|---|---|---|---|"]
    for r in t["layers"]:
        pm = lambda v: f"{v[0]:.3f} ± {v[1]:.3f}"  # noqa: E731
        ceil = ", ".join(f"k={k}: {v:.2f}" for k, v in r["rank_ceiling"].items())
        lines.append(f"| {r['block']} | {pm(r['probe_val'])} | {pm(r['probe_test'])} | "
                     f"{pm(r['cka_to_last'])} | {pm(r['cosine_to_last'])} | {ceil} |")
    return "\n".join(lines) + "\n"
