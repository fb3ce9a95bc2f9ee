"""`dlink bench`: measure a run and write ``RUN/bench/report.json``, ``report.md`` and plots.

Accuracy of every runtime on the test split, host latency per window (teacher too, in the same
process, so the speed-up is a ratio from one run), Cortex-M instructions/cycles, flash and RAM per
board, parameters and MACs. Anything that cannot be measured is reported as "not measured" with
the command that would produce it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlink.bench.accuracy import agreement, classification_metrics
from dlink.bench.config import BenchConfig
from dlink.bench.emulated import built_boards, measure_boards
from dlink.bench.latency import measure_batched_latency, measure_latency
from dlink.bench.runtimes import (RUNTIMES, HostCRuntime, Int8IO, OrtRuntime, TFLiteRuntime,
                                  TflmRuntime, TorchRuntime, int8_session_config,
                                  load_tflm_arena_bytes)
from dlink.rundir import RunDir

logger = logging.getLogger(__name__)


def load_test_windows(run: RunDir, *, npz: str | Path | None = None, verbose: bool = False
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The run's test split (or windows ``X`` and labels ``y`` from ``npz``).

    Returns
    -------
    x : ndarray, float32 (n, n_chans, n_times)
    y : ndarray, int64 (n,)
    info : dict with ``source``, ``n``, ``n_chans``, ``n_times`` and, from the dataset,
        ``class_names`` and ``sfreq``.
    """
    if npz is not None:
        from dlink.bench.check import load_windows_npz

        x, y = load_windows_npz(npz)
        return x, y, {"source": str(npz), "n": int(len(y)), "n_chans": int(x.shape[1]),
                      "n_times": int(x.shape[2])}
    from dlink.config import load_config
    from dlink.data import load_dataset

    cfg = load_config(run.require_file(run.config, stage="distill"))
    test = load_dataset(cfg.data, cache_dir=None, verbose=verbose)["test"]
    if test.X.shape[0] == 0:
        raise ValueError(f"The test split of {str(run.config)!r} is empty; configure data.splits.")
    return (np.asarray(test.X, np.float32), np.asarray(test.y, np.int64),
            {"source": f"{run.config} data (test split)", "n": int(len(test.y)),
             "n_chans": int(test.n_chans), "n_times": int(test.n_times),
             "class_names": list(test.class_names), "sfreq": float(test.sfreq)})


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _block(metrics: dict | None, key: str) -> dict:
    """A model's metric block from metrics.json (the ``test`` entry when split by split)."""
    b = (metrics or {}).get(key) or {}
    return {**b, **b["test"]} if isinstance(b.get("test"), dict) else dict(b)


def _progress(total: int, verbose: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="bench", unit="step", disable=not (verbose or sys.stderr.isatty()),
                leave=False)


def build_runtimes(run: RunDir, names: list[str], *, n_chans: int, n_times: int, work_dir: Path
                   ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Instantiate the requested runtimes; those that cannot be built are returned as failures."""
    exp = run.export_dir
    tflite = exp / "student.int8.tflite"
    builders = {
        "pytorch": lambda io: TorchRuntime.from_student_file(run.student),
        "ort_float": lambda io: OrtRuntime(exp / "student.onnx", name="ort_float"),
        "ort_int8": lambda io: OrtRuntime(exp / "student.int8.onnx", name="ort_int8",
                                          session_config=int8_session_config()),
        "tflite_int8": lambda io: TFLiteRuntime(tflite, io()),
        "tflm_host": lambda io: TflmRuntime(tflite, io(), arena_bytes=load_tflm_arena_bytes(exp)),
        "c_host": lambda io: HostCRuntime.build(tflite, work_dir / "c_host", io()),
    }
    cache: dict[str, Int8IO] = {}

    def io() -> Int8IO:
        if "io" not in cache:
            cache["io"] = Int8IO.from_tflite(tflite).resolve_layout(
                n_chans, n_times, test_vectors=exp / "test_vectors.npz")
        return cache["io"]

    ok, failed = {}, {}
    for name in names:
        try:
            ok[name] = builders[name](io)
        except Exception as e:
            logger.info("runtime %s not available: %s", name, e)
            missing = isinstance(e, (FileNotFoundError, ImportError)) or type(e).__name__ == "StageError"
            failed[name] = {"status": "not measured" if missing else "failed",
                            "error": f"{type(e).__name__}: {e}",
                            "command": f"dlink export {run.path}" if name != "c_host"
                            else "dlink export RUN; the C generator and host runner of dlink.firmware"}
    return ok, failed


def run_bench(run_dir: str | Path, *, cfg: BenchConfig | None = None, build_boards: list[str] | None = None,
              serial: str | None = None, serial_board: str = "nrf52840", npz: str | Path | None = None,
              verbose: bool = False) -> dict[str, Any]:
    """Measure a run and write its bench report (see the module docstring).

    Parameters
    ----------
    run_dir : str | Path
        The run directory (its export stage must be up to date).
    cfg : BenchConfig | None
        Repeats, runtimes and boards; None reads the run's config (defaults if unreadable).
    build_boards : list of str | None
        Boards to build and run (firmware build + flash) before reading their results.
    serial, serial_board : str | None, str
        With a real board attached, run ``serial_board`` over this serial port (cycles).
    npz : str | Path | None
        Windows ``X`` and labels ``y`` to use instead of the run's test split.
    """
    t_start = time.perf_counter()
    run = RunDir(run_dir)
    if run.stamp_path("distill").is_file():  # student.pt, metrics.json as distill wrote them
        run.require_stage("distill", needed_by="dlink bench")
    run.require_stage("export", needed_by="dlink bench")  # (its stamp holds student.pt's hash)
    run.invalidate("bench")
    if cfg is None:
        cfg = run_bench_config(run)
    import torch

    torch.set_num_threads(1)
    metrics = _read_json(run.metrics)
    bench_dir = run.bench_dir
    bench_dir.mkdir(parents=True, exist_ok=True)
    x, y, data_info = load_test_windows(run, npz=npz, verbose=verbose)
    if cfg.max_test_windows is not None and len(y) > cfg.max_test_windows:
        idx = np.random.default_rng(0).permutation(len(y))[:cfg.max_test_windows]
        x, y = x[np.sort(idx)], y[np.sort(idx)]
        data_info["n"] = int(len(y))
        data_info["subsampled_from"] = int(len(idx))
    n_classes = int(max(int(y.max()) + 1, len(data_info.get("class_names") or [])))
    names = data_info.get("class_names") or [str(i) for i in range(n_classes)]
    data_info["class_counts"] = {str(c): int(np.sum(y == i)) for i, c in enumerate(names)}
    fw_cfg = _firmware_config(run)
    if _is_causal(run):  # a streaming run decides every hop: that is what the board must keep up with
        data_info["hop_s"] = float(fw_cfg.stream.hop_s)
    target = fw_cfg.board  # the board the run is built for: the headline is about it
    boards = list(dict.fromkeys([target, *cfg.boards, *(build_boards or []), *built_boards(run)]))
    pbar = _progress(len(cfg.runtimes) + 2 + len(boards), verbose)

    pbar.set_description("bench: loading runtimes")
    runtimes, report_rt = build_runtimes(run, list(cfg.runtimes), n_chans=x.shape[1],
                                         n_times=x.shape[2], work_dir=bench_dir / "work")
    n_classes = max(n_classes, _n_outputs(runtimes, x))
    x1 = x[:1]
    logits: dict[str, np.ndarray] = {}
    for name in cfg.runtimes:
        if name not in runtimes:
            pbar.update(1)
            continue
        rt = runtimes[name]
        pbar.set_description(f"bench: {name}")
        try:
            lg = rt.predict(x)
            logits[name] = lg
            entry = {"status": "measured", "metrics": classification_metrics(y, lg, n_classes)}
            if getattr(rt, "session_config", None):
                entry["session_config"] = rt.session_config
            if isinstance(rt, HostCRuntime):
                n_lat = min(len(x), 32)
                entry["latency"] = measure_batched_latency(
                    rt.run_int8, rt.io.quantize(x[:n_lat]), repeats=max(3, cfg.latency_repeats // 10),
                    warmup=1)
            else:
                entry["latency"] = measure_latency(rt.timed_call(x1), repeats=cfg.latency_repeats,
                                                   warmup=cfg.latency_warmup)
        except Exception as e:
            logger.warning("runtime %s failed: %s", name, e)
            entry = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
        report_rt[name] = entry
        pbar.update(1)
    ref = next((n for n in ("pytorch", "ort_float") if n in logits), None)
    for name, entry in report_rt.items():
        entry.update(label=RUNTIMES[name][0], precision=RUNTIMES[name][1])
        if name in logits and ref is not None:
            entry["agreement_with_float"] = agreement(logits[name], logits[ref])
            entry["agreement_reference"] = ref
    report_rt = {n: report_rt[n] for n in cfg.runtimes if n in report_rt}

    pbar.set_description("bench: teacher")
    teacher = _measure_teacher(run, x, y, n_classes, cfg, metrics)
    pbar.update(1)
    board_results = measure_boards(run, boards, build=False, serial=None)
    if build_boards:
        board_results.update(measure_boards(run, build_boards, build=True))
    if serial is not None:
        board_results.update(measure_boards(run, [], build=True, serial=serial, serial_board=serial_board))
    pbar.update(len(boards))

    student = _student_size(run, metrics)
    report = {
        "run": str(run.path),
        "created_unix_s": time.time(),
        "settings": {"latency_repeats": cfg.latency_repeats, "latency_warmup": cfg.latency_warmup,
                     "threads": 1, "batch_size_latency": 1},
        "dataset": data_info,
        "runtimes": report_rt,
        "teacher": teacher,
        "student": student,
        "models": {"teacher": _block(metrics, "teacher"), "student": _block(metrics, "student"),
                   "student_alone": _block(metrics, "student_alone"),
                   "baselines": {k: _block((metrics or {}).get("baselines"), k)
                                 for k in ((metrics or {}).get("baselines") or {})}},
        "teacher_gate": (metrics or {}).get("teacher_gate"),
        "warnings": (metrics or {}).get("warnings", []),
        "router": (metrics or {}).get("router"),
        "history": (metrics or {}).get("history"),
        "boards": board_results,
        "parity": _read_json(run.export_dir / "parity.json"),
        "tflm": _read_json(run.export_dir / "tflm.json"),
        "metrics_json": str(run.metrics) if metrics is not None else None,
    }
    report["speedup"] = _speedups(report)
    report["realtime"] = realtime_budget(run)
    from dlink.bench.report import headline_rows
    from dlink.bench.target import target_summary

    report["target"] = target_summary(report, target, warn_percent=fw_cfg.memory_warn_percent)
    report["headline"] = headline_rows(report, default_board=target)
    report["data_notes"] = list(((metrics or {}).get("data") or {}).get("notes") or [])
    report["warnings"] = bench_warnings(report, data_info)
    pbar.set_description("bench: plots")
    from dlink.bench.plots import write_plots

    report["plots"] = write_plots(report, bench_dir / "plots")
    pbar.update(1)
    pbar.close()
    report["bench_wall_s"] = time.perf_counter() - t_start
    from dlink.bench.report import write_report

    outputs = write_report(report, bench_dir)
    exp = run.export_dir
    inputs = [p for p in (run.student, run.metrics, exp / "student.onnx", exp / "student.int8.onnx",
                          exp / "student.int8.tflite") if p.is_file()]
    run.write_stamp("bench", inputs=inputs,
                    outputs=[*outputs, *(bench_dir / "plots" / p for p in report["plots"])])
    return report


def realtime_budget(run: RunDir) -> dict[str, Any] | None:
    """The streaming app's real-time budget per board (:mod:`dlink.firmware.budget`), for runs with
    causal preprocessing; None for others (no streaming front end to budget)."""
    if not _is_causal(run):
        return None
    try:
        from dlink.firmware.budget import budget_rows

        rows = budget_rows(run.path)
    except Exception as e:  # the report still comes out; the reason is in it
        logger.warning("real-time budget not computed: %s", e)
        return {"status": "failed", "error": f"{type(e).__name__}: {e}", "rows": []}
    return {"status": "measured" if any(r["verdict"] != "not measured" for r in rows) else "not measured",
            "rows": rows, "over_realtime": [r["board"] for r in rows if r.get("over_realtime")]}


def _is_causal(run: RunDir) -> bool:
    try:
        from dlink.config import load_config

        return run.config.is_file() and load_config(run.config).data.preprocessing == "causal"
    except Exception:  # an unreadable config is reported by the stages that need it
        return False


def _firmware_config(run: RunDir):
    from dlink.firmware.build import load_firmware_config

    return load_firmware_config(run)


def bench_warnings(report: dict[str, Any], data_info: dict[str, Any]) -> list[str]:
    """The honesty warnings of a bench report (see :mod:`dlink.distill.honesty`): a teacher trained
    from scratch, a test set too small for its interval, a target board that is tight or too slow."""
    from dlink.distill.honesty import teacher_warning, small_test_set_warning

    rt = report["runtimes"]
    name = next((n for n in ("pytorch", "ort_float", "ort_int8") if rt.get(n, {}).get("status") == "measured"),
                None)
    found = [teacher_warning(report["models"].get("teacher") or {}),
             small_test_set_warning(rt[name]["metrics"], what=f"student ({rt[name]['label']})",
                               class_counts=data_info.get("class_counts")) if name else None]
    t = report.get("target") or {}
    found += [f"{t['board']}: {m}" for m in (t.get("fit") or {}).get("messages", [])]
    if (t.get("duty_cycle_lower_bound") or 0) >= 1.0:
        found.append(f"{t['board']}: an inference takes at least {t['time_ms_lower_bound']:.0f} ms at "
                     f"{t['cpu_hz'] / 1e6:g} MHz, longer than the {t['deadline_s']:g}-s {t['deadline_is']}: "
                     "the board cannot keep up")
    return [w for w in found if w]


def run_bench_config(run: RunDir) -> BenchConfig:
    """The run config's ``bench:`` section (BenchConfig defaults when the run has no config)."""
    from dlink.config import load_config

    if not run.config.is_file():
        return BenchConfig()
    return load_config(run.config).bench


def _n_outputs(runtimes: dict[str, Any], x: np.ndarray) -> int:
    for rt in runtimes.values():
        try:
            return int(rt.predict(x[:1]).shape[1])
        except Exception:  # the runtime's own failure is reported when it is measured
            continue
    return 0


def _measure_teacher(run: RunDir, x, y, n_classes, cfg: BenchConfig, metrics) -> dict[str, Any]:
    block = _block(metrics, "teacher")
    entry: dict[str, Any] = {"params": block.get("params"), "macs": block.get("macs")}
    if not run.teacher.is_file():
        return {**entry, "status": "not measured",
                "command": f"dlink distill CONFIG --run {run.path} (writes teacher.pt)"}
    try:
        rt = TorchRuntime.from_teacher_file(run.teacher)
        entry["metrics"] = classification_metrics(y, rt.predict(x), n_classes)
        entry["latency"] = measure_latency(rt.timed_call(x[:1]), repeats=max(5, cfg.latency_repeats // 2),
                                           warmup=min(cfg.latency_warmup, 2))
        if entry["params"] is None:
            entry["params"] = int(sum(p.numel() for p in rt.model.parameters()))
        entry["status"] = "measured"
    except Exception as e:
        logger.warning("teacher not measured: %s", e)
        entry.update(status="failed", error=f"{type(e).__name__}: {e}")
    return entry


def _student_size(run: RunDir, metrics) -> dict[str, Any]:
    block = _block(metrics, "student")
    out = {"params": block.get("params"), "macs": block.get("macs")}
    if out["params"] is None or out["macs"] is None:
        try:
            from dlink.distill.students import count_macs, count_params, load_student_file

            model, meta = load_student_file(run.student)
            out["params"] = out["params"] or int(count_params(model))
            out["macs"] = out["macs"] or int(count_macs(model, meta["n_chans"], meta["n_times"]))
        except Exception as e:
            logger.info("student size from metrics.json only: %s", e)
    return out


def _speedups(report: dict) -> dict[str, float]:
    t = (report["teacher"].get("latency") or {}).get("median_ms")
    out = {}
    if t:
        for name, e in report["runtimes"].items():
            s = (e.get("latency") or {}).get("median_ms")
            if s:
                out[f"teacher_pytorch_over_{name}"] = float(t / s)
    return out
