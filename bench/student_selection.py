"""Choosing a student recipe on validation only: variants x folds of a k-fold config, val windows.

    .venv/bin/python bench/student_selection.py configs/s001-within.yaml --run runs/s001-select \\
        --variant "old:student.spatial_init=identity,student.options={filterbank_init: random}" \\
        --variant "csp+bandpass:student.spatial_init=csp,student.options={filterbank_init: bandpass}"

Each *variant* (a set of config overrides) trains the student alone (cross-entropy on the
labelled training windows, the config's ``train:`` recipe) on every fold of the config's k-fold
split, and is scored on that fold's **validation** windows only: balanced accuracy and
cross-entropy. No test window is ever read, so the table can be looked at as often as needed
before one `dlink cv` run reads test. With ``train.select: auto`` and fewer than 40 validation
windows the last weights are kept, so validation plays no part inside training either.

Output: RUN/student_selection.json (every fold) and RUN/student_selection.md (mean ± sd per
variant). Choose the highest mean validation balanced accuracy, ties to the lower cross-entropy.
"""

from __future__ import annotations

import sys

import numpy as np


def score_on_val(logits: np.ndarray, y: np.ndarray) -> dict:
    """Balanced accuracy, mean cross-entropy and predictions per class of ``logits`` on ``y``."""
    from sklearn.metrics import balanced_accuracy_score

    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    pred = logits.argmax(axis=1)
    return {"balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            "cross_entropy": float(-log_p[np.arange(len(y)), y].mean()),
            "predicted_counts": np.bincount(pred, minlength=logits.shape[1]).tolist()}


def select(config: str, variants: list[tuple[str, dict]], *, folds: int) -> dict:
    """Train every variant on every fold; validation scores only."""
    import torch

    from dlink.bench.cv import fold_config
    from dlink.data import load_dataset
    from dlink.distill.config import student_alone
    from dlink.distill.pipeline import distill_student
    from dlink.distill.train import predict

    out: dict = {"config": str(config), "folds": folds, "variants": {}}
    for name, overrides in variants:
        rows = []
        for k in range(folds):
            cfg = fold_config(config, k, folds, overrides)
            torch.set_num_threads(cfg.train.num_threads)
            splits = load_dataset(cfg.data)
            student, _, _ = distill_student(cfg, student_alone(cfg.distill), splits, None,
                                            seed=cfg.seed, checkpoint_dir=None,
                                            desc=f"{name} fold {k}")
            val = splits["val"]
            rows.append({"fold": k, "n_val": len(val),
                         **score_on_val(predict(student, val.X), np.asarray(val.y))})
        out["variants"][name] = {"overrides": overrides, "per_fold": rows}
    return out


def to_markdown(result: dict, chance: float) -> str:
    lines = [f"# Student selection on validation: {result['config']}, {result['folds']} folds", "",
             "Validation windows only (no test window is read). Mean ± sd over folds; chance "
             f"{chance:.3f}.", "",
             "| variant | val balanced accuracy | val cross-entropy | per fold |", "|---|---|---|---|"]
    for name, v in result["variants"].items():
        ba = np.array([r["balanced_accuracy"] for r in v["per_fold"]])
        ce = np.array([r["cross_entropy"] for r in v["per_fold"]])
        sd = ba.std(ddof=1) if len(ba) > 1 else 0.0
        lines.append(f"| {name} | {ba.mean():.3f} ± {sd:.3f} | {ce.mean():.3f} | "
                     f"{' '.join(f'{b:.3f}' for b in ba)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from dlink.bench.arm_cli import arm_parser, configure_logging, parse_arm, write_report

    p = arm_parser(__doc__, "python bench/student_selection.py configs/s001-within.yaml --run "
                   "runs/s001-select --variant 'csp:student.spatial_init=csp' --variant "
                   "'identity:student.spatial_init=identity'",
                   config_help="a config with data.splits.by: kfold", arm_flag="--variant",
                   arm_help="a student recipe as config overrides (repeatable)")
    p.add_argument("--folds", type=int, default=5, metavar="<k>")
    args = p.parse_args(argv)
    configure_logging(args.verbose)
    variants = [parse_arm(v) for v in args.variant]
    result = select(args.config, variants, folds=args.folds)
    n_classes = max(len(r["predicted_counts"]) for v in result["variants"].values()
                    for r in v["per_fold"])
    write_report(args.run, "student_selection", result, to_markdown(result, 1.0 / n_classes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
