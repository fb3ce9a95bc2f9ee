"""`dlink export`: student.pt -> ONNX -> int8 ONNX QDQ + int8 TFLite, validated; test vectors.

:func:`export_run` works on a run directory (reads student.pt, config.yaml and the run's data,
writes ``RUN/export/`` and the "export" stamp); :func:`export_student` is the same chain for a
model and windows in memory (what the tests use).

Files in the export folder: student.onnx, student.int8.onnx, student.int8.tflite,
calibration.npz, ops.json, tflm.json, parity.json, test_vectors.npz/.h/.c, model_data.h/.c; in the
run directory: model_card.json/.md (:mod:`dlink.export.model_card`, also written into the ONNX
files' metadata_props). ``export_run`` also checks the model's RAM and flash against the run's
board (:func:`board_fit`) and fails when it cannot fit.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlink.io import atomic_savez, atomic_write_bytes, atomic_write_json, sha256_file

from .config import ExportConfig

logger = logging.getLogger(__name__)

#: Runtime names in the validation report, in pipeline order.
RUNTIMES = ("pytorch_float", "onnxruntime_float", "onnxruntime_qdq", "onnxruntime_qdq_u8s8",
            "tflite_int8", "tflite_micro")


class _Steps:
    """Times each step; shows a tqdm bar when verbose."""

    def __init__(self, n: int, verbose: bool):
        self.times: dict[str, float] = {}
        self._bar = None
        if verbose:
            from tqdm import tqdm

            self._bar = tqdm(total=n, desc="export", unit="step", leave=False)
        self._t = time.perf_counter()
        self._name = ""

    def __call__(self, name: str) -> None:
        self._close_step()
        self._name = name
        logger.info("export: %s", name)
        if self._bar is not None:
            self._bar.set_postfix_str(name)

    def _close_step(self) -> None:
        now = time.perf_counter()
        if self._name:
            self.times[self._name] = round(now - self._t, 3)
            if self._bar is not None:
                self._bar.update(1)
        self._t = now

    def close(self) -> dict[str, float]:
        self._close_step()
        self._name = ""
        if self._bar is not None:
            self._bar.close()
        return self.times


def export_student(model, *, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                   test_y: np.ndarray, out_dir: str | Path, cfg: ExportConfig | None = None,
                   seed: int = 0, calibration_from: str = "train", verbose: bool = False) -> dict[str, Any]:
    """Export ``model`` into ``out_dir`` and validate every runtime on the test windows.

    Parameters
    ----------
    model : torch.nn.Module
        The student (eval mode); ``model(x)``, x ``(B, n_chans, n_times)`` -> logits.
    train_x, train_y : ndarray
        Non-test windows ``(n, n_chans, n_times)`` and labels: ``cfg.n_calibration`` calibration
        windows are drawn from them, stratified by class, and clipped at
        ``cfg.calibration_clip_percentile`` of their |x| (:mod:`dlink.export.calibration`).
    test_x, test_y : ndarray
        Test windows and labels for the validation report and the test vectors.
    out_dir : str | Path
        The export folder (created).
    cfg : ExportConfig, optional
        The ``export:`` section.
    seed : int
        Seed of the window selection.
    calibration_from : str
        Where ``train_x`` came from, for the report (e.g. ``"train+val"``).
    verbose : bool
        Progress bar and INFO logs.

    Returns
    -------
    dict
        The parity report (also written as parity.json) plus ``files`` (every written path).
    """
    import onnx
    import torch

    from .onnx_export import INT8_KERNELS_CONFIG, export_onnx, ort_run, ort_session
    from .quantize_ort import quantize_qdq
    from .quant import dequantize, quantize
    from .testvectors import pick_windows, write_test_vectors
    from .tflite_check import SUPPORTED_OPS, check_tflite
    from .tflite_convert import onnx_to_tflite_int8
    from .calibration import calibration_windows
    from .tflm_reference import io_details, measure_arena, run_tflm
    from .validate import (format_table, logit_metrics, per_layer_onnx, per_layer_tflite,
                           per_layer_tflm_vs_tflite, run_tflite, tensor_errors, worst_layer)

    cfg = cfg or ExportConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, x in (("train_x", train_x), ("test_x", test_x)):
        if x.ndim != 3:
            raise ValueError(f"{name} must have shape (n, n_chans, n_times), got {x.shape}.")
    if train_x.shape[1:] != test_x.shape[1:]:
        raise ValueError(f"train and test windows differ in shape: {train_x.shape[1:]} vs "
                         f"{test_x.shape[1:]}.")
    if len(train_x) == 0 or len(test_x) == 0:
        raise ValueError(f"export needs training and test windows; got {len(train_x)} train and "
                         f"{len(test_x)} test windows.")
    n_chans, n_times = int(train_x.shape[1]), int(train_x.shape[2])
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    step = _Steps(9, verbose)
    files: list[Path] = []

    step("calibration windows")
    cal = calibration_windows(train_x, train_y, n=cfg.n_calibration,
                              clip_percentile=cfg.calibration_clip_percentile, seed=seed)
    calib = cal["x"]  # clipped: what both quantizers measure their ranges on
    atomic_savez(out / "calibration.npz", x=calib, y=cal["y"], train_index=cal["index"])
    files.append(out / "calibration.npz")
    n_eval = len(test_x) if cfg.max_eval_windows is None else min(cfg.max_eval_windows, len(test_x))
    eval_idx = np.arange(len(test_x)) if n_eval == len(test_x) else \
        pick_windows(test_y, n_eval, seed=seed)
    xe = np.ascontiguousarray(test_x[eval_idx], np.float32)
    ye = np.asarray(test_y[eval_idx], np.int64)

    step("onnx export")
    onnx_path, qdq_path = out / "student.onnx", out / "student.int8.onnx"
    tfl_path = out / "student.int8.tflite"
    onnx_info = export_onnx(model, onnx_path, n_chans=n_chans, n_times=n_times, opset=cfg.opset,
                            simplify=cfg.simplify, x_check=xe[:32], max_abs_err=cfg.max_onnx_abs_err)
    files.append(onnx_path)

    step("onnxruntime qdq")
    qdq_info = quantize_qdq(onnx_path, qdq_path, calib)
    files.append(qdq_path)

    step("tflite int8")
    proto = onnx.load(str(onnx_path))
    conv = onnx_to_tflite_int8(proto, calib, with_float=True)
    onnx_nodes = [(n.op_type, n.name) for n in proto.graph.node]
    ops = check_tflite(conv["int8"], onnx_nodes=onnx_nodes)  # before anything uses the model
    atomic_write_bytes(tfl_path, conv["int8"])
    files.append(tfl_path)
    tfl_sha = sha256_file(tfl_path)
    ops_report = {"model": tfl_path.name, "sha256": tfl_sha, "supported_ops": list(SUPPORTED_OPS),
                  "conversion": conv["changes"], **ops}
    files.append(atomic_write_json(out / "ops.json", ops_report))

    step("tflite-micro arena")
    arena = measure_arena(conv["int8"])
    io = io_details(conv["int8"])
    tflm = {"model": tfl_path.name, "sha256": tfl_sha, "model_bytes": len(conv["int8"]), **arena,
            "input": io["input"], "output": io["output"],
            "interpreter": "tflite_micro.python.tflite_micro.runtime (RecordingMicroAllocator)"}
    files.append(atomic_write_json(out / "tflm.json", tflm))

    step("evaluate runtimes")
    with torch.no_grad():
        ref = np.concatenate([model(torch.from_numpy(xe[i:i + 64])).numpy()
                              for i in range(0, len(xe), 64)])
    logits = {"pytorch_float": ref,
              "onnxruntime_float": ort_run(ort_session(onnx_path), xe),
              # int8 x int8 kernels (INT8_KERNELS_CONFIG), and onnxruntime's x86 default (uint8 x int8)
              "onnxruntime_qdq": ort_run(ort_session(qdq_path, int8_kernels=True), xe),
              "onnxruntime_qdq_u8s8": ort_run(ort_session(qdq_path), xe),
              "tflite_int8": run_tflite(conv["int8"], xe)}
    qi, qo = io["input"], io["output"]
    x_int8 = quantize(xe, qi["scale"], qi["zero_point"]).reshape(len(xe), *qi["shape"][1:])
    logits["tflite_micro"] = dequantize(run_tflm(conv["int8"], x_int8), qo["scale"],
                                        qo["zero_point"]).reshape(len(xe), -1)
    runtimes = {k: logit_metrics(v, ref, ye) for k, v in logits.items()}
    qdq_vs_tfl = float(np.mean(logits["onnxruntime_qdq"].argmax(1) == logits["tflite_int8"].argmax(1)))
    tfl_vs_tflm = tensor_errors(logits["tflite_micro"], logits["tflite_int8"])
    # same output scale: equal dequantised values <=> equal int8 outputs
    tfl_vs_tflm["bit_exact_fraction"] = float(np.mean(np.all(
        logits["tflite_micro"] == logits["tflite_int8"], axis=1)))

    step("per-layer errors")
    xl = xe[:cfg.n_layer_windows]
    layers_qdq = per_layer_onnx(onnx_path, qdq_path, xl)
    layers_tfl = per_layer_tflite(conv["float"], conv["int8"], xl) if conv["float"] else []
    # TFLite-Micro vs TFLite op by op, on the windows whose outputs differ (or the first ones)
    differ = np.flatnonzero(np.any(logits["tflite_micro"] != logits["tflite_int8"], axis=1))
    pick = differ[:cfg.n_layer_windows] if len(differ) else np.arange(min(4, len(xe)))
    layers_micro = per_layer_tflm_vs_tflite(conv["int8"], x_int8[pick])

    step("test vectors")
    tv_idx = pick_windows(test_y, cfg.n_test_vectors, seed=seed)
    tv = write_test_vectors(out, conv["int8"], tfl_sha, np.ascontiguousarray(test_x[tv_idx], np.float32),
                            np.asarray(test_y[tv_idx], np.int64))
    files.extend(tv["files"])

    step("report")
    times = step.close()
    report = {
        "n_chans": n_chans, "n_times": n_times, "n_outputs": int(ref.shape[1]),
        "n_calibration": int(len(calib)), "n_eval_windows": int(len(xe)),
        "calibration": {"windows_from": calibration_from, "n_windows": int(len(calib)),
                        "n_available": int(len(train_x)),
                        **{k: cal[k] for k in ("clip_percentile", "clip_abs", "max_abs",
                                               "clipped_fraction")}},
        "onnx": onnx_info,
        "onnxruntime_qdq": {**qdq_info, "session_config": INT8_KERNELS_CONFIG,
                            "note": "onnxruntime_qdq runs with session_config (int8 x int8 "
                                    "kernels); onnxruntime_qdq_u8s8 with onnxruntime's defaults"},
        "tflite": {"input_shape": conv["input_shape"], "n_transposes": ops["n_transposes"],
                   "op_counts": ops["op_counts"], "model_bytes": len(conv["int8"])},
        "tflm_arena_bytes": arena["arena_bytes"],
        "runtimes": runtimes,
        "int8_accuracy_drop": {k: runtimes["pytorch_float"]["accuracy"] - runtimes[k]["accuracy"]
                               for k in RUNTIMES[2:]},
        "argmax_agreement_qdq_vs_tflite_int8": qdq_vs_tfl,
        "tflite_micro_vs_tflite_int8": tfl_vs_tflm,
        "per_layer": {"onnxruntime_qdq": layers_qdq, "tflite_int8": layers_tfl,
                      "n_windows": int(len(xl)),
                      "tflite_micro_vs_tflite_int8": layers_micro,
                      "tflite_micro_vs_tflite_int8_windows": pick.tolist()},
        "worst_layer": {"onnxruntime_qdq": worst_layer(layers_qdq),
                        "tflite_int8": worst_layer(layers_tfl)},
        "test_vectors": {k: tv[k] for k in ("n", "input_bytes", "output_bytes")},
    }
    # wall-clock times stay out of the files (the same inputs give the same bytes); they go to
    # the stamp and the caller
    files.append(atomic_write_json(out / "parity.json", report))
    report["step_times_s"] = times
    report["export_time_s"] = round(time.perf_counter() - t_start, 3)
    report["files"] = files
    report["table"] = format_table(runtimes)
    return report


def export_run(run_dir: str | Path, *, verbose: bool = False) -> dict[str, Any]:
    """Export the student of a run directory into ``RUN/export`` and stamp the "export" stage.

    Raises
    ------
    dlink.rundir.StageError
        When the distill stage has not run or is stale.
    """
    from dlink.config import load_config
    from dlink.data import load_dataset
    from dlink.distill.students import load_student_file
    from dlink.rundir import RunDir

    rd = RunDir(run_dir)
    rd.require_stage("distill", needed_by="dlink export")
    cfg = load_config(rd.config)
    model, meta = load_student_file(rd.student)
    splits = load_dataset(cfg.data, verbose=verbose)
    train, test = splits["train"], splits["test"]
    cal_x, cal_y, cal_from = _calibration_source(splits, cfg.export.calibration_splits, rd.config)
    expected = (int(meta["n_chans"]), int(meta["n_times"]))
    if (train.n_chans, train.n_times) != expected:
        raise ValueError(f"{str(rd.student)!r} was trained on windows of {expected} "
                         f"(n_chans, n_times) but {str(rd.config)!r} data give "
                         f"{(train.n_chans, train.n_times)}; rerun `dlink distill`.")
    # written again at the end; a killed export leaves none (nor its temporaries)
    rd.invalidate("export", rd.export_dir, rd.export_dir / "gate", rd.path)
    report = export_student(model, train_x=cal_x, train_y=cal_y, test_x=test.X, test_y=test.y,
                            out_dir=rd.export_dir, cfg=cfg.export, seed=cfg.seed,
                            calibration_from=cal_from, verbose=verbose)
    tflm = json.loads((rd.export_dir / "tflm.json").read_text())
    tflite = rd.export_dir / "student.int8.tflite"
    report["memory_fit"] = board_fit(tflite, cfg, tflm=tflm, n_test_vectors=report["test_vectors"]["n"])

    from .model_card import build_model_card, onnx_metadata, set_onnx_metadata, write_model_card

    metrics = json.loads(rd.metrics.read_text()) if rd.metrics.is_file() else None
    card = build_model_card(cfg, meta, metrics, tflm=tflm, tflite_sha256=sha256_file(tflite))
    for name in ("student.onnx", "student.int8.onnx"):
        set_onnx_metadata(rd.export_dir / name, onnx_metadata(card))
    report["model_card"] = card
    card_files = write_model_card(card, rd.path)
    # last: the bundle copies the ONNX files with their metadata, and the model card
    from dlink.bench.gate_bundle import write_run_gate_bundle  # what `dlink check` reads

    report["files"].extend(write_run_gate_bundle(rd, cfg, test, n_outputs=report["n_outputs"], meta=meta))
    inputs = [rd.student, rd.config] + ([rd.metrics] if rd.metrics.is_file() else [])
    rd.write_stamp("export", inputs=inputs, outputs=[*report["files"], *card_files],
                   extra={"export_time_s": report["export_time_s"],
                          "step_times_s": report["step_times_s"]})
    return report


def _calibration_source(splits, names: list[str], config_path) -> tuple[np.ndarray, np.ndarray, str]:
    """The windows of the ``export.calibration_splits`` that hold any, concatenated."""
    used = [n for n in names if len(splits[n].X)]
    if not used:
        raise ValueError(f"{str(config_path)!r}: export.calibration_splits = {names} hold no windows; "
                         f"name a split with windows (train).")
    x = np.concatenate([splits[n].X for n in used]).astype(np.float32, copy=False)
    y = np.concatenate([splits[n].y for n in used]).astype(np.int64, copy=False)
    return x, y, "+".join(used)


def board_fit(tflite_path: Path, cfg, *, tflm: dict[str, Any], n_test_vectors: int) -> dict[str, Any]:
    """RAM and flash of the int8 model on the run's board (``firmware.board``), before any C is
    compiled: the generated code (planned arena + the board's stack; weights + the embedded test
    vectors) and, as a comparison, TFLite-Micro's interpreter (its measured arena + stack; the
    .tflite). Lower bounds: the runtime's code and the app come on top (the firmware build
    measures the ELF).

    Raises
    ------
    dlink.firmware.fit.ModelDoesNotFitError
        The generated model does not fit the board even without test vectors.
    """
    from dlink.firmware.boards import get_board
    from dlink.firmware.fit import check_fit, memory_fit

    from .codegen import build_model_code

    fw = cfg.firmware
    spec = get_board(fw.board)
    stack = int(fw.stack_bytes or spec["stack_bytes"])
    code = build_model_code(tflite_path)
    io_bytes = int(code.info["input_bytes"]) + int(code.info["output_bytes"])
    tv_bytes = n_test_vectors * io_bytes if fw.test_vectors else 0
    kw = {"warn_percent": fw.memory_warn_percent}
    model = memory_fit(fw.board, ram_bytes=code.arena_bytes + stack, flash_bytes=code.const_data_bytes,
                       what="the generated int8 model (arena + stack; weights)", **kw)
    check_fit(model, fix="Use a smaller student (student.options), fewer channels or a shorter window, "
                         "or a board with more memory (firmware.board).")
    out = {"board": fw.board, "stack_bytes": stack, "arena_bytes": code.arena_bytes,
           "weights_bytes": code.const_data_bytes, "test_vector_bytes": tv_bytes, "model": model,
           "warnings": list(model["messages"])}
    if tv_bytes:
        with_tv = memory_fit(fw.board, ram_bytes=code.arena_bytes + stack,
                             flash_bytes=code.const_data_bytes + tv_bytes,
                             what=f"the model with its {n_test_vectors} test vectors", **kw)
        out["with_test_vectors"] = with_tv
        if with_tv["status"] != "fits":
            out["warnings"] += [m + " (build the deployment app without them: `dlink firmware build "
                                "--no-test-vectors` or firmware.test_vectors: false)"
                                for m in with_tv["messages"] if "flash" in m]
    if tflm.get("arena_bytes"):
        out["tflite_micro"] = memory_fit(fw.board, ram_bytes=int(tflm["arena_bytes"]) + stack,
                                         flash_bytes=int(tflm.get("model_bytes") or 0),
                                         what="TFLite-Micro's interpreter (arena + stack; .tflite)", **kw)
    return out
