"""The synthetic generator: shapes, seeding, cross-subject splits, and the physiology it claims."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from dlink.data.montage import BCI2A_CH_NAMES
from dlink.data.synthetic import CLASS_NAMES, SyntheticOptions, make_synthetic, subject_ids


@pytest.fixture(scope="module")
def psd_set():
    """Enough windows of a few subjects for spectral statistics."""
    ds = make_synthetic({"subjects": {"train": 4, "val": 0, "test": 1, "pool": 0}, "trials_per_class": 10})
    w = ds["train"]
    f, p = welch(w.X.astype(np.float64), fs=w.sfreq, nperseg=int(w.sfreq * 2), axis=-1)
    return w, f, p


def test_shapes_units_and_names():
    ds = make_synthetic({"subjects": {"train": 1, "val": 1, "test": 1, "pool": 1}, "trials_per_class": 3})
    assert sorted(ds) == ["pool", "test", "train", "val"]
    for w in ds.values():
        assert w.X.shape == (12, 22, 800) and w.X.dtype == np.float32
        assert w.y.dtype == np.int64 and w.subject.dtype == np.int64
        assert w.ch_names == list(BCI2A_CH_NAMES) and w.sfreq == 200.0
        assert w.class_names == CLASS_NAMES[4]
        assert w.class_counts() == {c: 3 for c in CLASS_NAMES[4]}
        rms_uv = 100 * float(np.sqrt(np.mean(w.X ** 2)))
        assert 5 < rms_uv < 100  # EEG-like amplitudes, expressed in units of 100 uV


def test_splits_are_disjoint_by_subject():
    opts = {"subjects": {"train": 2, "val": 1, "test": 2, "pool": 3}, "trials_per_class": 1}
    ds = make_synthetic(opts)
    subjects = {k: set(np.unique(w.subject).tolist()) for k, w in ds.items()}
    assert subjects == {k: set(v) for k, v in subject_ids(SyntheticOptions.from_dict(opts)).items()}
    names = list(subjects)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not subjects[a] & subjects[b], (a, b)


def test_seeded_and_stable_when_another_split_grows():
    small = {"subjects": {"train": 1, "val": 0, "test": 1, "pool": 1}, "trials_per_class": 2}
    a = make_synthetic(small)
    b = make_synthetic(small)
    np.testing.assert_array_equal(a["train"].X, b["train"].X)
    bigger_pool = make_synthetic({**small, "subjects": {**small["subjects"], "pool": 3}})
    np.testing.assert_array_equal(a["test"].X, bigger_pool["test"].X)
    other_seed = make_synthetic({**small, "seed": 1})
    assert not np.allclose(a["train"].X, other_seed["train"].X)


def test_two_class_option_and_window_length():
    ds = make_synthetic({"subjects": {"train": 1, "val": 0, "test": 1, "pool": 0}, "trials_per_class": 2},
                        n_classes=2, window_s=2)
    assert ds["train"].class_names == ["left_hand", "right_hand"]
    assert ds["train"].X.shape == (4, 22, 400)
    assert len(ds["val"]) == 0 and ds["val"].X.shape[1:] == (22, 400)


def test_psd_has_one_over_f_slope_and_posterior_alpha_peak(psd_set):
    w, f, p = psd_set
    mean = p.mean(axis=(0, 1))
    fit_band = ((f >= 2) & (f <= 6)) | ((f >= 33) & (f <= 45))  # outside the alpha/mu/beta peaks
    slope, icpt = np.polyfit(np.log10(f[fit_band]), np.log10(mean[fit_band]), 1)
    assert slope < -1.0, f"expected a 1/f (or steeper) background, got log-log slope {slope:.2f}"

    def alpha_excess(ch):  # peak power in 8-13 Hz over the 1/f fit of that channel
        pc = p[:, w.ch_names.index(ch)].mean(0)
        s, i = np.polyfit(np.log10(f[fit_band]), np.log10(pc[fit_band]), 1)
        band = (f >= 8) & (f <= 13)
        return float(np.max(pc[band] / 10 ** (i + s * np.log10(f[band]))))

    assert alpha_excess("POz") > 3.0, "no alpha peak at POz"
    assert alpha_excess("POz") > alpha_excess("Fz"), "the alpha peak should be posterior"


def test_mu_beta_power_depends_on_class_over_c3_c4_cz(psd_set):
    w, f, p = psd_set
    mu, beta = (f >= 8) & (f <= 13), (f >= 13) & (f <= 30)

    def logpow(ch, band):
        return np.log(p[:, w.ch_names.index(ch)][:, band].mean(-1))

    lat_mu = logpow("C3", mu) - logpow("C4", mu)  # > 0 when C4 is desynchronised
    lat_beta = logpow("C3", beta) - logpow("C4", beta)
    left, right, feet = (w.y == w.class_names.index(c) for c in ("left_hand", "right_hand", "feet"))
    assert lat_mu[left].mean() > lat_mu[right].mean() + 0.3  # left hand: ERD over C4; right: over C3
    assert lat_beta[left].mean() > lat_beta[right].mean()
    cz_vs_hands = logpow("Cz", mu) - 0.5 * (logpow("C3", mu) + logpow("C4", mu))
    assert cz_vs_hands[feet].mean() < cz_vs_hands[left | right].mean()  # feet: ERD at Cz


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="unknown key 'erd_dpeth'.*Did you mean 'erd_depth'"):
        SyntheticOptions.from_dict({"erd_dpeth": 0.5})
    with pytest.raises(ValueError, match=r"erd_depth must be in \[0, 1\], got 1.5"):
        SyntheticOptions.from_dict({"erd_depth": 1.5})
    with pytest.raises(ValueError, match="unknown split 'tran'"):
        SyntheticOptions.from_dict({"subjects": {"tran": 2}})
    with pytest.raises(ValueError, match="n_classes must be one of"):
        make_synthetic({"trials_per_class": 1}, n_classes=3)
