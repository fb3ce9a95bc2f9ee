"""Teacher-layer diagnostics: the probe finds the informative block; similarity sees copies."""

import numpy as np
import pytest

from dlink.distill.layer_probe import layer_similarity, linear_probe


def _hidden(n, informative_block, rng, *, n_layers=3, C=4, P=3, D=8):
    y = rng.integers(0, 2, n)
    h = rng.normal(size=(n, n_layers, C, P, D)).astype(np.float16)
    # block k: channel 0's first feature moves with the class (the rest is noise)
    h[:, informative_block, 0, :, 0] += (3.0 * (2 * y - 1))[:, None]
    return h, y


def test_probe_finds_the_block_that_carries_the_label():
    rng = np.random.default_rng(0)
    splits = {k: _hidden(n, 1, rng) for k, n in (("train", 120), ("val", 60), ("test", 60))}
    res = linear_probe({k: h for k, (h, _) in splits.items()}, {k: y for k, (_, y) in splits.items()})
    assert [r["block"] for r in res] == [1, 2, 3]
    acc = [r["test_balanced_accuracy"] for r in res]
    assert acc[1] > 0.9 and max(acc[0], acc[2]) < 0.75


def test_probe_needs_train_and_val():
    rng = np.random.default_rng(0)
    h, y = _hidden(20, 0, rng)
    with pytest.raises(ValueError, match="'val' split"):
        linear_probe({"train": h}, {"train": y})


def test_similarity_is_one_for_copies_and_low_for_independent_blocks():
    rng = np.random.default_rng(1)
    h = rng.normal(size=(30, 3, 4, 3, 16)).astype(np.float32)
    h[:, 1] = 2.0 * h[:, 0] + 0.5  # a scaled, shifted copy: identical after per-token standardising
    sim = layer_similarity(h)
    cka, cos = np.array(sim["cka"]), np.array(sim["cosine"])
    assert cka.shape == (3, 3) and np.allclose(np.diag(cka), 1.0, atol=1e-5)
    assert cka[0, 1] > 0.999 and cos[0, 1] > 0.999
    assert cka[0, 2] < 0.2 and abs(cos[0, 2]) < 0.1
