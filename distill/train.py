"""The trainer of every model ``dlink distill`` makes: step-counted, class-balanced, augmented,
validated on settled BatchNorm statistics, early-stopped on a smoothed validation loss, resumable.

One loop trains the student with the DLink objective (or any of its ablations, or alone with
cross-entropy), and the braindecode baselines with cross-entropy. Training windows come from one
or more sources (e.g. the labelled "train" split and the unlabelled "pool" split, whose labels are
hidden as -1), each with its cached teacher outputs when the objective needs them.

The recipe (``train:`` section, :class:`dlink.distill.config.TrainConfig`) is made for
calibration-sized data (tens of trials) as much as for corpora:

- **steps, not epochs**: the budget is ``train.steps`` (or ``epochs`` passes, at least
  ``min_steps``); with 20 windows an epoch is one step, and 7 steps train nothing;
- **linear warm-up, then cosine decay** of the learning rate over the budget;
- **class-balanced batches**: labelled windows are drawn with equal probability per class (with
  replacement when there are fewer of them than the batch wants), pool windows uniformly, and
  at least ``labelled_share`` of a batch is labelled;
- **augmentation** of the labelled windows (:mod:`dlink.distill.augment`);
- **settled BatchNorm**: before every validation the running statistics are re-estimated on
  (up to 512) clean training windows, so a model evaluated after a few dozen updates is not
  judged on running averages that have not caught up (they are also what export folds);
- **early stopping** on an exponentially smoothed validation loss, never before ``min_steps``;
  a validation split of 9 windows cannot stop training at the second evaluation;
- **which weights are kept** (``select``): with a small validation split (under 40 windows) the
  last ones, at the end of the cosine schedule (the best of 25 evaluations on 9 windows is
  noise); with a larger one, those of the best validation balanced accuracy;
- the per-class prediction counts of every validation are in the history, so that a model that
  predicts one class is seen.

Reproducibility: the initial weights come from ``seed`` (the caller seeds torch before building
the model); step ``s`` draws its batch, its augmentation and its dropout from generators seeded
with ``(seed, s)``, so a run resumed from the checkpoint of an evaluation continues exactly as an
uninterrupted one would.
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

from .losses import UNLABELLED, spectral_sample

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "last.pt"
#: Windows used to re-estimate the BatchNorm statistics before a validation.
BN_WINDOWS = 512
#: Below this many validation windows ``select: auto`` keeps the last weights.
SMALL_VAL_WINDOWS = 40
#: Smallest labelled batch (drawn with replacement when there are fewer labelled windows).
MIN_BATCH = 16


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
    sfreq: float = 200.0
    offsets: list[int] = field(init=False)

    def __post_init__(self):
        self.sources = [s for s in self.sources if len(s) > 0]
        if not self.sources:
            raise ValueError("train: no training windows.")
        self.offsets = list(np.cumsum([0] + [len(s) for s in self.sources]))
        self.y_all = np.concatenate([np.asarray(s.y) for s in self.sources])
        if len(self.y_val) == 0:
            raise ValueError("train: the validation split is empty; early stopping and the model "
                             "choice need labelled validation windows (see data.splits).")

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def labelled(self) -> np.ndarray:
        """Global indices of the labelled windows."""
        return np.flatnonzero(self.y_all >= 0)

    @property
    def unlabelled(self) -> np.ndarray:
        return np.flatnonzero(self.y_all < 0)

    def windows(self, idx: np.ndarray) -> np.ndarray:
        """``X`` of global indices ``idx`` (in that order)."""
        return self.batch(idx, need_hidden=False, need_logits=False)["x"].numpy()

    def batch(self, idx: np.ndarray, *, need_hidden: bool, need_logits: bool) -> dict:
        """Gather a batch from the sources, its windows in the order of ``idx``.

        Reads are sorted (memory-mapped caches read faster in order); the batch is put back in
        the order of ``idx`` afterwards, so a shuffled ``idx`` gives a shuffled batch (a window
        drawn twice appears twice).
        """
        idx = np.asarray(idx)
        order = np.argsort(idx, kind="stable")
        restore = torch.from_numpy(np.argsort(order, kind="stable"))
        idx = idx[order]
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
        out = {"x": torch.from_numpy(np.concatenate(xs).astype(np.float32, copy=False))[restore],
               "y": torch.from_numpy(np.concatenate(ys).astype(np.int64, copy=False))[restore]}
        if need_hidden:
            out["hidden"] = torch.from_numpy(np.concatenate(hs)).float()[restore]
        if need_logits:
            out["teacher_logits"] = torch.from_numpy(np.concatenate(ls)).float()[restore]
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


# -- the recipe's pieces ---------------------------------------------------------------------
@dataclass(frozen=True)
class StepPlan:
    """How many steps, how often to validate, how long to warm up, and the batch make-up."""

    total_steps: int
    eval_every: int
    warmup_steps: int
    min_steps: int
    labelled_per_batch: int
    unlabelled_per_batch: int


def plan_steps(train_cfg, *, n_labelled: int, n_unlabelled: int, steps: int | None = None) -> StepPlan:
    """The step budget and batch make-up of a training (see :class:`TrainConfig`).

    Examples
    --------
    >>> from dlink.distill.config import TrainConfig
    >>> p = plan_steps(TrainConfig(), n_labelled=18, n_unlabelled=0)
    >>> p.total_steps, p.eval_every, p.labelled_per_batch
    (300, 12, 18)
    """
    bs = int(train_cfg.batch_size)
    n_total = n_labelled + n_unlabelled
    if n_unlabelled == 0:  # fewer windows than a batch: a batch of that many draws
        n_lab, n_unl = min(bs, max(n_labelled, MIN_BATCH)), 0
    elif n_labelled == 0:
        n_lab, n_unl = 0, bs
    else:
        share = max(train_cfg.labelled_share, n_labelled / n_total)
        n_lab = min(bs, max(1, int(round(share * bs))))
        n_unl = bs - n_lab
    per_epoch = max(1, math.ceil(n_total / bs))
    if train_cfg.max_steps_per_epoch:
        per_epoch = min(per_epoch, int(train_cfg.max_steps_per_epoch))
    if steps is None:
        steps = train_cfg.steps or max(train_cfg.epochs * per_epoch, train_cfg.min_steps)
    steps = int(steps)
    every = train_cfg.eval_every_steps or max(per_epoch, math.ceil(steps / 25))
    return StepPlan(total_steps=steps, eval_every=int(min(every, steps)),
                    warmup_steps=int(train_cfg.warmup_fraction * steps),
                    min_steps=int(min(train_cfg.min_steps, steps)),
                    labelled_per_batch=n_lab, unlabelled_per_batch=n_unl)


def lr_at_step(step: int, *, lr: float, total_steps: int, warmup_steps: int) -> float:
    """Linear warm-up to ``lr`` over ``warmup_steps``, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def draw_batch(y_all: np.ndarray, plan: StepPlan, rng: np.random.Generator, *,
               balanced: bool) -> np.ndarray:
    """Global indices of one batch: labelled windows (class-balanced when ``balanced``; with
    replacement when there are fewer than the batch wants) and unlabelled ones (uniform)."""
    lab = np.flatnonzero(y_all >= 0)
    unl = np.flatnonzero(y_all < 0)
    parts = []
    if len(lab) and plan.labelled_per_batch:
        k = plan.labelled_per_batch
        if balanced:  # the same number from every class (the remainder to random classes)
            classes = np.unique(y_all[lab])
            per = np.full(len(classes), k // len(classes))
            per[rng.permutation(len(classes))[: k % len(classes)]] += 1
            for c, n in zip(classes, per):
                members = lab[y_all[lab] == c]
                parts.append(rng.choice(members, size=n, replace=n > len(members)))
        else:
            parts.append(rng.choice(lab, size=k, replace=k > len(lab)))
    if len(unl) and plan.unlabelled_per_batch:
        k = plan.unlabelled_per_batch
        parts.append(rng.choice(unl, size=k, replace=k > len(unl)))
    return np.concatenate(parts)


def _bn_modules(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_batchnorm(model, X: np.ndarray, *, batch_size: int = 128) -> bool:
    """Re-estimate every BatchNorm's running mean and variance on windows ``X``.

    The statistics are reset and accumulated as plain averages over the batches (momentum None),
    with the rest of the model in eval mode (no dropout), then the momenta are restored. Returns
    False (and changes nothing) when the model has no BatchNorm or ``X`` is empty.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Conv1d(2, 2, 1), torch.nn.BatchNorm1d(2))
    >>> recalibrate_batchnorm(net, np.ones((4, 2, 8), np.float32) * 3)
    True
    """
    bns = _bn_modules(model)
    if not bns or len(X) == 0:
        return False
    was = model.training
    model.eval()
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    for i in range(0, len(X), batch_size):
        model(torch.from_numpy(np.asarray(X[i:i + batch_size], dtype=np.float32)))
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    model.train(was)
    return True


def prediction_counts(logits: np.ndarray, n_classes: int) -> list[int]:
    """How many windows each class was predicted for."""
    return np.bincount(np.asarray(logits).argmax(1), minlength=n_classes).tolist()


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
                desc: str = "distill", max_evals: int | None = None, steps: int | None = None,
                lr: float | None = None, weight_decay: float | None = None,
                fingerprint_extra: dict | None = None):
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
        The recipe (steps, batch, learning rate and schedule, augmentation, early stopping).
    seed : int
        Seed of the batches, augmentations and dropout (the model is built by the caller: seed it).
    checkpoint_dir : str | Path | None
        Checkpoint folder (written at every validation); an existing checkpoint of the same
        setup is resumed.
    verbose : bool
        tqdm bar and a log line per validation.
    max_evals : int | None
        Stop after this many validations in this call (the checkpoint stays resumable).
    steps, lr, weight_decay : optional
        Override the budget, learning rate and weight decay of ``train_cfg``.

    Returns
    -------
    model : torch.nn.Module
        With the weights chosen by ``train_cfg.select`` ("auto": the last weights when the
        validation split is small, else the best validation balanced accuracy), eval mode,
        BatchNorm statistics re-estimated on the training windows.
    history : dict
        Per validation: ``step``, ``train_loss``, ``terms`` (per-term means), ``lr``,
        ``val_balanced_accuracy``, ``val_loss``, ``val_loss_smoothed``, ``val_pred_counts``,
        ``eval_s``; and ``best_step``, ``best_epoch`` (the validation's number, 1-based),
        ``best_val_balanced_accuracy``, ``best_val_loss``, ``steps``, ``total_steps``,
        ``stopped_early``, ``finished``, ``train_s``.
    """
    from tqdm.auto import tqdm

    from .augment import augment_windows

    cfg = getattr(objective, "cfg", None)
    need_hidden = bool(objective.uses_teacher_states)
    need_logits = bool(cfg is not None and (cfg.w_kd > 0))
    with_taps = bool(cfg is not None and cfg.w_antialias > 0 and cfg.lambda2 > 0)
    params = [p for m in (model, objective) for p in m.parameters() if p.requires_grad]
    base_lr = float(lr or train_cfg.lr)
    opt = torch.optim.AdamW(params, lr=base_lr,
                            weight_decay=train_cfg.weight_decay if weight_decay is None else weight_decay)
    plan = plan_steps(train_cfg, n_labelled=len(data.labelled), n_unlabelled=len(data.unlabelled),
                      steps=steps)
    n_classes = int(max(data.y_all.max(), data.y_val.max())) + 1
    select = train_cfg.select
    if select == "auto":
        select = "last" if len(data.y_val) < SMALL_VAL_WINDOWS else "val_balanced_accuracy"
    rng_bn = np.random.default_rng([seed, 10**6])
    bn_idx = np.sort(rng_bn.permutation(len(data))[:BN_WINDOWS])
    X_bn = data.windows(bn_idx)
    fp = _fingerprint(model, objective, train_cfg, seed, len(data),
                      {"plan": asdict(plan), "lr": base_lr, "weight_decay": weight_decay,
                       **(fingerprint_extra or {})})
    ckpt = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None
    history: dict[str, Any] = {"step": [], "train_loss": [], "terms": [], "lr": [],
                               "val_balanced_accuracy": [], "val_loss": [], "val_loss_smoothed": [],
                               "val_pred_counts": [], "eval_s": []}
    state = {"step": 0, "best": None, "best_step": 0, "best_eval": 0, "bad": 0, "best_state": None,
             "finished": False, "smoothed": None}
    if ckpt is not None and ckpt.is_file():
        ck = load_torch_file(ckpt, what="training checkpoint", fix=(
            "Run the same command with --fresh to start this training over."))
        if isinstance(ck, dict) and ck.get("fingerprint") == fp:
            model.load_state_dict(ck["model"])
            objective.load_state_dict(ck["objective"])
            opt.load_state_dict(ck["optimizer"])
            history, state = ck["history"], ck["state"]
            log.info("%s: resuming after step %d from %s", desc, state["step"], ckpt)
        else:
            log.warning("%s: ignoring %s (another setup)", desc, ckpt)

    t_call, evals_now = time.perf_counter(), 0
    bar = tqdm(total=plan.total_steps, initial=state["step"], desc=desc, unit="step",
               disable=not verbose, leave=False)
    losses, terms_sum, t0 = [], {}, time.perf_counter()
    while not state["finished"] and state["step"] < plan.total_steps:
        if max_evals is not None and evals_now >= max_evals:
            break
        step = state["step"]
        rng = np.random.default_rng([seed, step])
        gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
        torch.manual_seed(seed * 100_003 + step)  # dropout
        for g in opt.param_groups:
            g["lr"] = lr_at_step(step, lr=base_lr, total_steps=plan.total_steps,
                                 warmup_steps=plan.warmup_steps)
        model.train()
        objective.train()
        batch = data.batch(draw_batch(data.y_all, plan, rng, balanced=train_cfg.balanced_batches),
                           need_hidden=need_hidden, need_logits=need_logits)
        lab = batch["y"] >= 0
        if bool(lab.any()) and train_cfg.augment.enabled:
            batch["x"] = batch["x"].clone()
            batch["x"][lab] = augment_windows(batch["x"][lab], gen, train_cfg.augment, sfreq=data.sfreq)
        # the windows of this batch that the spectral and anti-aliasing terms see: a uniform
        # random subset (drawn from the step's generator: resumable, reproducible)
        batch["spectral_index"] = spectral_sample(len(batch["y"]),
                                                  getattr(cfg, "spectral_windows", None), rng)
        if hasattr(model, "forward_train"):
            out = model.forward_train(batch["x"], with_taps=with_taps,
                                      taps_index=batch["spectral_index"])
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
        state["step"] = step + 1
        bar.update(1)
        if state["step"] % plan.eval_every and state["step"] < plan.total_steps:
            continue
        # -- validation on settled BatchNorm statistics
        recalibrate_batchnorm(model, X_bn)
        val_logits = predict(model, data.X_val)
        val_ba = _balanced_accuracy(data.y_val, val_logits)
        val_loss = float(F.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(data.y_val)))
        a = train_cfg.val_smoothing
        smoothed = val_loss if state["smoothed"] is None else a * val_loss + (1 - a) * state["smoothed"]
        state["smoothed"] = smoothed
        history["step"].append(state["step"])
        history["train_loss"].append(float(np.mean(losses)))
        history["terms"].append({k: v / len(losses) for k, v in terms_sum.items()})
        history["lr"].append(opt.param_groups[0]["lr"])
        history["val_balanced_accuracy"].append(val_ba)
        history["val_loss"].append(val_loss)
        history["val_loss_smoothed"].append(smoothed)
        history["val_pred_counts"].append(prediction_counts(val_logits, n_classes))
        history["eval_s"].append(time.perf_counter() - t0)
        n_eval = len(history["step"])
        score = {"val_loss": (-smoothed,), "val_balanced_accuracy": (val_ba, -smoothed),
                 "last": (n_eval,)}[select]
        if state["best"] is None or tuple(score) > tuple(state["best"]):
            state.update(best=list(score), best_step=state["step"], best_eval=n_eval, bad=0,
                         best_state={k: v.detach().clone() for k, v in model.state_dict().items()})
        else:
            state["bad"] += 1
        early = state["step"] >= plan.min_steps and state["bad"] >= train_cfg.patience
        if early or state["step"] >= plan.total_steps:
            state["finished"] = True
            history["stopped_early"] = state["step"] < plan.total_steps
        log.info("%s step %d/%d: loss %.4f %s, val loss %.4f (smoothed %.4f), val bal. acc %.3f, "
                 "val predictions per class %s", desc, state["step"], plan.total_steps,
                 history["train_loss"][-1], {k: round(v, 4) for k, v in history["terms"][-1].items()},
                 val_loss, smoothed, val_ba, history["val_pred_counts"][-1])
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.3f}", val_bacc=f"{val_ba:.3f}")
        if ckpt is not None:
            atomic_torch_save({"fingerprint": fp, "model": model.state_dict(),
                               "objective": objective.state_dict(), "optimizer": opt.state_dict(),
                               "history": history, "state": state}, ckpt)
        evals_now += 1
        losses, terms_sum, t0 = [], {}, time.perf_counter()
    bar.close()
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    best = state["best_eval"] - 1
    history["best_step"] = state["best_step"]
    history["best_epoch"] = state["best_eval"]
    history["best_val_balanced_accuracy"] = history["val_balanced_accuracy"][best] if best >= 0 else None
    history["best_val_loss"] = history["val_loss"][best] if best >= 0 else None
    history["finished"] = state["finished"]
    history["steps"] = state["step"]
    history["total_steps"] = plan.total_steps
    history["eval_every_steps"] = plan.eval_every
    history["select"] = select
    history.setdefault("stopped_early", False)
    history["train_s"] = float(sum(history["eval_s"]))
    log.info("%s: kept step %d (val bal. acc %s, val loss %s) after %d of %d steps (%.0f s in this "
             "call)", desc, state["best_step"], history["best_val_balanced_accuracy"],
             history["best_val_loss"], state["step"], plan.total_steps, time.perf_counter() - t_call)
    return model.eval(), history


def unlabelled(y: np.ndarray) -> np.ndarray:
    """Labels hidden from the student (the "pool" split)."""
    return np.full(len(y), UNLABELLED, dtype=np.int64)
