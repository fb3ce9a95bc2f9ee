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


# -- the timing option: ERD with an onset, a duration and a beta rebound inside the window -----

def _band_power_over_time(X, ch, lo, hi, sfreq=200.0, n_bins=8):
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [lo, hi], "bandpass", fs=sfreq, output="sos")
    p = sosfiltfilt(sos, X[:, BCI2A_CH_NAMES.index(ch)].astype(np.float64), axis=-1) ** 2
    return p.reshape(len(X), n_bins, -1).mean(-1)  # (n, n_bins): 0.5-s bins of a 4-s window


@pytest.fixture(scope="module")
def timed():
    opts = {"subjects": {"train": 4, "val": 0, "test": 1, "pool": 0}, "trials_per_class": 10,
            "timing": True}
    return make_synthetic(opts)["train"]


def test_timing_option_puts_the_erd_inside_the_window_and_a_beta_rebound_after_it(timed):
    X, y = timed.X, timed.y
    left, right = y == 0, y == 1
    mu = _band_power_over_time(X, "C4", 8, 13)
    ratio = mu[left].mean(0) / mu[right].mean(0)  # left-hand imagery desynchronises C4
    assert ratio[0] > 0.85  # before the onset (0.8 s +- 0.25 s): no class difference yet
    assert ratio[2:4].mean() < 0.6  # during the imagery: ERD
    assert ratio[-1] > ratio[2:4].mean() + 0.2  # after it: back towards baseline
    beta = _band_power_over_time(X, "C4", 16, 26)
    b = beta[left].mean(0) / beta[right].mean(0)
    assert b[2:4].mean() < 0.9  # beta desynchronises during the imagery ...
    assert b[5:7].max() > 1.2  # ... and rebounds above baseline after it


def test_timing_varies_from_trial_to_trial_and_leaves_other_draws_alone():
    from dlink.data.synthetic import _time_course

    opt = SyntheticOptions(timing=True)
    event, rebound = _time_course(opt, np.random.default_rng(0), 200, 800, 200.0)
    t = np.arange(800) / 200.0
    onset = np.array([t[np.argmax(e > 0.5)] for e in event])
    assert 0.15 < onset.std() < 0.35 and abs(onset.mean() - opt.erd_onset_s) < 0.1
    assert rebound.max(1).std() > 0.05  # rebound size varies too
    # timing options do nothing while timing is off: the default output is unchanged
    base = {"subjects": {"train": 1, "val": 0, "test": 1, "pool": 0}, "trials_per_class": 2}
    a = make_synthetic(base)["train"].X
    b = make_synthetic({**base, "erd_onset_s": 2.0, "beta_rebound": 0.0})["train"].X
    np.testing.assert_array_equal(a, b)
    c = make_synthetic({**base, "timing": True})
    assert not np.array_equal(a, c["train"].X)
    np.testing.assert_array_equal(make_synthetic(base)["train"].y, c["train"].y)


def test_timing_options_are_checked():
    with pytest.raises(ValueError, match="timing must be true or false"):
        SyntheticOptions.from_dict({"timing": "yes"})
    with pytest.raises(ValueError, match="erd_duration_s must be > 0"):
        SyntheticOptions.from_dict({"erd_duration_s": 0})
    with pytest.raises(ValueError, match="erd_onset_jitter_s must be >= 0"):
        SyntheticOptions.from_dict({"erd_onset_jitter_s": -0.1})


def test_cache_key_ignores_timing_options_while_timing_is_off():
    from dlink.data.cache import config_key
    from dlink.data.config import DataConfig

    base = config_key(DataConfig())
    assert config_key(DataConfig(synthetic={"erd_onset_s": 2.0})) == base
    assert config_key(DataConfig(synthetic={"timing": True})) != base
    assert config_key(DataConfig(synthetic={"timing": True, "erd_onset_s": 2.0})) != \
        config_key(DataConfig(synthetic={"timing": True}))
