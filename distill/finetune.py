"""Task adaptation of a teacher: fine-tune it on a labelled split, early-stopped on another.

As the FM papers fine-tune (LaBraM's ``run_class_finetuning.py`` recipe, in brief): AdamW with
layer-wise learning-rate decay (the head learns at ``lr``, block ``i`` at
``lr * layer_decay ** (L + 1 - i)``, the embeddings at ``lr * layer_decay ** (L + 1)``), no weight
decay on biases, norms and the cls/position/time embeddings, linear warm-up then cosine decay per
step, label smoothing, and early stopping on the validation balanced accuracy (the best epoch's
weights are returned). Every epoch writes a checkpoint; calling again with the same
``checkpoint_dir`` resumes after the last finished epoch and gives the same result as an
uninterrupted run (per-epoch seeds).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlink.io import atomic_torch_save

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "teacher_finetune.pt"


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean per-class recall over the classes present in ``y_true``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recalls = [float(np.mean(y_pred[y_true == c] == c)) for c in np.unique(y_true)]
    return float(np.mean(recalls)) if recalls else float("nan")


def _xy(split: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Accept EEGWindows (``.X``, ``.y``) or an (X, y) pair; return float32/int64 tensors."""
    X, y = (split.X, split.y) if hasattr(split, "X") else split
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"{name} must hold X (n, n_chans, n_times) and y (n,); got X "
                         f"{tuple(X.shape)} and y {tuple(y.shape)}.")
    if len(X) == 0:
        raise ValueError(f"{name} holds no windows; fine-tuning needs labelled windows.")
    return X, y


@torch.no_grad()
def predict_logits(teacher: nn.Module, X, *, batch_size: int = 128) -> torch.Tensor:
    """Logits of ``teacher`` for windows ``X`` (n, n_chans, n_times), in eval mode, batched."""
    was_training = teacher.training
    teacher.eval()
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    out = [teacher(X[i:i + batch_size], return_hidden=False).logits for i in range(0, len(X), batch_size)]
    teacher.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def evaluate(teacher: nn.Module, split: Any, *, batch_size: int = 128) -> dict[str, float]:
    """Balanced accuracy, accuracy and cross-entropy of ``teacher`` on a split."""
    X, y = _xy(split, "split")
    logits = predict_logits(teacher, X, batch_size=batch_size)
    pred = logits.argmax(1).numpy()
    return {"balanced_accuracy": balanced_accuracy(y.numpy(), pred),
            "accuracy": float(np.mean(pred == y.numpy())),
            "loss": float(F.cross_entropy(logits, y))}


def param_groups(teacher: nn.Module, *, lr: float, weight_decay: float,
                 layer_decay: float) -> list[dict]:
    """AdamW groups with layer-wise lr decay (``lr_scale``) and no decay on 1-D parameters."""
    n_layers = teacher.n_layers
    skip = set(teacher.no_weight_decay()) if hasattr(teacher, "no_weight_decay") else set()
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in teacher.named_parameters():
        if not p.requires_grad:
            continue
        lid = teacher.layer_id(name)
        no_wd = p.ndim == 1 or name.endswith(".bias") or name in skip
        g = groups.setdefault((lid, no_wd), {
            "params": [], "names": [], "weight_decay": 0.0 if no_wd else weight_decay,
            "lr_scale": layer_decay ** (n_layers + 1 - lid), "lr": lr})
        g["params"].append(p)
        g["names"].append(name)
    return [groups[k] for k in sorted(groups)]


def lr_at(step: int, *, total_steps: int, warmup_steps: int, lr: float, min_lr: float) -> float:
    """Linear warm-up to ``lr`` over ``warmup_steps``, then cosine decay to ``min_lr``."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * min(1.0, t)))


def augment(x: torch.Tensor, gen: torch.Generator, *, shift: bool = True, flip: bool = True,
            scale: float = 0.2) -> torch.Tensor:
    """Label-preserving augmentation for band-power tasks, per window (the teacher's recipe).

    ``shift``: circular shift by a random number of samples (the 1-s patch grid then cuts the
    signal at other places); ``flip``: random sign (powers and spectra are unchanged); ``scale``:
    random gain in [1/(1+scale), 1+scale]. The kernels are :mod:`dlink.distill.augment`'s.
    """
    from .augment import amplitude_scale, sign_flip, time_shift

    if shift:
        x = time_shift(x, gen)
    if flip:
        x = sign_flip(x, gen)
    if scale:
        x = amplitude_scale(x, gen, scale=scale)
    return x


def _fingerprint(teacher: nn.Module, cfg, n_train: int, n_val: int, seed: int) -> str:
    keys = ("finetune_epochs", "lr", "min_lr", "layer_decay", "warmup_epochs", "patience",
            "weight_decay", "batch_size", "label_smoothing", "augment")
    blob = json.dumps({"arch": teacher.arch, "kwargs": teacher.kwargs, "n_train": n_train,
                       "n_val": n_val, "seed": seed, **{k: getattr(cfg, k) for k in keys}},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def finetune_teacher(teacher: nn.Module, train: Any, val: Any, *, cfg, seed: int = 0,
                     checkpoint_dir: str | Path | None = None, verbose: bool = False,
                     max_epochs: int | None = None, keep_last: bool = False) -> tuple[nn.Module, dict]:
    """Fine-tune ``teacher`` on ``train``, early-stopped on balanced accuracy on ``val``.

    Parameters
    ----------
    teacher : nn.Module
        A teacher from :func:`dlink.distill.teachers.build_teacher` (possibly pretrained).
    train, val : EEGWindows | tuple
        Labelled windows (``.X`` (n, n_chans, n_times) in 100 uV, ``.y``), or (X, y) pairs.
    cfg : TeacherConfig
        ``finetune_epochs``, ``lr``, ``min_lr``, ``layer_decay``, ``warmup_epochs``,
        ``patience``, ``weight_decay``, ``batch_size``, ``label_smoothing``, ``augment``.
    seed : int
        Seeds the initial state, the shuffling and dropout of every epoch.
    checkpoint_dir : str | Path | None
        Where the per-epoch checkpoint goes; an existing one from the same setup is resumed.
    verbose : bool
        Show a tqdm progress bar and log every epoch at INFO level.
    max_epochs : int | None
        Stop after this many epochs in this call (the checkpoint stays resumable); for tests.
    keep_last : bool
        Return the last epoch's weights instead of the best validation epoch's (for splits too
        small to choose an epoch on).

    Returns
    -------
    teacher : nn.Module
        The same module with the best epoch's weights, in eval mode.
    history : dict
        Per-epoch lists ``train_loss``, ``val_loss``, ``val_balanced_accuracy``, ``lr``,
        ``epoch_s``; and ``best_epoch``, ``best_val_balanced_accuracy``, ``stopped_early``,
        ``finished``, ``train_s``.
    """
    from tqdm.auto import tqdm

    Xtr, ytr = _xy(train, "the fine-tuning split")
    Xva, yva = _xy(val, "the validation split")
    torch.manual_seed(seed)
    groups = param_groups(teacher, lr=cfg.lr, weight_decay=cfg.weight_decay,
                          layer_decay=cfg.layer_decay)
    opt = torch.optim.AdamW([{k: v for k, v in g.items() if k != "names"} for g in groups],
                            lr=cfg.lr, betas=(0.9, 0.999))
    n_batches = math.ceil(len(Xtr) / cfg.batch_size)
    total_steps = cfg.finetune_epochs * n_batches
    warmup_steps = min(cfg.warmup_epochs * n_batches, max(total_steps - 1, 0))
    fp = _fingerprint(teacher, cfg, len(Xtr), len(Xva), seed)
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None
    history: dict[str, Any] = {"train_loss": [], "val_loss": [], "val_balanced_accuracy": [],
                               "lr": [], "epoch_s": []}
    state = {"epoch": 0, "best_score": -1.0, "best_epoch": 0, "bad_epochs": 0,
             "best_state": None, "finished": False}
    if ckpt_path is not None and ckpt_path.is_file():
        from dlink.io import load_torch_file

        ck = load_torch_file(ckpt_path, what="teacher fine-tuning checkpoint", fix=(
            "Run the same command with --fresh to start the fine-tuning over."))
        if not isinstance(ck, dict) or ck.get("fingerprint") != fp:
            log.warning("ignoring %s: it belongs to another fine-tuning setup", ckpt_path)
        else:
            teacher.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            history, state = ck["history"], ck["state"]
            log.info("resuming teacher fine-tuning after epoch %d from %s", state["epoch"], ckpt_path)

    t_start, epochs_run = time.perf_counter(), 0
    bar = tqdm(total=cfg.finetune_epochs, initial=state["epoch"], desc="teacher fine-tune",
               unit="epoch", disable=not verbose, leave=False)
    while not state["finished"] and state["epoch"] < cfg.finetune_epochs:
        if max_epochs is not None and epochs_run >= max_epochs:
            break
        epoch, t0 = state["epoch"], time.perf_counter()
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        torch.manual_seed(seed * 100_003 + epoch)  # dropout / drop-path
        order = torch.randperm(len(Xtr), generator=gen)
        teacher.train()
        losses = []
        for b in range(n_batches):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            lr = lr_at(epoch * n_batches + b, total_steps=total_steps, warmup_steps=warmup_steps,
                       lr=cfg.lr, min_lr=cfg.min_lr)
            for g in opt.param_groups:
                g["lr"] = lr * g["lr_scale"]
            xb = augment(Xtr[idx], gen) if cfg.augment else Xtr[idx]
            logits = teacher(xb, return_hidden=False).logits
            loss = F.cross_entropy(logits, ytr[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        val_m = evaluate(teacher, (Xva, yva), batch_size=max(cfg.batch_size, 128))
        history["train_loss"].append(float(np.mean(losses)))
        history["val_loss"].append(val_m["loss"])
        history["val_balanced_accuracy"].append(val_m["balanced_accuracy"])
        history["lr"].append(lr)
        history["epoch_s"].append(time.perf_counter() - t0)
        state["epoch"] = epoch + 1
        if val_m["balanced_accuracy"] > state["best_score"]:
            state.update(best_score=val_m["balanced_accuracy"], best_epoch=epoch + 1, bad_epochs=0,
                         best_state={k: v.detach().clone() for k, v in teacher.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        if state["bad_epochs"] >= cfg.patience or state["epoch"] >= cfg.finetune_epochs:
            state["finished"] = True
            history["stopped_early"] = state["epoch"] < cfg.finetune_epochs
        log.info("teacher epoch %d/%d: train loss %.4f, val loss %.4f, val bal. acc %.3f (%.1f s)",
                 epoch + 1, cfg.finetune_epochs, history["train_loss"][-1], val_m["loss"],
                 val_m["balanced_accuracy"], history["epoch_s"][-1])
        bar.update(1)
        bar.set_postfix(val_bacc=f"{val_m['balanced_accuracy']:.3f}", loss=f"{history['train_loss'][-1]:.3f}")
        if ckpt_path is not None:
            atomic_torch_save({"fingerprint": fp, "model": teacher.state_dict(),
                               "optimizer": opt.state_dict(), "history": history,
                               "state": state}, ckpt_path)
        epochs_run += 1
    bar.close()
    if state["best_state"] is not None and not keep_last:
        teacher.load_state_dict(state["best_state"])
    history["best_epoch"] = state["best_epoch"]
    history["best_val_balanced_accuracy"] = state["best_score"]
    history["finished"] = state["finished"]
    history.setdefault("stopped_early", False)
    history["train_s"] = float(sum(history["epoch_s"]))
    log.info("teacher fine-tuning: best val balanced accuracy %.3f at epoch %d (%.0f s in this call)",
             state["best_score"], state["best_epoch"], time.perf_counter() - t_start)
    return teacher.eval(), history


#: History entries that are wall-clock times (kept out of teacher.pt, written to the stamp).
WALL_CLOCK_KEYS = ("epoch_s", "train_s")


def select_split(splits: dict, spec: str, *, fallback: str = "train"):
    """The windows of ``spec`` ("pool", or "pool+train"); empty parts skipped, else ``fallback``."""
    from dlink.data import EEGWindows

    names = [s.strip() for s in spec.split("+") if s.strip()]
    unknown = [s for s in names if s not in splits]
    if unknown or not names:
        raise ValueError(f"teacher.finetune_split = {spec!r} names unknown split(s) {unknown}; the "
                         f"dataset has {sorted(splits)} (join several with '+').")
    parts = [splits[s] for s in names if len(splits[s]) > 0]
    if not parts:
        log.warning("teacher.finetune_split %r is empty; fine-tuning on %r instead", spec, fallback)
        parts = [splits[fallback]]
    return parts[0] if len(parts) == 1 else EEGWindows.concat(parts)


def split_metrics(teacher: nn.Module, split: Any) -> dict:
    """Metrics of ``teacher`` on a split (the distill metrics when available)."""
    if len(split) == 0:
        return {}
    logits = predict_logits(teacher, split.X)
    try:
        from dlink.distill.metrics import classification_metrics
    except ImportError:  # not written yet: our own minimal metrics
        pred = logits.argmax(1).numpy()
        return {"balanced_accuracy": balanced_accuracy(split.y, pred),
                "accuracy": float(np.mean(pred == np.asarray(split.y)))}
    return _plain(classification_metrics(np.asarray(split.y), logits.numpy(), int(logits.shape[1])))


def _plain(obj: Any) -> Any:
    """numpy/torch values -> Python ones, so that teacher.pt loads with weights_only=True."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return obj


def initial_teacher(cfg, windows) -> nn.Module:
    """The teacher fine-tuning starts from: built from ``cfg.teacher`` for the shape, classes and
    channel names of ``windows`` (EEGWindows), its fresh weights (the head; the whole model
    without a checkpoint) seeded by ``cfg.seed``, ``cfg.teacher.checkpoint`` loaded. Train mode."""
    from .teachers import build_teacher

    torch.manual_seed(cfg.seed)
    return build_teacher(cfg.teacher, n_chans=windows.n_chans, n_times=windows.n_times,
                         n_outputs=len(windows.class_names), ch_names=windows.ch_names)


def finetune_run(cfg, run_dir: str | Path, *, config_path: str | Path | None = None,
                 verbose: bool = False, fresh: bool = False) -> tuple[nn.Module, dict]:
    """The ``teacher finetune`` stage: build, (load,) fine-tune, evaluate, write RUN/teacher.pt.

    Parameters
    ----------
    cfg : Config
        The whole config (``data``, ``teacher``, ``seed``).
    run_dir : str | Path
        The run directory; ``teacher.pt``, ``checkpoints/teacher/`` and the ``teacher`` stamp
        go there.
    config_path : str | Path | None
        The config file, recorded (with its hash) in the stamp.
    fresh : bool
        Ignore (delete) an earlier fine-tuning checkpoint instead of resuming it.

    Returns
    -------
    teacher : nn.Module
        The fine-tuned teacher, eval mode.
    summary : dict
        ``metrics`` (val and test), ``history`` and the path of ``teacher.pt``.
    """
    from dlink.data import load_dataset
    from dlink.rundir import RunDir

    from .teachers import save_teacher_file

    run = RunDir(run_dir).mkdir()
    run.invalidate("teacher", run.path, run.checkpoints_dir / "teacher")
    if cfg.teacher.num_threads:
        torch.set_num_threads(cfg.teacher.num_threads)
    splits = load_dataset(cfg.data, verbose=verbose)
    fit = select_split(splits, cfg.teacher.finetune_split)
    if cfg.teacher.val_split not in splits or len(splits[cfg.teacher.val_split]) == 0:
        raise ValueError(f"teacher.val_split = {cfg.teacher.val_split!r} is missing or empty; "
                         f"splits: { {k: len(v) for k, v in splits.items()} }.")
    val = splits[cfg.teacher.val_split]
    from .teachers.config import TEACHER_SFREQ_HZ

    if abs(fit.sfreq - TEACHER_SFREQ_HZ) > 1e-6:  # the config loader refuses this first
        raise ValueError(f"The teachers take {TEACHER_SFREQ_HZ:g} Hz EEG; the dataset is at "
                         f"{fit.sfreq} Hz. Set data.sfreq_hz: {TEACHER_SFREQ_HZ:g}.")
    teacher = initial_teacher(cfg, fit)
    ckpt_dir = run.checkpoints_dir / "teacher"
    if fresh and (ckpt_dir / CHECKPOINT_NAME).is_file():
        (ckpt_dir / CHECKPOINT_NAME).unlink()
    teacher, history = finetune_teacher(teacher, fit, val, cfg=cfg.teacher, seed=cfg.seed,
                                        checkpoint_dir=ckpt_dir, verbose=verbose)
    metrics = {name: split_metrics(teacher, splits[name]) for name in ("val", "test")
               if name in splits}
    metrics["fit_split"], metrics["n_fit"] = cfg.teacher.finetune_split, len(fit)
    metrics["params"] = int(sum(p.numel() for p in teacher.parameters()))
    from .honesty import teacher_init

    metrics["init"] = teacher_init(cfg.teacher.checkpoint)  # travels with teacher.pt
    # wall-clock times stay out of teacher.pt (the same inputs give the same bytes): to the stamp
    timing = {k: history[k] for k in WALL_CLOCK_KEYS if k in history}
    save_teacher_file(run.teacher, teacher, class_names=fit.class_names, metrics=_plain(metrics),
                      history=_plain({k: v for k, v in history.items() if k not in timing}))
    inputs = [p for p in (config_path, cfg.teacher.checkpoint) if p and Path(p).is_file()]
    run.write_stamp("teacher", inputs=[Path(p).resolve() for p in inputs], outputs=[run.teacher],
                    extra={"val_balanced_accuracy": metrics.get("val", {}).get("balanced_accuracy"),
                           "test_balanced_accuracy": metrics.get("test", {}).get("balanced_accuracy"),
                           **_plain(timing)})
    return teacher, {"teacher": str(run.teacher), "metrics": metrics, "history": history}
