"""The stand-in app on the four emulated cores (QEMU), the result line parser, `dlink flash`."""

from __future__ import annotations

import json
import shutil

import pytest

from dlink.cli import main
from dlink.firmware.boards import QEMU_BOARDS, get_board
from dlink.firmware.flash import FirmwareRunError, NoProbeError, flash, parse_result_line
from tests.firmware.standin_app import ARENA_BYTES, N_INPUT, N_OUTPUT, N_VECTORS, build_standin

needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc is not installed")
needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                                reason="qemu-system-arm is not installed")

LINE = ('DLINK_RESULT {"board":"mps2-an386","core":"cortex-m4","counter":"instructions",'
        '"matched":3,"total":3,"instructions_per_inference":4346,"instructions_min":4320,'
        '"instructions_max":4360,"stack_peak_bytes":872,"stack_bytes":32768,"arena_bytes":384,'
        '"flash_bytes":3744,"ram_bytes":32784,"macs":384,"invoke_errors":0,"first_mismatch":-1}')


def test_parse_result_line_takes_the_json_among_other_output():
    res = parse_result_line(f"qemu: some warning\n{LINE}\n")
    assert res["board"] == "mps2-an386" and res["matched"] == res["total"] == 3
    assert res["instructions_per_inference"] == 4346


def test_parse_result_line_errors():
    with pytest.raises(FirmwareRunError, match=r"no DLINK_RESULT line.*faulted.*pc=0x00000123"):
        parse_result_line("DLINK_FAULT pc=0x00000123 cfsr=0x00000000 hfsr=0x40000000\n")
    with pytest.raises(FirmwareRunError, match=r"no DLINK_RESULT line"):
        parse_result_line("nothing here\n")
    with pytest.raises(ValueError, match=r"not valid JSON"):
        parse_result_line('DLINK_RESULT {"board": \n')
    with pytest.raises(ValueError, match=r"lacks \['stack_peak_bytes'\]"):
        parse_result_line(LINE.replace('"stack_peak_bytes":872,', ""))
    with pytest.raises(ValueError, match=r"instructions_per_inference"):
        parse_result_line(LINE.replace('"instructions_per_inference":4346,', ""))


@needs_arm
@needs_qemu
@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_standin_runs_on_every_emulated_core(tmp_path, board):
    build_standin(tmp_path / "run", board)
    res = flash(tmp_path / "run", board, timeout_s=60)
    assert (res["board"], res["core"]) == (board, get_board(board)["core"])
    assert res["matched"] == res["total"] == N_VECTORS
    assert res["exit_status"] == 0 and res["invoke_errors"] == 0 and res["first_mismatch"] == -1
    n = res["instructions_per_inference"]
    # every multiply-accumulate takes at least one instruction
    assert n >= N_INPUT * N_OUTPUT
    assert res["instructions_min"] <= n <= res["instructions_max"]
    assert 0 < res["model_stack_peak_bytes"] < res["stack_peak_bytes"] < res["stack_bytes"]
    assert res["arena_bytes"] == ARENA_BYTES
    size = json.loads((tmp_path / "run" / "firmware" / board / "size.json").read_text())
    assert (res["flash_bytes"], res["ram_bytes"]) == (size["flash_bytes"], size["ram_bytes"])
    assert res["test_vector_bytes"] == N_VECTORS * (N_INPUT + N_OUTPUT)
    saved = json.loads((tmp_path / "run" / "firmware" / board / "run.json").read_text())
    assert saved["matched"] == N_VECTORS and saved["source"] == "qemu"
    assert (tmp_path / "run" / ".stamps" / f"flash-{board}.json").is_file()


@needs_arm
@needs_qemu
@needs_arm
def test_deployment_app_runs_once_without_test_vectors(tmp_path):
    from dlink.firmware.config import FirmwareConfig

    build_standin(tmp_path / "run", "mps2-an386", config=FirmwareConfig(test_vectors=False))
    res = flash(tmp_path / "run", "mps2-an386")
    assert res["total"] == 0 and res["matched"] == 0 and res["invoke_errors"] == 0
    assert res["exit_status"] == 0 and res["test_vector_bytes"] == 0
    assert res["instructions_per_inference"] > 0  # one inference on the zero-point input


@needs_qemu
def test_mismatched_vector_exits_nonzero(tmp_path, capsys):
    build_standin(tmp_path / "run", "mps2-an386", corrupt_expected=True)
    rc = main(["flash", str(tmp_path / "run"), "--board", "mps2-an386"])
    out = capsys.readouterr().out
    assert rc == 1
    assert f"matched {N_VECTORS - 1}/{N_VECTORS}" in out
    assert f"DLINK_MISMATCH vector={N_VECTORS - 1} byte=0" in out
    saved = json.loads((tmp_path / "run" / "firmware" / "mps2-an386" / "run.json").read_text())
    assert saved["exit_status"] == 1 and saved["first_mismatch"] == N_VECTORS - 1


@needs_arm
@needs_qemu
def test_a_fault_in_the_model_is_reported_not_hung(tmp_path):
    build_standin(tmp_path / "run", "mps2-an505", fault=True)
    with pytest.raises(FirmwareRunError, match=r"faulted: 'DLINK_FAULT pc=0x[0-9a-f]{8} cfsr="):
        flash(tmp_path / "run", "mps2-an505", timeout_s=60)
    assert not (tmp_path / "run" / "firmware" / "mps2-an505" / "run.json").exists()


def test_flash_before_build_names_the_build_command(tmp_path, capsys):
    rc = main(["flash", str(tmp_path / "run"), "--board", "mps2-an500"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "dlink firmware build" in err and "--board mps2-an500" in err


@needs_arm
def test_flash_nrf52840_without_a_probe_fails_clearly(tmp_path, capsys, monkeypatch):
    import dlink.firmware.flash as flash_mod

    build_standin(tmp_path / "run", "nrf52840")
    monkeypatch.setattr(flash_mod, "connected_probes", lambda: [])
    with pytest.raises(NoProbeError, match=r"no debug probe attached.*nrf52840"):
        flash(tmp_path / "run", "nrf52840", serial="/dev/ttyACM0")
    rc = main(["flash", str(tmp_path / "run"), "--board", "nrf52840"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "no debug probe attached" in err.splitlines()[0]
    assert not (tmp_path / "run" / "firmware" / "nrf52840" / "run.json").exists()


def test_connected_probes_is_a_list_even_without_usb():
    from dlink.firmware.flash import connected_probes

    assert isinstance(connected_probes(), list)


@needs_arm
def test_flash_nrf52840_programs_then_reads_the_serial_line(tmp_path, monkeypatch):
    """The real-board path with pyOCD and the serial port replaced by fakes."""
    import pyocd.core.helpers
    import pyocd.flash.file_programmer
    import serial as pyserial

    import dlink.firmware.flash as flash_mod

    build_standin(tmp_path / "run", "nrf52840")
    line = (LINE.replace("mps2-an386", "nrf52840").replace("instructions", "cycles") + "\n").encode()
    programmed = []

    class FakeProbe:
        unique_id = "fake-probe-0"

    class FakeSession:
        target = type("T", (), {"reset": lambda self: programmed.append("reset")})()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    class FakeProgrammer:
        def __init__(self, session):
            pass

        def program(self, path, file_format=None):
            programmed.append((path, file_format))

    class FakeSerial:
        def __init__(self, port, baudrate, timeout):
            self.chunks = [b"boot\n", line[:20], line[20:]]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def reset_input_buffer(self):
            pass

        def read(self, n):
            return self.chunks.pop(0) if self.chunks else b""

    monkeypatch.setattr(flash_mod, "connected_probes", lambda: [FakeProbe()])
    monkeypatch.setattr(pyocd.core.helpers.ConnectHelper, "session_with_chosen_probe",
                        staticmethod(lambda **kw: FakeSession()))
    monkeypatch.setattr(pyocd.flash.file_programmer, "FileProgrammer", FakeProgrammer)
    monkeypatch.setattr(pyserial, "Serial", FakeSerial)
    with pytest.raises(FirmwareRunError, match=r"pass the serial port.*--serial"):
        flash(tmp_path / "run", "nrf52840", serial=None)
    res = flash(tmp_path / "run", "nrf52840", serial="/dev/fake", timeout_s=5)
    assert programmed[0] == (str(tmp_path / "run" / "firmware" / "nrf52840" / "app.hex"), "hex")
    assert programmed[1] == "reset"
    assert res["source"] == "serial" and res["cycles_per_inference"] == 4346
    assert res["latency_ms"] == pytest.approx(1e3 * 4346 / get_board("nrf52840")["cpu_hz"], abs=1e-3)
    saved = json.loads((tmp_path / "run" / "firmware" / "nrf52840" / "run.json").read_text())
    assert saved["board"] == "nrf52840" and saved["serial"] == "/dev/fake"


@needs_arm
def test_flash_after_the_export_changed_asks_for_a_rebuild(tmp_path):
    from dlink.rundir import StageError

    build_standin(tmp_path / "run", "mps2-an386")
    tv = tmp_path / "run" / "export" / "test_vectors.c"
    tv.write_text(tv.read_text() + "\n/* changed */\n")
    with pytest.raises(StageError, match=r"stale.*`dlink firmware build .* --board mps2-an386`"):
        flash(tmp_path / "run", "mps2-an386")


def test_profile_lines_are_parsed_beside_the_result():
    out = ("DLINK_LAYER {\"index\":0,\"count\":1200}\nDLINK_LAYER {\"index\":3,\"count\":800}\n"
           "DLINK_PROFILE {\"counter\":\"instructions\",\"layers\":2,\"hook_overhead\":40}\n"
           f"{LINE}\n")
    prof = parse_result_line(out)["profile"]
    assert prof == {"counter": "instructions", "hook_overhead": 40,
                    "layers": [{"index": 0, "count": 1200}, {"index": 3, "count": 800}]}
    assert "profile" not in parse_result_line(f"{LINE}\n")  # an app without it: no profile
    with pytest.raises(ValueError, match=r"announces 3 layers but 2"):
        parse_result_line(out.replace('"layers":2', '"layers":3'))


@needs_arm
@needs_qemu
def test_standin_prints_its_profile(tmp_path):
    build_standin(tmp_path / "run", "mps2-an386")
    res = flash(tmp_path / "run", "mps2-an386", timeout_s=60)
    prof = res["profile"]
    assert prof["counter"] == "instructions" and [r["index"] for r in prof["layers"]] == [0]
    # one layer: its count is the inference (plus the marks), within the counter's resolution
    assert abs(prof["layers"][0]["count"] - res["instructions_per_inference"]) < 200
