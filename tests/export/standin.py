"""A stand-in student for the export tests: the deployed student's op set, trained briefly.

Ops: Reshape to ``[B, C, 1, T]``, depthwise temporal Conv2d (depth multiplier 2), BatchNorm,
ReLU6, pointwise Conv2d, AvgPool, strided depthwise Conv2d, ReLU, time mean, Linear. ``act``
swaps the first activation for ELU or exact GELU (unsupported on the firmware).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class StandInStudent(nn.Module):
    def __init__(self, n_chans: int, n_times: int, n_outputs: int, *, act: str = "relu6"):
        super().__init__()
        acts = {"relu6": nn.ReLU6, "elu": nn.ELU, "gelu": nn.GELU}
        self.n_chans, self.n_times = n_chans, n_times
        self.temporal = nn.Conv2d(n_chans, 2 * n_chans, (1, 15), padding=(0, 7), groups=n_chans,
                                  bias=False)
        self.bn1 = nn.BatchNorm2d(2 * n_chans)
        self.act1 = acts[act]()
        self.spatial = nn.Conv2d(2 * n_chans, 16, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.act2 = nn.ReLU6()
        self.pool = nn.AvgPool2d((1, 4))
        self.down = nn.Conv2d(16, 16, (1, 9), stride=(1, 2), padding=(0, 4), groups=16)
        self.act3 = nn.ReLU()
        self.head = nn.Linear(16, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(x.shape[0], self.n_chans, 1, self.n_times)
        h = self.act1(self.bn1(self.temporal(h)))
        h = self.act2(self.bn2(self.spatial(h)))
        h = self.act3(self.down(self.pool(h)))
        return self.head(h.mean(dim=(2, 3)))


def train_standin(x: np.ndarray, y: np.ndarray, n_outputs: int, *, act: str = "relu6",
                  epochs: int = 30, seed: int = 0) -> StandInStudent:
    """Fit the stand-in on (x, y) briefly (full batch, Adam) so its logits have class margins."""
    torch.manual_seed(seed)
    model = StandInStudent(x.shape[1], x.shape[2], n_outputs, act=act)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
    return model.eval()
