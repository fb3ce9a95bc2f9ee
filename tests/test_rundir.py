"""The run directory: atomic writes, and stages that refuse missing or stale inputs."""

from __future__ import annotations

import pytest

from dlink.io import atomic_path, atomic_write_json
from dlink.rundir import RunDir, StageError


def test_missing_stage_names_the_command(tmp_path):
    run = RunDir(tmp_path / "r")
    with pytest.raises(StageError, match=r"'distill' stage has not been run.*dlink distill CONFIG --run"):
        run.require_stage("distill", needed_by="dlink export")


def test_stale_stage_is_refused(tmp_path):
    run = RunDir(tmp_path / "r").mkdir()
    run.student.write_bytes(b"v1")
    (run.path / "export").mkdir()
    (run.path / "export" / "student.onnx").write_bytes(b"onnx")
    run.write_stamp("export", inputs=[run.student], outputs=["export/student.onnx"])
    assert run.require_stage("export")["inputs"]
    run.student.write_bytes(b"v2")  # the student was retrained: export is stale
    with pytest.raises(StageError, match=r"'export' stage .* is stale: its input 'student.pt' changed"):
        run.require_stage("export")


def test_missing_output_is_refused(tmp_path):
    run = RunDir(tmp_path / "r").mkdir()
    (run.path / "a.bin").write_bytes(b"x")
    run.write_stamp("distill", inputs=[], outputs=["a.bin"])
    (run.path / "a.bin").unlink()
    with pytest.raises(StageError, match=r"a\.bin'.*is missing"):
        run.require_stage("distill")


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "m.json"
    atomic_write_json(target, {"v": 1})
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text().strip().startswith("{") and '"v": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


@pytest.mark.parametrize("stage, command", [
    ("firmware-mps2-an500", "dlink firmware build {run} --board mps2-an500"),
    ("flash-nrf52840dk", "dlink flash {run} --board nrf52840dk"),
    ("teacher", "dlink teacher finetune CONFIG --run {run}"),
])
def test_per_board_stage_names_its_command(tmp_path, stage, command):
    run = RunDir(tmp_path / "r")
    with pytest.raises(StageError) as err:
        run.require_stage(stage)
    assert f"`{command.format(run=run.path)}`" in str(err.value)


def test_atomic_files_are_readable_by_others(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        target = atomic_write_json(tmp_path / "m.json", {"v": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_an_output_changed_after_its_stage_is_refused_naming_file_and_command(tmp_path):
    run = RunDir(tmp_path / "my run").mkdir()
    run.config.write_text("seed: 0\n")
    run.student.write_bytes(bytes(range(256)))
    run.write_stamp("distill", inputs=[run.config], outputs=[run.student])
    assert run.require_stage("distill")
    flipped = bytearray(run.student.read_bytes())
    flipped[100] ^= 0x01  # one bit of one weight
    run.student.write_bytes(bytes(flipped))
    with pytest.raises(StageError, match=r"student\.pt' changed since the 'distill' stage wrote it"
                                         r".*Run `dlink distill CONFIG --run '.*my run'` again"):
        run.require_stage("distill", needed_by="dlink export")


def test_an_unreadable_stamp_is_a_stage_error(tmp_path):
    run = RunDir(tmp_path / "r").mkdir()
    run.stamp_path("export").parent.mkdir()
    run.stamp_path("export").write_bytes(b'{"inputs": {"a": ')  # cut short
    with pytest.raises(StageError, match=r"export\.json' is not readable JSON.*dlink export"):
        run.require_stage("export")
    run.stamp_path("export").write_text("[1, 2]")
    with pytest.raises(StageError, match="does not have the layout"):
        run.require_stage("export")


def test_invalidate_removes_the_stamp(tmp_path):
    run = RunDir(tmp_path / "r").mkdir()
    (run.path / "a.bin").write_bytes(b"x")
    run.write_stamp("export", inputs=[], outputs=["a.bin"])
    run.invalidate("export")
    run.invalidate("export")  # twice is fine
    with pytest.raises(StageError, match="has not been run"):
        run.require_stage("export")


def test_invalidate_removes_temporaries_a_killed_writer_left(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    run = RunDir(tmp_path / "r").mkdir()
    run.export_dir.mkdir()
    keep = [run.export_dir / "student.onnx", run.export_dir / ".hidden"]
    for p in keep:
        p.write_bytes(b"x")
    # a writer killed inside atomic_path (kill -9 skips its clean-up)
    code = ("import os, signal, sys; from dlink.io import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_bytes(b'half'); os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(run.export_dir / "student.int8.onnx")])
    assert proc.returncode == -signal.SIGKILL
    left = [p for p in run.export_dir.iterdir() if p not in keep]
    assert len(left) == 1 and left[0].name.startswith(".student.int8.onnx.")
    run.invalidate("export", run.export_dir)
    assert sorted(run.export_dir.iterdir()) == sorted(keep)
    assert os.path.exists(keep[0])
