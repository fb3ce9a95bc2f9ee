"""The `dlink` command line: every subcommand has --help with an example."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dlink.cli import COMMANDS, main


def test_top_level_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in COMMANDS:
        assert cmd.path[0] in out
        assert cmd.example in out


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c.path))
def test_subcommand_help_has_example(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*cmd.path, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "Example:" in out and cmd.example in out
    assert "--verbose" in out


def test_console_script_help_is_fast_and_lists_commands():
    # the console script must not import torch or tensorflow to print help
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dlink.cli", "--help"],
        capture_output=True, text=True, check=True,
    )
    assert "distill" in proc.stdout and "firmware" in proc.stdout
    heavy = [mod for mod in ("torch", "tensorflow", "onnxruntime", "mne")
             if f"| {mod}\n" in proc.stderr or f"|   {mod}\n" in proc.stderr]
    assert heavy == [], f"dlink --help imports heavy modules: {heavy}"


@pytest.mark.parametrize("group", sorted({c.path[0] for c in COMMANDS if len(c.path) > 1}))
def test_command_group_help_has_examples(group, capsys):
    with pytest.raises(SystemExit) as exc:
        main([group, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "Examples:" in out
    for cmd in COMMANDS:
        if cmd.path[0] == group:
            assert cmd.example in out


def test_error_log_goes_to_the_run_directory_or_a_per_user_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run = tmp_path / "run"
    run.mkdir()
    assert main(["export", str(run)]) == 1  # no distill stage: fails
    err = capsys.readouterr().err
    log = run / "logs" / "dlink-error.log"
    assert f"(traceback: {log})" in err and "Traceback" in log.read_text()
    assert main(["data", "summary", str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    user_log = tmp_path / "state" / "dlink" / "last-error.log"
    assert f"(traceback: {user_log})" in err and user_log.is_file()
    assert "/tmp/dlink-last-error.log" not in err
