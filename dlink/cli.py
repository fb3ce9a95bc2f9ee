"""The ``dlink`` command line.

Every subcommand lives in its stage's ``cli`` module as two functions, ``add_arguments(parser)``
and ``run(args) -> int``, and is registered in :data:`COMMANDS` below: one explicit table, no
discovery. Stage modules import their heavy dependencies inside ``run`` so ``dlink --help`` is fast.
Errors print one line (``Failed to <step>: <reason>``) plus the log file holding the traceback:
``<run>/logs/dlink-error.log`` when the command works on an existing run directory, else a
per-user file (``$XDG_STATE_HOME/dlink/last-error.log``, by default ``~/.local/state/dlink/``).

Each command names the optional extra it needs (:mod:`dlink.extras`; None: the base install). A
command whose extra is not installed stops before any work with a line naming the extra and how to
install it; an import that fails later, inside the work, is reported the same way.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from . import __version__


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]  #: words after `dlink`, e.g. ("firmware", "build")
    module: str  #: module with add_arguments/run
    help: str
    example: str
    extra: str | None = None  #: the pyproject extra it needs; None: the base install is enough


COMMANDS: tuple[Command, ...] = (
    Command(("data", "summary"), "dlink.data.cli", "print windows, classes, channels per split as JSON",
            "dlink data summary configs/demo.yaml", "data"),
    Command(("teacher", "check"), "dlink.distill.teacher_cli",
            "check a teacher implementation against reference outputs (max abs error per stage)",
            "dlink teacher check --arch labram --fixture ../shared/fixtures/teachers/labram_tiny_stress",
            "train"),
    Command(("teacher", "pretrain"), "dlink.distill.pretrain.cli",
            "self-supervised pretraining of the teacher on unlabelled EEG (writes RUN/pretrained.pth "
            "in the official layout; under torchrun: DistributedDataParallel)",
            "dlink teacher pretrain configs/demo.yaml --run runs/demo_pretrain\n"
            "  torchrun --nproc_per_node=2 -m dlink teacher pretrain CONFIG --run-dir RUN",
            "train"),
    Command(("teacher", "finetune"), "dlink.distill.finetune_cli",
            "task-adapt a teacher on the config's dataset (writes RUN/teacher.pt)",
            "dlink teacher finetune configs/demo.yaml --run runs/demo", "train"),
    Command(("distill",), "dlink.distill.cli", "fine-tune (or load) the teacher and distill the student",
            "dlink distill configs/demo.yaml --run runs/demo", "train"),
    Command(("cv",), "dlink.bench.cv_cli",
            "k-fold cross-validation: every fold end to end (teacher, student, baselines), mean ± sd",
            "dlink cv configs/s001-within.yaml --folds 5 --run runs/s001-cv", "export"),
    Command(("export",), "dlink.export.cli",
            "student.pt -> ONNX -> int8 ONNX QDQ + int8 TFLite, validated; test vectors",
            "dlink export runs/demo", "export"),
    Command(("firmware", "build"), "dlink.firmware.build_cli",
            "generate C for the int8 model and build the app for a board",
            "dlink firmware build runs/demo --board mps2-an386", "firmware"),
    Command(("flash",), "dlink.firmware.flash_cli",
            "run the app: under QEMU for emulated boards, through pyOCD for real ones",
            "dlink flash runs/demo --board mps2-an386", "firmware"),
    Command(("bench",), "dlink.bench.cli",
            "measure accuracy, latency, RAM, flash and a per-layer profile per board; write the "
            "report",
            "dlink bench runs/demo", "bench"),
    Command(("check",), "dlink.bench.check_cli",
            "CI gate: a gate bundle's int8 QDQ student in onnxruntime; fail below accuracy/agreement "
            "thresholds (base install)",
            "dlink check runs/demo/export/gate --min-balanced-accuracy 0.5"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlink",
        description="DLink toolchain: EEG foundation model -> distilled int8 student -> Cortex-M.",
        epilog="Examples:\n" + "\n".join(f"  {c.example}" for c in COMMANDS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dlink {__version__}")
    subparsers: dict[tuple[str, ...], argparse._SubParsersAction] = {
        (): parser.add_subparsers(dest="command", metavar="<command>")
    }
    groups: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for cmd in COMMANDS:
        for depth in range(1, len(cmd.path)):
            prefix = cmd.path[:depth]
            if prefix not in groups:
                examples = [c.example for c in COMMANDS if c.path[:depth] == prefix]
                g = subparsers[prefix[:-1]].add_parser(
                    prefix[-1], help=f"{prefix[-1]} commands", description=f"dlink {' '.join(prefix)} "
                    "commands (each has --help)", formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="Examples:\n" + "\n".join(f"  {e}" for e in examples))
                groups[prefix] = g
                subparsers[prefix] = g.add_subparsers(dest="_".join(prefix) + "_command",
                                                      metavar="<command>")
        sub = subparsers[cmd.path[:-1]].add_parser(
            cmd.path[-1], help=cmd.help, description=cmd.help,
            epilog=f"Example:\n  {cmd.example}", formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("-v", "--verbose", action="store_true", help="log details and show progress bars")
        module = importlib.import_module(cmd.module)
        module.add_arguments(sub)
        sub.set_defaults(_command=cmd)
    for prefix, g in groups.items():
        g.set_defaults(_group=g)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cmd: Command | None = getattr(args, "_command", None)
    if cmd is None:
        (getattr(args, "_group", None) or parser).print_help()
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from .extras import MissingExtraError

    module = importlib.import_module(cmd.module)
    step = " ".join(cmd.path)
    try:
        return _run_command(cmd, module, args)
    except MissingExtraError as e:
        print(str(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"dlink {step}: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    except Exception as e:  # one line for the user, the traceback in a log file
        text = traceback.format_exc()
        for log in error_log_paths(args):
            try:
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text(text)
                break
            except OSError:
                continue
        else:
            log = None
        where = f"traceback: {log}" if log else "no writable place for the traceback log"
        print(f"Failed to {step}, err: {e}\n({where})", file=sys.stderr)
        return 1


def user_log_dir() -> Path:
    """The per-user folder for logs: ``$XDG_STATE_HOME/dlink`` (default ``~/.local/state/dlink``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dlink"


def error_log_paths(args: argparse.Namespace) -> list[Path]:
    """Where a failed command's traceback goes, best first: the run directory the command works
    on (when it exists), then the per-user log folder (never a path shared by all users)."""
    paths = []
    for attr in ("run", "run_dir"):
        run = getattr(args, attr, None)
        if isinstance(run, (str, Path)) and Path(run).is_dir():
            paths.append(Path(run) / "logs" / "dlink-error.log")
    return [*paths, user_log_dir() / "last-error.log"]


def _run_command(cmd: Command, module, args: argparse.Namespace) -> int:
    """Run a command after checking its extra; a module missing later names its extra too."""
    from .extras import MissingExtraError, extra_for_module, missing_extra_message, require_extra

    needed_by = "dlink " + " ".join(cmd.path)
    require_extra(cmd.extra, needed_by=needed_by)
    try:
        return int(module.run(args) or 0)
    except ModuleNotFoundError as e:
        extra = extra_for_module(e.name, prefer=cmd.extra)
        if extra is None:  # not a package of any extra: a real error, reported as such
            raise
        missing = [e.name.split(".")[0]]
        raise MissingExtraError(missing_extra_message(extra, missing, needed_by=needed_by),
                                extra=extra, missing=missing) from e


if __name__ == "__main__":
    sys.exit(main())
