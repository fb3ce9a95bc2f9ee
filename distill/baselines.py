"""Baselines trained alone: EEGNet (v4) and ShallowConvNet (ShallowFBCSPNet) from braindecode.

The models are braindecode's own (0.8.1, pinned), not re-written here; this module only builds
them for a dataset's shape with the papers' default hyper-parameters and names them.
"""

from __future__ import annotations

import warnings

from dlink._check import check_option

from .config import BASELINES

#: Display names.
NAMES = {"eegnet": "EEGNet (braindecode EEGNetv4)", "shallow": "ShallowConvNet (braindecode ShallowFBCSPNet)"}


def build_baseline(name: str, *, n_chans: int, n_times: int, n_outputs: int, sfreq: float = 200.0):
    """Build a braindecode baseline; ``model(x)`` with ``x`` ``(B, n_chans, n_times)`` gives
    ``(B, n_outputs)`` class scores (log-probabilities for these two models, which is fine for
    cross-entropy and argmax).

    Parameters
    ----------
    name : {"eegnet", "shallow"}
    n_chans, n_times, n_outputs : int
    sfreq : float
    """
    check_option("baseline", name, BASELINES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # braindecode's deprecation notices about its own defaults
        if name == "eegnet":
            from braindecode.models import EEGNetv4

            return EEGNetv4(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times)
        from braindecode.models import ShallowFBCSPNet

        return ShallowFBCSPNet(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times,
                               final_conv_length="auto")
