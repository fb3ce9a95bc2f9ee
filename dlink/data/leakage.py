"""Windows shared between splits: a test window that the model also trained on is a leak.

Copies of one recording listed twice (under two subjects, or in two splits), overlapping
globs, or a split that reuses files all put the same windows on both sides; the scores then
look better than they are. Every window is hashed (BLAKE2b of its float32 bytes, after the
preprocessing: identical files give identical windows), and the hashes of the test split are
compared with those of train, val and pool; val is compared with train and pool.

A test window found elsewhere is refused (:class:`SharedWindowsError`) unless
``data.allow_shared_windows: true``; then, and for val, the count is a note.
"""

from __future__ import annotations

import hashlib

import numpy as np

#: (split, the splits it must not share windows with, refused?)
PAIRS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("test", ("train", "val", "pool"), True),
    ("val", ("train", "pool"), False),
)


class SharedWindowsError(ValueError):
    """Test windows also occur in another split (a train/test leak)."""


def window_hashes(X: np.ndarray) -> list[bytes]:
    """A 16-byte digest of each window's float32 bytes.

    Examples
    --------
    >>> x = np.zeros((3, 2, 4), np.float32); x[1] += 1
    >>> h = window_hashes(x); (h[0] == h[2], h[0] == h[1])
    (True, False)
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    return [hashlib.blake2b(X[i].tobytes(), digest_size=16).digest() for i in range(len(X))]


def shared_windows(splits: dict) -> dict[str, int]:
    """Counts of windows of one split that also occur in another (keys ``"test&train"``, ...).

    Also ``"<split> repeated"``: windows that occur more than once within one split.
    """
    hashes = {name: window_hashes(w.X) for name, w in splits.items() if len(w)}
    sets = {name: set(h) for name, h in hashes.items()}
    out: dict[str, int] = {}
    for split, others, _ in PAIRS:
        for other in others:
            if split in hashes and other in sets:
                n = sum(h in sets[other] for h in hashes[split])
                if n:
                    out[f"{split}&{other}"] = n
    for name, h in hashes.items():
        if len(h) != len(sets[name]):
            out[f"{name} repeated"] = len(h) - len(sets[name])
    return out


def check_shared_windows(splits: dict, *, allow: bool = False, source: str = "") -> list[str]:
    """Refuse test windows that occur in train, val or pool; return notes on other sharing.

    Parameters
    ----------
    splits : dict of str to EEGWindows
    allow : bool
        ``data.allow_shared_windows``: report a test leak as a note instead of refusing it.
    source : str
        Named in the message (e.g. the dataset).

    Raises
    ------
    SharedWindowsError
        Test windows also occur in train, val or pool and ``allow`` is False.
    """
    counts = shared_windows(splits)
    notes = []
    refused = []
    for key, n in counts.items():
        split, _, other = key.partition("&")
        total = len(splits[split.split()[0]])
        if other and split == "test" and not allow:
            refused.append(f"{n} of the {total} test windows also occur in {other}")
        elif other:
            notes.append(f"shared windows: {n} of the {total} {split} windows also occur in {other}"
                         + (" (allowed by data.allow_shared_windows)" if split == "test" else ""))
        else:
            notes.append(f"shared windows: {n} {split.split()[0]} window(s) occur more than once in "
                         "that split")
    if refused:
        raise SharedWindowsError(
            f"{source + ': ' if source else ''}train/test leak: " + "; ".join(refused) +
            " (identical windows, found by hashing). The test scores would measure memory, not "
            "generalisation. Check data.recordings / data.splits for files listed twice or copies "
            "of one recording under two names; set data.allow_shared_windows: true only if this "
            "is intended.")
    return notes
