"""Extras: the table in dlink/extras.py matches pyproject.toml; every command whose extra is missing
says which one to install; `dlink check` and `--help` need nothing beyond the base install.

Missing packages are simulated with tests/import_blocker.py (one subprocess per case, about a
second each); tests/test_base_install.py checks a real base-only virtual environment.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml

from dlink.cli import COMMANDS
from dlink.extras import BASE, EXTRAS, extra_distributions, extra_for_module, import_name

REPO = Path(__file__).resolve().parents[1]

#: Arguments that get each command past argparse (the paths need not exist: the extra is checked first).
ARGS = {
    ("data", "summary"): ["configs/demo.yaml"],
    ("teacher", "check"): ["--arch", "labram", "--fixture", "nowhere/labram"],
    ("teacher", "pretrain"): ["configs/demo.yaml", "--run", "nowhere/run"],
    ("teacher", "finetune"): ["configs/demo.yaml", "--run", "nowhere/run"],
    ("distill",): ["configs/demo.yaml", "--run", "nowhere/run"],
    ("cv",): ["configs/s001-within.yaml", "--folds", "5", "--run", "nowhere/cv"],
    ("export",): ["nowhere/run"],
    ("firmware", "build"): ["nowhere/run", "--board", "mps2-an386"],
    ("flash",): ["nowhere/run", "--board", "mps2-an386"],
    ("bench",): ["nowhere/run"],
    ("check",): ["nowhere/gate"],
}


def blocked_dlink(argv: list[str], *, allow: tuple[str, ...] = ()) -> tuple[int, list[str], str, str]:
    """Run `dlink argv` with only the base install and ``allow`` extras importable.

    Returns (exit status, blocked modules something tried to import, stdout, stderr).
    """
    proc = subprocess.run([sys.executable, "-m", "tests.import_blocker", "--allow", ",".join(allow),
                           "--", *argv], capture_output=True, text=True, cwd=REPO, timeout=120)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    status = json.loads(lines[-1])
    return status["rc"], status["blocked_attempts"], "\n".join(lines[:-1]), proc.stderr


def _requirement_name(req: str) -> str:
    return re.split(r"[=<>!~\[; ]", req, maxsplit=1)[0].lower()


def test_extras_table_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert sorted(_requirement_name(r) for r in project["dependencies"]) == sorted(BASE)
    declared = project["optional-dependencies"]
    assert set(declared) == set(EXTRAS)
    for extra, reqs in declared.items():
        includes = [re.fullmatch(r"dlink\[(.+)\]", r).group(1).split(",") for r in reqs
                    if r.startswith("dlink[")]
        dists = [r for r in reqs if not r.startswith("dlink[")]
        assert tuple(i for inc in includes for i in inc) == EXTRAS[extra][0], extra
        assert sorted(_requirement_name(r) for r in dists) == sorted(EXTRAS[extra][1]), extra
        for r in dists:  # every package is pinned exactly
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", r), f"{extra}: {r!r} is not pinned"
    # each distribution is pinned in one place only
    every = [d for _, own in EXTRAS.values() for d in own] + list(BASE)
    assert len(every) == len(set(every))


def test_every_command_names_an_extra_or_the_base_install():
    for cmd in COMMANDS:
        assert cmd.extra is None or cmd.extra in EXTRAS, cmd
        assert cmd.path in ARGS, f"add {cmd.path} to ARGS of this test"
    assert [c.path for c in COMMANDS if c.extra is None] == [("check",)]


def test_extra_for_module():
    assert extra_for_module("torch") == "train"
    assert extra_for_module("torch", prefer="export") == "export"
    assert extra_for_module("tflite_micro.tensorflow.lite") == "codegen"
    assert extra_for_module("mne") == "data"
    assert extra_for_module("scipy", prefer="firmware") == "data"  # firmware does not provide it
    assert extra_for_module("serial") == "firmware"
    assert extra_for_module("not_a_dependency") is None
    assert extra_for_module("numpy") is None  # base install
    assert "pytest" in extra_distributions("all") and "torch" in extra_distributions("bench")
    assert import_name("scikit-learn") == "sklearn"


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c.extra], ids=lambda c: " ".join(c.path))
def test_command_names_its_extra_on_the_base_install(cmd):
    rc, attempts, out, err = blocked_dlink([*cmd.path, *ARGS[cmd.path]])
    assert rc == 1, (out, err)
    assert f"dlink {' '.join(cmd.path)} needs the {cmd.extra!r} extra" in err
    assert f"pip install 'dlink[{cmd.extra}]'" in err
    assert "Traceback" not in err and "ModuleNotFoundError" not in err


@pytest.mark.parametrize("path, allow, extra, not_listed", [
    (("export",), ("train",), "export", "torch"),        # has train: only export's own packages missing
    (("bench",), ("export",), "bench", "onnx"),
    (("firmware", "build"), ("export",), "firmware", "jinja2"),
    (("distill",), ("data",), "train", "mne"),
])
def test_command_names_its_extra_when_part_is_installed(path, allow, extra, not_listed):
    rc, _, _, err = blocked_dlink([*path, *ARGS[path]], allow=allow)
    assert rc == 1
    assert f"needs the {extra!r} extra (missing: " in err
    assert not_listed not in err.split("missing: ")[1].split(")")[0]


def test_help_needs_only_the_base_install():
    rc, attempts, out, _ = blocked_dlink(["--help"])
    assert rc == 0 and attempts == []
    assert all(cmd.example in out for cmd in COMMANDS)
    rc, attempts, out, _ = blocked_dlink(["export", "--help"])
    assert rc == 0 and attempts == [] and "Example:" in out


@pytest.fixture(scope="module")
def standin_bundle(tmp_path_factory):
    from tests.bench.standin import make_standin_run

    run = make_standin_run(tmp_path_factory.mktemp("extras") / "run", good=True, tflite=False)
    return run


def test_check_runs_on_the_base_install_alone(standin_bundle, tmp_path):
    """The reduced form of tests/test_base_install.py: every other extra's modules blocked."""
    gate = standin_bundle.export_dir / "gate"
    rc, attempts, out, err = blocked_dlink(["check", str(gate)])
    assert rc == 0, err
    assert attempts == [], f"dlink check tried to import {attempts}"
    assert "PASSED" in out
    # failing cases: labels unrelated to the windows (near chance), and NaN windows
    from tests.bench.standin import make_windows

    x, y = make_windows(60, seed=7)
    np.savez(tmp_path / "shuffled.npz", X=x, y=np.random.default_rng(0).permutation(y))
    rc, attempts, out, err = blocked_dlink(["check", str(gate), "--npz", str(tmp_path / "shuffled.npz")])
    assert rc == 1 and attempts == [] and "FAILED" in out and "(chance 0.3333 + 0.1000)" in err
    x, y = make_windows(12)
    x[3, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", X=x, y=y)
    rc, attempts, out, err = blocked_dlink(["check", str(gate), "--npz", str(tmp_path / "nan.npz")])
    assert rc == 1 and attempts == []
    assert "nan.npz" in err and "1 of 12 windows hold non-finite values" in err


def test_check_names_the_data_extra_when_it_must_read_a_test_split(standin_bundle, tmp_path):
    """A run whose bundle has no windows falls back to its test split: EEGMMIDB needs MNE."""
    import shutil

    from dlink.rundir import RunDir
    from tests.bench.standin import write_standin_bundle

    run = RunDir(tmp_path / "run")
    shutil.copytree(standin_bundle.path, run.path)
    cfg = yaml.safe_load(run.config.read_text())
    cfg["data"].update(name="eegmmidb", path=str(tmp_path), n_classes=2)
    run.config.write_text(yaml.safe_dump(cfg))
    files = write_standin_bundle(run.export_dir / "gate", run.export_dir, n_windows=0)
    run.write_stamp("export", inputs=[], outputs=files)
    rc, attempts, _, err = blocked_dlink(["check", str(run.path)])
    assert rc == 1 and attempts
    assert "dlink check needs the 'data' extra" in err and "pip install 'dlink[data]'" in err
