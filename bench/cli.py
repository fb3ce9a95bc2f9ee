"""`dlink bench RUN`: measure accuracy, latency, RAM and flash, and the per-layer profile of each
emulated or attached board (instructions under QEMU, which counts instructions, not cycles; DWT
cycles on hardware); write RUN/bench/report.*."""

from __future__ import annotations

import argparse


def _board_list(value: str) -> list[str]:
    boards = [b.strip() for b in value.split(",") if b.strip()]
    if not boards:
        raise argparse.ArgumentTypeError(f"--boards needs a comma-separated list of boards, got {value!r}.")
    return boards


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN", help="run directory whose export stage is up to date")
    parser.add_argument("--boards", metavar="<b1,b2>", type=_board_list, default=None,
                        help="build and run these boards first (e.g. "
                             "mps2-an386,mps2-an500,mps2-an505,mps3-an547); by default only boards already "
                             "built are run and read")
    parser.add_argument("--serial", metavar="<port>", default=None,
                        help="a real board on this serial port: flash it and read cycles")
    parser.add_argument("--serial-board", metavar="<board>", default="nrf52840",
                        help="the board on --serial (default: nrf52840)")
    parser.add_argument("--repeats", metavar="N", type=int, default=None,
                        help="timed runs per runtime (default: bench.latency_repeats)")
    parser.add_argument("--warmup", metavar="N", type=int, default=None,
                        help="untimed warm-up runs (default: bench.latency_warmup)")
    parser.add_argument("--max-windows", metavar="N", type=int, default=None,
                        help="use a seeded random subset of N test windows")
    parser.add_argument("--npz", metavar="<file.npz>", default=None,
                        help="windows X and labels y to use instead of the run's test split")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from dlink.bench.bench import run_bench_config, run_bench
    from dlink.bench.report import headline_text, realtime_text
    from dlink.rundir import RunDir

    cfg = run_bench_config(RunDir(args.run_dir))
    over = {k: v for k, v in (("latency_repeats", args.repeats), ("latency_warmup", args.warmup),
                              ("max_test_windows", args.max_windows)) if v is not None}
    if over:
        cfg = dataclasses.replace(cfg, **over)
        cfg.validate()
    report = run_bench(args.run_dir, cfg=cfg, build_boards=args.boards, serial=args.serial,
                       serial_board=args.serial_board, npz=args.npz, verbose=args.verbose)
    print(headline_text(report))
    if report.get("realtime"):
        print("\nreal-time budget of the streaming app:\n" + realtime_text(report))
    if report.get("target"):
        from dlink.bench.target import target_text

        print("\n" + target_text(report["target"]))
    for w in report.get("warnings") or []:
        print(f"warning: {w}")
    if report.get("data_notes"):
        print(f"data: {len(report['data_notes'])} note(s) on what the loader left out (report.md)")
    bench = RunDir(args.run_dir).bench_dir
    print(f"\nreport: {bench / 'report.md'}, {bench / 'report.json'}")
    print(f"plots: {', '.join(str(bench / 'plots' / p) for p in report['plots'])}")
    missing = [f"{b}: {e.get('command')}" for b, e in report["boards"].items() if e["status"] != "measured"]
    missing += [f"{n}: {e.get('error')}" for n, e in report["runtimes"].items() if e["status"] != "measured"]
    t = report["teacher"]
    if t.get("status") != "measured":
        missing.append(f"teacher: {t.get('error') or t.get('command')}")
    if missing:
        print("not measured:\n  " + "\n  ".join(missing))
    return 0
