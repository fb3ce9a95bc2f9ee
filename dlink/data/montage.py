"""Channel names: the montages the loaders produce and the normalisation to standard 10-20 names.

Teachers map channels by their 10-20 name (LaBraM's position embedding), so every loader returns
standard spellings ('C3', 'Cz', 'FC1', 'FPz' -> 'Fpz', ...). :func:`normalize_ch_name` removes the
padding dots of PhysioNet EDF labels ('C3..', 'Fc1.'), the 'EEG ' prefix and '-REF'/'-LE'
suffixes of TUH and fixes capitalisation against MNE's ``standard_1005`` list.
"""

from __future__ import annotations

import re

from dlink._check import did_you_mean

#: The 22 EEG channels of BCI Competition IV 2a, in the order of its GDF files.
BCI2A_CH_NAMES: tuple[str, ...] = (
    "Fz", "FC3", "FC1", "FCz", "FC2", "FC4",
    "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
    "CP3", "CP1", "CPz", "CP2", "CP4",
    "P1", "Pz", "P2", "POz",
)

#: Flat scalp coordinates of :data:`BCI2A_CH_NAMES` on the 10-20 grid (x: left -> right,
#: y: posterior -> anterior; one unit = one 10 % electrode step, about 3.5 cm on an adult head).
BCI2A_GRID_XY: dict[str, tuple[float, float]] = {
    "Fz": (0, 2),
    "FC3": (-2, 1), "FC1": (-1, 1), "FCz": (0, 1), "FC2": (1, 1), "FC4": (2, 1),
    "C5": (-3, 0), "C3": (-2, 0), "C1": (-1, 0), "Cz": (0, 0), "C2": (1, 0), "C4": (2, 0),
    "C6": (3, 0),
    "CP3": (-2, -1), "CP1": (-1, -1), "CPz": (0, -1), "CP2": (1, -1), "CP4": (2, -1),
    "P1": (-1, -2), "Pz": (0, -2), "P2": (1, -2),
    "POz": (0, -3),
}

# Standard spellings of the names that occur in the supported datasets, keyed by upper case.
# The full 10-05 list is taken from MNE when it is importable (see `_standard_names`).
_EXTRA_STANDARD = (
    "Fp1", "Fpz", "Fp2", "AF7", "AF3", "AFz", "AF4", "AF8", "F7", "F5", "F3", "F1", "Fz", "F2",
    "F4", "F6", "F8", "FT7", "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "FT8", "T7", "C5",
    "C3", "C1", "Cz", "C2", "C4", "C6", "T8", "TP7", "CP5", "CP3", "CP1", "CPz", "CP2", "CP4",
    "CP6", "TP8", "P7", "P5", "P3", "P1", "Pz", "P2", "P4", "P6", "P8", "PO7", "PO3", "POz",
    "PO4", "PO8", "O1", "Oz", "O2", "Iz", "T3", "T4", "T5", "T6", "A1", "A2", "T9", "T10",
    "M1", "M2",
)
_STANDARD: dict[str, str] | None = None


def _standard_names() -> dict[str, str]:
    global _STANDARD
    if _STANDARD is None:
        names = list(_EXTRA_STANDARD)
        try:
            import mne

            names += mne.channels.make_standard_montage("standard_1005").ch_names
        except Exception:  # pragma: no cover - mne is a pinned dependency
            pass
        _STANDARD = {n.upper(): n for n in names}
    return _STANDARD


def normalize_ch_name(name: str) -> str:
    """Return the standard 10-20 spelling of an EEG channel label.

    Parameters
    ----------
    name : str
        A label as stored in a file, e.g. ``'C3..'``, ``'Fc1.'``, ``'EEG FP1-REF'``.

    Returns
    -------
    str
        ``'C3'``, ``'FC1'``, ``'Fp1'``; a label that is not a 10-05 name is returned stripped.

    Examples
    --------
    >>> normalize_ch_name('Fcz.'), normalize_ch_name('EEG T3-REF'), normalize_ch_name('Afz.')
    ('FCz', 'T3', 'AFz')
    """
    clean = name.strip().strip(".").strip()
    clean = re.sub(r"^(EEG|EOG|ECG|EMG)\s+", "", clean, flags=re.IGNORECASE)
    clean = re.sub(r"-(REF|LE|AR|AVG)$", "", clean, flags=re.IGNORECASE).strip()
    return _standard_names().get(clean.upper(), clean)


def is_standard_name(name: str) -> bool:
    """True when ``name`` (after :func:`normalize_ch_name`) is a 10-05 electrode name."""
    return normalize_ch_name(name).upper() in _standard_names()


def check_standard_names(names: list[str], *, what: str) -> None:
    """Raise ValueError when ``names`` repeat or hold a name that is not a 10-05 electrode.

    Examples
    --------
    >>> check_standard_names(["C3", "Cz", "C4"], what="data.channels")
    >>> check_standard_names(["C3", "EXG1"], what="data.channels")
    Traceback (most recent call last):
    ...
    ValueError: data.channels: 'EXG1' is not a standard 10-05 electrode name ...
    """
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{what} must be a list of channel names, got {names!r}.")
    std = [normalize_ch_name(n) for n in names]
    dup = sorted({n for n in std if std.count(n) > 1})
    if dup:
        raise ValueError(f"{what}: channel(s) {dup} are listed more than once.")
    for n in names:
        if not is_standard_name(n):
            raise ValueError(
                f"{what}: {n!r} is not a standard 10-05 electrode name (the teachers place channels "
                f"by name).{did_you_mean(n, _standard_names().values())} Name each channel by its "
                "10-20 site, e.g. map a headset's own label with data.rename_channels: {EXG1: C3}.")


#: The 16-derivation bipolar "double banana" montage that BIOT and CBraMod use for TUAB/TUEV
#: (left/right temporal and parasagittal chains), as (anode, cathode) names in TUH's old
#: temporal nomenclature (T3/T4/T5/T6 = T7/T8/P7/P8).
TCP_BIPOLAR: tuple[tuple[str, str], ...] = (
    ("Fp1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("Fp2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
)

#: The 23 referential channels of TUH EDF files that LaBraM's TUAB/TUEV pipelines keep, in their
#: order (19 10-20 scalp electrodes, both ear electrodes A1/A2, the anterior temporal T1/T2).
TUH_REFERENTIAL: tuple[str, ...] = (
    "Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "Fz", "Cz", "Pz", "T1", "T2",
)


# ----------------------------------------------------------------------------- board channel sets


def channel_index(ch_names, channels, *, source: str) -> list[int]:
    """Positions of ``channels`` in ``ch_names``, in the order of ``channels``.

    Both lists are compared by their standard spelling (:func:`normalize_ch_name`), so 'Fc3.' in a
    file matches 'FC3' in a config.

    Parameters
    ----------
    ch_names : list of str
        The channels a recording (or a set of windows) holds.
    channels : list of str
        The channels to keep, in the order the model (and the board) takes them.
    source : str
        The recording they come from; named in the error.

    Raises
    ------
    DataFileError
        When a channel of ``channels`` is not in ``ch_names`` (names it and ``source``).

    Examples
    --------
    >>> channel_index(['Fc3.', 'C3..', 'Cz..'], ['Cz', 'FC3'], source='S001R04.edf')
    [2, 0]
    """
    from ._checks import DataFileError

    have = {}
    for i, c in enumerate(ch_names):
        have.setdefault(normalize_ch_name(c), i)
    wanted = [normalize_ch_name(c) for c in channels]
    missing = [c for c in wanted if c not in have]
    if missing:
        raise DataFileError(f"{source}: channel(s) {missing} of data.channels are not in the recording; "
                            f"it has {len(ch_names)} channels: {list(ch_names)}. Remove them from "
                            f"data.channels or pick a recording that has them.")
    return [have[c] for c in wanted]


def pick_windows(windows, channels, *, source: str):
    """``windows`` (an :class:`~dlink.data.windows.EEGWindows`) reduced to ``channels``, in that order.

    ``channels=None`` returns ``windows`` unchanged. Any loader can call it per recording (then a
    missing channel names the file) and :func:`dlink.data.load_dataset` calls it again on every
    split (a no-op when the loader already picked).

    Examples
    --------
    >>> from dlink.data.windows import EEGWindows
    >>> w = EEGWindows.empty(['C3', 'Cz', 'C4'], 200.0, 400, ['left', 'right'])
    >>> pick_windows(w, ['C4', 'C3'], source='demo').ch_names
    ['C4', 'C3']
    """
    if channels is None:
        return windows
    index = channel_index(windows.ch_names, channels, source=source)
    if index == list(range(windows.n_chans)):
        return windows
    return windows.pick_channels(index, [normalize_ch_name(c) for c in channels])
