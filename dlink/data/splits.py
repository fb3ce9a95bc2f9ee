"""Splits of a dataset's windows: cross-subject (subject ranges) and within-subject (by run, by
session, or stratified k-fold over trials), as one function over windows and their metadata.

The ``data.splits`` mapping of a config says which split each window goes to. Four forms:

.. code-block:: yaml

    splits: {train: [1, 70], val: [71, 89], test: [90, 109]}    # cross-subject: subject ranges
    splits: {by: run, train: [4, 8], test: [12], pool: [3, 7, 11]}
    splits: {by: session, train: [T], test: [E]}                   # BCI IV 2a sessions
    splits: {by: kfold, folds: 5, fold: 0, seed: 0, pool: {runs: [3, 7, 11]}}

- ``by: run`` / ``by: session``: each split lists run numbers (session names). Without a ``val``
  entry, val is carved out of ``train``: ``val_fraction`` (default 0.2) of the trials of every
  (subject, class), drawn with ``seed``.
- ``by: kfold``: the trials that are not in ``pool`` are cut into ``folds`` stratified folds
  (scikit-learn's ``StratifiedKFold``, shuffled with ``seed``, stratified by subject and class);
  fold ``fold`` is ``test``, the next fold (``fold + 1`` modulo ``folds``) is ``val`` and the
  rest is ``train``; with ``val_fraction`` set, val is carved out of the training part instead.
- ``pool`` (the teacher's extra windows; the student sees them unlabelled) may be given in any
  form, also as an explicit selector such as ``{runs: [3, 7, 11]}`` or ``{subjects: [2, 20]}``.

Splits are over *trials*: windows cut from one trial (same subject, session, run and ``trial``
index) always land in the same split. :func:`split_windows` only reads the windows' metadata, so
any loader that fills ``subject``, ``run``, ``session`` and ``trial`` gets every form.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np

from dlink._check import did_you_mean

from .windows import EEGWindows

logger = logging.getLogger(__name__)

MODES = ("subject", "run", "session", "kfold")
SPLIT_NAMES = ("train", "val", "test", "pool")
SELECTOR_KEYS = ("subjects", "runs", "sessions")
OPTION_KEYS = ("by", "folds", "fold", "seed", "val_fraction")
#: Share of the training trials carved out for ``val`` when no ``val`` entry is given.
DEFAULT_VAL_FRACTION = 0.2


@dataclass(frozen=True)
class Selector:
    """Which windows a split takes: a subject range, run numbers or session names (ANDed)."""

    subjects: tuple[int, int] | None = None
    runs: tuple[int, ...] | None = None
    sessions: tuple[str, ...] | None = None

    def mask(self, w: EEGWindows) -> np.ndarray:
        m = np.ones(len(w), bool)
        if self.subjects is not None:
            m &= (w.subject >= self.subjects[0]) & (w.subject <= self.subjects[1])
        if self.runs is not None:
            m &= np.isin(w.run, list(self.runs))
        if self.sessions is not None:
            m &= np.isin(w.session, list(self.sessions))
        return m

    def describe(self) -> str:
        parts = []
        if self.subjects is not None:
            parts.append(f"subjects {self.subjects[0]}-{self.subjects[1]}")
        if self.runs is not None:
            parts.append(f"runs {list(self.runs)}")
        if self.sessions is not None:
            parts.append(f"sessions {list(self.sessions)}")
        return ", ".join(parts) or "all windows"


@dataclass(frozen=True)
class SplitSpec:
    """A parsed ``data.splits`` mapping (see the module doc).

    Examples
    --------
    >>> spec = SplitSpec.from_config({"by": "kfold", "folds": 5, "fold": 2})
    >>> spec.by, spec.within, spec.val_fold
    ('kfold', True, 3)
    """

    by: str = "subject"
    parts: dict = field(default_factory=dict)  #: split name -> Selector
    folds: int = 5
    fold: int = 0
    seed: int = 0
    val_fraction: float | None = None

    @property
    def within(self) -> bool:
        """Within-subject (run, session or k-fold) rather than by subject ranges."""
        return self.by != "subject"

    @property
    def val_fold(self) -> int | None:
        """The fold used as ``val`` in k-fold mode (None when val is carved from train)."""
        if self.by != "kfold" or self.val_fraction is not None:
            return None
        return (self.fold + 1) % self.folds

    def named_runs(self) -> set[int]:
        """Every run number named by a split (the loaders read these too)."""
        return {r for s in self.parts.values() if s.runs for r in s.runs}

    def named_sessions(self) -> set[str]:
        return {x for s in self.parts.values() if s.sessions for x in s.sessions}

    @classmethod
    def from_config(cls, splits: dict | None, *, where: str = "data.splits") -> SplitSpec:
        """Parse and check a ``data.splits`` mapping; errors name the key and the expected form."""
        splits = dict(splits or {})
        by = splits.get("by", "subject")
        if by not in MODES:
            raise ValueError(f"{where}.by = {by!r} is not a split mode; choose one of "
                             f"{', '.join(map(repr, MODES))}.{did_you_mean(str(by), MODES)}")
        for key in splits:
            if key not in SPLIT_NAMES + OPTION_KEYS:
                raise ValueError(f"{where}: unknown split {key!r}; allowed keys: "
                                 f"{', '.join(SPLIT_NAMES + OPTION_KEYS)}."
                                 f"{did_you_mean(str(key), SPLIT_NAMES + OPTION_KEYS)}")
        if by == "subject":
            for key in ("folds", "fold", "val_fraction", "seed"):
                if key in splits:
                    raise ValueError(f"{where}.{key} needs a within-subject mode (by: run, session or "
                                     f"kfold); subject ranges split by subject only.")
        folds, fold, seed = splits.get("folds", 5), splits.get("fold", 0), splits.get("seed", 0)
        for key, value in (("folds", folds), ("fold", fold), ("seed", seed)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{where}.{key} must be an integer, got {value!r}.")
        if by == "kfold":
            if folds < 2:
                raise ValueError(f"{where}.folds must be >= 2, got {folds!r}.")
            if not 0 <= fold < folds:
                raise ValueError(f"{where}.fold must be in [0, {folds - 1}] for folds={folds}, got "
                                 f"{fold!r}.")
            extra = [k for k in ("train", "val", "test") if k in splits]
            if extra:
                raise ValueError(f"{where}: by: kfold makes train, val and test from the folds; remove "
                                 f"{extra} (only 'pool' may be given).")
        elif "folds" in splits or "fold" in splits:
            raise ValueError(f"{where}.folds and .fold need by: kfold (got by: {by}).")
        val_fraction = splits.get("val_fraction")
        if val_fraction is not None:
            if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) \
                    or not 0.0 < float(val_fraction) < 1.0:
                raise ValueError(f"{where}.val_fraction must be a number in (0, 1), got {val_fraction!r}.")
            if by in ("run", "session") and "val" in splits:
                raise ValueError(f"{where}: give either a 'val' entry or val_fraction, not both.")
            val_fraction = float(val_fraction)
        parts = {name: _selector(by, name, splits[name], where=where)
                 for name in SPLIT_NAMES if name in splits}
        if by in ("run", "session"):
            for need in ("train", "test"):
                if need not in parts:
                    raise ValueError(f"{where}: by: {by} needs a {need!r} entry (the {by}s of that "
                                     f"split), e.g. {{by: run, train: [4, 8], test: [12]}}.")
        _check_disjoint(parts, where=where)
        return cls(by=by, parts=parts, folds=folds, fold=fold, seed=seed, val_fraction=val_fraction)


def _selector(by: str, name: str, value, *, where: str) -> Selector:
    key = f"{where}.{name}"
    if isinstance(value, dict):
        unknown = [k for k in value if k not in SELECTOR_KEYS]
        if unknown or not value:
            raise ValueError(f"{key}: a selector has the keys {', '.join(SELECTOR_KEYS)}, got "
                             f"{sorted(value) or 'none'}.")
        return Selector(subjects=_range(value["subjects"], f"{key}.subjects") if "subjects" in value else None,
                        runs=_ints(value["runs"], f"{key}.runs") if "runs" in value else None,
                        sessions=_strs(value["sessions"], f"{key}.sessions") if "sessions" in value else None)
    if by == "subject":
        return Selector(subjects=_range(value, key))
    if by == "run":
        return Selector(runs=_ints(value, key))
    if by == "session":
        return Selector(sessions=_strs(value, key))
    raise ValueError(f"{key}: with by: kfold, pool must be a selector such as {{runs: [3, 7, 11]}} or "
                     f"{{subjects: [2, 20]}}, got {value!r}.")


def _range(value, key: str) -> tuple[int, int]:
    ok = (isinstance(value, (list, tuple)) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value) and value[0] <= value[1])
    if not ok:
        raise ValueError(f"{key} must be an inclusive subject range [first, last] with first <= last, "
                         f"got {value!r}.")
    return int(value[0]), int(value[1])


def _ints(value, key: str) -> tuple[int, ...]:
    ok = (isinstance(value, (list, tuple)) and value
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
    if not ok:
        raise ValueError(f"{key} must be a non-empty list of run numbers, got {value!r}.")
    return tuple(int(v) for v in value)


def _strs(value, key: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, (str, int)) for v in value):
        raise ValueError(f"{key} must be a non-empty list of session names (e.g. [T]), got {value!r}.")
    return tuple(str(v) for v in value)


def _check_disjoint(parts: dict, *, where: str) -> None:
    items = list(parts.items())
    for i, (a, sa) in enumerate(items):
        for b, sb in items[i + 1:]:
            for attr in ("runs", "sessions"):
                x, y = getattr(sa, attr), getattr(sb, attr)
                other = [k for k in ("subjects", "runs", "sessions") if k != attr
                         and (getattr(sa, k) is not None or getattr(sb, k) is not None)]
                if x is not None and y is not None and not other and set(x) & set(y):
                    raise ValueError(f"{where}: {a!r} and {b!r} share {attr} {sorted(set(x) & set(y))}; "
                                     f"splits must be disjoint.")
            if sa.subjects and sb.subjects and sa.runs is None and sb.runs is None \
                    and sa.sessions is None and sb.sessions is None:
                lo, hi = sorted([sa.subjects, sb.subjects])
                if hi[0] <= lo[1]:
                    raise ValueError(f"{where}: the subject ranges of {a!r} {list(sa.subjects)} and {b!r} "
                                     f"{list(sb.subjects)} overlap; splits must be disjoint.")


# ----------------------------------------------------------------------------- trials


def trial_groups(w: EEGWindows) -> tuple[np.ndarray, np.ndarray]:
    """One id per trial and the trial of every window.

    Windows with ``trial == -1`` are trials of their own. Returns ``(trial_of_window, label)``:
    ``trial_of_window`` (n,) indexes ``label`` (one class per trial).

    Raises
    ------
    ValueError
        When the windows of one trial carry different labels.
    """
    n = len(w)
    own = np.where(w.trial < 0, -1 - np.arange(n), w.trial)  # unique negative ids
    keys = np.array([f"{s}|{se}|{r}|{t}" for s, se, r, t in zip(w.subject, w.session, w.run, own)])
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    label = w.y[first]
    if n and np.any(label[inverse] != w.y):
        raise ValueError("The windows of one trial carry different labels; a trial (subject, session, "
                         "run, trial) must have one class.")
    return inverse, label


def _strata(w: EEGWindows, trial_of: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Stratum (subject, class) of every trial, as small integers."""
    subject = np.zeros(len(label), np.int64)
    subject[trial_of] = w.subject
    _, stratum = np.unique(np.stack([subject, label], 1), axis=0, return_inverse=True)
    return stratum.ravel()


def kfold_of_trials(w: EEGWindows, *, folds: int, seed: int) -> np.ndarray:
    """The fold (0 .. folds-1) of every window: stratified k-fold over trials.

    Stratified by subject and class (scikit-learn's ``StratifiedKFold``, shuffled with ``seed``);
    windows of one trial share a fold.

    Examples
    --------
    >>> w = EEGWindows(np.zeros((10, 1, 4)), [0, 1] * 5, [1] * 10, ['Cz'], 200.0, ['a', 'b'])
    >>> np.bincount(kfold_of_trials(w, folds=5, seed=0)).tolist()
    [2, 2, 2, 2, 2]
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    trial_of, label = trial_groups(w)
    n_trials = len(label)
    if n_trials < folds:
        raise ValueError(f"data.splits.folds={folds} needs at least {folds} trials; the windows hold "
                         f"{n_trials}. Use fewer folds.")
    stratum = _strata(w, trial_of, label)
    if np.bincount(stratum).max() < folds:  # (subject, class) groups too small: by class alone
        stratum = label
    smallest = np.bincount(stratum).min()
    if smallest < folds:
        logger.warning("k-fold: the smallest (subject, class) group has %d trials, fewer than "
                       "folds=%d; some folds lack that class", smallest, folds)
    fold_of_trial = np.zeros(n_trials, np.int64)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning above says it once, with the numbers
        if np.bincount(stratum).max() >= folds:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        else:  # no group can be spread over the folds: plain shuffled k-fold
            splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
        for k, (_, test) in enumerate(splitter.split(np.zeros(n_trials), stratum)):
            fold_of_trial[test] = k
    return fold_of_trial[trial_of]


def carve_fraction(w: EEGWindows, fraction: float, *, seed: int) -> np.ndarray:
    """Mask of the windows of ``round(fraction * n)`` trials of every (subject, class) (at least one
    where the group has two or more trials), drawn with ``seed``."""
    trial_of, label = trial_groups(w)
    stratum = _strata(w, trial_of, label)
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(label), bool)
    for s in np.unique(stratum):
        trials = np.flatnonzero(stratum == s)
        k = int(round(fraction * len(trials)))
        if len(trials) >= 2:
            k = min(max(k, 1), len(trials) - 1)
        else:
            k = 0
        chosen[rng.permutation(trials)[:k]] = True
    return chosen[trial_of]


# ----------------------------------------------------------------------------- the split


def split_windows(windows: EEGWindows, spec: SplitSpec | dict, *,
                  pool: EEGWindows | None = None) -> dict[str, EEGWindows]:
    """Assign every window to ``train``, ``val``, ``test`` or ``pool`` by ``spec``.

    Parameters
    ----------
    windows : EEGWindows
        Every labelled window read for the split (with ``subject``, ``run``, ``session``,
        ``trial`` metadata).
    spec : SplitSpec | dict
        A parsed spec or a ``data.splits`` mapping.
    pool : EEGWindows | None
        Windows that go to ``pool`` whatever the spec says (e.g. the synthetic generator's pool
        subjects).

    Returns
    -------
    dict of str to EEGWindows
        ``train``, ``val``, ``test``, ``pool`` (possibly empty). Windows that no split selects
        are left out (logged).

    Examples
    --------
    >>> w = EEGWindows(np.zeros((20, 1, 4)), [0, 1] * 10, [1] * 20, ['Cz'], 200.0, ['a', 'b'])
    >>> s = split_windows(w, {"by": "kfold", "folds": 5, "fold": 0})
    >>> [len(s[k]) for k in ("train", "val", "test", "pool")]
    [12, 4, 4, 0]
    """
    if not isinstance(spec, SplitSpec):
        spec = SplitSpec.from_config(spec)
    n = len(windows)
    in_pool = spec.parts["pool"].mask(windows) if "pool" in spec.parts else np.zeros(n, bool)
    masks: dict[str, np.ndarray] = {"pool": in_pool}
    rest = ~in_pool
    if spec.by == "kfold":
        fold = np.full(n, -1, np.int64)
        if rest.any():
            fold[rest] = kfold_of_trials(windows.subset(rest), folds=spec.folds, seed=spec.seed)
        masks["test"] = rest & (fold == spec.fold)
        if spec.val_fold is not None:
            masks["val"] = rest & (fold == spec.val_fold)
            masks["train"] = rest & ~masks["test"] & ~masks["val"]
        else:
            masks["train"] = rest & ~masks["test"]
    else:
        for name in ("train", "val", "test"):
            if name in spec.parts:
                masks[name] = rest & spec.parts[name].mask(windows)
    for name in ("train", "val", "test"):
        if spec.by == "subject" and name not in masks:  # cross-subject: a split without a range is empty
            masks[name] = np.zeros(n, bool)
    if "val" not in masks:  # within-subject: carved out of train
        train_idx = np.flatnonzero(masks["train"])
        carve = carve_fraction(windows.subset(train_idx), spec.val_fraction or DEFAULT_VAL_FRACTION,
                               seed=spec.seed)
        masks["val"] = np.zeros(n, bool)
        masks["val"][train_idx[carve]] = True
        masks["train"] = masks["train"] & ~masks["val"]
    for a, b in itertools.combinations(SPLIT_NAMES, 2):
        if np.any(masks[a] & masks[b]):
            raise ValueError(f"data.splits: {a!r} and {b!r} share windows; splits must be disjoint.")
    if spec.by in ("run", "session", "subject"):
        for name in ("train", "test"):
            if name in spec.parts and not masks[name].any():
                raise ValueError(
                    f"data.splits.{name} ({spec.parts[name].describe()}) selects no window; the windows "
                    f"hold subjects {np.unique(windows.subject).tolist()}, runs "
                    f"{sorted(set(windows.run.tolist()))}, sessions {sorted(set(windows.session.tolist()))}.")
    used = np.zeros(n, bool)
    for m in masks.values():
        used |= m
    if n and not used.all():
        logger.info("data.splits: %d of %d windows are in no split and left out", int((~used).sum()), n)
    out = {name: windows.subset(masks[name]) for name in SPLIT_NAMES}
    if pool is not None and len(pool):
        out["pool"] = EEGWindows.concat([out["pool"], pool]) if len(out["pool"]) else pool
    return out
