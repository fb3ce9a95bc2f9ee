"""Generate the board's streaming front end: ``<name>_frontend.h`` / ``.c``.

The front end turns raw ADC frames into the int8 windows the model was trained on: the causal
preprocessing of the run's ``data:`` config (:mod:`dlink.data.causal`: notch, band-pass biquads,
polyphase resampler; the same coefficients, emitted as float32 hex literals), the input
quantisation of the int8 model (its scale and zero point) and the sliding window of the model's
input with its hop. It is built from the runtime's pure functions (``dlink/frontend.h``);
:mod:`.frontend_model` is the Python model of exactly this arithmetic.

A :class:`FrontEndSpec` holds everything the generated code depends on;
:func:`frontend_spec_for_run` makes it from a run directory (config, student, export).

    spec = frontend_spec_for_run("runs/demo")
    generate_frontend(spec, "runs/demo/firmware/mps2-an386", name="student")
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlink import __version__

from .cfmt import c_comment, c_float, check_c_identifier

__all__ = ["FrontEndSpec", "ADC_TYPES", "generate_frontend", "frontend_spec_for_run",
           "input_layout", "frontend_ram_bytes"]

logger = logging.getLogger(__name__)

#: ADC sample types: name -> (C type, numpy dtype, full-scale bits of the converter).
ADC_TYPES: dict[str, tuple[str, str, int]] = {
    "int16": ("int16_t", "<i2", 16),
    "int32": ("int32_t", "<i4", 24),  # a 24-bit converter (ADS1299 class), sign-extended to 32 bits
}
#: Layout names (dlk_layout_t).
LAYOUTS = ("channels_time", "time_channels")


@dataclass
class FrontEndSpec:
    """What the generated front end computes.

    Attributes
    ----------
    design : dlink.data.causal.CausalDesign
        Filter and resampler coefficients (float32).
    ch_names : list of str
        The board's channels, in the order of its frames (= the model's channel order).
    n_times : int
        Samples per model window (at ``design.output_sfreq_hz``).
    hop_samples : int
        Model-rate samples between decisions.
    layout : str
        "channels_time" or "time_channels": how the model's input holds a window.
    adc_type : str
        "int16" or "int32" (24-bit): see :data:`ADC_TYPES`.
    adc_lsb_uv : float
        Microvolts per ADC count (gain included).
    input_scale, input_zero_point : float, int
        Quantisation of the model's int8 input (model units: 100 uV).
    class_names : list of str
    output_scale, output_zero_point : float, int
        Quantisation of the model's int8 output.
    output_is_probability : bool
        True when the model ends with a softmax (its output is already probabilities).
    """

    design: Any
    ch_names: list[str]
    n_times: int
    hop_samples: int
    layout: str = "channels_time"
    adc_type: str = "int32"
    adc_lsb_uv: float = 0.02235
    input_scale: float = 1.0
    input_zero_point: int = 0
    class_names: list[str] = field(default_factory=list)
    output_scale: float = 1.0
    output_zero_point: int = 0
    output_is_probability: bool = False

    def __post_init__(self) -> None:
        from dlink._check import check_option

        check_option("layout", self.layout, LAYOUTS)
        check_option("firmware.stream.adc", self.adc_type, ADC_TYPES)
        if not self.ch_names:
            raise ValueError("The front end needs at least one channel name (ch_names is empty).")
        if not 1 <= self.hop_samples <= self.n_times:
            raise ValueError(f"The hop must be 1..{self.n_times} model-rate samples (the window), got "
                             f"{self.hop_samples}; set firmware.stream.hop_s.")
        if self.hop_samples < self.design.max_outputs_per_input():
            raise ValueError(f"The hop ({self.hop_samples} samples) must be at least "
                             f"{self.design.max_outputs_per_input()} samples: one ADC frame may "
                             f"produce that many model-rate samples. Raise firmware.stream.hop_s.")
        if not self.input_scale > 0 or not self.adc_lsb_uv > 0:
            raise ValueError(f"input_scale and adc_lsb_uv must be > 0, got {self.input_scale!r} and "
                             f"{self.adc_lsb_uv!r}.")

    @property
    def n_chans(self) -> int:
        return len(self.ch_names)

    @property
    def adc_scale(self) -> np.ndarray:
        """Model units (100 uV) per ADC count, float32, one per channel."""
        return np.full(self.n_chans, np.float32(self.adc_lsb_uv / 100.0), np.float32)

    @property
    def inv_input_scale(self) -> np.float32:
        """1 / input_scale as the float32 the C multiplies by."""
        return np.float32(1.0 / float(np.float32(self.input_scale)))

    @property
    def adc_dtype(self) -> np.dtype:
        return np.dtype(ADC_TYPES[self.adc_type][1])

    def adc_limits(self) -> tuple[int, int]:
        """Smallest and largest count the converter delivers."""
        bits = ADC_TYPES[self.adc_type][2]
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def first_decision_samples(self) -> int:
        """Model-rate samples before the first decision: ``hop * ceil(n_times / hop)``."""
        return self.hop_samples * -(-self.n_times // self.hop_samples)

    def summary(self) -> dict:
        d = self.design
        return {"ch_names": list(self.ch_names), "n_chans": self.n_chans, "n_times": self.n_times,
                "hop_samples": self.hop_samples, "hop_s": self.hop_samples / d.output_sfreq_hz,
                "layout": self.layout, "adc_type": self.adc_type, "adc_lsb_uv": self.adc_lsb_uv,
                "input_scale": self.input_scale, "input_zero_point": self.input_zero_point,
                "class_names": list(self.class_names), "output_is_probability": self.output_is_probability,
                "ram_bytes": frontend_ram_bytes(self), "design": d.summary()}


def frontend_ram_bytes(spec: FrontEndSpec) -> dict[str, int]:
    """Static RAM of the generated front end, by buffer (what ``<name>_frontend_ram_bytes`` sums)."""
    d, n = spec.design, spec.n_chans
    out = {"window": n * spec.n_times, "pending": n * spec.hop_samples,
           "biquad_state": 4 * n * 2 * d.n_sections, "resampler_history": 4 * n * 2 * d.taps_per_phase,
           "last_outputs": 4 * n * d.max_outputs_per_input(), "quantized_sample": n}
    out["total"] = sum(out.values())
    return out


def input_layout(input_shape, n_chans: int, n_times: int, *, test_vectors: str | Path | None = None) -> str:
    """The model input's layout from its shape (batch first): "channels_time" for (C, T) order,
    "time_channels" for (T, C). When C == T the export's test vectors decide."""
    dims = [int(d) for d in list(input_shape)[1:] if int(d) != 1]
    if n_chans != n_times:
        if dims == [n_chans, n_times]:
            return "channels_time"
        if dims == [n_times, n_chans]:
            return "time_channels"
        raise ValueError(f"The int8 model's input shape {list(input_shape)} is not a window of "
                         f"{n_chans} channels x {n_times} samples in either order.")
    if test_vectors is not None and Path(test_vectors).is_file():
        from dlink.export.quant import quantize

        with np.load(test_vectors) as tv:
            x, q, scale, zp = tv["x_float"], tv["x_int8"], float(tv["input_scale"]), int(tv["input_zero_point"])
        ct = quantize(x, scale, zp).reshape(len(x), -1)
        tc = quantize(np.swapaxes(x, 1, 2), scale, zp).reshape(len(x), -1)
        q = q.reshape(len(q), -1)
        return "channels_time" if np.mean(ct == q) >= np.mean(tc == q) else "time_channels"
    return "channels_time"


def _c_floats(values, per_line: int = 4, indent: str = "    ") -> str:
    flat = [c_float(v) for v in np.asarray(values, np.float32).reshape(-1)]
    lines = [indent + ", ".join(flat[i:i + per_line]) + "," for i in range(0, len(flat), per_line)]
    return "{\n" + "\n".join(lines) + "\n}"


def render_frontend(spec: FrontEndSpec, *, name: str = "student", model_sha256: str = "") -> tuple[str, str]:
    """The front end's header and source (writes nothing)."""
    import jinja2

    check_c_identifier(name, what="model name")
    d = spec.design
    sections = [{"b0": c_float(r[0]), "b1": c_float(r[1]), "b2": c_float(r[2]), "a1": c_float(r[4]),
                 "a2": c_float(r[5])} for r in d.sos]
    kinds = (["notch"] if d.notch_hz is not None else []) + \
        ["band-pass" if d.l_freq_hz > 0 else "low-pass"] * (d.n_sections - (d.notch_hz is not None))
    info = {
        "name": name, "NAME": name.upper(), "version": __version__, "model_sha256": model_sha256,
        "spec": spec, "design": d, "adc_ctype": ADC_TYPES[spec.adc_type][0],
        "adc_bits": ADC_TYPES[spec.adc_type][2], "sections": list(zip(sections, kinds)),
        "phases": _c_floats(d.phases()), "adc_scale": _c_floats(spec.adc_scale),
        "inv_input_scale": c_float(spec.inv_input_scale), "input_scale": c_float(spec.input_scale),
        "output_scale": c_float(spec.output_scale),
        "layout_enum": "DLK_LAYOUT_CHANNELS_TIME" if spec.layout == "channels_time"
        else "DLK_LAYOUT_TIME_CHANNELS",
        "max_out": d.max_outputs_per_input(), "ram": frontend_ram_bytes(spec),
        "in_rate": f"{d.input_sfreq_hz:g}", "out_rate": f"{d.output_sfreq_hz:g}",
        "first_decision": spec.first_decision_samples(),
        # names from the data reach the header's comment only sanitised (no "*/", no splices)
        "ch_names": c_comment(", ".join(spec.ch_names), max_chars=600),
        "class_names": c_comment(", ".join(spec.class_names), max_chars=600),
    }
    from .generator import TEMPLATE_DIR

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    return (env.get_template("frontend.h.jinja").render(**info),
            env.get_template("frontend.c.jinja").render(**info))


def generate_frontend(spec: FrontEndSpec, out_dir: str | Path, *, name: str = "student",
                      model_sha256: str = "") -> dict:
    """Write ``<name>_frontend.h``, ``<name>_frontend.c`` and ``<name>_frontend.json`` into ``out_dir``.

    Returns
    -------
    dict
        ``header``, ``source``, ``report`` (paths), ``c_files``, ``include_dirs`` and ``ram_bytes``.
    """
    from dlink.io import atomic_write_bytes, atomic_write_json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header, source = render_frontend(spec, name=name, model_sha256=model_sha256)
    h, c = out_dir / f"{name}_frontend.h", out_dir / f"{name}_frontend.c"
    atomic_write_bytes(h, header.encode())
    atomic_write_bytes(c, source.encode())
    report = atomic_write_json(out_dir / f"{name}_frontend.json", spec.summary())
    logger.info("generated %s (%d channels, %g -> %g Hz, %d sections, %d taps/phase, hop %d)", c,
                spec.n_chans, spec.design.input_sfreq_hz, spec.design.output_sfreq_hz,
                spec.design.n_sections, spec.design.taps_per_phase, spec.hop_samples)
    return {"header": h, "source": c, "report": report, "c_files": [c], "include_dirs": [out_dir],
            "ram_bytes": frontend_ram_bytes(spec)["total"]}


def frontend_spec_for_run(run_dir: str | Path) -> FrontEndSpec:
    """The front end of a run: its config's causal preprocessing and stream settings, the student's
    channels and window, and the exported int8 model's input/output quantisation and layout.

    Raises
    ------
    ValueError
        When the run's config does not use causal preprocessing (the model was trained on windows no
        streaming front end can reproduce).
    """
    from dlink.config import load_config
    from dlink.data.causal import design_from_config
    from dlink.rundir import RunDir

    run = RunDir(run_dir)
    # config.yaml and student.pt are the export stamp's inputs, the .tflite and test vectors its
    # outputs: all verified against their hashes
    run.require_stage("export", needed_by="the streaming front end")
    cfg = load_config(run.require_file(run.config, stage="distill"))
    if cfg.data.preprocessing != "causal":
        raise ValueError(f"{str(run.config)!r} has data.preprocessing: {cfg.data.preprocessing}; the "
                         f"streaming front end reproduces causal preprocessing only. Set "
                         f"data.preprocessing: causal and rerun `dlink distill` and `dlink export`.")
    meta = student_meta(run.require_file(run.student, stage="distill"))
    tflite = run.require_file(run.export_dir / "student.int8.tflite", stage="export")
    from .reader import read_tflite

    graph = read_tflite(tflite)
    tin, tout = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    last = graph.operators[-1].opcode if graph.operators else ""
    layout = input_layout(tin.shape, int(meta["n_chans"]), int(meta["n_times"]),
                          test_vectors=run.export_dir / "test_vectors.npz")
    design = design_from_config(cfg.data)
    if abs(float(meta["sfreq"]) - design.output_sfreq_hz) > 1e-6:
        raise ValueError(f"{str(run.student)!r} was trained at {meta['sfreq']} Hz but data.sfreq_hz is "
                         f"{design.output_sfreq_hz:g}; rerun `dlink distill`.")
    stream = cfg.firmware.stream
    hop = int(round(stream.hop_s * design.output_sfreq_hz))
    if abs(hop - stream.hop_s * design.output_sfreq_hz) > 1e-6:
        raise ValueError(f"firmware.stream.hop_s={stream.hop_s:g} is not a whole number of samples at "
                         f"data.sfreq_hz={design.output_sfreq_hz:g}; use a multiple of "
                         f"{1 / design.output_sfreq_hz:g} s.")
    return FrontEndSpec(design=design, ch_names=list(meta["ch_names"]), n_times=int(meta["n_times"]),
                        hop_samples=hop, layout=layout, adc_type=stream.adc, adc_lsb_uv=stream.adc_lsb_uv,
                        input_scale=float(tin.scale), input_zero_point=int(tin.zero_point),
                        class_names=list(meta.get("class_names") or []), output_scale=float(tout.scale),
                        output_zero_point=int(tout.zero_point), output_is_probability=last == "SOFTMAX")


def student_meta(path: str | Path) -> dict:
    """The metadata of ``student.pt`` (channels, window, rate, classes) without building the model."""
    from dlink.io import load_torch_file

    payload = load_torch_file(path, what="student checkpoint", fix=(
        "Rebuild it with `dlink distill CONFIG --run RUN`."))
    keys = ("n_chans", "n_times", "sfreq", "ch_names", "class_names")
    missing = [k for k in keys if k not in payload]
    if missing:
        raise ValueError(f"{str(path)!r} lacks {missing}; rerun `dlink distill`.")
    return {k: payload[k] for k in keys}
