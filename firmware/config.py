"""The ``firmware:`` section (owned by firmware)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: -O levels the firmware build accepts (``-O<level>``).
OPT_LEVELS = ("0", "1", "2", "3", "s")


@dataclass
class StreamConfig:
    """The ``firmware.stream`` section: the board's ADC frames and decision rate (the streaming
    front end generated from ``data.causal``; see ``dlink flash RUN --stream RECORDING``)."""

    #: Seconds between decisions (a whole number of samples at data.sfreq_hz).
    hop_s: float = 0.5
    #: ADC sample type of one frame: "int32" (a 24-bit converter such as the ADS1299, sign-extended)
    #: or "int16".
    adc: str = field(default="int32", metadata={"choices": ("int32", "int16")})
    #: Microvolts per ADC count, gain included (ADS1299, 4.5 V reference, gain 24:
    #: 4.5 / 24 / 2^23 V = 0.02235174 uV).
    adc_lsb_uv: float = 0.02235174

    def validate(self) -> None:
        if not self.hop_s > 0:
            raise ValueError(f"firmware.stream.hop_s must be > 0, got {self.hop_s!r}.")
        if not self.adc_lsb_uv > 0:
            raise ValueError(f"firmware.stream.adc_lsb_uv must be > 0, got {self.adc_lsb_uv!r}.")


@dataclass
class FirmwareConfig:
    board: str = "mps2-an386"
    #: Kernel backend: ref (portable C), dsp (SMLAD dual 16-bit multiply-accumulate), mve (Helium
    #: vector kernels, Cortex-M55), all bit-exact with each other; or auto (the fastest the board's
    #: core runs).
    backend: str = "auto"
    #: QEMU time-out for one run.
    qemu_timeout_s: float = 120.0
    #: Compiler optimisation level for the app, the runtime and the generated model (-O<level>).
    opt_level: str = field(default="2", metadata={"choices": OPT_LEVELS})
    #: Stack reserved at the top of RAM, in bytes (None: the board's default, see BOARDS). The app
    #: paints it and reports the peak actually used.
    stack_bytes: int | None = None
    #: Embed the export's test vectors in the app (it checks them on the board). false: the
    #: deployment build, without them (they can take most of a small board's flash).
    test_vectors: bool = True
    #: Export and firmware build warn when the model uses more than this percentage of the
    #: board's RAM or flash (and fail when it does not fit at all).
    memory_warn_percent: float = 90.0
    #: Real board: serial baud rate and how long to wait for the app's result line.
    serial_baud: int = 115200
    serial_timeout_s: float = 60.0
    #: The streaming app (raw ADC frames in, decisions out), built for runs with
    #: data.preprocessing: causal.
    stream: StreamConfig = field(default_factory=StreamConfig)

    def validate(self) -> None:
        from dlink._check import check_option
        from dlink.firmware.boards import BOARDS

        check_option("firmware.board", self.board, BOARDS)
        from dlink.firmware import BACKENDS

        check_option("firmware.backend", self.backend, ("auto", *BACKENDS))
        if self.qemu_timeout_s <= 0:
            raise ValueError(f"firmware.qemu_timeout_s must be > 0, got {self.qemu_timeout_s!r}.")
        if self.serial_timeout_s <= 0:
            raise ValueError(f"firmware.serial_timeout_s must be > 0, got {self.serial_timeout_s!r}.")
        if self.serial_baud <= 0:
            raise ValueError(f"firmware.serial_baud must be > 0, got {self.serial_baud!r}.")
        if not 0 < self.memory_warn_percent <= 100:
            raise ValueError(f"firmware.memory_warn_percent must be in (0, 100], got "
                             f"{self.memory_warn_percent!r}.")
        if self.stack_bytes is not None and (self.stack_bytes < 1024 or self.stack_bytes % 8):
            raise ValueError(f"firmware.stack_bytes must be a multiple of 8 and >= 1024 (or null "
                             f"for the board's default), got {self.stack_bytes!r}.")
