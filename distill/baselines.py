"""Baselines trained alone: EEGNet (v4) and ShallowConvNet (ShallowFBCSPNet) from braindecode.

The models are braindecode's own (0.8.1, pinned), not re-written here; this module only builds
them for a dataset's shape with the papers' default hyper-parameters and names them.

One departure, for EEGNet: braindecode's EEGNetv4 fixes its BatchNorm momentum at 0.01 (Keras'
0.99, as in the paper, whose trainings ran hundreds of epochs). With a few hundred labelled
windows (about five optimiser steps per epoch) the running statistics then stay near their
initial values, so the model in eval mode sees other statistics than in training and scores near
chance (measured on the demo data, 40 epochs: balanced accuracy 0.41 at 0.01, 0.68 at 0.1).
``build_baseline`` therefore sets every BatchNorm momentum to ``bn_momentum`` (default 0.1,
PyTorch's default and ShallowFBCSPNet's own), which changes only the running averages.
"""

from __future__ import annotations

import warnings

from dlink._check import check_option

from .config import NEURAL_BASELINES

#: Display names.
NAMES = {"eegnet": "EEGNet (braindecode EEGNetv4)", "shallow": "ShallowConvNet (braindecode ShallowFBCSPNet)",
         "csp_lda": "CSP + LDA (MNE, scikit-learn; 8-30 Hz)"}

#: Optimiser settings of each network's usual recipe (the step budget, batches, augmentation,
#: BatchNorm re-estimation and early stopping are the student's, ``train:``): EEGNet as its
#: authors trained it (Adam, lr 1e-3, no weight decay); ShallowFBCSPNet as braindecode's
#: motor-imagery examples train it (AdamW, lr 0.0625 * 0.01, no weight decay).
RECIPES = {"eegnet": {"lr": 1e-3, "weight_decay": 0.0},
           "shallow": {"lr": 0.0625 * 0.01, "weight_decay": 0.0}}


#: BatchNorm momentum given to every baseline (see the module docstring).
BN_MOMENTUM = 0.1


def build_baseline(name: str, *, n_chans: int, n_times: int, n_outputs: int, sfreq: float = 200.0,
                   bn_momentum: float = BN_MOMENTUM):
    """Build a braindecode baseline; ``model(x)`` with ``x`` ``(B, n_chans, n_times)`` gives
    ``(B, n_outputs)`` class scores (log-probabilities for these two models, which is fine for
    cross-entropy and argmax).

    Parameters
    ----------
    name : {"eegnet", "shallow"}
    n_chans, n_times, n_outputs : int
    sfreq : float
    bn_momentum : float
        Momentum of the running BatchNorm statistics, in (0, 1].
    """
    if not 0.0 < bn_momentum <= 1.0:
        raise ValueError(f"bn_momentum must be in (0, 1], got {bn_momentum!r}.")
    check_option("baseline", name, NEURAL_BASELINES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # braindecode's deprecation notices about its own defaults
        if name == "eegnet":
            from braindecode.models import EEGNetv4

            model = EEGNetv4(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times)
        else:
            from braindecode.models import ShallowFBCSPNet

            model = ShallowFBCSPNet(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times,
                                    final_conv_length="auto")
    _set_bn_momentum(model, bn_momentum)
    return model


def _set_bn_momentum(model, momentum: float) -> None:
    from torch import nn

    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            module.momentum = momentum
