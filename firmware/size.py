"""Flash and RAM of a linked app, read from its ELF (pyelftools): the size report ``size.json``.

Sections are sorted by where they live (see ``firmware/boards/common/sections.ld``):

- ``text``: vector table, code and read-only data (weights) in FLASH;
- ``test_vectors``: the embedded test vectors (inputs and expected outputs), in FLASH too;
- ``data``: initialised data: in RAM, and its load image in FLASH;
- ``bss``: zeroed data in RAM (the model's static activation arena is here);
- ``stack``: the stack reserved at the top of RAM.

``flash_bytes`` = text + data: the app's footprint without its test vectors (what the model
deployed alone needs); ``image_bytes`` = flash_bytes + test_vectors (what is programmed);
``ram_bytes`` = data + bss + stack (all of RAM the app claims); ``static_ram_bytes`` = data + bss.
The same numbers as ``arm-none-eabi-size`` (Berkeley format: text + test vectors, data,
bss + stack), broken down by section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlink._check import check_file

#: Sections that go to FLASH only; RAM sections are named explicitly below.
_NAMED_SECTIONS = {".data": "data", ".bss": "bss", ".stack": "stack", ".testvectors": "test_vectors"}


def elf_sections(elf_path: str | Path) -> dict[str, dict[str, int]]:
    """Allocated sections of an ELF: name -> {"addr", "size", "nobits"}."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    elf_path = check_file(elf_path, what="ELF file")
    out: dict[str, dict[str, int]] = {}
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            out[sec.name] = {"addr": int(sec["sh_addr"]), "size": int(sec["sh_size"]),
                             "nobits": int(sec["sh_type"] == "SHT_NOBITS")}
    return out


def size_report(elf_path: str | Path, board: dict[str, Any], *,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Flash and RAM use of ``elf_path`` on ``board`` (a :func:`dlink.firmware.boards.get_board`).

    Parameters
    ----------
    elf_path : str | Path
        The linked app.
    board : dict
        The board description (regions and their sizes).
    extra : dict | None
        Fields added to the report (e.g. ``arena_bytes`` and ``macs`` from the code generator).

    Returns
    -------
    dict
        ``flash_bytes``, ``image_bytes``, ``ram_bytes``, ``static_ram_bytes``, ``text``,
        ``data``, ``bss``, ``stack``, ``test_vectors``, per-region capacity and use in percent
        (``flash_used_percent``: the whole image, test vectors included, as the linker places it;
        ``flash_app_percent``: the deployable part, ``flash_bytes``), and ``sections``
        (name -> size).
    """
    sections = elf_sections(elf_path)
    parts = {"text": 0, "data": 0, "bss": 0, "stack": 0, "test_vectors": 0}
    for name, sec in sections.items():
        parts[_NAMED_SECTIONS.get(name, "text" if not sec["nobits"] else "bss")] += sec["size"]
    flash = parts["text"] + parts["data"]
    image = flash + parts["test_vectors"]
    ram = parts["data"] + parts["bss"] + parts["stack"]
    report: dict[str, Any] = {
        "board": board["name"],
        "core": board["core"],
        "flash_bytes": flash,
        "image_bytes": image,
        "ram_bytes": ram,
        "static_ram_bytes": parts["data"] + parts["bss"],
        **parts,
        "flash_capacity_bytes": board["flash_bytes"],
        "ram_capacity_bytes": board["ram_bytes"],
        "flash_used_percent": round(100.0 * image / board["flash_bytes"], 2),
        "flash_app_percent": round(100.0 * flash / board["flash_bytes"], 2),
        "ram_used_percent": round(100.0 * ram / board["ram_bytes"], 2),
        "sections": {name: sec["size"] for name, sec in sections.items()},
    }
    if extra:
        report.update(extra)
    return report
