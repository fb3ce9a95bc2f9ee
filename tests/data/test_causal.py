"""Causal preprocessing in the data stage: config, state carried across the recording, loaders."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.config import ConfigError, config_from_dict
from dlink.data.cache import config_key
from dlink.data.config import CausalConfig, DataConfig
from tests.conftest import needs_shared
from tests.data.conftest import EEGBCI_RUN_DIR


def test_causal_config_is_checked_against_the_adc_rate():
    with pytest.raises(ConfigError, match=r"h_freq_hz=90.0 must be below the Nyquist frequency 80 Hz"):
        config_from_dict({"data": {"name": "eegmmidb", "preprocessing": "causal", "h_freq_hz": 90.0}})
    with pytest.raises(ConfigError, match="bandpass_order must be in 1..8"):
        config_from_dict({"data": {"preprocessing": "causal", "causal": {"bandpass_order": 0}}})
    with pytest.raises(ConfigError, match="'data.preprocessing' = 'casual' is not allowed"):
        config_from_dict({"data": {"preprocessing": "casual"}})
    assert DataConfig(name="eegmmidb").adc_sfreq_hz() == 160.0
    assert DataConfig(name="tuab").adc_sfreq_hz() is None
    assert DataConfig(causal=CausalConfig(input_sfreq_hz=500.0)).adc_sfreq_hz() == 500.0


def test_cache_key_of_zero_phase_configs_ignores_the_causal_section():
    base = config_key(DataConfig())
    assert config_key(DataConfig(causal=CausalConfig(bandpass_order=2))) == base
    causal = config_key(DataConfig(preprocessing="causal"))
    assert causal != base
    assert config_key(DataConfig(preprocessing="causal", causal=CausalConfig(bandpass_order=2))) != causal
    assert config_key(DataConfig(synthetic={"continuous": True})) != base


@needs_shared
def test_eegmmidb_causal_windows_carry_filter_state_across_the_recording():
    """The windows are cut from ONE pass over the recording, not filtered window by window."""
    import mne

    from dlink.data.causal import apply_causal, design_from_config
    from dlink.data.eegmmidb import read_run
    from dlink.data.preprocess import normalize_channels

    file = EEGBCI_RUN_DIR / "S001R04.edf"
    if not file.is_file():
        pytest.skip("S001R04.edf is absent")
    cfg = DataConfig(name="eegmmidb", preprocessing="causal", notch_hz=60.0)
    w = read_run(file, 4, cfg, subject=1)
    assert w.X.shape == (15, 64, 800) and w.sfreq == 200.0
    raw = mne.io.read_raw_edf(file, preload=True, verbose="error")
    normalize_channels(raw, file)
    design = design_from_config(cfg)
    assert design.input_sfreq_hz == 160.0 and (design.up, design.down) == (5, 4)
    y = apply_causal((raw.get_data() / 1e-4).astype(np.float32), design)
    onsets = np.round(raw.annotations.onset[np.isin(raw.annotations.description, ["T1", "T2"])] * 200)
    onsets = onsets.astype(int)
    expected = np.stack([y[:, o:o + 800] for o in onsets])
    assert np.array_equal(w.X, expected)  # bit for bit: float32 end to end
    # resetting the state at each window would give other numbers at the window starts
    fresh = apply_causal((raw.get_data()[:, onsets[3] * 4 // 5:] / 1e-4).astype(np.float32), design)
    assert not np.allclose(fresh[:, :50], w.X[3][:, :50], atol=1e-3)


@needs_shared
def test_recordings_at_another_rate_are_brought_to_the_adc_rate_first():
    from dlink.data.eegmmidb import read_run

    file = EEGBCI_RUN_DIR / "S001R04.edf"
    if not file.is_file():
        pytest.skip("S001R04.edf is absent")
    cfg = DataConfig(name="eegmmidb", preprocessing="causal", causal=CausalConfig(input_sfreq_hz=250.0))
    w = read_run(file, 4, cfg, subject=1)
    assert w.X.shape == (15, 64, 800) and np.isfinite(w.X).all()


def test_continuous_synthetic_recordings_zero_phase_and_causal_see_the_same_signal():
    from dlink.data.synthetic_recording import make_synthetic_recordings, subject_recording
    from dlink.data.synthetic import CLASS_NAMES, SyntheticOptions

    opts = {"subjects": {"train": 1, "val": 0, "test": 1, "pool": 0}, "trials_per_class": 2}
    zp = make_synthetic_recordings(DataConfig(synthetic={**opts, "continuous": True}))
    ca = make_synthetic_recordings(DataConfig(synthetic=opts, preprocessing="causal"))
    for split in ("train", "test"):
        assert zp[split].X.shape == ca[split].X.shape == (8, 22, 800)
        assert np.array_equal(zp[split].y, ca[split].y)
    # same recording, other filters: the windows differ (phase, delay) but their mu/beta power
    # (what motor imagery is decoded from) is the same
    from scipy import signal

    sos = signal.butter(4, [8, 30], btype="bandpass", fs=200, output="sos")
    a, b = (np.log(signal.sosfiltfilt(sos, ds["train"].X, axis=-1).var(axis=-1)).ravel() for ds in (zp, ca))
    assert not np.allclose(zp["train"].X, ca["train"].X, atol=1e-3)
    assert np.corrcoef(a, b)[0, 1] > 0.95
    # no step between trials: the largest sample-to-sample change at a trial boundary is typical
    data, onsets, _ = subject_recording(SyntheticOptions.from_dict(opts), 1, CLASS_NAMES[4],
                                        sfreq_hz=250.0, window_s=4)
    d = np.abs(np.diff(data, axis=1)).max(axis=0)
    boundaries = onsets[1:] - 250  # where trial k starts (fade-in of the next trial)
    assert d[boundaries].max() < 2 * np.percentile(d, 99)
