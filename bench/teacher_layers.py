"""What a teacher's encoder offers per block before any task training: frozen-encoder linear probes and CKA.

    .venv/bin/python bench/teacher_layers.py configs/demo.yaml --run runs/teacher_layers \\
        --arm "random init:teacher.checkpoint=null" --arm "pretrained:" \\
        --teacher-file "fine-tuned:runs/demo/teacher.pt"

The distillation benchmark's layer table describes the *fine-tuned* teacher, whose blocks have
all been trained on the labels. This script asks the question the foundation-model literature
asks with linear probing: what did the weights carry *before* the task? For every arm (a set of
config overrides, e.g. a random initialisation against a pretrained ``teacher.checkpoint``) it
builds the teacher as ``dlink teacher finetune`` does (:func:`dlink.distill.finetune.initial_teacher`:
same seed, same checkpoint loading), does
**not** train it, and computes from its hidden states on the config's labelled splits:

- per block, a logistic-regression probe on each channel's token means
  (:func:`dlink.distill.layer_probe.linear_probe`: fitted on "train", L2 strength chosen on "val",
  balanced accuracy on "val" and "test");
- per block, linear CKA and token cosine to the last block
  (:func:`dlink.distill.layer_probe.layer_similarity`, on "val").

``--teacher-file NAME:PATH`` adds an already trained teacher (a ``teacher.pt``) as one more arm,
so the frozen encoders and the fine-tuned one are read side by side on the same windows.
Nothing is trained by gradient descent; each arm takes one forward pass over the splits.

Output: RUN/teacher_layers.json (every number) and RUN/teacher_layers.md (one table per arm and
a summary: best block, spread of the probe accuracies over blocks, chance).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("teacher_layers")

#: Splits the probes read: fitted on "train", L2 strength chosen on "val", reported on both and
#: on "test".
SPLITS = ("train", "val", "test")


def _parse_file_arm(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition(":")
    if not sep or not name or not path:
        raise ValueError(f"--teacher-file {text!r}: expected NAME:PATH (e.g. "
                         "'fine-tuned:runs/demo/teacher.pt').")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"--teacher-file {text!r}: {p} is not a file; pass a teacher.pt "
                                "written by `dlink teacher finetune` or `dlink distill`.")
    return name, p


def layer_report(teacher, splits: dict) -> dict:
    """Probe accuracies and similarity to the last block for every block of ``teacher``."""
    from dlink.distill.layer_probe import layer_similarity, linear_probe
    from dlink.distill.pipeline import build_caches

    caches = build_caches(teacher, {k: splits[k] for k in SPLITS}, cache_root=None)
    probe = linear_probe({k: caches[k].hidden for k in SPLITS}, {k: np.asarray(splits[k].y) for k in SPLITS})
    sim = layer_similarity(caches["val"].hidden)
    n = len(probe)
    blocks = [{"block": i + 1, "probe_C": probe[i]["C"],
               "probe_val": probe[i]["val_balanced_accuracy"],
               "probe_test": probe[i]["test_balanced_accuracy"],
               "cka_to_last": float(sim["cka"][i][n - 1]),
               "cosine_to_last": float(sim["cosine"][i][n - 1])} for i in range(n)]
    val = np.array([b["probe_val"] for b in blocks])
    return {"blocks": blocks, "cka": sim["cka"],
            "best_block_val": int(np.argmax(val)) + 1,
            "probe_val_range": float(val.max() - val.min()),
            "probe_test_range": float(np.ptp([b["probe_test"] for b in blocks]))}


def run_arms(config: str, arms: list[tuple[str, dict]], files: list[tuple[str, Path]]) -> dict:
    from dlink.config import load_config
    from dlink.data import load_dataset
    from dlink.distill.finetune import initial_teacher
    from dlink.distill.teachers import load_teacher_file

    if not arms and not files:
        raise ValueError("Give at least one --arm or --teacher-file.")
    splits = load_dataset(load_config(config, arms[0][1] if arms else {}).data)
    missing = [k for k in SPLITS if k not in splits or len(splits[k]) == 0]
    if missing:
        raise ValueError(f"{config}: the layer probes need labelled {', '.join(SPLITS)} splits; "
                         f"{missing} are missing or empty.")
    out = {"config": str(config), "arms": {}}
    for name, overrides in arms:
        cfg = load_config(config, overrides)
        log.info("arm %r: teacher.checkpoint=%s", name, cfg.teacher.checkpoint)
        teacher = initial_teacher(cfg, splits["train"]).eval()
        out["arms"][name] = {"overrides": overrides, "source": "config (untrained)",
                             "checkpoint": cfg.teacher.checkpoint, **layer_report(teacher, splits)}
    for name, path in files:
        log.info("arm %r: trained teacher %s", name, path)
        out["arms"][name] = {"file": str(path), "source": "teacher file",
                             **layer_report(load_teacher_file(path).eval(), splits)}
    out["n_classes"] = len(splits["train"].class_names)
    out["windows"] = {k: len(splits[k]) for k in SPLITS}
    return out


def to_markdown(result: dict) -> str:
    chance = 1.0 / result["n_classes"]
    w = result["windows"]
    lines = [f"# Teacher blocks before task training: {result['config']}", "",
             f"Linear probes on each block's per-channel token means (fitted on train, {w['train']} "
             f"windows; L2 strength chosen on val, {w['val']}; test {w['test']}), balanced "
             f"accuracy, chance {chance:.3f}; linear CKA and token cosine to the last block on val. "
             "Untrained arms: the teacher exactly as the fine-tuning starts from it (seeded "
             "initialisation, checkpoint loaded); no gradient step.", "",
             "| arm | teacher | best block (val) | probe val range over blocks | "
             "probe test range |", "|---|---|---|---|---|"]
    for name, a in result["arms"].items():
        lines.append(f"| {name} | {a['source']} | {a['best_block_val']} | "
                     f"{a['probe_val_range']:.3f} | {a['probe_test_range']:.3f} |")
    for name, a in result["arms"].items():
        lines += ["", f"## {name}", "", "| block | probe val | probe test | CKA to last | "
                  "cosine to last |", "|---|---|---|---|---|"]
        lines += [f"| {b['block']} | {b['probe_val']:.3f} | {b['probe_test']:.3f} | "
                  f"{b['cka_to_last']:.3f} | {b['cosine_to_last']:.3f} |" for b in a["blocks"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from dlink.bench.arm_cli import arm_parser, configure_logging, parse_arm, write_report

    p = arm_parser(__doc__, "python bench/teacher_layers.py configs/demo.yaml --run "
                   "runs/teacher_layers --arm 'random init:teacher.checkpoint=null' --arm "
                   "'pretrained:' --teacher-file 'fine-tuned:runs/demo/teacher.pt'",
                   config_help="a config with labelled train/val/test splits", arm_required=False,
                   arm_help="an untrained teacher as config overrides (repeatable; 'NAME:' = the "
                            "config as is)")
    p.add_argument("--teacher-file", action="append", default=[], metavar="NAME:PATH",
                   help="a trained teacher.pt read the same way (repeatable)")
    args = p.parse_args(argv)
    configure_logging(args.verbose)
    try:
        arms = [parse_arm(a) for a in args.arm]
        files = [_parse_file_arm(f) for f in args.teacher_file]
    except (ValueError, FileNotFoundError) as e:
        p.error(str(e))
    result = run_arms(args.config, arms, files)
    write_report(args.run, "teacher_layers", result, to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
