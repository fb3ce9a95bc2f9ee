"""HostModel: build, run, and the errors it raises."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.firmware.helpers import generate_and_build, model_path


@pytest.fixture(scope="module")
def fc_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("host_fc")
    result, host = generate_and_build(model_path("fc"), root / "gen", root / "build", name="tiny")
    return result, host, root


def test_build_from_folder_and_dict_agree(fc_model):
    from dlink.firmware.host import HostModel

    result, host, root = fc_model
    again = HostModel.build(result["source"].parent, root / "build")
    assert again.exe == host.exe  # same sources and flags: the binary is reused
    assert (host.name, host.input_bytes, host.output_bytes) == ("tiny", 16, 5)
    x = np.arange(-40, 40, dtype=np.int8).reshape(5, 16)
    np.testing.assert_array_equal(again.run(x), host.run(x))


def test_run_accepts_model_shaped_input(fc_model):
    _, host, _ = fc_model
    x = np.zeros((3, 1, 16), np.int8)
    y = host.run(x)
    assert y.shape == (3, 5) and y.dtype == np.int8
    assert (y == y[0]).all()  # identical windows, identical outputs


def test_run_rejects_bad_inputs(fc_model):
    _, host, _ = fc_model
    with pytest.raises(TypeError, match="dtype int8"):
        host.run(np.zeros((2, 16), np.float32))
    with pytest.raises(ValueError, match="16 values.*got 15"):
        host.run(np.zeros((2, 15), np.int8))


def test_build_errors(tmp_path):
    from dlink.firmware.host import HostModel

    with pytest.raises(FileNotFoundError, match="does not exist"):
        HostModel.build(tmp_path / "missing", tmp_path / "b")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="exactly one '<name>_model.c'"):
        HostModel.build(tmp_path / "empty", tmp_path / "b")
    with pytest.raises(ValueError, match="backend"):
        HostModel.build(tmp_path / "empty", tmp_path / "b", backend="mve9")


def test_failing_layer_is_reported(fc_model, tmp_path):
    """A kernel error surfaces as HostRunError naming the status and the layer."""
    from dlink.firmware.host import HostBuildError, HostModel, HostRunError

    result, _, root = fc_model
    gen = tmp_path / "gen"
    gen.mkdir()
    src = result["source"].read_text()
    broken = re.sub(r"\.n_multipliers = \d+", ".n_multipliers = 3", src)
    assert broken != src
    (gen / "tiny_model.c").write_text(broken)
    (gen / "tiny_model.h").write_text(result["header"].read_text())
    host = HostModel.build(gen, root / "build")
    with pytest.raises(HostRunError, match="DLK_ERR_BAD_PARAM at layer 0"):
        host.run(np.zeros((1, 16), np.int8))
    (gen / "tiny_model.c").write_text(src + "\nint this is not C;\n")
    with pytest.raises(HostBuildError, match="Host build of .*tiny_model.c failed"):
        HostModel.build(gen, root / "build")
