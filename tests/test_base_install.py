"""The base install (`pip install dlink`, no extras) in a fresh virtual environment: it holds none of
the extras' packages, `dlink check` runs a gate bundle (pass, fail, NaN refused), and every other
command says which extra to install. The demo pipeline's own bundle is checked there by
tests/test_end_to_end.py.

Slow: creating the environment and installing into it takes 20-45 s on the project machines. The
default suite runs the reduced form: the same checks with the extras' modules blocked in-process
(tests/test_extras.py, and the demo bundle in tests/test_end_to_end.py).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from dlink.cli import COMMANDS
from dlink.extras import BASE, EXTRAS
from tests.test_extras import ARGS

pytestmark = pytest.mark.slow


def _json_line(out: str) -> dict:
    return json.loads(next(l for l in out.splitlines() if l.startswith('{"dlink_check"')))["dlink_check"]


def test_base_install_holds_no_extra(base_venv):
    installed = base_venv.installed()
    assert set(BASE) <= set(installed) and "dlink" in installed
    extras = {d for _, own in EXTRAS.values() for d in own}
    assert sorted(extras & set(installed)) == []


@pytest.fixture(scope="module")
def standin_gate(tmp_path_factory):
    from tests.bench.standin import make_standin_run

    run = make_standin_run(tmp_path_factory.mktemp("base") / "run", good=True, tflite=False)
    gate = run.path.parent / "committed" / "gate"
    shutil.copytree(run.export_dir / "gate", gate)  # a bundle as a user commits it, no run around it
    return gate


def test_check_in_the_base_install(base_venv, standin_gate, tmp_path):
    proc = base_venv.run_dlink("check", str(standin_gate), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _json_line(proc.stdout)["passed"] is True and "PASSED" in proc.stdout
    from tests.bench.standin import make_windows

    x, y = make_windows(60, seed=7)
    np.savez(tmp_path / "shuffled.npz", X=x, y=np.random.default_rng(0).permutation(y))
    proc = base_venv.run_dlink("check", str(standin_gate), "--npz", str(tmp_path / "shuffled.npz"),
                               cwd=tmp_path)
    assert proc.returncode == 1 and _json_line(proc.stdout)["passed"] is False
    x[y == 0] = np.nan
    np.savez(tmp_path / "nan.npz", X=x, y=y)
    proc = base_venv.run_dlink("check", str(standin_gate), "--npz", str(tmp_path / "nan.npz"), cwd=tmp_path)
    assert proc.returncode == 1 and "PASSED" not in proc.stdout
    assert "20 of 60 windows hold non-finite values (NaN or infinity)" in proc.stderr


def test_help_in_the_base_install(base_venv, tmp_path):
    proc = base_venv.run_dlink("--help", cwd=tmp_path)
    assert proc.returncode == 0 and all(c.example in proc.stdout for c in COMMANDS)


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c.extra], ids=lambda c: " ".join(c.path))
def test_every_other_command_names_its_extra_in_the_base_install(base_venv, cmd, tmp_path):
    proc = base_venv.run_dlink(*cmd.path, *ARGS[cmd.path], cwd=tmp_path)
    assert proc.returncode == 1
    assert f"needs the {cmd.extra!r} extra" in proc.stderr and f"pip install 'dlink[{cmd.extra}]'" in proc.stderr
    assert "Traceback" not in proc.stderr
