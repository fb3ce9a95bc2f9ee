"""Channel names: LaBraM's 10-20 list and the mapping of a dataset's names onto it.

LaBraM learns one position-embedding row per electrode name. Row 0 belongs to the [cls] token;
the electrode ``name`` uses row ``LABRAM_CHANNELS.index(name) + 1``. A dataset's names are
normalised (upper case, no ``EEG``/``-REF`` decorations, no dots) and then looked up; a name
that is not in the list falls back to the other naming of the same site (old/new 10-20 names,
e.g. T3/T7) when that one is; anything else is an error that names it.
"""

from __future__ import annotations

import re

from dlink._check import did_you_mean

#: LaBraM's electrode list (utils.standard_1020 of the official code), in its order: the order
#: fixes the position-embedding rows, so it must not change. Upper case (the official list has
#: a few mixed-case entries such as 'FTT9h'; names are compared upper-cased).
LABRAM_CHANNELS: tuple[str, ...] = (
    "FP1", "FPZ", "FP2",
    "AF9", "AF7", "AF5", "AF3", "AF1", "AFZ", "AF2", "AF4", "AF6", "AF8", "AF10",
    "F9", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "F10",
    "FT9", "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "FT10",
    "T9", "T7", "C5", "C3", "C1", "CZ", "C2", "C4", "C6", "T8", "T10",
    "TP9", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "TP10",
    "P9", "P7", "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "P10",
    "PO9", "PO7", "PO5", "PO3", "PO1", "POZ", "PO2", "PO4", "PO6", "PO8", "PO10",
    "O1", "OZ", "O2", "O9", "CB1", "CB2",
    "IZ", "O10", "T3", "T5", "T4", "T6", "M1", "M2", "A1", "A2",
    "CFC1", "CFC2", "CFC3", "CFC4", "CFC5", "CFC6", "CFC7", "CFC8",
    "CCP1", "CCP2", "CCP3", "CCP4", "CCP5", "CCP6", "CCP7", "CCP8",
    "T1", "T2", "FTT9H", "TTP7H", "TPP9H", "FTT10H", "TPP8H", "TPP10H",
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP2-F8", "F8-T8", "T8-P8", "P8-O2",
    "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
)

#: The same scalp site under the old (T3/T4/T5/T6) and new (T7/T8/P7/P8) 10-20 names, and the
#: mastoid/ear-lobe pairs. Used only when a name itself is not in the list.
ALIASES: dict[str, str] = {
    "T3": "T7", "T7": "T3", "T4": "T8", "T8": "T4",
    "T5": "P7", "P7": "T5", "T6": "P8", "P8": "T6",
    "M1": "A1", "A1": "M1", "M2": "A2", "A2": "M2",
}

_PREFIX = re.compile(r"^(EEG)[\s_-]+", re.IGNORECASE)
_SUFFIX = re.compile(r"[-_\s]+(REF|LE|AR|AVG|M1|M2|A1|A2)$", re.IGNORECASE)


def normalize_channel_name(name: str) -> str:
    """Upper-case ``name`` and strip recording decorations.

    ``'EEG Fp1-REF'`` -> ``'FP1'``, ``'Fc5.'`` (PhysioNet) -> ``'FC5'``, ``'EEG-Cz'`` -> ``'CZ'``.
    Bipolar names such as ``'FP1-F7'`` are kept.

    >>> normalize_channel_name("EEG Fp1-REF"), normalize_channel_name("Fc5.")
    ('FP1', 'FC5')
    """
    if not isinstance(name, str):
        raise TypeError(f"A channel name must be a str, got {type(name).__name__} {name!r}.")
    n = name.strip().replace(".", "")
    n = _PREFIX.sub("", n)
    n = _SUFFIX.sub("", n)
    return n.strip().upper()


def labram_input_chans(ch_names: list[str] | tuple[str, ...], *, n_rows: int = 128) -> list[int]:
    """Return LaBraM's ``input_chans``: position-embedding rows, 0 ([cls]) then one per channel.

    Parameters
    ----------
    ch_names : list of str
        The dataset's channel names, in the order of the data's channel axis.
    n_rows : int
        Number of electrode rows of the position embedding (128 in LaBraM-Base).

    Returns
    -------
    list of int
        ``len(ch_names) + 1`` row indices.

    Raises
    ------
    ValueError
        A name that maps to no row (with the closest known name), or a duplicated channel.

    >>> labram_input_chans(["Fz", "C3", "T3"])
    [0, 20, 40, 89]
    """
    if isinstance(ch_names, str) or not hasattr(ch_names, "__len__") or len(ch_names) == 0:
        raise ValueError(f"ch_names must be a non-empty list of channel names, got {ch_names!r}.")
    index = {n: i for i, n in enumerate(LABRAM_CHANNELS)}
    rows, seen = [0], {}
    for name in ch_names:
        n = normalize_channel_name(name)
        i = index.get(n)
        if i is None and n in ALIASES:
            i = index.get(ALIASES[n])
        if i is None or i + 1 > n_rows:
            why = ("is not one of LaBraM's 10-20 names" if i is None
                   else f"maps to position row {i + 1}, beyond the {n_rows} rows of pos_embed")
            raise ValueError(
                f"Channel {name!r} (normalised {n!r}) {why}.{did_you_mean(n, LABRAM_CHANNELS)} "
                f"Rename it to a standard 10-20 name (e.g. with mne's rename_channels) or drop it."
            )
        if i + 1 in seen:
            raise ValueError(f"Channels {seen[i + 1]!r} and {name!r} map to the same LaBraM "
                             f"position ({LABRAM_CHANNELS[i]!r}); keep only one of them.")
        seen[i + 1] = name
        rows.append(i + 1)
    return rows
