"""Bad recordings get a clear error naming the file and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from dlink.data._checks import DataFileError, check_edf_header
from dlink.data.config import DataConfig
from dlink.data.eegmmidb import read_run
from dlink.data.preprocess import preprocess_raw
from tests.data.conftest import write_edf

CFG = DataConfig(name="eegmmidb")


def _names64(real_edf):
    return check_edf_header(real_edf)["labels"][:64]


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "S001R04.edf"
    with pytest.raises(FileNotFoundError, match=r"EEGMMIDB recording '.*S001R04\.edf' does not exist"):
        read_run(missing, 4, CFG)


def test_truncated_copy_is_rejected(real_edf):
    data = real_edf.read_bytes()
    real_edf.write_bytes(data[: len(data) - 5000])
    with pytest.raises(DataFileError, match=r"S001R04\.edf: truncated EDF file: the header declares"):
        read_run(real_edf, 4, CFG)


def test_corrupted_copies_are_rejected(real_edf, tmp_path):
    data = bytearray(real_edf.read_bytes())
    bad_version = tmp_path / "S001R04_version.edf"
    bad_version.write_bytes(b"\x00GARBAGE" + data[8:])
    with pytest.raises(DataFileError, match=r"S001R04_version\.edf: not a valid EDF file"):
        read_run(bad_version, 4, CFG)
    bad_count = tmp_path / "S001R04_count.edf"
    data[236:244] = b"12x4    "  # the number of data records
    bad_count.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match=r"S001R04_count\.edf: corrupt EDF header"):
        read_run(bad_count, 4, CFG)
    not_edf = tmp_path / "S001R04_text.edf"
    not_edf.write_text("hello")
    with pytest.raises(DataFileError, match=r"S001R04_text\.edf: not a valid EDF file"):
        read_run(not_edf, 4, CFG)


def test_recording_without_imagery_annotations(real_edf, tmp_path):
    path = write_edf(tmp_path / "no_events.edf", _names64(real_edf), sfreq_hz=160.0, duration_s=10)
    with pytest.raises(DataFileError, match=r"no_events\.edf: no EEGMMIDB imagery \(T1/T2\) annotations: "
                                            r"expected some of \['T1', 'T2'\]"):
        read_run(path, 4, CFG)
    rest = write_edf(tmp_path / "rest_only.edf", _names64(real_edf), sfreq_hz=160.0, duration_s=10,
                     annotations=[(0.0, 4.0, "T0")])
    with pytest.raises(DataFileError, match=r"rest_only\.edf: .*the file has \['T0'\]"):
        read_run(rest, 4, CFG)


def test_too_few_channels(tmp_path):
    path = write_edf(tmp_path / "few.edf", ["C3", "Cz", "C4"], sfreq_hz=160.0, duration_s=10,
                     annotations=[(1.0, 4.0, "T1")])
    with pytest.raises(DataFileError, match=r"few\.edf: too few EEG channels: expected at least 64, got 3"):
        read_run(path, 4, CFG)


def test_sampling_rate_below_the_band_needs(real_edf, tmp_path):
    path = write_edf(tmp_path / "slow.edf", _names64(real_edf), sfreq_hz=100.0, duration_s=10,
                     annotations=[(1.0, 4.0, "T1")])
    with pytest.raises(DataFileError, match=r"slow\.edf: sampling rate 100 Hz is too low: .*"
                                            r"h_freq_hz=75 Hz.*more than 150 Hz"):
        read_run(path, 4, CFG)


def _raw(data):
    import mne

    info = mne.create_info([f"C{i}" for i in range(1, data.shape[0] + 1)], 250.0, "eeg")
    return mne.io.RawArray(data, info, verbose="error")


def test_nan_and_flat_channels_are_named():
    data = np.random.default_rng(0).standard_normal((3, 1000)) * 1e-5
    nan = data.copy()
    nan[1, 100] = np.nan
    kw = dict(sfreq_hz=200.0, l_freq_hz=0.3, h_freq_hz=75.0)
    with pytest.raises(DataFileError, match=r"rec\.edf: channel\(s\) \['C2'\] hold NaN"):
        preprocess_raw(_raw(nan), "rec.edf", **kw)
    flat = data.copy()
    flat[2] = 1e-6
    with pytest.raises(DataFileError, match=r"rec\.edf: flat channel\(s\) \['C3'\]"):
        preprocess_raw(_raw(flat), "rec.edf", **kw)


def test_flat_channel_in_a_file(real_edf, tmp_path):
    path = write_edf(tmp_path / "flat.edf", _names64(real_edf), sfreq_hz=160.0, duration_s=10,
                     annotations=[(1.0, 4.0, "T1")], amplitude_v=0.0)
    with pytest.raises(DataFileError, match=r"flat\.edf: flat channel\(s\)"):
        read_run(path, 4, CFG)
