"""The boards the firmware builds for: cores, compiler flags, memory, how each one runs.

Memory maps are the boards' own (checked against QEMU 7.2's ``hw/arm/mps2.c`` and
``hw/arm/mps2-tz.c`` for the emulated ones, Nordic's product specification for the nRF52840);
each board's linker script (``firmware/boards/<board>/board.ld``) holds the same numbers, and a
test checks that the two agree.

Emulated boards run under ``qemu-system-arm -machine <qemu_machine> -icount shift=0`` with
semihosting, and count instructions; the real board runs from flash (pyOCD) and counts DWT cycles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlink._check import check_option

#: firmware/boards: startup, linker scripts and board files.
BOARDS_DIR = Path(__file__).resolve().parent / "boards"

_KIB = 1024
_MIB = 1024 * 1024

#: name -> board description. Keys: ``core``, ``qemu_machine`` (None for real boards),
#: ``cpu_flags`` (compiler flags for the core and its FPU), ``flash_origin``/``flash_bytes`` and
#: ``ram_origin``/``ram_bytes`` (the linker script's FLASH and RAM regions), ``flash_region`` and
#: ``ram_region`` (what those regions are on the board), ``counter`` ("instructions" or
#: "cycles"), ``stack_bytes`` (default stack reservation), ``backends`` (runtime kernel backends
#: the core can run), ``pyocd_target`` (real boards), ``cpu_hz`` (the core clock: the real board's,
#: or the FPGA image's nominal SYSCLK that QEMU models), ``description``.
BOARDS: dict[str, dict[str, Any]] = {
    "mps2-an386": {
        "core": "cortex-m4",
        "qemu_machine": "mps2-an386",
        "cpu_flags": ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
        "flash_origin": 0x0000_0000, "flash_bytes": 4 * _MIB, "flash_region": "ZBT SSRAM1",
        "ram_origin": 0x2000_0000, "ram_bytes": 4 * _MIB, "ram_region": "ZBT SSRAM2&3",
        "counter": "instructions",
        "stack_bytes": 32 * _KIB,
        "backends": ("ref", "dsp"),
        "pyocd_target": None,
        "cpu_hz": 25_000_000,  # MPS2 FPGA SYSCLK (QEMU hw/arm/mps2.c)
        "description": "Arm MPS2 + AN386 (Cortex-M4F), emulated by QEMU (the default board)",
    },
    "mps2-an500": {
        "core": "cortex-m7",
        "qemu_machine": "mps2-an500",
        "cpu_flags": ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
        "flash_origin": 0x0000_0000, "flash_bytes": 4 * _MIB, "flash_region": "ZBT SSRAM1",
        "ram_origin": 0x2000_0000, "ram_bytes": 4 * _MIB, "ram_region": "ZBT SSRAM2&3",
        "counter": "instructions",
        "stack_bytes": 32 * _KIB,
        "backends": ("ref", "dsp"),
        "pyocd_target": None,
        "cpu_hz": 25_000_000,  # MPS2 FPGA SYSCLK (QEMU hw/arm/mps2.c)
        "description": "Arm MPS2 + AN500 (Cortex-M7, double-precision FPU), emulated by QEMU",
    },
    "mps2-an505": {
        "core": "cortex-m33",
        "qemu_machine": "mps2-an505",
        "cpu_flags": ("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
        # Secure aliases: the core boots Secure with VTOR at 0x10000000 (QEMU init-svtor).
        "flash_origin": 0x1000_0000, "flash_bytes": 4 * _MIB, "flash_region": "ZBT SSRAM1 (Secure alias)",
        "ram_origin": 0x3800_0000, "ram_bytes": 4 * _MIB, "ram_region": "ZBT SSRAM2+3 (Secure alias)",
        "counter": "instructions",
        "stack_bytes": 32 * _KIB,
        "backends": ("ref", "dsp"),
        "pyocd_target": None,
        "cpu_hz": 20_000_000,  # MAINCLK (QEMU hw/arm/mps2-tz.c)
        "description": "Arm MPS2 + AN505 (Cortex-M33, TrustZone, runs Secure), emulated by QEMU",
    },
    "mps3-an547": {
        "core": "cortex-m55",
        "qemu_machine": "mps3-an547",
        "cpu_flags": ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard", "-mfpu=auto"),
        "flash_origin": 0x0000_0000, "flash_bytes": 512 * _KIB, "flash_region": "ITCM",
        "ram_origin": 0x2000_0000, "ram_bytes": 512 * _KIB, "ram_region": "DTCM",
        "counter": "instructions",
        "stack_bytes": 32 * _KIB,
        "backends": ("ref", "dsp", "mve"),
        "pyocd_target": None,
        "cpu_hz": 32_000_000,  # MAINCLK (QEMU hw/arm/mps2-tz.c)
        "description": "Arm MPS3 + AN547 (Cortex-M55 with Helium, SSE-300), emulated by QEMU",
    },
    "nrf52840": {
        "core": "cortex-m4",
        "qemu_machine": None,
        "cpu_flags": ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
        "flash_origin": 0x0000_0000, "flash_bytes": 1024 * _KIB, "flash_region": "on-chip flash",
        "ram_origin": 0x2000_0000, "ram_bytes": 256 * _KIB, "ram_region": "on-chip RAM",
        "counter": "cycles",
        "stack_bytes": 16 * _KIB,
        "backends": ("ref", "dsp"),
        "pyocd_target": "nrf52840",
        "cpu_hz": 64_000_000,
        "serial": "UART0 TX on P0.06, 115200 8N1 (the DK's virtual COM port)",
        "description": "Nordic nRF52840 (Cortex-M4F, 64 MHz, 1 MiB flash, 256 KiB RAM), flashed with pyOCD",
    },
}

#: Emulated boards (run under QEMU), in the order the docs list them.
QEMU_BOARDS: tuple[str, ...] = tuple(b for b, d in BOARDS.items() if d["qemu_machine"])
#: Real boards (flashed with pyOCD).
REAL_BOARDS: tuple[str, ...] = tuple(b for b, d in BOARDS.items() if not d["qemu_machine"])


def get_board(board: str) -> dict[str, Any]:
    """Return the description of ``board`` (a copy), or raise ValueError naming the known boards."""
    check_option("board", board, BOARDS,
                 fix="Add a board to dlink.firmware.boards.BOARDS and firmware/boards/<board>/.")
    return {"name": board, "dir": BOARDS_DIR / board, **BOARDS[board]}


def board_region_symbol(board: str, region: str) -> str:
    """The linker region name of ``region`` ("FLASH" or "RAM") on ``board``, e.g. nrf52840_FLASH."""
    return f"{board.replace('-', '_')}_{region}"
