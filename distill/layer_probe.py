"""What each teacher layer offers a distillation target: linear probes and inter-layer similarity.

The router can only help when the teacher's layers differ: when one block carries task
information the others lack, or when blocks are far enough apart that choosing among them
changes the target. Two diagnostics, computed from the cached hidden states (no teacher forward):

- :func:`linear_probe` — for each block, a logistic regression on the per-channel token means
  (each channel's tokens averaged over patches, standardised per token over the width, as the
  router's inputs are), fitted on the labelled "train" split; its L2 strength is chosen on "val",
  and balanced accuracy is reported on "val" and "test".
- :func:`layer_similarity` — linear CKA and mean token cosine between every pair of blocks.

Both use scikit-learn / NumPy; nothing here is trained by gradient descent.
"""

from __future__ import annotations

import numpy as np

#: Inverse L2 strengths tried for the probe (chosen on "val").
PROBE_C = (0.001, 0.01, 0.1, 1.0)


def _standardise_tokens(hidden: np.ndarray) -> np.ndarray:
    """The router's per-token normalisation, on NumPy. ``(..., D) -> same`` float32."""
    import torch

    from .router import normalize_layers

    return normalize_layers(torch.from_numpy(np.asarray(hidden, dtype=np.float32))).numpy()


def probe_features(hidden: np.ndarray, layer: int) -> np.ndarray:
    """Per-channel token means of one block. ``hidden`` ``(n, L, C, P, D)`` -> ``(n, C * D)``."""
    if hidden.ndim != 5:
        raise ValueError(f"hidden must have shape (n, L, C, P, D), got {hidden.shape}.")
    x = _standardise_tokens(hidden[:, layer]).mean(axis=2)
    return x.reshape(len(x), -1)


def linear_probe(hidden: dict, labels: dict, *, Cs=PROBE_C) -> list[dict]:
    """Linear-probe balanced accuracy of every block.

    Parameters
    ----------
    hidden : dict
        ``{"train": (n, L, C, P, D), "val": ..., "test": ...}`` cached hidden states ("test"
        optional).
    labels : dict
        Integer labels for the same splits.
    Cs : sequence of float
        Inverse L2 strengths tried; the one with the best "val" balanced accuracy is kept.

    Returns
    -------
    list of dict
        Per block (1-based ``block``): ``C``, ``val_balanced_accuracy``,
        ``test_balanced_accuracy`` (None without "test").
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.preprocessing import StandardScaler

    for split in ("train", "val"):
        if split not in hidden or split not in labels:
            raise ValueError(f"linear_probe needs the {split!r} split (hidden states and labels).")
    n_layers = hidden["train"].shape[1]
    out = []
    for layer in range(n_layers):
        feats = {k: probe_features(h, layer) for k, h in hidden.items()}
        scaler = StandardScaler().fit(feats["train"])
        z = {k: scaler.transform(f) for k, f in feats.items()}
        best = None
        for C in Cs:
            clf = LogisticRegression(C=C, max_iter=2000).fit(z["train"], labels["train"])
            score = balanced_accuracy_score(labels["val"], clf.predict(z["val"]))
            if best is None or score > best[1]:
                best = (C, score, clf)
        C, val_score, clf = best
        test_score = (float(balanced_accuracy_score(labels["test"], clf.predict(z["test"])))
                      if "test" in z and "test" in labels else None)
        out.append({"block": layer + 1, "C": C, "val_balanced_accuracy": float(val_score),
                    "test_balanced_accuracy": test_score})
    return out


def _linear_cka(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean(0)
    b = b - b.mean(0)
    num = np.linalg.norm(a.T @ b) ** 2
    den = np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)
    return float(num / den) if den > 0 else float("nan")


def layer_similarity(hidden: np.ndarray, *, max_windows: int = 200, max_tokens: int = 20000,
                     seed: int = 0) -> dict:
    """Linear CKA and mean token cosine between blocks, over a sample of tokens.

    ``hidden`` ``(n, L, C, P, D)`` (may be memory-mapped: only the first ``max_windows`` windows
    are read); tokens are standardised per token first. Returns ``{"cka": L x L, "cosine":
    L x L}`` nested lists.
    """
    if hidden.ndim != 5:
        raise ValueError(f"hidden must have shape (n, L, C, P, D), got {hidden.shape}.")
    h = _standardise_tokens(hidden[:max_windows])
    n_layers, width = h.shape[1], h.shape[-1]
    tokens = np.moveaxis(h, 1, 0).reshape(n_layers, -1, width)
    n_tok = tokens.shape[1]
    pick = np.random.default_rng(seed).choice(n_tok, min(max_tokens, n_tok), replace=False)
    tokens = tokens[:, np.sort(pick)]
    cka = [[_linear_cka(tokens[i], tokens[j]) for j in range(n_layers)] for i in range(n_layers)]
    cos = [[float((tokens[i] * tokens[j]).mean(-1).mean()) for j in range(n_layers)]
           for i in range(n_layers)]
    return {"cka": cka, "cosine": cos}


def rank_ceiling(hidden: np.ndarray, ranks=(4, 8, 16, 32), *, max_windows: int = 400) -> list[dict]:
    """The best R^2 a rank-k mimic projection can reach on each block's tokens.

    The student's mimic features reach the teacher's width through one linear map shared by all
    channels (plus an offset per channel and token): with ``k`` features per channel it is a
    rank-``k`` map, and no rank-``k`` map can explain more of the (per-token standardised,
    centred per channel and token position) tokens than their top ``k`` principal components.
    The same centring defines :func:`dlink.distill.losses.feature_r2`. ``hidden`` ``(n, L, C, P, D)``; returns, per
    block, ``{"block", "ceiling": {k: R^2 bound}}``.
    """
    if hidden.ndim != 5:
        raise ValueError(f"hidden must have shape (n, L, C, P, D), got {hidden.shape}.")
    h = _standardise_tokens(hidden[:max_windows]).astype(np.float64)
    out = []
    for layer in range(h.shape[1]):
        t = h[:, layer]  # (n, C, P, D)
        t = t - t.mean(axis=0, keepdims=True)  # the per-(channel, token) offset is free
        eig = np.linalg.eigvalsh(np.einsum("ncpd,ncpe->de", t, t))[::-1]
        cum = np.cumsum(eig) / eig.sum()
        out.append({"block": layer + 1,
                    "ceiling": {int(k): float(cum[min(k, len(cum)) - 1]) for k in ranks}})
    return out
