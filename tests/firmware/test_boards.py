"""The BOARDS table, the board folders and their linker scripts agree; config checks."""

from __future__ import annotations

import re

import pytest

from dlink.firmware.boards import (
    BOARDS, BOARDS_DIR, QEMU_BOARDS, REAL_BOARDS, board_region_symbol, get_board,
)
from dlink.firmware.config import FirmwareConfig

_SIZE = {"K": 1024, "M": 1024 * 1024, "": 1}


def _ld_regions(board: str) -> dict[str, tuple[int, int]]:
    text = (BOARDS_DIR / board / "board.ld").read_text()
    out = {}
    for name, origin, length, unit in re.findall(
            r"(\w+)\s*\([rwx]+\)\s*:\s*ORIGIN\s*=\s*(0x[0-9A-Fa-f]+),\s*LENGTH\s*=\s*(\d+)([KM]?)", text):
        out[name] = (int(origin, 16), int(length) * _SIZE[unit])
    return out


@pytest.mark.parametrize("board", list(BOARDS))
def test_linker_script_holds_the_table_memory(board):
    spec = get_board(board)
    regions = _ld_regions(board)
    assert regions[board_region_symbol(board, "FLASH")] == (spec["flash_origin"], spec["flash_bytes"])
    assert regions[board_region_symbol(board, "RAM")] == (spec["ram_origin"], spec["ram_bytes"])
    # the region names carry the board, so ld's overflow message names it
    assert all(name.startswith(board.replace("-", "_")) for name in regions)


@pytest.mark.parametrize("board", list(BOARDS))
def test_every_board_has_its_files_and_fields(board):
    spec = get_board(board)
    assert (spec["dir"] / "board.c").is_file()
    src = (spec["dir"] / "board.c").read_text()
    assert f'dlk_board_name[] = "{board}"' in src
    assert f'dlk_board_core[] = "{spec["core"]}"' in src
    assert f'-mcpu={spec["core"]}' in spec["cpu_flags"]
    assert spec["counter"] == ("instructions" if spec["qemu_machine"] else "cycles")
    assert "ref" in spec["backends"]


def test_the_boards_of_the_issue_are_there():
    assert set(QEMU_BOARDS) == {"mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547"}
    assert REAL_BOARDS == ("nrf52840",)
    nrf = get_board("nrf52840")
    assert (nrf["flash_bytes"], nrf["ram_bytes"]) == (1024 * 1024, 256 * 1024)
    assert nrf["pyocd_target"] == "nrf52840"


def test_unknown_board_names_the_known_ones():
    with pytest.raises(ValueError, match=r"'mps2-an368'.*Did you mean 'mps2-an386'"):
        get_board("mps2-an368")


def test_firmware_config_checks_its_fields():
    from dlink.config import ConfigError, config_from_dict

    cfg = config_from_dict({"firmware": {"board": "nrf52840", "opt_level": "s", "stack_bytes": 8192}})
    assert (cfg.firmware.board, cfg.firmware.opt_level) == ("nrf52840", "s")
    with pytest.raises(ConfigError, match="firmware.board"):
        config_from_dict({"firmware": {"board": "stm32"}})
    with pytest.raises(ConfigError, match="opt_level"):
        config_from_dict({"firmware": {"opt_level": "fast"}})
    with pytest.raises(ConfigError, match="stack_bytes"):
        config_from_dict({"firmware": {"stack_bytes": 100}})
    assert FirmwareConfig().board == "mps2-an386"
