"""The pretraining loop: one process, or several under ``torchrun`` (DistributedDataParallel).

Every step draws a *global* batch of ``pretrain.batch_size`` windows (a seeded permutation per
epoch) and its masks (seeded by step); process ``r`` of ``W`` takes the ``r``-th slice of
``batch_size / W`` windows. Each process divides its summed token errors by the token count of
the whole global batch (times ``W``, because DistributedDataParallel averages gradients), so
the loss and the gradients are those of one process on the whole batch: the loss curves agree
within float tolerance whatever the number of processes (stochastic depth and dropout draw
differently per process; switch them off to compare exactly). The GPU of the process's local
rank is used when CUDA is available (NCCL between GPUs, gloo on CPUs).

Resume: a checkpoint (model, optimizer, history, step) is written every
``checkpoint_every_steps`` and at every epoch's end; rerunning the same command continues after
the last one and gives the same result as an uninterrupted run, because the order, the masks and
the dropout of each step are seeded by (seed, step).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlink.io import atomic_torch_save, atomic_write_json

from .masking import step_generator

log = logging.getLogger(__name__)

STATE_NAME = "pretrain_state.pt"
OUTPUT_NAME = "pretrained.pth"


@dataclass
class Dist:
    """This process's place in a (possibly single-process) job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> Dist:
    """Join the torchrun job described by the environment (``WORLD_SIZE`` > 1), else one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device != "cpu" and torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise ValueError("pretrain.device is 'cuda' but CUDA is not available; use 'auto' or 'cpu'.")
    dev = f"cuda:{local}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(local)
    if world > 1:
        import torch.distributed as td

        if not td.is_initialized():
            td.init_process_group(backend="nccl" if cuda else "gloo")
    return Dist(rank, world, local, dev)


def _all_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.world > 1:
        import torch.distributed as td

        td.all_reduce(t)
    return t


def _barrier(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as td

        td.barrier()


def fingerprint(model, pcfg, corpus, seed: int) -> str:
    """What decides the training trajectory (resuming is refused when it changed)."""
    skip = ("checkpoint_every_steps", "device", "num_threads")
    blob = json.dumps({"arch": model.arch, "size": model.kwargs, "seed": seed,
                       "channels": corpus.ch_names, "windows": len(corpus),
                       "shards": [p.name for p, _, _ in corpus.shards],
                       **{k: v for k, v in asdict(pcfg).items() if k not in skip}},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _batch_loss(model, corpus, idx: np.ndarray, mask: torch.Tensor, counts: dict, d: Dist,
                dev: str) -> torch.Tensor:
    """This process's share of the global batch: its summed errors over the global counts."""
    x = torch.from_numpy(corpus.windows(idx)).to(dev)
    parts = model(x, mask)
    return sum(parts[k] / max(counts[k], 1) for k in parts) * d.world


@torch.no_grad()
def validation_loss(module, corpus, val_idx: np.ndarray, *, batch_size: int, seed: int, d: Dist) -> float:
    """Mean loss on the held-out windows with fixed masks (the same every epoch)."""
    if len(val_idx) == 0:
        return float("nan")
    was = module.training
    module.eval()
    total = torch.zeros((), dtype=torch.float64)
    n_batches = 0
    for b in range(0, len(val_idx), batch_size):
        gidx = val_idx[b:b + batch_size]
        mask = module.make_mask(len(gidx), step_generator(seed, b, stream=1))
        counts = module.mask_counts(mask)
        share = np.array_split(np.arange(len(gidx)), d.world)[d.rank]
        loss = torch.zeros((), dtype=torch.float64)
        if len(share):
            x = torch.from_numpy(corpus.windows(gidx[share])).to(d.device)
            parts = module(x, mask[share])
            loss = sum(parts[k].double().cpu() / max(counts[k], 1) for k in parts)
        total += _all_sum(loss.to(d.device), d).cpu()
        n_batches += 1
    module.train(was)
    return float(total / n_batches)


def pretrain(model, corpus, *, pcfg, seed: int = 0, checkpoint_dir: str | Path | None = None,
             verbose: bool = False, max_steps_this_call: int | None = None,
             dist: Dist | None = None) -> tuple[Any, dict]:
    """Pretrain ``model`` (a pretrainer from :func:`.objectives.build_pretrainer`) on ``corpus``.

    Parameters
    ----------
    model : nn.Module
        LaBraMPretrainer or CBraModPretrainer, on the CPU.
    corpus : Corpus
        The windows (see :func:`.corpus.build_corpus`).
    pcfg : PretrainConfig
        Optimisation settings.
    seed : int
        Seeds the split, the order, the masks and the dropout of every step.
    checkpoint_dir : str | Path | None
        Where the resumable checkpoint goes (written by rank 0; every process reads it).
    verbose : bool
        Progress bar (rank 0) and a log line per epoch.
    max_steps_this_call : int | None
        Stop after this many steps in this call (the checkpoint stays resumable); for tests.
    dist : Dist | None
        The process's place in a torchrun job (None: :func:`init_distributed`).

    Returns
    -------
    model : nn.Module
        The pretrained model (the module itself, not the DDP wrapper), in eval mode.
    history : dict
        ``step_loss`` (global loss of every step), ``step_lr``, per epoch ``epoch_loss``,
        ``val_loss``, ``epoch_s``; ``steps``, ``steps_per_epoch``, ``total_steps``, ``world_size``,
        ``windows_per_s``, ``train_s``, ``finished``.
    """
    from tqdm.auto import tqdm

    from dlink.distill.finetune import lr_at, param_groups

    from .corpus import split_corpus

    d = dist or init_distributed(pcfg.device)
    B = pcfg.batch_size
    if B % d.world:
        raise ValueError(f"pretrain.batch_size ({B}) must be divisible by the number of processes "
                         f"({d.world}): it is the global batch, split evenly between them.")
    train_idx, val_idx, val_unit = split_corpus(corpus, val_fraction=pcfg.val_fraction, seed=seed)
    steps_per_epoch = len(train_idx) // B
    if steps_per_epoch < 1:
        raise ValueError(f"The pretraining corpus has {len(train_idx)} training windows, fewer than "
                         f"one batch (pretrain.batch_size = {B}); add data or lower the batch size.")
    total = pcfg.epochs * steps_per_epoch
    if pcfg.max_steps is not None:
        total = min(total, pcfg.max_steps)
    torch.manual_seed(seed)
    model.to(d.device).train()
    groups = param_groups(model, lr=pcfg.lr, weight_decay=pcfg.weight_decay, layer_decay=1.0)
    opt = torch.optim.AdamW([{k: v for k, v in g.items() if k != "names"} for g in groups],
                            lr=pcfg.lr, betas=(0.9, 0.98))
    fp = fingerprint(model, pcfg, corpus, seed)
    ckpt = Path(checkpoint_dir) / STATE_NAME if checkpoint_dir else None
    hist: dict[str, Any] = {"step_loss": [], "step_lr": [], "epoch_loss": [], "val_loss": [],
                            "epoch_s": [], "n_train_windows": int(len(train_idx)),
                            "n_val_windows": int(len(val_idx)), "val_held_out": val_unit}
    step = 0
    if ckpt is not None and ckpt.is_file():
        ck = torch.load(ckpt, map_location="cpu", weights_only=True)
        if ck.get("fingerprint") != fp:
            log.warning("ignoring %s: it belongs to another pretraining setup", ckpt)
        else:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            hist, step = ck["history"], int(ck["step"])
            log.info("resuming pretraining after step %d of %d from %s", step, total, ckpt)
    net = model
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[d.local_rank] if d.device.startswith("cuda") else None)
    b_local = B // d.world
    mine = slice(d.rank * b_local, (d.rank + 1) * b_local)
    bar = tqdm(total=total, initial=step, desc=f"pretrain {model.arch}", unit="step",
               disable=not (verbose and d.main), leave=False)
    t_call, steps_run, perm_epoch, perm = time.perf_counter(), 0, -1, None
    t_epoch = time.perf_counter()
    epoch_losses: list[float] = []
    while step < total:
        if max_steps_this_call is not None and steps_run >= max_steps_this_call:
            break
        epoch, b = divmod(step, steps_per_epoch)
        if epoch != perm_epoch:
            perm = np.random.default_rng([seed, epoch, 11]).permutation(len(train_idx))
            perm_epoch = epoch
        if b == 0:
            t_epoch, epoch_losses = time.perf_counter(), []
        gidx = train_idx[perm[b * B:(b + 1) * B]]
        mask = model.make_mask(B, step_generator(seed, step))
        counts = model.mask_counts(mask)
        torch.manual_seed((seed * 1_000_003 + step) * 131 + d.rank)  # dropout / stochastic depth
        lr = lr_at(step, total_steps=total, warmup_steps=min(pcfg.warmup_steps, max(total - 1, 0)),
                   lr=pcfg.lr, min_lr=pcfg.min_lr)
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        loss = _batch_loss(net, corpus, gidx[mine], mask[mine], counts, d, d.device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if pcfg.clip_grad:
            torch.nn.utils.clip_grad_norm_(model.parameters(), pcfg.clip_grad)
        opt.step()
        value = float(_all_sum(loss.detach() / d.world, d))
        if not math.isfinite(value):
            raise FloatingPointError(f"The pretraining loss is {value} at step {step}; lower "
                                     f"pretrain.lr (now {pcfg.lr}) or set pretrain.clip_grad.")
        hist["step_loss"].append(value)
        hist["step_lr"].append(lr)
        epoch_losses.append(value)
        step += 1
        steps_run += 1
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4f}", epoch=epoch + 1)
        end_of_epoch = step % steps_per_epoch == 0 or step == total
        if end_of_epoch:
            vloss = validation_loss(model, corpus, val_idx, batch_size=B, seed=seed, d=d)
            # an epoch interrupted and resumed counts the steps of this call only
            hist["epoch_loss"].append(float(np.mean(epoch_losses)) if epoch_losses else float("nan"))
            hist["val_loss"].append(vloss)
            hist["epoch_s"].append(time.perf_counter() - t_epoch)
            if verbose and d.main:
                log.info("pretrain epoch %d: train loss %.4f, val loss %.4f (%.0f s)", epoch + 1,
                         hist["epoch_loss"][-1], vloss, hist["epoch_s"][-1])
        if ckpt is not None and (end_of_epoch or step % pcfg.checkpoint_every_steps == 0):
            if d.main:
                atomic_torch_save({"fingerprint": fp, "step": step, "model": model.state_dict(),
                                   "optimizer": opt.state_dict(), "history": hist}, ckpt)
            _barrier(d)
    bar.close()
    elapsed = time.perf_counter() - t_call
    hist.update(steps=step, steps_per_epoch=steps_per_epoch, total_steps=total, world_size=d.world,
                finished=step >= total, batch_size=B)
    hist["train_s"] = float(hist.get("train_s", 0.0)) + elapsed
    hist["windows_per_s"] = steps_run * B / elapsed if steps_run else float("nan")
    return model.eval(), hist


def plot_losses(history: dict, path: str | Path, *, title: str) -> Path:
    """Training loss per step (and its running mean) and validation loss per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlink.io import atomic_path

    steps = np.arange(1, len(history["step_loss"]) + 1)
    loss = np.asarray(history["step_loss"], dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(steps, loss, lw=0.6, alpha=0.4, label="train (per step)")
    k = max(1, len(loss) // 50)
    if len(loss) >= k:
        ax.plot(steps[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), lw=1.5,
                label=f"train (mean of {k} steps)")
    spe = history.get("steps_per_epoch") or len(loss)
    val = np.asarray(history.get("val_loss", []), dtype=float)
    if len(val) and np.isfinite(val).any():
        held = {"sources": "held-out recordings/subjects", "windows": "held-out windows"}
        ax.plot(np.minimum(np.arange(1, len(val) + 1) * spe, len(loss)), val, "o-", lw=1.5,
                label=f"validation ({held.get(history.get('val_held_out'), 'held out')})")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("masked-token loss")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)


def pretrain_run(cfg, run_dir: str | Path, *, config_path: str | Path | None = None,
                 verbose: bool = False, fresh: bool = False,
                 max_steps_this_call: int | None = None) -> dict:
    """The ``teacher pretrain`` stage: corpus -> pretraining -> ``RUN/pretrained.pth``.

    Writes (rank 0): ``RUN/pretrained.pth`` (official layout of ``teacher.arch``; give it to
    fine-tuning as ``teacher.checkpoint``), ``RUN/pretrain/history.json`` (loss curves, timing,
    corpus), ``RUN/pretrain/loss.png`` and the ``pretrain`` stamp; the resumable state goes to
    ``RUN/checkpoints/pretrain/``. Returns a summary dict.
    """
    from dlink.rundir import RunDir

    from .corpus import build_corpus
    from .layout import load_into_pretrainer, save_official
    from .objectives import build_pretrainer

    pcfg = cfg.pretrain
    d = init_distributed(pcfg.device)
    if pcfg.num_threads:
        torch.set_num_threads(pcfg.num_threads)
    run = RunDir(run_dir)
    if d.main:
        run.mkdir()
    ckpt_dir = run.checkpoints_dir / "pretrain"
    if fresh and d.main and (ckpt_dir / STATE_NAME).is_file():
        (ckpt_dir / STATE_NAME).unlink()
    if d.local_rank == 0:  # one process per machine preprocesses; the others open its shards
        corpus = build_corpus(pcfg, cfg.data, verbose=verbose and d.main)
    _barrier(d)
    if d.local_rank != 0:
        corpus = build_corpus(pcfg, cfg.data, build=False)
    torch.manual_seed(cfg.seed)
    model = build_pretrainer(cfg.teacher, pcfg, ch_names=corpus.ch_names, n_times=corpus.n_times)
    init = None
    if pcfg.init_checkpoint:
        init = load_into_pretrainer(model, pcfg.init_checkpoint)
    t0 = time.perf_counter()
    model, hist = pretrain(model, corpus, pcfg=pcfg, seed=cfg.seed, checkpoint_dir=ckpt_dir,
                           verbose=verbose, max_steps_this_call=max_steps_this_call, dist=d)
    n_params = int(sum(p.numel() for p in model.parameters()))
    summary = {"arch": model.arch, "size": model.kwargs, "params": n_params,
               "corpus": {**corpus.summary(), "listed_sources": corpus.n_listed,
                          "skipped": getattr(corpus, "skipped", [])},
               "init_checkpoint": pcfg.init_checkpoint, "init": init, "device": d.device,
               "world_size": d.world, "wall_s_this_call": time.perf_counter() - t0,
               "finished": hist["finished"], "steps": hist["steps"],
               "total_steps": hist["total_steps"],
               "final_train_loss": float(np.mean(hist["step_loss"][-max(1, hist["steps_per_epoch"]):]))
               if hist["step_loss"] else None,
               "final_val_loss": hist["val_loss"][-1] if hist["val_loss"] else None}
    out = run.path / OUTPUT_NAME
    if d.main and hist["finished"]:
        meta = {"config": _plain(asdict(pcfg)), "teacher": _plain(asdict(cfg.teacher)),
                "seed": cfg.seed, "channels": corpus.ch_names, "window_samples": corpus.n_times,
                "steps": hist["steps"], "final_val_loss": summary["final_val_loss"]}
        save_official(model, out, epoch=len(hist["val_loss"]), meta=meta)
        run_pre = run.path / "pretrain"
        atomic_write_json(run_pre / "history.json", {"summary": summary, "history": hist})
        plot_losses(hist, run_pre / "loss.png",
                    title=f"{model.arch} pretraining ({n_params:,} params, {len(corpus):,} windows)")
        inputs = [p for p in (config_path, pcfg.init_checkpoint) if p and Path(p).is_file()]
        run.write_stamp("pretrain", inputs=[Path(p).resolve() for p in inputs], outputs=[out],
                        extra={"final_val_loss": summary["final_val_loss"], "steps": hist["steps"]})
        summary["output"] = str(out)
    _barrier(d)
    return {**summary, "history": hist}


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
