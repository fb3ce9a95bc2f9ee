"""The run directory: the contract between stages.

Layout (see DESIGN.md)::

    runs/<name>/
      config.yaml          resolved config
      teacher.pt           task-adapted teacher
      student.pt           student weights + the arguments that rebuild it
      metrics.json         val/test metrics, router layer weights
      export/              ONNX, int8 ONNX QDQ, int8 TFLite, test vectors, parity.json
      firmware/<board>/    generated model.c/.h, app.elf, size report
      bench/               report.json, report.md, plots/
      .stamps/<stage>.json what each stage read (with SHA-256) and wrote

Each stage reads the previous stage's files, never its Python objects. When a stage finishes it
writes a stamp naming the files it read and the files it wrote, each with its SHA-256. A later
stage calls :meth:`RunDir.require_stage`: it refuses to run when the earlier stage never finished,
when one of its outputs is gone or no longer has the hash the stamp recorded (changed, swapped or
corrupted since it was written), or when one of its inputs changed since (the earlier stage is
stale), and says which command rebuilds it. A stage removes its own stamp
(:meth:`RunDir.invalidate`) before it writes anything, so a stage interrupted half-way (an
error, kill -9) leaves no stamp and every later stage refuses its partial outputs until the same
command has run to the end.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .io import atomic_write_json, remove_stale_temporaries, sha256_file

#: The command that produces each stage's outputs; ``{run}`` and ``{board}`` are filled in.
STAGE_COMMANDS: dict[str, str] = {
    "pretrain": "dlink teacher pretrain CONFIG --run {run}",
    "teacher": "dlink teacher finetune CONFIG --run {run}",
    "distill": "dlink distill CONFIG --run {run}",
    "export": "dlink export {run}",
    "firmware": "dlink firmware build {run} --board {board}",
    "flash": "dlink flash {run} --board {board}",
    "bench": "dlink bench {run}",
    "cv": "dlink cv CONFIG --folds K --run {run}",
}


def stage_command(stage: str, *, run: str | Path, board: str = "mps2-an386") -> str:
    """The command that produces ``stage``; per-board stages are named ``firmware-<board>``,
    ``flash-<board>``."""
    base, _, stage_board = stage.partition("-")
    if base in ("firmware", "flash") and stage_board:
        board = stage_board
        stage = base
    return STAGE_COMMANDS.get(stage, stage).format(run=shlex.quote(str(run)), board=board)


class StageError(RuntimeError):
    """A stage's input is missing or stale; the message says which command to run first."""


@dataclass(frozen=True)
class RunDir:
    """A run directory. Paths are relative to :attr:`path`.

    Parameters
    ----------
    path : str | Path
        The run directory, e.g. ``runs/demo``.
    """

    path: Path

    def __init__(self, path: str | Path):
        object.__setattr__(self, "path", Path(path))

    # -- paths --------------------------------------------------------------------------------
    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def teacher(self) -> Path:
        return self.path / "teacher.pt"

    @property
    def student(self) -> Path:
        return self.path / "student.pt"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def export_dir(self) -> Path:
        return self.path / "export"

    def firmware_dir(self, board: str) -> Path:
        return self.path / "firmware" / board

    @property
    def bench_dir(self) -> Path:
        return self.path / "bench"

    @property
    def checkpoints_dir(self) -> Path:
        """Per-epoch training checkpoints (resume after interruption)."""
        return self.path / "checkpoints"

    def stamp_path(self, stage: str) -> Path:
        return self.path / ".stamps" / f"{stage}.json"

    def rel(self, p: str | Path) -> str:
        p = Path(p)
        try:
            return str(p.resolve().relative_to(self.path.resolve()))
        except ValueError:
            return str(p)

    def mkdir(self) -> "RunDir":
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    # -- stamps -------------------------------------------------------------------------------
    def write_stamp(
        self,
        stage: str,
        *,
        inputs: list[str | Path],
        outputs: list[str | Path],
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Record that ``stage`` finished: the hashes of what it read, and what it wrote."""
        missing = [str(o) for o in outputs if not self._abs(o).exists()]
        if missing:
            raise StageError(f"Stage {stage!r} claims outputs that do not exist: {missing}")
        stamp = {
            "stage": stage,
            "finished_unix_s": time.time(),
            "inputs": {self.rel(self._abs(i)): sha256_file(self._abs(i)) for i in inputs},
            "outputs": {self.rel(self._abs(o)): sha256_file(self._abs(o))
                        for o in outputs if self._abs(o).is_file()},
            **({"extra": extra} if extra else {}),
        }
        return atomic_write_json(self.stamp_path(stage), stamp)

    def invalidate(self, stage: str, *folders: str | Path) -> None:
        """Remove the stamp of ``stage``: called by a stage before it writes anything, so that
        outputs of an unfinished run are never taken for finished ones. Temporary files that a
        killed earlier attempt left in ``folders`` (the stage's output folders) are removed."""
        self.stamp_path(stage).unlink(missing_ok=True)
        for folder in folders:
            remove_stale_temporaries(self._abs(folder))

    def read_stamp(self, stage: str) -> dict | None:
        """The stamp of ``stage`` (None when it has not finished); StageError when unreadable."""
        sp = self.stamp_path(stage)
        if not sp.is_file():
            return None
        try:
            stamp = json.loads(sp.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StageError(
                f"The stamp {str(sp)!r} is not readable JSON ({e}). Run `"
                f"{stage_command(stage, run=self.path)}` again to rewrite it.") from None
        ok = (isinstance(stamp, dict) and isinstance(stamp.get("inputs", {}), dict)
              and isinstance(stamp.get("outputs", {}), dict))
        if not ok:
            raise StageError(
                f"The stamp {str(sp)!r} does not have the layout dlink writes (inputs and "
                f"outputs mappings). Run `{stage_command(stage, run=self.path)}` again.")
        return stamp

    def require_stage(self, stage: str, *, board: str = "mps2-an386", needed_by: str = "") -> dict:
        """Return the stamp of ``stage`` if it finished and is up to date, else raise StageError.

        Every file the stage wrote must still have the SHA-256 its stamp recorded (a later stage
        reads them: a changed, swapped or corrupted artifact is refused, naming the file and the
        command that rebuilds it), and every file it read must be unchanged (else it is stale).
        """
        cmd = stage_command(stage, run=self.path, board=board)
        who = f" {needed_by} needs it." if needed_by else ""
        stamp = self.read_stamp(stage)
        if stamp is None:
            raise StageError(
                f"The {stage!r} stage has not been run in {str(self.path)!r}.{who} "
                f"Run `{cmd}` first."
            )
        for rel, digest in stamp.get("outputs", {}).items():
            p = self.path / rel
            if not p.is_file():
                raise StageError(
                    f"{str(p)!r}, written by the {stage!r} stage, is missing.{who} Run `{cmd}` again."
                )
            got = sha256_file(p)
            if got != digest:
                raise StageError(
                    f"{str(p)!r} changed since the {stage!r} stage wrote it (SHA-256 "
                    f"{got[:16]}..., the stamp {str(self.stamp_path(stage))!r} recorded "
                    f"{str(digest)[:16]}...): it was edited, replaced or corrupted.{who} "
                    f"Run `{cmd}` again to rebuild it."
                )
        for rel, digest in stamp.get("inputs", {}).items():
            p = self._abs(rel)
            if not p.is_file() or sha256_file(p) != digest:
                raise StageError(
                    f"The {stage!r} stage in {str(self.path)!r} is stale: its input {rel!r} "
                    f"{'is gone' if not p.is_file() else 'changed since it ran'}.{who} "
                    f"Run `{cmd}` again."
                )
        return stamp

    def require_file(self, rel: str | Path, *, stage: str, board: str = "mps2-an386") -> Path:
        """Return the path of a file another stage writes, or raise StageError naming the command."""
        p = self._abs(rel)
        if not p.is_file():
            cmd = stage_command(stage, run=self.path, board=board)
            raise StageError(f"{str(p)!r} is missing. Run `{cmd}` first.")
        return p

    def _abs(self, p: str | Path) -> Path:
        """Paths from this object's properties are used as they are; others are run-relative."""
        p = Path(p)
        n = len(self.path.parts)
        if p.is_absolute() or p.parts[:n] == self.path.parts:
            return p
        return self.path / p
