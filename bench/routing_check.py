"""Input-conditioned routing, shown on a controlled teacher: a script and the test's engine.

    .venv/bin/python bench/routing_check.py --out runs/routing_check

The DLink router weighs the teacher's blocks *per window*. Whether that input conditioning is
worth anything can only show where the best block differs between windows, so this builds such
a teacher (hidden states, no EEG needed):

- windows belong to two groups (think: two kinds of subjects); every block carries a group
  marker (a shift of a few features of every token), so the group is visible in the input;
- in group A the label is carried by block 1 (+ direction) and, reversed, by block 3
  (- direction); in group B the other way round; blocks 2 and 4 are noise.

Any fixed weighting ``w`` gives the routed target a label signal ``(w1 - w3) * s`` in group A and
``(w3 - w1) * s`` in group B: the same feature means class 0 in one group and class 1 in the
other, which no linear probe can decode (it would need label XOR group). A router that looks at
the window can send group A to block 1 and group B to block 3, where the signal has one sign. So
only an input-conditioned router can win here (sending group A to block 3 and B to block 1
works as well: the label is then reversed in both groups alike); the script trains, on the router's own objective
(its probe's cross-entropy), the learned router, the bias-only router (learned per-layer weights,
no input conditioning), every fixed block and the uniform average, and reports held-out probe
balanced accuracy and the mean weights per group.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

#: Blocks (0-based) that carry the label in each group; the other one carries it reversed.
GROUP_BLOCK = (0, 2)


def controlled_states(n: int, *, seed: int = 0, n_layers: int = 4, n_chans: int = 3,
                      n_patches: int = 2, width: int = 16, signal: float = 1.5,
                      marker: float = 1.5):
    """Hidden states ``(n, L, C, P, D)``, labels ``(n,)`` and groups ``(n,)`` (0 or 1).

    The label (2 classes) sits on features 0-3 of channel 1 of the group's block (+) and of the
    other group's block (-); features 8-11 of every token of every block carry the group marker.
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    group = torch.randint(0, 2, (n,), generator=g)
    h = torch.randn(n, n_layers, n_chans, n_patches, width, generator=g)
    s = (2 * y - 1).float() * signal
    gs = (2 * group - 1).float()  # +1: group B, -1: group A
    a, b = GROUP_BLOCK
    sign_a = torch.where(group == 0, 1.0, -1.0)
    h[:, a, 1, :, :4] += (sign_a * s).view(n, 1, 1)
    h[:, b, 1, :, :4] -= (sign_a * s).view(n, 1, 1)
    h[..., 8:12] += (marker * gs).view(n, 1, 1, 1, 1)
    return h, y, group


def train_router(mode: str, hidden, y, *, block: int | None = None, steps: int = 300,
                 lr: float = 0.01, seed: int = 0):
    """Train a :class:`~dlink.distill.router.LayerRouter` (and its probe) on the probe's
    cross-entropy, full batch, Adam. Static modes train the probe only."""
    import torch

    from dlink.distill.router import LayerRouter, normalize_layers

    torch.manual_seed(seed)
    n_layers, n_chans, width = hidden.shape[1], hidden.shape[2], hidden.shape[-1]
    r = LayerRouter(n_layers, width, int(y.max()) + 1, n_chans=n_chans, mode=mode, block=block)
    h = normalize_layers(hidden)
    opt = torch.optim.Adam(r.parameters(), lr=lr)
    for _ in range(steps):
        _, target = r(h)
        loss = torch.nn.functional.cross_entropy(r.probe_logits(target), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return r.eval()


def evaluate_router(router, hidden, y, group) -> dict:
    """Held-out probe balanced accuracy and mean layer weights per group."""
    import torch

    from dlink.distill.router import normalize_layers

    with torch.no_grad():
        h = normalize_layers(hidden)
        w, target = router(h)
        pred = router.probe_logits(target).argmax(1)
    y, group, pred = y.numpy(), group.numpy(), pred.numpy()
    bacc = float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))
    per_group = {f"group_{'AB'[k]}": w[torch.from_numpy(group == k)].mean(0).tolist() for k in (0, 1)}
    top = {k: int(np.argmax(v)) for k, v in per_group.items()}
    # the two label-carrying blocks, one per group (either assignment decodes: the other one
    # gives the reversed label consistently in both groups)
    apart = sorted(top.values()) == sorted(GROUP_BLOCK)
    return {"balanced_accuracy": bacc, "weights": per_group,
            "top_block": {k: v + 1 for k, v in top.items()}, "routes_groups_apart": bool(apart)}


def run(*, n_train: int = 512, n_test: int = 512, seeds=(0, 1, 2), steps: int = 300) -> list[dict]:
    """Every routing mode on the controlled teacher, over ``seeds``; one dict per (mode, seed)."""
    import torch

    torch.set_num_threads(1)
    out = []
    for seed in seeds:
        h_tr, y_tr, _ = controlled_states(n_train, seed=1000 + seed)
        h_te, y_te, g_te = controlled_states(n_test, seed=2000 + seed)
        n_layers = h_tr.shape[1]
        modes = [("router", None), ("bias", None), ("average", None)] + \
            [("block", k) for k in range(1, n_layers + 1)]
        for mode, block in modes:
            r = train_router(mode, h_tr, y_tr, block=block, steps=steps, seed=seed)
            res = evaluate_router(r, h_te, y_te, g_te)
            name = mode if block is None else f"block {block}"
            out.append({"mode": name, "seed": seed, **res})
    return out


def markdown(results: list[dict]) -> str:
    names = list(dict.fromkeys(r["mode"] for r in results))
    lines = ["| Target | Probe bal. acc. (held out, mean ± sd over seeds) | Top block A / B per seed "
             "| Weight on the top block (mean) | Seeds routing the groups apart |",
             "|---|---|---|---|---|"]
    for name in names:
        rs = [r for r in results if r["mode"] == name]
        acc = np.array([r["balanced_accuracy"] for r in rs])
        tops = ", ".join(f"{r['top_block']['group_A']}/{r['top_block']['group_B']}" for r in rs)
        wtop = np.mean([max(r["weights"][g]) for r in rs for g in ("group_A", "group_B")])
        apart = sum(r["routes_groups_apart"] for r in rs)
        lines.append(f"| {name} | {acc.mean():.3f} ± {acc.std(ddof=1) if len(acc) > 1 else 0:.3f} "
                     f"| {tops} | {wtop:.2f} | {apart}/{len(rs)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                epilog="example: python bench/routing_check.py --out runs/routing_check")
    p.add_argument("--out", default=None, metavar="<dir>", help="write routing_check.{md,json} here")
    p.add_argument("--seeds", type=int, default=3, metavar="<n>")
    args = p.parse_args(argv)
    results = run(seeds=tuple(range(args.seeds)))
    md = ("Controlled teacher: the label sits in block 1 for group A and in block 3 for group B "
          "(reversed in the other block); blocks 2 and 4 are noise.\n\n" + markdown(results))
    print(md)
    if args.out:
        from dlink.io import atomic_write_json, atomic_write_text

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "routing_check.json", {"results": results})
        atomic_write_text(out / "routing_check.md", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
