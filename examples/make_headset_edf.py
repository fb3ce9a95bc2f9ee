"""Make an 8-channel, 250 Hz EDF from a 64-channel PhysioNet EEGMMIDB run, as an ADS1299 headset
with FC3, FC4, C3, Cz, C4, CP3, CP4, Pz would record it (a stand-in for your own calibration
recording; see docs/own-headset.md).

    python examples/make_headset_edf.py ../shared/data/MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R04.edf \
        headset/S001R04_8ch.edf

The cue annotations (T0 rest, T1, T2) are kept; the signals are resampled from 160 Hz to 250 Hz
(MNE's FFT resampling) and written with MNE's EDF export (edfio).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HEADSET = ["FC3", "FC4", "C3", "Cz", "C4", "CP3", "CP4", "Pz"]


def make_headset_edf(src: str | Path, dst: str | Path, *, channels=HEADSET, sfreq_hz: float = 250.0) -> Path:
    """Pick ``channels`` (10-20 names) from ``src``, resample to ``sfreq_hz``, write EDF ``dst``."""
    import mne

    from dlink.data.preprocess import normalize_channels, read_raw

    raw = read_raw(src)
    normalize_channels(raw, src)  # PhysioNet labels ('Fc3.') -> 10-20 names ('FC3')
    raw.pick(list(channels))
    raw.resample(sfreq_hz, verbose="error")
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(dst, raw, fmt="edf", overwrite=True, verbose="error")
    return dst


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="a 64-channel EEGMMIDB EDF (e.g. S001R04.edf)")
    p.add_argument("dst", help="the 8-channel EDF to write")
    p.add_argument("--sfreq", type=float, default=250.0, help="sampling rate of the output (default 250)")
    a = p.parse_args()
    out = make_headset_edf(a.src, a.dst, sfreq_hz=a.sfreq)
    print(f"wrote {out}: {len(HEADSET)} channels {HEADSET} at {a.sfreq:g} Hz")


if __name__ == "__main__":
    main()
