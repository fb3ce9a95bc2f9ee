"""Offline synthetic motor-imagery EEG (the default dataset; runnable anywhere, seeded, fast).

Each window is 22-channel EEG on the BCI Competition IV 2a montage, in units of 100 uV, built in
the frequency domain as a sum of:

- a **1/f background**: power ~ 1/(f + 1)^chi with a per-subject exponent chi, spatially
  correlated across electrodes (Gaussian kernel over scalp distance);
- a **posterior alpha rhythm** (8.5-12 Hz, per-subject peak) strongest at POz/Pz, unrelated to
  the class (a realistic distractor in the mu band);
- **sensorimotor mu (8-13 Hz) and beta (13-30 Hz) rhythms** from five cortical sources (left and
  right hand areas under C3/C4, the feet area under Cz, the lateral tongue/face areas near
  C5/C6) whose power depends on the class: left hand -> event-related desynchronisation (ERD)
  over C4 (contralateral), right hand -> ERD over C3, feet -> ERD over Cz with a mild
  synchronisation (ERS) of the hand areas, tongue -> lateral ERD at C5/C6 with hand-area ERS;
- **per-subject variation**: overall amplitude, channel gains, mu/beta/alpha peak frequencies,
  source positions and spreads (spatial pattern), ERD depth (some subjects barely modulate);
- **per-trial variation**: ERD depth and rhythm power jitter, and **sensor noise** (white) plus
  occasional frontal eye blinks.

By default the class-dependent power change lasts the whole window (no timing inside it). With
``timing: true`` each trial has a time course instead: baseline rhythms until the imagery starts
(onset ``erd_onset_s`` after the window start, jittered from trial to trial), the ERD/ERS pattern
above during the imagery (``erd_duration_s``, jittered; smooth ``erd_ramp_s`` on- and offsets),
then a **beta rebound** (post-imagery beta synchronisation, ``beta_rebound`` times the ERD depth,
over the sources that desynchronised, for ``beta_rebound_s``) before returning to baseline. The
onset, duration and rebound size vary from trial to trial, so a model has to find the event in
time; shifting a window moves the event. The timing draws come from their own random stream, so
every other draw (and the default output) is unchanged.

Subjects of the splits are disjoint (cross-subject): ids 1.. go to ``train``, then ``val``,
``test`` and ``pool``; every subject's draws depend only on ``(seed, subject id)``, so resizing
one split does not change the subjects of another. Within-subject splits (``data.splits.by``:
run or kfold) split the trials of the ``train``, ``val`` and ``test`` subjects (or of
``data.subjects``) and keep the ``pool`` subjects as the pool; each subject's trials are numbered
in order and cut into ``runs`` consecutive runs (1, 2, ...).

Defaults: 22 channels, 200 Hz, 4-s windows; 15 windows per class and subject; subjects
train 5 (300 windows), val 3 (180), test 5 (300), pool 17 (1020). Generation takes ~4-8 s on
one core, a cached load ~0.3 s.

Difficulty, measured with the defaults (braindecode 0.8 ``EEGNetv4(n_chans=22, n_outputs=4,
n_times=800)``, AdamW lr 1e-3 wd 1e-3, cosine schedule, batch 32, torch seed 0, 1 thread):

- trained on ``train`` alone (5 subjects), 60 epochs: test accuracy 0.48 (val 0.57; train 0.98),
  i.e. cross-subject it does not saturate;
- trained on ``train`` + ``pool`` (22 subjects), 20 epochs: test accuracy 0.78 (val 0.94), so
  more subjects clearly help (what the teacher's task adaptation on ``pool`` exploits).

For comparison, log mu/beta band power of every channel + logistic regression reaches 0.73
(train) and 0.74 (train + pool): the class information is in the band power, as in real
motor imagery.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields

import numpy as np

from dlink._check import did_you_mean

from .montage import BCI2A_CH_NAMES, BCI2A_GRID_XY
from .windows import EEGWindows

logger = logging.getLogger(__name__)

#: Bump when the generator's output changes for the same options (invalidates cached windows).
GENERATOR_VERSION = 1

#: Class names by number of classes.
CLASS_NAMES = {4: ["left_hand", "right_hand", "feet", "tongue"], 2: ["left_hand", "right_hand"]}
SPLIT_ORDER = ("train", "val", "test", "pool")

# Cortical sources of the sensorimotor rhythms: name -> position on the 10-20 grid.
_SOURCES = {"hand_r": (-2.0, 0.0), "hand_l": (2.0, 0.0), "feet": (0.0, -0.3),
            "tongue_l": (-3.0, 0.5), "tongue_r": (3.0, 0.5)}
# Power change of each source per class, in units of the subject's ERD depth
# (-1: full desynchronisation, +x: synchronisation). "hand_r" is the right-hand area (left hemisphere, C3).
_CLASS_PATTERN = {
    "left_hand": {"hand_l": -1.0, "hand_r": 0.1},
    "right_hand": {"hand_r": -1.0, "hand_l": 0.1},
    "feet": {"feet": -1.0, "hand_l": 0.25, "hand_r": 0.25},
    "tongue": {"tongue_l": -0.8, "tongue_r": -0.8, "hand_l": 0.3, "hand_r": 0.3},
}


#: Options that only matter with ``timing: true``.
TIMING_OPTIONS = ("erd_onset_s", "erd_onset_jitter_s", "erd_duration_s", "erd_duration_jitter_s",
                  "erd_ramp_s", "beta_rebound", "beta_rebound_s")


@dataclass
class SyntheticOptions:
    """Options of the generator (the ``data.synthetic`` mapping of a config).

    Parameters
    ----------
    seed : int
        Seed of every draw.
    subjects : dict
        Number of subjects per split (``train``, ``val``, ``test``, ``pool``).
    trials_per_class : int
        Windows per class and subject.
    erd_depth : float
        Mean fractional drop of mu amplitude under ERD (0: no class information, 1: full).
    erd_depth_spread : float
        Between-subject spread (uniform half-width) of the ERD depth.
    trial_jitter : float
        Log-normal sigma of the per-trial power of each rhythm source (hides the ERD in single trials).
    background_uv : float
        RMS of the 1/f background in uV.
    mu_uv : float
        RMS of one sensorimotor source's mu rhythm at its peak electrode, in uV (beta: 40 % of it).
    alpha_uv : float
        RMS of the posterior alpha rhythm at its peak electrode, in uV.
    noise_uv : float
        RMS of the white sensor noise in uV.
    blink_rate_hz : float
        Mean number of eye blinks per second (frontal, ~50 uV at Fz).
    runs : int
        Runs per subject: the subject's trials, in order, are cut into this many equal runs
        (window metadata only; the signals do not change).
    continuous : bool
        Join each subject's trials into one continuous recording at the ADC rate, with the full
        band (DC to Nyquist), and preprocess it like a real recording (zero-phase or causal, per
        ``data.preprocessing``; see :mod:`dlink.data.synthetic_recording`). Always on with
        ``data.preprocessing: causal``. False: band-limited windows made directly at
        ``data.sfreq_hz`` (the default generator).
    timing : bool
        Give each trial a time course (baseline, ERD during the imagery, beta rebound after it)
        instead of a class-dependent power that is constant over the window.
    erd_onset_s, erd_onset_jitter_s : float
        Mean onset of the imagery after the window start, and its trial-to-trial sd (seconds).
    erd_duration_s, erd_duration_jitter_s : float
        Mean duration of the imagery (ERD), and its trial-to-trial sd (seconds).
    erd_ramp_s : float
        Time constant of the ERD's smooth onset and offset (seconds).
    beta_rebound : float
        Beta amplitude increase after the imagery, per unit of ERD depth, over the sources that
        desynchronised (0: no rebound); varies from trial to trial with ``trial_jitter``.
    beta_rebound_s : float
        Duration of the beta rebound (seconds).
    """

    seed: int = 0
    subjects: dict | None = None
    trials_per_class: int = 15
    erd_depth: float = 0.85
    erd_depth_spread: float = 0.2
    trial_jitter: float = 0.15
    background_uv: float = 15.0
    mu_uv: float = 14.0
    alpha_uv: float = 12.0
    noise_uv: float = 4.0
    blink_rate_hz: float = 0.1
    runs: int = 1
    continuous: bool = False
    timing: bool = False
    erd_onset_s: float = 0.8
    erd_onset_jitter_s: float = 0.25
    erd_duration_s: float = 1.8
    erd_duration_jitter_s: float = 0.3
    erd_ramp_s: float = 0.1
    beta_rebound: float = 1.5
    beta_rebound_s: float = 0.6

    def __post_init__(self) -> None:
        default = {"train": 5, "val": 3, "test": 5, "pool": 17}
        subjects = dict(default if self.subjects is None else self.subjects)
        for k, v in subjects.items():
            if k not in default:
                raise ValueError(f"data.synthetic.subjects: unknown split {k!r}; allowed: "
                                 f"{', '.join(default)}.{did_you_mean(k, default)}")
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"data.synthetic.subjects.{k} must be an integer >= 0, got {v!r}.")
        self.subjects = {k: subjects.get(k, default[k]) for k in default}
        if self.subjects["train"] < 1:
            raise ValueError(f"data.synthetic.subjects needs train >= 1, got {self.subjects}.")
        if not isinstance(self.trials_per_class, int) or self.trials_per_class < 1:
            raise ValueError(f"data.synthetic.trials_per_class must be an integer >= 1, "
                             f"got {self.trials_per_class!r}.")
        if not isinstance(self.runs, int) or isinstance(self.runs, bool) or self.runs < 1:
            raise ValueError(f"data.synthetic.runs must be an integer >= 1, got {self.runs!r}.")
        if not 0.0 <= self.erd_depth <= 1.0:
            raise ValueError(f"data.synthetic.erd_depth must be in [0, 1], got {self.erd_depth!r}.")
        if not isinstance(self.continuous, bool):
            raise ValueError(f"data.synthetic.continuous must be true or false, got {self.continuous!r}.")
        if not isinstance(self.timing, bool):
            raise ValueError(f"data.synthetic.timing must be true or false, got {self.timing!r}.")
        for name in ("erd_onset_s", "erd_duration_s", "erd_ramp_s", "beta_rebound_s"):
            if float(getattr(self, name)) <= 0:
                raise ValueError(f"data.synthetic.{name} must be > 0 seconds, got "
                                 f"{getattr(self, name)!r}.")
        for name in ("erd_depth_spread", "trial_jitter", "background_uv", "mu_uv", "alpha_uv",
                     "noise_uv", "blink_rate_hz", "erd_onset_jitter_s", "erd_duration_jitter_s",
                     "beta_rebound"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"data.synthetic.{name} must be >= 0, got {getattr(self, name)!r}.")

    @classmethod
    def from_dict(cls, options: dict | None) -> SyntheticOptions:
        """Build from a config mapping; an unknown key is a ValueError with a hint."""
        options = dict(options or {})
        known = {f.name for f in fields(cls)}
        for key in options:
            if key not in known:
                raise ValueError(f"data.synthetic: unknown key {key!r}.{did_you_mean(key, known)} "
                                 f"Known keys: {', '.join(sorted(known))}.")
        return cls(**options)

    def to_dict(self) -> dict:
        return asdict(self)


def subject_ids(options: SyntheticOptions) -> dict[str, list[int]]:
    """Subject ids of each split: consecutive, disjoint, in the order train, val, test, pool."""
    out, start = {}, 1
    for split in SPLIT_ORDER:
        n = options.subjects[split]
        out[split] = list(range(start, start + n))
        start += n
    return out


def make_synthetic(options: SyntheticOptions | dict | None = None, *, sfreq_hz: float = 200.0,
                   window_s: float = 4, n_classes: int = 4, l_freq_hz: float = 0.3,
                   h_freq_hz: float = 75.0, within: bool = False) -> dict[str, EEGWindows]:
    """Generate the synthetic splits.

    Parameters
    ----------
    options : SyntheticOptions | dict | None
        Generator options (see :class:`SyntheticOptions`).
    sfreq_hz, window_s : float
        Sampling rate and window length; a window has ``round(sfreq_hz * window_s)`` samples.
    n_classes : int
        4 (left hand, right hand, feet, tongue) or 2 (left hand, right hand).
    l_freq_hz, h_freq_hz : float
        Band of the generated signal (the spectrum is zero outside it, like a band-pass).
    within : bool
        The caller splits the labelled subjects' trials itself (no test subject needed).

    Returns
    -------
    dict of str to EEGWindows
        Splits ``train``, ``val``, ``test``, ``pool`` (22 channels, units of 100 uV).

    Examples
    --------
    >>> ds = make_synthetic({"subjects": {"train": 1, "val": 0, "test": 1, "pool": 0},
    ...                      "trials_per_class": 2})
    >>> ds["train"].X.shape
    (8, 22, 800)
    """
    if not isinstance(options, SyntheticOptions):
        options = SyntheticOptions.from_dict(options)
    if not within and options.subjects["test"] < 1:
        raise ValueError(f"data.synthetic.subjects needs test >= 1 for a cross-subject split, got "
                         f"{options.subjects} (within-subject splits need only train >= 1).")
    if n_classes not in CLASS_NAMES:
        raise ValueError(f"data.n_classes must be one of {sorted(CLASS_NAMES)} for the synthetic "
                         f"dataset, got {n_classes!r}.")
    n_times = int(round(sfreq_hz * window_s))
    if h_freq_hz > sfreq_hz / 2:
        h_freq_hz = sfreq_hz / 2
    classes = CLASS_NAMES[n_classes]
    out = {}
    for split, ids in subject_ids(options).items():
        parts = [_subject_windows(options, s, classes, sfreq_hz, n_times, l_freq_hz, h_freq_hz)
                 for s in ids]
        out[split] = (EEGWindows.concat(parts) if parts else
                      EEGWindows.empty(BCI2A_CH_NAMES, sfreq_hz, n_times, classes))
        logger.info("synthetic %s: %d windows from subjects %s", split, len(out[split]), ids)
    return out


#: Synthetic subjects drawn for self-supervised pretraining get ids from here on, far beyond
#: every split of the generator (train, val, test, pool count from 1), so no evaluation subject
#: is ever pretrained on, whatever the split sizes.
PRETRAIN_FIRST_SUBJECT = 100_001


def pretraining_subject_ids(options: SyntheticOptions | dict | None, n_subjects: int) -> list[int]:
    """Ids of ``n_subjects`` synthetic pretraining subjects, checked disjoint from every split.

    >>> pretraining_subject_ids(None, 3)
    [100001, 100002, 100003]
    """
    if not isinstance(options, SyntheticOptions):
        options = SyntheticOptions.from_dict(options)
    ids = list(range(PRETRAIN_FIRST_SUBJECT, PRETRAIN_FIRST_SUBJECT + int(n_subjects)))
    used = {s for split in subject_ids(options).values() for s in split}
    overlap = sorted(used & set(ids))
    if overlap:
        raise ValueError(f"data.synthetic.subjects reach the pretraining subject ids "
                         f"({overlap[:5]}...): use fewer than {PRETRAIN_FIRST_SUBJECT - 1} "
                         f"subjects in the splits.")
    return ids


def unlabelled_windows(options: SyntheticOptions | dict | None, subject: int, *,
                       sfreq_hz: float = 200.0, window_s: float = 4, n_classes: int = 4,
                       l_freq_hz: float = 0.3, h_freq_hz: float = 75.0) -> np.ndarray:
    """The windows of one synthetic subject without their labels (for pretraining).

    Returns
    -------
    ndarray of float32, shape (trials_per_class * n_classes, 22, round(sfreq_hz * window_s))
        In units of 100 uV, channels :data:`BCI2A_CH_NAMES`.
    """
    if not isinstance(options, SyntheticOptions):
        options = SyntheticOptions.from_dict(options)
    n_times = int(round(sfreq_hz * window_s))
    h_freq_hz = min(h_freq_hz, sfreq_hz / 2)
    return _subject_windows(options, int(subject), CLASS_NAMES[n_classes], sfreq_hz, n_times,
                            l_freq_hz, h_freq_hz).X


# ----------------------------------------------------------------------------- generator


def _xy() -> np.ndarray:
    return np.array([BCI2A_GRID_XY[c] for c in BCI2A_CH_NAMES], dtype=np.float64)


def _spatial(xy: np.ndarray, center, spread: float) -> np.ndarray:
    d2 = ((xy - np.asarray(center)) ** 2).sum(axis=1)
    return np.exp(-d2 / (2.0 * spread ** 2))


def _shaped_noise(rng: np.random.Generator, shape: tuple[int, ...], amp: np.ndarray,
                  n_times: int) -> np.ndarray:
    """Gaussian noise of unit RMS whose amplitude spectrum follows ``amp`` (over rfft bins)."""
    spec = rng.standard_normal(shape + amp.shape) + 1j * rng.standard_normal(shape + amp.shape)
    x = np.fft.irfft(spec * amp, n=n_times, axis=-1)
    return x / np.sqrt(np.mean(x ** 2, axis=-1, keepdims=True) + 1e-20)


def _peak(freqs: np.ndarray, f0: float, width: float, band: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((freqs - f0) / width) ** 2) * band


def _subject_windows(opt: SyntheticOptions, subject: int, classes: list[str], sfreq: float,
                     n_times: int, l_freq: float, h_freq: float) -> EEGWindows:
    srng = np.random.default_rng([opt.seed, subject, 0])  # subject traits
    trng = np.random.default_rng([opt.seed, subject, 1])  # trials
    xy = _xy()
    n_ch = len(BCI2A_CH_NAMES)
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    band = ((freqs >= l_freq) & (freqs <= h_freq)).astype(np.float64)
    uv = 1e-2  # 1 uV in units of 100 uV

    # --- subject traits
    chi = srng.uniform(1.3, 2.0)  # 1/f exponent of the background power
    overall = np.exp(srng.normal(0.0, 0.25))
    ch_gain = np.exp(srng.normal(0.0, 0.12, n_ch))
    f_alpha = srng.uniform(8.5, 12.0)
    f_mu = srng.uniform(8.5, 12.5)
    f_beta = srng.uniform(16.0, 26.0)
    erd = np.clip(opt.erd_depth + srng.uniform(-1, 1) * opt.erd_depth_spread, 0.0, 0.95)
    mu_amp = opt.mu_uv * np.exp(srng.normal(0.0, 0.3))
    alpha_amp = opt.alpha_uv * np.exp(srng.normal(0.0, 0.4))
    src_pos = {k: np.asarray(p) + srng.normal(0.0, 0.3, 2) for k, p in _SOURCES.items()}
    src_spread = {k: srng.uniform(0.9, 1.5) for k in _SOURCES}
    alpha_pos = np.array([0.0, -2.6]) + srng.normal(0.0, 0.4, 2)

    # --- labels: balanced, shuffled
    n = opt.trials_per_class * len(classes)
    y = trng.permutation(np.repeat(np.arange(len(classes)), opt.trials_per_class))

    # --- 1/f background, spatially correlated through a Gaussian kernel over scalp distance
    d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    chol = np.linalg.cholesky(np.exp(-d2 / (2 * 1.2 ** 2)) + 0.05 * np.eye(n_ch))
    amp_bg = band / (freqs + 1.0) ** (chi / 2.0)
    bg = _shaped_noise(trng, (n, n_ch), amp_bg, n_times)
    X = np.einsum("ij,njt->nit", chol / np.sqrt((chol ** 2).sum(1, keepdims=True)), bg)
    X *= opt.background_uv * uv

    # --- posterior alpha
    alpha = _shaped_noise(trng, (n,), _peak(freqs, f_alpha, 0.8, band), n_times)
    alpha *= np.exp(trng.normal(0.0, opt.trial_jitter, (n, 1)))
    X += alpha_amp * uv * _spatial(xy, alpha_pos, 1.3)[None, :, None] * alpha[:, None, :]

    # --- sensorimotor mu + beta sources with class-dependent ERD/ERS
    amp_mu = _peak(freqs, f_mu, 1.0, band)
    amp_beta = _peak(freqs, f_beta, 2.5, band)
    if opt.timing:  # per-trial time course (n, T): imagery envelope and post-imagery rebound
        event, rebound = _time_course(opt, np.random.default_rng([opt.seed, subject, 2]), n,
                                      n_times, sfreq)
    else:  # the class-dependent power lasts the whole window
        event, rebound = np.ones((n, 1)), np.zeros((n, 1))
    for k in _SOURCES:
        change = np.array([_CLASS_PATTERN[c].get(k, 0.0) for c in classes])[y]
        depth = erd * np.clip(1.0 + trng.normal(0.0, 0.3, n), 0.0, None)
        jitter = np.exp(trng.normal(0.0, opt.trial_jitter, n))
        gain = np.clip(1.0 + (change * depth)[:, None] * event, 0.05, None) * jitter[:, None]
        mu = _shaped_noise(trng, (n,), amp_mu, n_times)
        beta = _shaped_noise(trng, (n,), amp_beta, n_times)
        # beta follows the same sources with a weaker ERD/ERS than mu, and rebounds after an ERD
        erd_here = np.clip(-change, 0.0, None) * depth
        beta_gain = np.clip(1.0 + (0.6 * change * depth)[:, None] * event
                            + (opt.beta_rebound * erd_here)[:, None] * rebound, 0.05, None)
        sig = gain * mu + 0.4 * beta_gain * beta
        X += mu_amp * uv * _spatial(xy, src_pos[k], src_spread[k])[None, :, None] * sig[:, None, :]

    # --- eye blinks (frontal), sensor noise, per-subject amplitude and channel gains
    _add_blinks(X, trng, xy, sfreq, opt.blink_rate_hz, uv)
    X = X * (overall * ch_gain)[None, :, None]
    X += opt.noise_uv * uv * trng.standard_normal(X.shape)
    trial = np.arange(n)
    return EEGWindows(X.astype(np.float32), y, np.full(n, subject), list(BCI2A_CH_NAMES), sfreq,
                      classes, run=1 + trial * opt.runs // n, trial=trial)


def _time_course(opt: SyntheticOptions, rng: np.random.Generator, n: int, n_times: int,
                 sfreq: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial imagery envelope (1 during the ERD) and beta-rebound envelope, ``(n, n_times)``.

    Onset, duration and rebound size are drawn per trial (trial-to-trial variability).
    """
    t = np.arange(n_times) / sfreq
    onset = opt.erd_onset_s + rng.normal(0.0, opt.erd_onset_jitter_s, n)
    duration = np.clip(opt.erd_duration_s + rng.normal(0.0, opt.erd_duration_jitter_s, n),
                       0.25 * opt.erd_duration_s, None)
    size = np.exp(rng.normal(0.0, opt.trial_jitter, n))
    end = onset + duration

    def sigmoid(z):
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    ramp = opt.erd_ramp_s
    event = sigmoid((t - onset[:, None]) / ramp) * sigmoid((end[:, None] - t) / ramp)
    # the rebound rises after the imagery ends, peaks ~1/3 into it and fades by its end
    centre = end + opt.beta_rebound_s / 3.0
    rebound = size[:, None] * np.exp(-0.5 * ((t - centre[:, None]) / (opt.beta_rebound_s / 3.0)) ** 2)
    return event, rebound


def _add_blinks(X: np.ndarray, rng: np.random.Generator, xy: np.ndarray, sfreq: float,
                rate_hz: float, uv: float) -> None:
    n, _, n_times = X.shape
    counts = rng.poisson(rate_hz * n_times / sfreq, n)
    if counts.sum() == 0:
        return
    pattern = np.exp(-np.clip(3.0 - xy[:, 1], 0, None) / 1.5)  # decays back from the eyes: 0.5 at Fz
    t = np.arange(n_times) / sfreq
    for i in np.nonzero(counts)[0]:
        for _ in range(counts[i]):
            t0 = rng.uniform(0, n_times / sfreq)
            wave = 100.0 * uv * np.exp(-0.5 * ((t - t0) / 0.07) ** 2) * rng.uniform(0.5, 1.2)
            X[i] += pattern[:, None] * wave[None, :]
