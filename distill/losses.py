"""The DLink objective: task CE, logit KD, feature alignment, spectral terms, anti-aliasing and
the router probe, with the training-only modules (mimic projection, router) it needs.

``total = w_ce*CE + w_kd*KD + lambda1*(w_feature*feat + w_spectral_mag*mag
          + w_spectral_phase*phase) + lambda2*w_antialias*antialias + w_router_probe*probe``

CE and the probe's CE use labelled windows only (the "pool" windows are unlabelled for the
student: ``y == -1``); KD and feature terms use every window. The spectral and anti-aliasing
terms cost an FFT per window and may use a uniform random subset of the batch
(:func:`spectral_sample`, ``batch["spectral_index"]``; the trainer draws it afresh for every
batch), which keeps them unbiased estimates of the same terms over the whole batch. A weight of 0
skips its term. None of these modules is part of the deployed student.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .router import LEARNED_MODES, LayerRouter, normalize_layers
from .spectral import antialias_penalty, spectral_losses, upsample_tokens

UNLABELLED = -1


def spectral_sample(n_windows: int, k: int | None, rng: np.random.Generator) -> torch.Tensor | None:
    """Indices of a uniform random subset of ``k`` of a batch's ``n_windows`` windows.

    The spectral and anti-aliasing terms are computed on these windows only. ``k=None`` or
    ``k >= n_windows`` returns None (the whole batch). The subset is drawn without replacement
    from every position of the batch, so each window of the training set is equally likely to
    be seen, whatever order or source it comes in (an earlier version took the first ``k``
    windows of a batch sorted by index, i.e. almost only the labelled split).

    >>> spectral_sample(64, 16, np.random.default_rng(0)).shape
    torch.Size([16])
    """
    if k is None or k >= n_windows:
        return None
    if k < 1:
        raise ValueError(f"distill.spectral_windows must be >= 1 or null, got {k!r}.")
    return torch.from_numpy(np.sort(rng.choice(n_windows, size=int(k), replace=False)))


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
            temperature: float) -> torch.Tensor:
    """Hinton KD: ``T^2 * KL(softmax(t/T) || softmax(s/T))``, batch mean."""
    t = temperature
    return F.kl_div(F.log_softmax(student_logits / t, dim=1), F.log_softmax(teacher_logits / t, dim=1),
                    reduction="batchmean", log_target=True) * t * t


def masked_ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over labelled windows (``y >= 0``); 0 when there are none."""
    keep = y >= 0
    if not bool(keep.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[keep], y[keep])


class DLinkObjective(nn.Module):
    """Training-only part of DLink: mimic projection + router + loss terms.

    Parameters
    ----------
    cfg : DistillConfig
        Loss weights, router mode, temperature.
    mimic_channels : int
        Channels of the student's mimic features (``n_chans * mimic_width``).
    n_chans : int
        EEG channels (the teacher's token grid rows).
    n_layers, width : int
        Teacher blocks L and width D.
    n_outputs : int
        Classes.
    steps_per_token : int
        Mimic steps per teacher token.
    n_tokens : int | None
        Teacher tokens (patches) per channel; with it, the projection gets a learned offset per
        (channel, token), like the teacher's channel and time embeddings (a convolutional
        student has no position to reproduce them from); without it, one offset per channel.
    """

    def __init__(self, cfg, *, n_outputs: int, mimic_channels: int | None = None,
                 n_chans: int | None = None, n_layers: int | None = None, width: int | None = None,
                 steps_per_token: int = 1, n_tokens: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.n_chans, self.width, self.steps_per_token = n_chans, width, steps_per_token
        self.project = self.router = None
        if self.needs_features:
            if mimic_channels is None or n_chans is None or width is None:
                raise ValueError("DLinkObjective: feature/spectral terms need a student with mimic "
                                 "features and the teacher's width (set their weights to 0 for "
                                 "a model without them).")
            if mimic_channels % n_chans:
                raise ValueError(f"DLinkObjective: mimic_channels={mimic_channels} is not a "
                                 f"multiple of n_chans={n_chans}.")
            # mimic alignment (training only, never exported): one linear map, shared by all
            # channels, from a channel's mimic features to the teacher's width (its rank is at
            # most the mimic width: what the width-vs-R^2 curve of the benchmark measures), plus
            # a learned offset per (channel, token) (the teacher's channel and time embeddings).
            # Sharing the map keeps it cheap and makes stream c a linear image of the teacher's
            # channel-c tokens.
            self.project = nn.Linear(mimic_channels // n_chans, width, bias=False)
            self.token_offset = nn.Parameter(torch.zeros(n_chans, n_tokens or 1, width))
        # per-layer mean of the standardised states per (channel, token), over the training
        # windows (fit_position_mean): subtracted from the feature target, so the mimic is asked
        # for what the tokens say about the input, not for the position embeddings that every
        # window shares (and that a learned offset, moving by about lr per step, would take
        # hundreds of steps to reach)
        self.register_buffer("position_mean", None)
        if self.uses_teacher_states:
            if n_layers is None or width is None:
                raise ValueError("DLinkObjective: the router needs the teacher's n_layers and width.")
            self.router = LayerRouter(n_layers, width, n_outputs, n_chans=n_chans or 1,
                                      mode=cfg.target, top_k=cfg.top_k, hidden=cfg.router_hidden,
                                      block=cfg.target_block)

    @property
    def needs_features(self) -> bool:
        c = self.cfg
        return c.lambda1 > 0 and (c.w_feature > 0 or c.w_spectral_mag > 0 or c.w_spectral_phase > 0)

    @property
    def uses_teacher_states(self) -> bool:
        """Whether batches must carry the cached hidden states."""
        c = self.cfg
        return self.needs_features or (c.w_router_probe > 0 and c.target in LEARNED_MODES)

    def forward(self, out: dict, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Return ``(total loss, {term: value})``.

        ``out`` is the student's ``forward_train`` output; ``batch`` has ``y`` (-1: unlabelled),
        ``teacher_logits`` ``(B, n_outputs)`` and ``hidden`` ``(B, L, C, P, D)`` (may be absent
        when no term needs it), and optionally ``spectral_index``: the windows of the batch the
        spectral terms use (:func:`spectral_sample`; absent or None: all of them; the student's
        anti-aliasing taps were computed on the same windows).
        """
        c = self.cfg
        logits = out["logits"]
        y = batch["y"]
        terms: dict[str, torch.Tensor] = {}
        if c.w_ce > 0:
            terms["ce"] = c.w_ce * masked_ce(logits, y)
        if c.w_kd > 0:
            terms["kd"] = c.w_kd * kd_loss(logits, batch["teacher_logits"], c.temperature)
        need_feat = self.needs_features
        if self.uses_teacher_states:
            hidden = normalize_layers(batch["hidden"])
            weights, target = self.router(hidden)
            if c.w_router_probe > 0 and self.router.trainable:
                probe = self.router.probe_logits(target)
                p = masked_ce(probe, y)
                if c.w_kd > 0:  # unlabelled windows: the teacher's soft labels
                    p = p + kd_loss(probe, batch["teacher_logits"], 1.0)
                terms["probe"] = c.w_router_probe * p
            if need_feat:
                w = weights if c.router_grad_from_student else weights.detach()
                target = torch.einsum("bl,blcpd->bcpd", w, self._centred(hidden))
                seq = self._projected(out["mimic"])  # (B, C, steps, D)
                if c.w_feature > 0:
                    terms["feature"] = c.lambda1 * c.w_feature * F.mse_loss(self._pooled(seq), target)
                if c.w_spectral_mag > 0 or c.w_spectral_phase > 0:
                    sub = batch.get("spectral_index")
                    s_seq, s_tgt = (seq, target) if sub is None else (seq[sub], target[sub])
                    mag, phase = spectral_losses(s_seq, upsample_tokens(s_tgt, seq.shape[2]), dim=2)
                    if c.w_spectral_mag > 0:
                        terms["spectral_mag"] = c.lambda1 * c.w_spectral_mag * mag
                    if c.w_spectral_phase > 0:
                        terms["spectral_phase"] = c.lambda1 * c.w_spectral_phase * phase
        if c.w_antialias > 0 and c.lambda2 > 0:
            terms["antialias"] = c.lambda2 * c.w_antialias * antialias_penalty(out["taps"])
        if not terms:
            raise ValueError("distill: every loss weight is 0; nothing to train (set w_ce > 0).")
        total = torch.stack([v for v in terms.values()]).sum()
        return total, {k: float(v.detach()) for k, v in terms.items()}

    def _pooled(self, seq: torch.Tensor) -> torch.Tensor:
        """Projected mimic steps averaged per teacher token: ``(B, C, T, D) -> (B, C, P, D)``."""
        b, ch, steps, d = seq.shape
        return seq.reshape(b, ch, steps // self.steps_per_token, self.steps_per_token, d).mean(3)

    @torch.no_grad()
    def token_fit(self, mimic: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The student's projected tokens and the routed target they are aligned with.

        ``mimic`` ``(B, C*F, 1, T)`` (the student's), ``hidden`` ``(B, L, C, P, D)`` (raw cached
        states). Returns ``(prediction, target)``, both ``(B, C, P, D)``.
        """
        if self.project is None:
            raise ValueError("token_fit: this objective has no mimic projection (feature and "
                             "spectral weights are 0).")
        hidden = normalize_layers(hidden)
        w = self.router.weights(hidden)
        target = torch.einsum("bl,blcpd->bcpd", w, self._centred(hidden))
        return self._pooled(self._projected(mimic)), target

    def _centred(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden if self.position_mean is None else hidden - self.position_mean

    @torch.no_grad()
    def fit_position_mean(self, hiddens, *, batch_size: int = 256) -> torch.Tensor:
        """Set :attr:`position_mean` ``(L, C, P, D)`` from the training windows' cached states
        (a list of ``(n, L, C, P, D)`` arrays, possibly memory-mapped)."""
        total, n = None, 0
        for h in hiddens:
            for i in range(0, len(h), batch_size):
                x = normalize_layers(torch.from_numpy(np.asarray(h[i:i + batch_size], dtype=np.float32)))
                total = x.sum(0) if total is None else total + x.sum(0)
                n += len(x)
        if not n:
            raise ValueError("fit_position_mean: no training windows.")
        self.position_mean = total / n
        return self.position_mean

    def _projected(self, mimic: torch.Tensor) -> torch.Tensor:
        """``(B, C*F, 1, T) -> (B, C, T, D)``."""
        b, cf, _, t = mimic.shape
        m = mimic.reshape(b, self.n_chans, cf // self.n_chans, t).transpose(2, 3)  # (B, C, T, F)
        offset = self.token_offset
        if offset.shape[1] > 1:  # per token -> per step, interpolated as the target is
            offset = upsample_tokens(offset[None], t)[0]
        return self.project(m) + offset


def feature_r2(student, objective: DLinkObjective, X, hidden, *, batch_size: int = 128) -> float:
    """How much of the routed teacher tokens the student's mimic features carry: R^2.

    ``1 - SSE / SST`` over every token of every window, where SSE sums the squared error of the
    projected, token-pooled mimic features against the routed target (per-token standardised
    teacher states, as in training) and SST the target's squared deviation from its mean over
    windows per (channel, token, feature): what the tokens hold beyond their position. 1: the
    tokens are reproduced; 0: no better than the mean token at that position.

    Parameters
    ----------
    student : MiC
        Trained student (``forward_train`` gives ``mimic``).
    objective : DLinkObjective
        Its trained objective (projection and router).
    X : array ``(n, n_chans, n_times)``; hidden : array ``(n, L, C, P, D)``
        Windows and their cached teacher states (may be memory-mapped).
    """
    was = student.training, objective.training
    student.eval()
    objective.eval()
    sse = s1 = s2 = None
    n_tok = 0
    try:
        with torch.no_grad():
            for i in range(0, len(X), batch_size):
                x = torch.from_numpy(np.asarray(X[i:i + batch_size], dtype=np.float32))
                h = torch.from_numpy(np.asarray(hidden[i:i + batch_size], dtype=np.float32))
                pred, target = objective.token_fit(student.forward_train(x, with_taps=False)["mimic"], h)
                t = target.double()  # (B, C, P, D)
                e = (pred.double() - t).pow(2).sum()
                sse = e if sse is None else sse + e
                s1 = t.sum(0) if s1 is None else s1 + t.sum(0)
                s2 = t.pow(2).sum(0) if s2 is None else s2 + t.pow(2).sum(0)
                n_tok += t.shape[0]
    finally:
        student.train(was[0])
        objective.train(was[1])
    sst = (s2 - s1.pow(2) / n_tok).sum()
    return float(1.0 - sse / sst)
