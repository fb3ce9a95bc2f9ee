"""The gate bundle: what `dlink check` needs, in one folder a user commits.

``dlink export RUN`` writes ``RUN/export/gate/``::

    gate.json            what the gate needs to know (below), plain JSON
    student.int8.onnx    the int8 QDQ model that would ship
    student.onnx         its float source (for the int8/float agreement)
    windows.npz          optional: labelled windows X (n, n_chans, n_times) float32, y (n,) int64
    model_card.json      optional: the run's model card, copied as it is when the run has one

``gate.json`` (format ``dlink-gate-bundle``, version 1)::

    {"format": "dlink-gate-bundle", "format_version": 1, "dlink_version": "0.1.0",
     "source_run": "runs/demo",
     "files": {"student.int8.onnx": "<sha256>", "student.onnx": "<sha256>", "windows.npz": "<sha256>"},
     "model": {"int8": "student.int8.onnx", "float": "student.onnx", "runtime": "onnxruntime",
               "session_config": {"session.qdqisint8allowed": "1"}},
     "input": {"n_chans": 22, "n_times": 800, "sfreq_hz": 200.0, "units": "100 uV",
               "dtype": "float32", "channels": ["Fz", ...]},
     "classes": ["left_hand", "right_hand", "feet", "tongue"],
     "thresholds": {"min_balanced_accuracy": null, "min_above_chance": 0.1, "min_agreement": 0.95},
     "windows": {"file": "windows.npz", "n": 300, "class_counts": [75, 75, 75, 75],
                 "source": "test split of runs/demo/config.yaml"}}

``input`` and ``classes`` use the keys of the run's model card (``RUN/model_card.json``, copied into
the bundle when the run has one), so the two merge without renaming. Readers ignore keys they do not
know, so a model card or a later version can add its own. Every
file listed under ``files`` is checked against its SHA-256 before the gate runs: a bundle whose
model was swapped or corrupted after export is refused.

Only numpy and the standard library are imported here: the base install reads bundles.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_path, atomic_write_json, sha256_file

FORMAT = "dlink-gate-bundle"
FORMAT_VERSION = 1
META_FILE = "gate.json"
INT8_FILE = "student.int8.onnx"
FLOAT_FILE = "student.onnx"
WINDOWS_FILE = "windows.npz"
MODEL_CARD_FILE = "model_card.json"
#: Folder of the bundle inside a run's export folder.
GATE_DIR = "gate"
#: Signals are float32 in units of 100 uV everywhere in dlink (see dlink.data.windows).
INPUT_UNITS = "100 uV"
#: Default margin of the balanced-accuracy threshold above chance (1 / n_classes).
DEFAULT_MIN_ABOVE_CHANCE = 0.1


class BundleError(ValueError):
    """A gate bundle is incomplete, malformed or changed after export; the message names the file."""


@dataclass(frozen=True)
class GateBundle:
    """A gate bundle read by :func:`load_gate_bundle` (files verified against ``gate.json``)."""

    path: Path
    meta: dict[str, Any]

    @property
    def int8_model(self) -> Path:
        return self.path / self.meta["model"]["int8"]

    @property
    def float_model(self) -> Path:
        return self.path / self.meta["model"]["float"]

    @property
    def windows(self) -> Path | None:
        w = self.meta.get("windows")
        return None if not w else self.path / w["file"]

    @property
    def input_shape(self) -> tuple[int, int]:
        return int(self.meta["input"]["n_chans"]), int(self.meta["input"]["n_times"])

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def n_classes(self) -> int:
        return len(self.meta["classes"])

    @property
    def thresholds(self) -> dict[str, Any]:
        return dict(self.meta.get("thresholds") or {})

    @property
    def session_config(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.meta["model"].get("session_config") or {}).items()}


def write_gate_bundle(out_dir: str | Path, *, int8_model: str | Path, float_model: str | Path,
                      class_names: list[str], channel_names: list[str], sfreq_hz: float,
                      n_chans: int, n_times: int, session_config: dict[str, str],
                      thresholds: dict[str, Any], windows: tuple[np.ndarray, np.ndarray] | None,
                      windows_source: str = "", source_run: str = "",
                      model_card: str | Path | None = None) -> list[Path]:
    """Write a gate bundle into ``out_dir`` (each file atomically; ``gate.json`` last).

    Parameters
    ----------
    int8_model, float_model : str | Path
        The int8 QDQ ONNX model and its float source, copied into the bundle.
    class_names, channel_names : list of str
        Output classes in logit order; input channels in row order.
    sfreq_hz : float
        Sampling rate of the windows.
    n_chans, n_times : int
        Window shape the model takes.
    session_config : dict
        onnxruntime session entries the int8 model was validated with.
    thresholds : dict
        ``min_balanced_accuracy`` (None: chance + ``min_above_chance``), ``min_above_chance``,
        ``min_agreement``.
    windows : (X, y) or None
        Labelled windows for the gate, X float32 (n, n_chans, n_times), y int (n,); None: the user
        passes ``--npz``.
    model_card : str | Path | None
        A model card file copied as ``model_card.json`` when given.

    Returns
    -------
    list of Path
        Every file written, ``gate.json`` last.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for src, name in ((int8_model, INT8_FILE), (float_model, FLOAT_FILE), (model_card, MODEL_CARD_FILE)):
        if src is None:
            continue
        with atomic_path(out / name) as tmp:
            shutil.copyfile(src, tmp)
        written.append(out / name)
    windows_meta = None
    if windows is not None:
        x, y = windows
        _check_window_arrays(x, y, where="the gate windows")
        with atomic_path(out / WINDOWS_FILE) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, X=np.ascontiguousarray(x, np.float32), y=np.asarray(y, np.int64))
        written.append(out / WINDOWS_FILE)
        counts = np.bincount(np.asarray(y, np.int64), minlength=len(class_names))
        windows_meta = {"file": WINDOWS_FILE, "n": int(len(y)), "class_counts": counts.tolist(),
                        "source": windows_source}
    for name in (WINDOWS_FILE, MODEL_CARD_FILE):  # stale files of an earlier export must go
        if (out / name).exists() and out / name not in written:
            (out / name).unlink()
    from dlink import __version__

    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "dlink_version": __version__,
        "source_run": source_run,
        "files": {p.name: sha256_file(p) for p in written},
        "model": {"int8": INT8_FILE, "float": FLOAT_FILE, "runtime": "onnxruntime",
                  "session_config": dict(session_config)},
        "input": {"n_chans": int(n_chans), "n_times": int(n_times), "sfreq_hz": float(sfreq_hz),
                  "units": INPUT_UNITS, "dtype": "float32", "channels": list(channel_names)},
        "classes": list(class_names),
        "thresholds": dict(thresholds),
        "windows": windows_meta,
    }
    written.append(atomic_write_json(out / META_FILE, meta))
    return written


def write_run_gate_bundle(rd, cfg, test, *, n_outputs: int, meta: dict | None = None) -> list[Path]:
    """Write ``RUN/export/gate/`` for `dlink export` (after the int8 model is validated).

    Parameters
    ----------
    rd : dlink.rundir.RunDir
        The run being exported.
    cfg : dlink.schema.Config
        Its config: ``bench.gate_windows`` and the thresholds, ``seed``.
    test : dlink.data.EEGWindows
        The test split: the windows, and class and channel names and rate where ``meta`` lacks them.
    n_outputs : int
        Outputs of the exported model (checked against the class names).
    meta : dict | None
        student.pt without its weights: the channel and class names and the rate the model was
        trained with (what the model card states too), preferred over the data's.
    """
    from dlink.export.onnx_export import INT8_KERNELS_CONFIG
    from dlink.export.testvectors import pick_windows

    meta = meta or {}
    class_names = list(meta.get("class_names") or test.class_names) or [str(k) for k in range(n_outputs)]
    if len(class_names) != n_outputs:
        raise ValueError(f"The student of {str(rd.path)!r} has {n_outputs} outputs but names "
                         f"{len(class_names)} classes {class_names}; rerun `dlink distill`.")
    n_gate = cfg.bench.gate_windows
    windows = None
    if n_gate is None or n_gate > 0:
        idx = np.arange(len(test.y)) if n_gate is None or n_gate >= len(test.y) else \
            pick_windows(test.y, n_gate, seed=cfg.seed)
        windows = (np.asarray(test.X[idx], np.float32), np.asarray(test.y[idx], np.int64))
    card = rd.path / "model_card.json"
    return write_gate_bundle(
        rd.export_dir / GATE_DIR, int8_model=rd.export_dir / "student.int8.onnx",
        float_model=rd.export_dir / "student.onnx", class_names=class_names,
        channel_names=list(meta.get("ch_names") or test.ch_names),
        sfreq_hz=float(meta.get("sfreq") or test.sfreq), n_chans=int(test.n_chans),
        n_times=int(test.n_times), session_config=INT8_KERNELS_CONFIG,
        thresholds={"min_balanced_accuracy": cfg.bench.min_balanced_accuracy,
                    "min_above_chance": cfg.bench.min_above_chance,
                    "min_agreement": cfg.bench.min_agreement},
        windows=windows, windows_source=f"test split of {rd.config}" + (
            "" if windows is None or len(windows[1]) == len(test.y)
            else f" ({len(windows[1])} of {len(test.y)} windows, stratified by class)"),
        source_run=str(rd.path), model_card=card if card.is_file() else None)


def is_bundle(path: str | Path) -> bool:
    return (Path(path) / META_FILE).is_file()


def load_gate_bundle(path: str | Path, *, verify: bool = True) -> GateBundle:
    """Read and check a bundle folder: every field of gate.json, and each file's SHA-256."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise BundleError(f"{str(path)!r} is not a gate bundle: {META_FILE} is missing. `dlink export "
                          "RUN` writes one into RUN/export/gate/.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise BundleError(f"{str(meta_path)!r} is not valid JSON: {e}") from None
    _check_meta(meta, str(meta_path))
    bundle = GateBundle(path, meta)
    needed = [bundle.int8_model, bundle.float_model] + ([bundle.windows] if bundle.windows else [])
    for p in needed:
        if not p.is_file():
            raise BundleError(f"{str(p)!r} is missing from the gate bundle (listed in {str(meta_path)!r}). "
                              "Copy the whole bundle folder that `dlink export` wrote.")
        if p.name not in meta["files"]:
            raise BundleError(f"{str(meta_path)!r}: field 'files' has no SHA-256 for {p.name!r}.")
    if verify:
        for name, digest in meta["files"].items():
            p = path / name
            if not p.is_file():
                raise BundleError(f"{str(p)!r} is missing from the gate bundle (listed in "
                                  f"{str(meta_path)!r}, field 'files').")
            if sha256_file(p) != digest:
                raise BundleError(f"{str(p)!r} does not match the SHA-256 in {str(meta_path)!r}: it changed "
                                  "after `dlink export` wrote the bundle. Export again (`dlink export RUN`) "
                                  "and copy RUN/export/gate/ as a whole.")
    return bundle


def _check_meta(meta: Any, where: str) -> None:
    def bad(field: str, expected: str, got: Any) -> BundleError:
        return BundleError(f"{where}: field {field!r} must be {expected}, got {got!r}.")

    if not isinstance(meta, dict):
        raise bad("(top level)", "a JSON object", type(meta).__name__)
    if meta.get("format") != FORMAT:
        raise bad("format", repr(FORMAT), meta.get("format"))
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise bad("format_version", "a positive integer", version)
    if version > FORMAT_VERSION:
        raise BundleError(f"{where}: format_version {version} is newer than this dlink reads "
                          f"({FORMAT_VERSION}); upgrade dlink.")
    files = meta.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) and len(v) == 64 for v in files.values()):
        raise bad("files", "an object of file name -> SHA-256 (64 hex digits)", files)
    model = meta.get("model")
    if not isinstance(model, dict) or not all(isinstance(model.get(k), str) and model.get(k)
                                              for k in ("int8", "float")):
        raise bad("model", "an object with file names 'int8' and 'float'", model)
    for k in ("int8", "float"):
        if Path(model[k]).name != model[k]:
            raise bad(f"model.{k}", "a file name inside the bundle folder", model[k])
    if not isinstance(model.get("session_config", {}), dict):
        raise bad("model.session_config", "an object of onnxruntime session entries",
                  model.get("session_config"))
    inp = meta.get("input")
    if not isinstance(inp, dict):
        raise bad("input", "an object with n_chans, n_times, sfreq_hz, units and channels", inp)
    for key in ("n_chans", "n_times"):
        v = inp.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad(f"input.{key}", "a positive integer", v)
    names = meta.get("classes")
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names)):
        raise bad("classes", "a list of at least two class names", names)
    thr = meta.get("thresholds", {})
    if not isinstance(thr, dict):
        raise bad("thresholds", "an object", thr)
    for key in ("min_balanced_accuracy", "min_above_chance", "min_agreement"):
        v = thr.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1):
            raise bad(f"thresholds.{key}", "a number between 0 and 1 or null", v)
    w = meta.get("windows")
    if w is not None and not (isinstance(w, dict) and isinstance(w.get("file"), str)
                              and Path(w["file"]).name == w["file"]):
        raise bad("windows", "null or an object whose 'file' is a file name inside the bundle", w)


def _check_window_arrays(x: np.ndarray, y: np.ndarray, *, where: str) -> None:
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{where}: X must be a float array (n, n_chans, n_times), got {x.dtype} "
                         f"of shape {x.shape}.")
    if y.ndim != 1 or len(y) != len(x) or len(y) == 0:
        raise ValueError(f"{where}: y must be (n,) with one label per window, got shape {y.shape} "
                         f"for {len(x)} windows.")
    n_bad = int((~np.isfinite(x).reshape(len(x), -1).all(axis=1)).sum())
    if n_bad:
        raise ValueError(f"{where}: {n_bad} of {len(x)} windows hold NaN or infinity; the gate refuses "
                         "them.")
