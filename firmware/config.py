"""The ``firmware:`` section (owned by firmware)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FirmwareConfig:
    board: str = "mps2-an386"
    #: Kernel backend: ref (portable C), dsp (SMLAD), mve (Helium).
    backend: str = "ref"
    #: QEMU time-out for one run.
    qemu_timeout_s: float = 120.0
