"""EEG data: MNE-based benchmark loaders and the offline synthetic generator.

>>> from dlink.data import load_dataset, EEGWindows
>>> ds = load_dataset(cfg.data)          # doctest: +SKIP
>>> ds["train"].X.shape                  # doctest: +SKIP
(240, 22, 800)

Splits: ``train`` (the student's labelled windows), ``val``, ``test``, ``pool`` (extra subjects
for the teacher's task adaptation; unlabelled for the student). Signals are float32 in 100 uV.
"""

from .load import load_dataset
from .windows import EEGWindows

__all__ = ["load_dataset", "EEGWindows"]
