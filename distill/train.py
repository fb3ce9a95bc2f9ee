"""The distillation trainer: per-epoch checkpoints, resume after interruption, fixed seeds,
early stopping on the validation balanced accuracy.

One loop trains every row of the benchmark: the student with the DLink objective (or any of its
ablations), and the braindecode baselines with cross-entropy alone. Training windows come from
one or more sources (e.g. the labelled "train" split and the unlabelled "pool" split, whose
labels are hidden as -1), each with its cached teacher outputs when the objective needs them.

Reproducibility: the initial weights come from ``seed``; epoch ``e`` shuffles with a generator
seeded from ``(seed, e)`` and reseeds torch (dropout) the same way, so a run resumed from the
checkpoint of epoch ``e`` continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from dlink.io import atomic_torch_save, load_torch_file

from .losses import UNLABELLED

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "last.pt"


@dataclass
class Source:
    """Training windows with their (optional) cached teacher outputs.

    ``y`` is -1 for unlabelled windows. ``hidden`` ``(n, L, C, P, D)`` and ``teacher_logits``
    ``(n, n_outputs)`` may be None when the objective does not use them.
    """

    X: np.ndarray
    y: np.ndarray
    hidden: np.ndarray | None = None
    teacher_logits: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class TrainData:
    """Training sources and the labelled validation split."""

    sources: list[Source]
    X_val: np.ndarray
    y_val: np.ndarray
    offsets: list[int] = field(init=False)

    def __post_init__(self):
        self.sources = [s for s in self.sources if len(s) > 0]
        if not self.sources:
            raise ValueError("train: no training windows.")
        self.offsets = list(np.cumsum([0] + [len(s) for s in self.sources]))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def batch(self, idx: np.ndarray, *, need_hidden: bool, need_logits: bool) -> dict:
        """Gather a batch (in the order of ``idx``) from the sources."""
        idx = np.sort(idx)  # sorted reads from memory-mapped caches
        xs, ys, hs, ls = [], [], [], []
        for s, (lo, hi) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            local = idx[(idx >= lo) & (idx < hi)] - lo
            if len(local) == 0:
                continue
            src = self.sources[s]
            xs.append(src.X[local])
            ys.append(src.y[local])
            if need_hidden:
                hs.append(np.array(src.hidden[local]))
            if need_logits:
                ls.append(np.asarray(src.teacher_logits[local]))
        out = {"x": torch.from_numpy(np.concatenate(xs).astype(np.float32, copy=False)),
               "y": torch.from_numpy(np.concatenate(ys).astype(np.int64, copy=False))}
        if need_hidden:
            out["hidden"] = torch.from_numpy(np.concatenate(hs)).float()
        if need_logits:
            out["teacher_logits"] = torch.from_numpy(np.concatenate(ls)).float()
        return out


@torch.no_grad()
def predict(model, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Logits ``(n, n_outputs)`` of ``model`` (eval mode) for windows ``X``."""
    was = model.training
    model.eval()
    out = [model(torch.from_numpy(np.asarray(X[i:i + batch_size], dtype=np.float32))).float()
           for i in range(0, len(X), batch_size)]
    model.train(was)
    return torch.cat(out).numpy()


def _balanced_accuracy(y: np.ndarray, logits: np.ndarray) -> float:
    pred = logits.argmax(1)
    return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))


def _fingerprint(model, objective, train_cfg, seed: int, n_train: int, extra: dict) -> str:
    blob = json.dumps({"model": sorted((k, list(v.shape)) for k, v in model.state_dict().items()),
                       "objective": repr(getattr(objective, "cfg", None)),
                       "objective_params": sorted((k, list(v.shape))
                                                  for k, v in objective.state_dict().items()),
                       "train": asdict(train_cfg), "seed": seed, "n": n_train, **extra},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_model(model, objective, data: TrainData, *, train_cfg, seed: int = 0,
                checkpoint_dir: str | Path | None = None, verbose: bool = False,
                desc: str = "distill", max_epochs: int | None = None,
                epochs: int | None = None, fingerprint_extra: dict | None = None):
    """Train ``model`` with ``objective`` on ``data``; return ``(model, history)``.

    Parameters
    ----------
    model : torch.nn.Module
        ``model.forward_train(x, with_taps=...)`` when it has one (the students), else
        ``model(x)`` (baselines): logits.
    objective : DLinkObjective
        Loss; its parameters (projection, router) are trained with the model.
    data : TrainData
    train_cfg : TrainConfig
        epochs, batch_size, lr, weight_decay, patience, max_steps_per_epoch.
    seed : int
        Fixed seed of initial shuffles and dropout (the model is built by the caller: seed it).
    checkpoint_dir : str | Path | None
        Per-epoch checkpoint folder; an existing checkpoint of the same setup is resumed.
    verbose : bool
        tqdm bars and per-epoch log lines.
    max_epochs : int | None
        Stop after this many epochs in this call (the checkpoint stays resumable).
    epochs : int | None
        Override ``train_cfg.epochs``.

    Returns
    -------
    model : torch.nn.Module
        With the weights of the best validation epoch, eval mode.
    history : dict
        Per-epoch ``train_loss``, ``terms`` (per-term means), ``val_balanced_accuracy``,
        ``val_loss``, ``epoch_s``; ``best_epoch``, ``best_val_balanced_accuracy``,
        ``stopped_early``, ``train_s``.
    """
    from tqdm.auto import tqdm

    n_epochs = int(epochs or train_cfg.epochs)
    cfg = getattr(objective, "cfg", None)
    need_hidden = bool(objective.uses_teacher_states)
    need_logits = bool(cfg is not None and (cfg.w_kd > 0))
    with_taps = bool(cfg is not None and cfg.w_antialias > 0 and cfg.lambda2 > 0)
    params = [p for m in (model, objective) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
    bs = train_cfg.batch_size
    steps = math.ceil(len(data) / bs)
    if train_cfg.max_steps_per_epoch:
        steps = min(steps, int(train_cfg.max_steps_per_epoch))
    total_steps = max(1, n_epochs * steps)
    fp = _fingerprint(model, objective, train_cfg, seed, len(data),
                      {"epochs": n_epochs, **(fingerprint_extra or {})})
    ckpt = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None
    history: dict[str, Any] = {"train_loss": [], "terms": [], "val_balanced_accuracy": [],
                               "val_loss": [], "epoch_s": []}
    state = {"epoch": 0, "best": -1.0, "best_epoch": 0, "bad": 0, "best_state": None,
             "finished": False}
    if ckpt is not None and ckpt.is_file():
        ck = load_torch_file(ckpt, what="training checkpoint", fix=(
            "Run the same command with --fresh to start this training over."))
        if isinstance(ck, dict) and ck.get("fingerprint") == fp:
            model.load_state_dict(ck["model"])
            objective.load_state_dict(ck["objective"])
            opt.load_state_dict(ck["optimizer"])
            history, state = ck["history"], ck["state"]
            log.info("%s: resuming after epoch %d from %s", desc, state["epoch"], ckpt)
        else:
            log.warning("%s: ignoring %s (another setup)", desc, ckpt)

    t_call, run_now = time.perf_counter(), 0
    bar = tqdm(total=n_epochs, initial=state["epoch"], desc=desc, unit="epoch",
               disable=not verbose, leave=False)
    while not state["finished"] and state["epoch"] < n_epochs:
        if max_epochs is not None and run_now >= max_epochs:
            break
        epoch, t0 = state["epoch"], time.perf_counter()
        rng = np.random.default_rng([seed, epoch])
        torch.manual_seed(seed * 100_003 + epoch)
        order = rng.permutation(len(data))
        model.train()
        objective.train()
        losses, terms_sum = [], {}
        for b in range(steps):
            step = epoch * steps + b
            lr = train_cfg.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
            for g in opt.param_groups:
                g["lr"] = lr
            batch = data.batch(order[b * bs:(b + 1) * bs], need_hidden=need_hidden,
                               need_logits=need_logits)
            if hasattr(model, "forward_train"):
                out = model.forward_train(batch["x"], with_taps=with_taps,
                                          taps_windows=getattr(cfg, "spectral_windows", None))
            else:
                out = {"logits": model(batch["x"]), "taps": []}
            loss, terms = objective(out, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            losses.append(float(loss.detach()))
            for k, v in terms.items():
                terms_sum[k] = terms_sum.get(k, 0.0) + v
        val_logits = predict(model, data.X_val)
        val_ba = _balanced_accuracy(data.y_val, val_logits)
        val_loss = float(F.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(data.y_val)))
        history["train_loss"].append(float(np.mean(losses)))
        history["terms"].append({k: v / steps for k, v in terms_sum.items()})
        history["val_balanced_accuracy"].append(val_ba)
        history["val_loss"].append(val_loss)
        history["epoch_s"].append(time.perf_counter() - t0)
        state["epoch"] = epoch + 1
        if val_ba > state["best"]:
            state.update(best=val_ba, best_epoch=epoch + 1, bad=0,
                         best_state={k: v.detach().clone() for k, v in model.state_dict().items()})
        else:
            state["bad"] += 1
        if state["bad"] >= train_cfg.patience or state["epoch"] >= n_epochs:
            state["finished"] = True
            history["stopped_early"] = state["epoch"] < n_epochs
        log.info("%s epoch %d/%d: loss %.4f %s, val bal. acc %.3f (%.1f s)", desc, epoch + 1,
                 n_epochs, history["train_loss"][-1],
                 {k: round(v, 4) for k, v in history["terms"][-1].items()}, val_ba,
                 history["epoch_s"][-1])
        bar.update(1)
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.3f}", val_bacc=f"{val_ba:.3f}")
        if ckpt is not None:
            atomic_torch_save({"fingerprint": fp, "model": model.state_dict(),
                               "objective": objective.state_dict(), "optimizer": opt.state_dict(),
                               "history": history, "state": state}, ckpt)
        run_now += 1
    bar.close()
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    history["best_epoch"] = state["best_epoch"]
    history["best_val_balanced_accuracy"] = state["best"]
    history["finished"] = state["finished"]
    history.setdefault("stopped_early", False)
    history["train_s"] = float(sum(history["epoch_s"]))
    log.info("%s: best val balanced accuracy %.3f at epoch %d (%.0f s in this call)", desc,
             state["best"], state["best_epoch"], time.perf_counter() - t_call)
    return model.eval(), history


def unlabelled(y: np.ndarray) -> np.ndarray:
    """Labels hidden from the student (the "pool" split)."""
    return np.full(len(y), UNLABELLED, dtype=np.int64)
