"""Checks of recordings before and after reading: each failure is a :class:`DataFileError` that names
the file, what was expected and what was found."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class DataFileError(ValueError):
    """A recording is missing, unreadable, truncated, or does not hold what the loader needs."""


def check_edf_header(path: str | Path) -> dict:
    """Parse the fixed EDF/BDF header and check that the file holds every data record it declares.

    Parameters
    ----------
    path : str | Path
        An ``.edf``/``.bdf`` file.

    Returns
    -------
    dict
        ``n_signals``, ``n_records``, ``record_s``, ``header_bytes``, ``labels``, ``samples_per_record``.

    Raises
    ------
    DataFileError
        When the header is not EDF (corrupt file) or the file is shorter than the header says
        (truncated file).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        fixed = f.read(256)
        if len(fixed) < 256:
            raise DataFileError(f"{path}: not a valid EDF file: expected a 256-byte header, the file has "
                                f"{size} bytes (truncated or not EDF).")
        bdf = fixed[:1] == b"\xff"
        if not (bdf or fixed[:8] == b"0       "):
            raise DataFileError(f"{path}: not a valid EDF file: expected the version field '0       ' "
                                f"at byte 0, got {fixed[:8]!r} (corrupt file or another format).")
        try:
            header_bytes = int(fixed[184:192].decode("ascii").strip())
            n_records = int(fixed[236:244].decode("ascii").strip())
            record_s = float(fixed[244:252].decode("ascii").strip())
            n_signals = int(fixed[252:256].decode("ascii").strip())
        except (UnicodeDecodeError, ValueError) as e:
            raise DataFileError(f"{path}: corrupt EDF header: the header size, record count, record "
                                f"duration and signal count must be ASCII numbers ({e}).") from None
        if n_signals < 1 or header_bytes != 256 * (n_signals + 1):
            raise DataFileError(f"{path}: corrupt EDF header: {n_signals} signals imply a header of "
                                f"{256 * (n_signals + 1)} bytes, the header field says {header_bytes}.")
        rest = f.read(256 * n_signals)
    if len(rest) < 256 * n_signals:
        raise DataFileError(f"{path}: truncated EDF file: the signal headers need {header_bytes} bytes, "
                            f"the file has {size}.")
    labels = [rest[i * 16:(i + 1) * 16].decode("latin-1").strip() for i in range(n_signals)]
    off = 216 * n_signals
    try:
        spr = [int(rest[off + i * 8:off + (i + 1) * 8].decode("ascii").strip()) for i in range(n_signals)]
    except (UnicodeDecodeError, ValueError) as e:
        raise DataFileError(f"{path}: corrupt EDF header: samples-per-record fields are not "
                            f"integers ({e}).") from None
    if n_records >= 0:
        expected = header_bytes + n_records * sum(spr) * (3 if bdf else 2)
        if size < expected:
            raise DataFileError(
                f"{path}: truncated EDF file: the header declares {n_records} records of "
                f"{record_s:g} s ({expected} bytes in all), the file has {size} bytes "
                f"({(size - header_bytes) / max(1, sum(spr) * 2):.1f} records). Download it again.")
    return {"n_signals": n_signals, "n_records": n_records, "record_s": record_s,
            "header_bytes": header_bytes, "labels": labels, "samples_per_record": spr}


def check_channels(file: str | Path, ch_names: list[str], required: list[str] | tuple[str, ...], *,
                   min_channels: int | None = None) -> None:
    """Raise DataFileError when ``required`` channels are missing or there are too few channels."""
    missing = [c for c in required if c not in ch_names]
    if missing:
        raise DataFileError(f"{file}: missing EEG channel(s) {missing}: expected the {len(required)} "
                            f"channels {list(required)}, the file has {len(ch_names)}: {ch_names}.")
    if min_channels is not None and len(ch_names) < min_channels:
        raise DataFileError(f"{file}: too few EEG channels: expected at least {min_channels}, "
                            f"got {len(ch_names)} ({ch_names}).")


def check_sfreq(file: str | Path, sfreq_hz: float, h_freq_hz: float) -> None:
    """The recording must resolve the band kept: its Nyquist frequency must exceed ``h_freq_hz``."""
    if sfreq_hz / 2 <= h_freq_hz:
        raise DataFileError(
            f"{file}: sampling rate {sfreq_hz:g} Hz is too low: the band-pass keeps up to "
            f"data.h_freq_hz={h_freq_hz:g} Hz, which needs more than {2 * h_freq_hz:g} Hz "
            f"(Nyquist). Lower data.h_freq_hz below {sfreq_hz / 2:g} Hz or exclude this recording.")


def check_signals(file: str | Path, data: np.ndarray, ch_names: list[str], *,
                  flat_v: float = 1e-10) -> None:
    """Raise DataFileError on channels holding NaN/inf or flat (constant) signals.

    Parameters
    ----------
    data : ndarray, shape (n_chans, n_times)
        Signals in volts.
    flat_v : float
        A channel whose standard deviation is below this (volts) is flat.
    """
    bad = ~np.isfinite(data).all(axis=1)
    if bad.any():
        names = [c for c, b in zip(ch_names, bad) if b]
        raise DataFileError(f"{file}: channel(s) {names} hold NaN or infinite values; expected finite "
                            f"EEG. Repair the recording or exclude it.")
    flat = np.nanstd(data, axis=1) < flat_v
    if flat.any():
        names = [c for c, b in zip(ch_names, flat) if b]
        raise DataFileError(f"{file}: flat channel(s) {names} (standard deviation < {flat_v:g} V); "
                            f"expected a varying EEG signal on every channel (disconnected electrode?).")
