"""Warnings that keep results honest: said in the console by ``dlink distill`` and ``dlink bench``,
stored in metrics.json and the bench report.

- A teacher trained from scratch (no ``teacher.checkpoint``) is named as such: it is a
  transformer fitted to this data, not a pretrained foundation model.
- The test set's size comes with the 95 % interval of the balanced accuracy; a set too small to
  tell models apart (:data:`SMALL_HALF_WIDTH`) gets a warning.
- What the data loader left out, and windows shared between splits, are carried as notes
  (:class:`dlink.data.windows.Splits`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: A test set is "small" when its balanced accuracy can be off by more than this (half-width of
#: the worst-case 95 % interval, which depends only on the windows per class; see
#: :func:`worst_case_half_width`): models that differ by less cannot be told apart.
SMALL_HALF_WIDTH = 0.1


def worst_case_half_width(class_counts) -> float:
    """Half-width of the 95 % normal interval of a balanced accuracy at recall 0.5 in every class
    (the widest): ``1.96 * sqrt(sum(0.25 / n_c)) / K``. Depends on the test set alone.

    >>> round(worst_case_half_width([8, 7]), 3), round(worst_case_half_width([60] * 4), 3)
    (0.254, 0.063)
    """
    counts = [int(c) for c in class_counts if int(c) > 0]
    if not counts:
        return float("inf")
    return 1.96 * (sum(0.25 / c for c in counts)) ** 0.5 / len(counts)


def teacher_init(checkpoint: str | None) -> dict[str, Any]:
    """How a teacher fine-tuned here was initialised: ``pretrained`` and a one-line ``init``."""
    if checkpoint:
        return {"pretrained": True, "checkpoint": Path(checkpoint).name,
                "init": f"pretrained checkpoint {Path(checkpoint).name}"}
    return {"pretrained": False, "checkpoint": None, "init": "trained from scratch"}


def teacher_label(block: dict[str, Any]) -> str:
    """Short description of the teacher for tables: ``labram, from scratch`` or
    ``labram, pretrained labram-base.pth`` (``fine-tuned FM`` when nothing is known)."""
    parts = [str(block["arch"])] if block.get("arch") else []
    if block.get("pretrained") is False:
        parts.append("from scratch")
    elif block.get("pretrained") is True:
        parts.append(f"pretrained {block.get('checkpoint') or ''}".strip())
    elif block.get("source") not in (None, "reused", "finetuned"):
        parts.append(f"file {Path(str(block['source'])).name}")
    return ", ".join(parts) or "fine-tuned FM"


def teacher_warning(block: dict[str, Any]) -> str | None:
    """The warning for a teacher that is not a pretrained foundation model (None otherwise)."""
    if block.get("pretrained") is False:
        arch = block.get("arch") or "the teacher"
        return (f"teacher: {arch} was trained from scratch on this data (no teacher.checkpoint): it "
                "is not a pretrained foundation model, and the student learns from a model that "
                "saw only these windows. Give teacher.checkpoint (an official pretrained file) for "
                "a foundation-model teacher.")
    return None


def small_test_set_warning(metrics: dict[str, Any], *, what: str = "student",
                      class_counts: dict[str, int] | None = None) -> str | None:
    """The small-test-set warning for a metrics block (``n``, ``confusion``,
    ``balanced_accuracy_ci``), or None when the test set resolves differences of
    :data:`SMALL_HALF_WIDTH`."""
    conf = metrics.get("confusion")
    counts = list(class_counts.values()) if class_counts else [sum(r) for r in conf or []]
    if not counts:
        return None
    half = worst_case_half_width(counts)
    if half <= SMALL_HALF_WIDTH:
        return None
    ci = metrics.get("balanced_accuracy_ci")
    per_class = f" ({', '.join(f'{k} {v}' for k, v in class_counts.items())})" if class_counts else ""
    interval = f", 95% CI [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
    return (f"small test set: {sum(counts)} windows{per_class}; {what} balanced accuracy "
            f"{metrics['balanced_accuracy']:.3f}{interval}. With this few windows a balanced accuracy "
            f"can be off by up to ~{half:.2f}: differences smaller than that are not resolved. Record "
            "more trials, or report the folds of a cross-validation.")


def format_ci(metrics: dict[str, Any] | None) -> str | None:
    """``'0.62-0.78'`` for a metrics block's balanced-accuracy interval (None if absent)."""
    ci = (metrics or {}).get("balanced_accuracy_ci")
    return f"{ci[0]:.2f}-{ci[1]:.2f}" if ci else None
