"""`dlink firmware build` with a stand-in model: every board links; sizes; overflow; errors."""

from __future__ import annotations

import json
import shutil

import pytest

from dlink.cli import main
from dlink.firmware.boards import BOARDS, get_board
from dlink.firmware.build import ModelTooBigError, build_firmware, overflow_message
from dlink.rundir import StageError
from tests.firmware.standin_app import (
    ARENA_BYTES, N_INPUT, N_OUTPUT, N_VECTORS, build_standin, make_standin_generator,
    make_standin_run, no_runtime,
)

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                reason="arm-none-eabi-gcc is not installed")


@pytest.mark.parametrize("board", list(BOARDS))
def test_every_board_builds_the_standin_app(tmp_path, board):
    out = build_standin(tmp_path / "run", board)
    fw = tmp_path / "run" / "firmware" / board
    for name in ("app.elf", "app.hex", "app.bin", "app.map", "size.json", "student_model.c",
                 "test_vectors.c", "test_vectors.h"):
        assert (fw / name).is_file(), name
    size = json.loads((fw / "size.json").read_text())
    spec = get_board(board)
    assert size["board"] == board and size["core"] == spec["core"]
    assert 0 < size["flash_bytes"] <= spec["flash_bytes"]
    assert size["flash_bytes"] == size["text"] + size["data"]
    assert size["ram_bytes"] == size["data"] + size["bss"] + size["stack"]
    assert size["stack"] == spec["stack_bytes"]
    assert size["arena_bytes"] == ARENA_BYTES
    # the test vectors have their own section, counted apart from the app's footprint
    assert size["test_vectors"] >= N_VECTORS * (N_INPUT + N_OUTPUT)
    assert size["image_bytes"] == size["flash_bytes"] + size["test_vectors"]
    assert size["flash_app_percent"] == round(100.0 * size["flash_bytes"] / spec["flash_bytes"], 2)
    assert size["flash_used_percent"] == round(100.0 * size["image_bytes"] / spec["flash_bytes"], 2)
    assert (fw / "app.bin").stat().st_size == size["image_bytes"]
    stamp = json.loads((tmp_path / "run" / ".stamps" / f"firmware-{board}.json").read_text())
    assert "firmware/%s/app.elf" % board in stamp["outputs"]
    assert out["size_report"] == size


def test_build_is_deterministic(tmp_path):
    build_standin(tmp_path / "a", "mps2-an386")
    build_standin(tmp_path / "b", "mps2-an386")
    a = (tmp_path / "a" / "firmware" / "mps2-an386" / "app.elf").read_bytes()
    b = (tmp_path / "b" / "firmware" / "mps2-an386" / "app.elf").read_bytes()
    assert a == b


def test_model_too_big_for_the_board_names_board_region_and_overflow(tmp_path):
    # 1.25 MiB of weights on the 1 MiB nRF52840
    with pytest.raises(ModelTooBigError, match=r"'nrf52840'.*region FLASH \(1024 KiB .*\) "
                                               r"overflowed by \d+ bytes.*test vectors take "
                                               rf"{N_VECTORS * (N_INPUT + N_OUTPUT)} bytes"):
        build_standin(tmp_path / "run", "nrf52840", big_const_bytes=1280 * 1024)
    assert not (tmp_path / "run" / ".stamps" / "firmware-nrf52840.json").exists()


def test_too_big_is_one_error_line_from_the_cli(tmp_path, capsys, monkeypatch):
    import dlink.firmware.build as build_mod

    make_standin_run(tmp_path / "run")
    monkeypatch.setattr(build_mod, "_default_generate",
                        make_standin_generator(big_const_bytes=1280 * 1024))
    monkeypatch.setattr(build_mod, "_default_runtime", no_runtime)
    rc = main(["firmware", "build", str(tmp_path / "run"), "--board", "nrf52840"])
    err = capsys.readouterr().err
    assert rc == 1
    first = err.splitlines()[0]
    assert first.startswith("Failed to firmware build, err: the app does not fit on board 'nrf52840'")
    assert "overflowed by" in first


def test_overflow_message_parses_both_regions():
    ld = ("ld: app.elf section `.bss' will not fit in region `nrf52840_RAM'\n"
          "ld: region `nrf52840_RAM' overflowed by 4096 bytes\n"
          "ld: region `nrf52840_FLASH' overflowed by 12 bytes\n")
    msg = overflow_message("nrf52840", ld)
    assert "region RAM (256 KiB on-chip RAM) overflowed by 4096 bytes" in msg
    assert "region FLASH (1024 KiB on-chip flash) overflowed by 12 bytes" in msg
    assert overflow_message("nrf52840", "ld: some other error") is None


def test_build_requires_the_export_stage(tmp_path):
    with pytest.raises(StageError, match=r"dlink export"):
        build_firmware(tmp_path / "empty", "mps2-an386", generate=make_standin_generator(),
                       runtime=no_runtime)


def test_backend_the_core_cannot_run_is_refused(tmp_path, monkeypatch):
    from dlink.firmware import boards
    from dlink.firmware.config import FirmwareConfig

    with pytest.raises(ValueError, match=r"firmware.backend.*'helium2'"):
        FirmwareConfig(backend="helium2").validate()
    make_standin_run(tmp_path / "run")
    with pytest.raises(ValueError, match=r"firmware.backend.*'mve'.*mps2-an386 \(cortex-m4\)"):
        build_firmware(tmp_path / "run", "mps2-an386", generate=make_standin_generator(),
                       runtime=no_runtime, config=FirmwareConfig(backend="mve"))
    monkeypatch.setitem(boards.BOARDS, "plain-m0", {**boards.BOARDS["mps2-an386"],
                                                    "core": "cortex-m0", "backends": ("ref",)})
    with pytest.raises(ValueError, match=r"firmware.backend.*'dsp'.*plain-m0 \(cortex-m0\)"):
        build_firmware(tmp_path / "run", "plain-m0", generate=make_standin_generator(),
                       runtime=no_runtime, config=FirmwareConfig(backend="dsp"))


def test_auto_backend_is_the_fastest_the_core_runs(monkeypatch):
    from dlink.firmware import boards
    from dlink.firmware.build import resolve_backend

    assert resolve_backend("auto", "mps2-an386") == "dsp"
    assert resolve_backend("auto", "mps3-an547") == "mve"  # Helium on the Cortex-M55
    assert resolve_backend("ref", "mps2-an386") == "ref"
    monkeypatch.setitem(boards.BOARDS, "plain-m0", {**boards.BOARDS["mps2-an386"], "backends": ("ref",)})
    assert resolve_backend("auto", "plain-m0") == "ref"


STRICT = ("-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wconversion", "-Wsign-conversion",
          "-Wdouble-promotion", "-Wshadow", "-Wmissing-prototypes", "-Werror")


def test_deployment_build_embeds_no_test_vectors(tmp_path):
    from dlink.firmware.config import FirmwareConfig

    with_tv = build_standin(tmp_path / "a", "nrf52840")["size_report"]
    out = build_standin(tmp_path / "b", "nrf52840", config=FirmwareConfig(test_vectors=False))
    size = out["size_report"]
    assert size["test_vectors"] == 0 and size["image_bytes"] == size["flash_bytes"]
    assert size["test_vectors_embedded"] is False and with_tv["test_vectors_embedded"] is True
    assert with_tv["test_vectors"] >= N_VECTORS * (N_INPUT + N_OUTPUT)
    fw = tmp_path / "b" / "firmware" / "nrf52840"
    assert not (fw / "test_vectors.c").exists()
    stamp = json.loads((tmp_path / "b" / ".stamps" / "firmware-nrf52840.json").read_text())
    assert not any("test_vectors" in k for k in stamp["inputs"]) and stamp["extra"]["test_vectors"] is False


def test_size_report_checks_the_fit_against_the_board(tmp_path):
    from dlink.firmware.config import FirmwareConfig

    size = build_standin(tmp_path / "a", "nrf52840")["size_report"]
    fit = size["fit"]
    assert fit["status"] == "fits" and fit["messages"] == []
    assert fit["ram_bytes"] == size["ram_bytes"] and fit["ram_capacity_bytes"] == 256 * 1024
    tight = build_standin(tmp_path / "b", "nrf52840", config=FirmwareConfig(memory_warn_percent=1.0))
    msgs = tight["size_report"]["fit"]["messages"]
    assert tight["size_report"]["fit"]["status"] == "tight"
    assert any(m.startswith("the app uses") and "of nrf52840's RAM (256 KiB on-chip RAM)" in m
               and "above the 1% margin of firmware.memory_warn_percent" in m for m in msgs)


def test_deployment_build_from_the_cli_says_so(tmp_path, capsys, monkeypatch):
    import dlink.firmware.build as build_mod

    make_standin_run(tmp_path / "run")
    monkeypatch.setattr(build_mod, "_default_generate", make_standin_generator())
    monkeypatch.setattr(build_mod, "_default_runtime", no_runtime)
    assert main(["firmware", "build", str(tmp_path / "run"), "--board", "nrf52840", "--no-test-vectors"]) == 0
    out = capsys.readouterr().out
    assert "deployment build: no test vectors" in out and "fit on nrf52840: RAM" in out


@pytest.mark.parametrize("board", list(BOARDS))
def test_app_and_board_sources_are_warning_free(tmp_path, board):
    import subprocess

    import numpy as np

    from dlink.firmware.build import board_sources
    from tests.firmware.standin_app import standin_outputs, write_test_vectors

    make_standin_generator()(tmp_path / "x.tflite", tmp_path)
    x = np.zeros((1, N_INPUT), np.int8)
    write_test_vectors(tmp_path, x, standin_outputs(x))
    c_files, include_dirs = board_sources(board)
    for src in c_files:
        proc = subprocess.run(
            ["arm-none-eabi-gcc", *get_board(board)["cpu_flags"], *STRICT,
             *(f"-I{d}" for d in include_dirs), f"-I{tmp_path}", "-c", str(src),
             "-o", str(tmp_path / f"{src.stem}.o")], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    deploy = subprocess.run(  # the deployment app, without test vectors
        ["arm-none-eabi-gcc", *get_board(board)["cpu_flags"], *STRICT, "-DDLK_NO_TEST_VECTORS",
         *(f"-I{d}" for d in include_dirs), f"-I{tmp_path}", "-c", str(c_files[0]),
         "-o", str(tmp_path / "deploy.o")], capture_output=True, text=True)
    assert deploy.returncode == 0, deploy.stderr


def test_a_swapped_or_corrupted_model_is_refused_naming_file_and_command(tmp_path):
    """The export stamp's hash of each file is checked: a .tflite replaced after export never
    reaches the firmware."""
    from dlink.firmware.build import build_firmware
    from dlink.rundir import StageError

    run = make_standin_run(tmp_path / "r")
    tfl = run.export_dir / "student.int8.tflite"
    tfl.write_bytes(tfl.read_bytes()[:-1] + b"!")
    with pytest.raises(StageError, match=r"student\.int8\.tflite' changed since the 'export' stage "
                                         r"wrote it.*Run `dlink export .*` again"):
        build_firmware(run.path, "mps2-an386", generate=make_standin_generator(),
                       runtime=no_runtime)


def test_a_failed_build_leaves_no_stamp_so_flash_refuses(tmp_path):
    """A build that dies after generating C (here: the compiler rejects it) leaves no firmware
    stamp: `dlink flash` refuses the half-updated folder instead of running the old app."""
    from dlink.firmware.build import FirmwareBuildError, build_firmware
    from dlink.firmware.flash import flash
    from dlink.rundir import StageError

    run = tmp_path / "r"
    build_standin(run, "mps2-an386")
    good = make_standin_generator()

    def broken(tflite_path, out_dir, *, name="student"):
        result = good(tflite_path, out_dir, name=name)
        (out_dir / f"{name}_model.c").write_text("this is not C\n")
        return result

    with pytest.raises(FirmwareBuildError):
        build_firmware(run, "mps2-an386", generate=broken, runtime=no_runtime)
    with pytest.raises(StageError, match=r"has not been built|has not been run"):
        flash(run, "mps2-an386")
