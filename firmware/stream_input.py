"""A recording as the board's ADC would deliver it: checked against the run, as integer frames.

:func:`recording_frames` reads a recording with MNE (EDF/BDF/GDF), refuses one whose sampling rate,
channel names or units do not match the run's front end (naming what differs), picks the board's
channels by name in the front end's order (the recording may hold more), and converts microvolts to
ADC counts with the configured LSB (``firmware.stream.adc_lsb_uv``), saturating at the converter's
range. :func:`write_frames` writes them as the app's frames file; :func:`excerpt_source` as C for
an excerpt embedded in flash (boards without a host). The layout of both is in
``firmware/app/stream_source.h``.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_path

logger = logging.getLogger(__name__)

MAGIC = b"DLKSTRM1"
HEADER_BYTES = 32
#: Physical units accepted as a voltage, and their size in microvolts.
VOLTAGE_UNITS_UV = {"nv": 1e-3, "uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6}
#: Refuse a recording when more than this fraction of its samples saturate the converter.
MAX_CLIPPED_FRACTION = 0.01


class RecordingMismatchError(ValueError):
    """The recording does not match the run (rate, channels or units); the message names both."""


def _channel_units(raw) -> dict[str, str]:
    """The physical unit of each (original) channel name, as the file states it."""
    units = dict(getattr(raw, "_orig_units", None) or {})
    if units:
        return {str(k): str(v) for k, v in units.items()}
    from mne.io.constants import FIFF

    return {ch["ch_name"]: ("V" if ch["unit"] == FIFF.FIFF_UNIT_V else f"FIFF unit {ch['unit']}")
            for ch in raw.info["chs"]}


def recording_frames(recording: str | Path, spec, *, max_seconds: float | None = None
                     ) -> tuple[np.ndarray, dict[str, Any]]:
    """ADC counts of ``recording`` for the front end ``spec`` (a ``FrontEndSpec``).

    Parameters
    ----------
    recording : str | Path
        An EDF/BDF/GDF file.
    spec : dlink.export.codegen.frontend.FrontEndSpec
        The run's front end (its ADC rate, channel names, ADC type and LSB).
    max_seconds : float | None
        Keep only the first seconds.

    Returns
    -------
    counts : ndarray, shape (n_frames, n_chans)
        int16 or int32 counts, channels in ``spec.ch_names`` order.
    info : dict
        ``file``, ``sfreq_hz``, ``n_frames``, ``duration_s``, ``ch_names``, ``recording_n_chans``,
        ``units``, ``clipped_samples``.

    Raises
    ------
    RecordingMismatchError
        Rate, channel names or units differ from the run's, or the signal saturates the converter.
    """
    from dlink.data.montage import normalize_ch_name
    from dlink.data.preprocess import read_raw

    recording = Path(recording)
    raw = read_raw(recording, what="recording to stream",
                   fix="Pass an EDF/BDF/GDF recording made with the board's channels.")
    units_by_orig = _channel_units(raw)
    orig_names = list(raw.ch_names)
    sfreq = float(raw.info["sfreq"])
    want = spec.design.input_sfreq_hz
    if abs(sfreq - want) > 1e-6:
        raise RecordingMismatchError(
            f"{recording}: sampling rate {sfreq:g} Hz, but the run's front end takes {want:g} Hz "
            f"(data.causal.input_sfreq_hz, the board's ADC rate). The board cannot resample its ADC: "
            f"record at {want:g} Hz, or train a run with data.causal.input_sfreq_hz: {sfreq:g}.")
    by_name: dict[str, str] = {}
    for orig in orig_names:
        by_name.setdefault(normalize_ch_name(orig), orig)
    missing = [c for c in spec.ch_names if c not in by_name]
    if missing:
        raise RecordingMismatchError(
            f"{recording}: channel(s) {missing} of the run (its board records {list(spec.ch_names)}) "
            f"are not in the recording, which has {len(orig_names)} channels: "
            f"{sorted(by_name)}. Channel names are compared after 10-20 normalisation "
            f"('C3..' is C3).")
    picked = [by_name[c] for c in spec.ch_names]
    scale_uv = []
    bad_units = {}
    for c, orig in zip(spec.ch_names, picked):
        unit = units_by_orig.get(orig, "")
        factor = VOLTAGE_UNITS_UV.get(unit.strip().lower())
        if factor is None:
            bad_units[c] = unit
        scale_uv.append(factor)
    if bad_units:
        raise RecordingMismatchError(
            f"{recording}: channel(s) {bad_units} are not in a voltage unit (the file's physical "
            f"dimension); the run's front end takes EEG in microvolts through an ADC of "
            f"{spec.adc_lsb_uv:g} uV per count. Expected one of uV, mV, V, nV.")
    n_keep = raw.n_times if max_seconds is None else min(raw.n_times, int(round(max_seconds * sfreq)))
    # MNE returns volts whatever the file's unit: to microvolts, then to counts
    uv = raw.get_data(picks=picked, stop=n_keep) * 1e6
    lo, hi = spec.adc_limits()
    counts = np.round(uv / spec.adc_lsb_uv)
    clipped = int(np.count_nonzero((counts < lo) | (counts > hi)))
    if counts.size and clipped > MAX_CLIPPED_FRACTION * counts.size:
        raise RecordingMismatchError(
            f"{recording}: {clipped} of {counts.size} samples ({clipped / counts.size:.1%}) exceed the "
            f"ADC's range ({lo * spec.adc_lsb_uv / 1e3:g} to {hi * spec.adc_lsb_uv / 1e3:g} mV at "
            f"firmware.stream.adc_lsb_uv={spec.adc_lsb_uv:g}); peak {np.abs(uv).max():.4g} uV. Check the "
            f"recording's units and the configured ADC (firmware.stream.adc, adc_lsb_uv).")
    if clipped:
        logger.warning("%s: %d samples saturate the ADC range and are clipped", recording, clipped)
    counts = np.clip(counts, lo, hi).T.astype(spec.adc_dtype)
    info = {"file": str(recording), "sfreq_hz": sfreq, "n_frames": int(counts.shape[0]),
            "duration_s": counts.shape[0] / sfreq, "ch_names": list(spec.ch_names),
            "recording_n_chans": len(orig_names), "recording_ch_names": orig_names,
            "units": {c: units_by_orig.get(o, "") for c, o in zip(spec.ch_names, picked)},
            "clipped_samples": clipped, "recording_duration_s": raw.n_times / sfreq}
    return np.ascontiguousarray(counts), info


def frames_header(spec, n_frames: int) -> bytes:
    """The 32-byte header of a frames file or excerpt (see ``stream_source.h``)."""
    sample_bytes = spec.adc_dtype.itemsize
    return MAGIC + struct.pack("<IIIIII", spec.n_chans, sample_bytes, int(n_frames),
                               int(round(spec.design.input_sfreq_hz * 1000)), 0, 0)


def write_frames(path: str | Path, counts: np.ndarray, spec) -> Path:
    """Write ``counts`` (n_frames, n_chans) as the app's frames file (atomically)."""
    counts = np.ascontiguousarray(counts, spec.adc_dtype)
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "wb") as f:
            f.write(frames_header(spec, len(counts)))
            f.write(counts.tobytes())
    return Path(path)


def excerpt_source(counts: np.ndarray, spec, *, banner: str = "") -> str:
    """C source embedding ``counts`` (header + frames) as ``dlk_stream_excerpt``."""
    data = frames_header(spec, len(counts)) + np.ascontiguousarray(counts, spec.adc_dtype).tobytes()
    rows = [", ".join(f"0x{b:02x}" for b in data[i:i + 24]) for i in range(0, len(data), 24)]
    body = ",\n    ".join(rows)
    return (f"/* stream_excerpt.c: GENERATED by dlink. DO NOT EDIT. {banner}\n"
            f" * {len(counts)} ADC frames of {spec.n_chans} channels ({spec.adc_type}), header first. */\n"
            "#include <stdint.h>\n\n"
            f"const uint32_t dlk_stream_excerpt_bytes = {len(data)}u;\n"
            f"const uint8_t dlk_stream_excerpt[{len(data)}] __attribute__((aligned(4))) = {{\n"
            f"    {body}\n}};\n")
