"""Does a model fit the board it is built for? RAM and flash against the board's memory.

One check for every stage that knows sizes: ``dlink export`` (before any C is compiled: the
generated code's planned arena plus the board's stack against RAM, its constant data against
flash, and TFLite-Micro's arena as a note), ``dlink firmware build`` (the linked ELF's sections)
and ``dlink bench`` (the report). Above ``firmware.memory_warn_percent`` of a region it warns;
beyond the region it fails with :class:`ModelDoesNotFitError` (the linker would refuse it too).
"""

from __future__ import annotations

from typing import Any

from .boards import get_board


class ModelDoesNotFitError(ValueError):
    """The model needs more RAM or flash than the board has."""


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB" if n % 1024 else f"{n // 1024:,} KiB"


def memory_fit(board: str, *, ram_bytes: int, flash_bytes: int, warn_percent: float = 90.0,
               what: str = "the app") -> dict[str, Any]:
    """RAM and flash use of ``what`` on ``board``, and whether it fits.

    Parameters
    ----------
    board : str
        A key of :data:`dlink.firmware.boards.BOARDS`.
    ram_bytes, flash_bytes : int
        What is needed (e.g. arena + stack + static data; code + weights).
    warn_percent : float
        Use above this percentage of a region is "tight".

    Returns
    -------
    dict
        ``board``, ``ram_bytes``, ``ram_capacity_bytes``, ``ram_percent``, the same for flash,
        ``status`` ("fits", "tight" or "does not fit") and ``messages`` (one line per region that
        is tight or overflows).

    Examples
    --------
    >>> memory_fit("nrf52840", ram_bytes=247_000, flash_bytes=60_000)["status"]
    'tight'
    """
    spec = get_board(board)
    out: dict[str, Any] = {"board": board, "what": what, "warn_percent": warn_percent}
    messages, status = [], "fits"
    for region, need in (("ram", int(ram_bytes)), ("flash", int(flash_bytes))):
        cap = int(spec[f"{region}_bytes"])
        pct = round(100.0 * need / cap, 1)
        out.update({f"{region}_bytes": need, f"{region}_capacity_bytes": cap, f"{region}_percent": pct})
        label = f"{region.upper() if region == 'ram' else region} ({_kib(cap)} {spec[f'{region}_region']})"
        if need > cap:
            status = "does not fit"
            messages.append(f"{what} needs {need:,} B of {board}'s {label}: {need - cap:,} B too many "
                            f"({pct:g}%)")
        elif pct > warn_percent:
            status = "tight" if status == "fits" else status
            messages.append(f"{what} uses {pct:g}% of {board}'s {label} ({need:,} B, above the "
                            f"{warn_percent:g}% margin of firmware.memory_warn_percent)")
    out["status"] = status
    out["messages"] = messages
    return out


def check_fit(fit: dict[str, Any], *, fix: str = "") -> list[str]:
    """Raise :class:`ModelDoesNotFitError` when ``fit`` (from :func:`memory_fit`) does not fit;
    else return its warnings (empty when it fits with margin)."""
    if fit["status"] == "does not fit":
        raise ModelDoesNotFitError("; ".join(fit["messages"]) + (f". {fix}" if fix else "."))
    return list(fit["messages"])


def describe_fit(fit: dict[str, Any]) -> str:
    """One line: ``RAM 60,000 B of 256 KiB (22.9%), flash 45,000 B of 1,024 KiB (4.3%): fits``."""
    return (f"RAM {fit['ram_bytes']:,} B of {_kib(fit['ram_capacity_bytes'])} ({fit['ram_percent']:g}%), "
            f"flash {fit['flash_bytes']:,} B of {_kib(fit['flash_capacity_bytes'])} "
            f"({fit['flash_percent']:g}%): {fit['status']}")
