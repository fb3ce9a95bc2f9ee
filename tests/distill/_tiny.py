"""A tiny, strongly separable synthetic setup shared by the distill tests (seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

from dlink.config import config_from_dict

#: 2 classes, 2-s windows, deep ERD, few subjects: learnable in 1-2 epochs.
TINY = {
    "name": "tiny",
    "seed": 0,
    "data": {"name": "synthetic", "window_s": 2, "n_classes": 2,
             "synthetic": {"subjects": {"train": 3, "val": 2, "test": 2, "pool": 3},
                           "trials_per_class": 12, "erd_depth": 1.0, "erd_depth_spread": 0.0,
                           "trial_jitter": 0.1}},
    "teacher": {"arch": "labram", "depth": 2, "embed_dim": 16, "num_heads": 2,
                "finetune_epochs": 1, "batch_size": 32, "num_threads": 1},
    "student": {"options": {"mimic_width": 4, "hidden_width": 16, "final_width": 8,
                            "drop_prob": 0.0}},
    "distill": {"spectral_windows": 8},
    "train": {"epochs": 4, "min_steps": 8, "batch_size": 16, "lr": 0.01, "num_threads": 1,
              "patience": 5},
}


def tiny_config(cache_dir: Path, **sections):
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY.items()}
    data["data"] = {**TINY["data"], "cache_dir": str(cache_dir)}
    for k, v in sections.items():
        data[k] = {**data.get(k, {}), **v}
    return config_from_dict(data, file="<tiny>")
