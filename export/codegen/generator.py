"""``generate_c``: an int8 ``.tflite`` -> ``<name>_model.h`` / ``.c`` for the dlink runtime.

Steps: read the flatbuffer (:mod:`.reader`), validate the graph (:mod:`.graph_checks`: interface,
operator order, shapes and element counts, quantisation ranges, requantisation shifts, int32
accumulators, sizes for the board), fold zero-point PADs into the convolutions they feed
(:mod:`.fuse`), plan the activation arena (:mod:`.planner`; RESHAPEs alias their input, and the input is read in place
from the caller's buffer unless ``input_in_arena``), lower every operator in order to a runtime
call with its precomputed constants (:mod:`.ops`), and render the Jinja2 templates in
``export/templates/``. Nothing is skipped: the first operator or option the runtime cannot run
raises :class:`~.ops.UnsupportedOperatorError`; folded PADs and aliased RESHAPEs stay in the C
as commented layers. Names from the model reach the C only through :func:`.cfmt.c_comment`.
``generate_c`` writes its three files (atomically) only after all of that, and the TFLite-Micro
arena measurement (a child process: :func:`.tflm.tflm_arena_bytes_isolated`), succeeded.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from dlink import __version__
from dlink._check import validate_type

from .cfmt import c_array, c_comment, c_comment_line, c_float, check_c_identifier
from .fuse import fold_pads
from .graph_checks import DEFAULT_LIMITS, BoardLimits, InvalidModelError, check_graph
from .lower_fast import dw1d_macs, lower_layer, plan_fast_paths
from .ops import ALIASING_OPS, LOWERINGS, UnsupportedOperatorError
from .planner import Buffer, check_plan, plan_arena
from .quantize import QuantizationRangeError
from .reader import TfliteGraph, read_tflite

__all__ = ["generate_c", "ModelCode", "build_model_code"]

logger = logging.getLogger(__name__)
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
ALIGNMENT_BYTES = 16


class _Context:
    """State shared by the per-operator lowerings: tensor access, emitted definitions."""

    def __init__(self, graph: TfliteGraph, name: str, offsets: dict[int, int],
                 fused_pads: dict | None = None, external: frozenset[int] = frozenset(),
                 fast_plans: dict | None = None, scratch_offsets: dict[int, int] | None = None):
        self.graph, self.name, self.offsets = graph, name, offsets
        self.fused_pads = fused_pads or {}
        self.external = external  # tensors read in place from the caller's input buffer
        self.fast_plans = fast_plans or {}  # op index -> lower_fast.FastPlan
        self.scratch_offsets = scratch_offsets or {}  # op index -> arena offset of its scratch
        self.data_defs: list[str] = []   # weights / biases / multipliers
        self.param_defs: list[str] = []  # per-layer structs and shapes
        self.const_names: dict[int, str] = {}
        self.data_bytes = 0

    # tensors ------------------------------------------------------------------------------
    def input_tensor(self, op, i: int):
        if i >= len(op.inputs) or op.inputs[i] < 0:
            return None
        return self.graph.tensors[op.inputs[i]]

    def output_tensor(self, op):
        if len(op.outputs) != 1:
            self.fail(op, f"{len(op.outputs)} outputs", "exactly one output expected")
        return self.graph.tensors[op.outputs[0]]

    def require_int8(self, op, *tensors):
        for t in tensors:
            if t is None or t.dtype != "INT8":
                what = t.dtype if t is not None else "missing tensor"
                self.fail(op, f"tensor type {what}",
                          f"tensor {getattr(t, 'name', '?')!r}; only int8 activations")

    def fail(self, op, option: str, detail: str = ""):
        out = self.graph.tensors[op.outputs[0]].name if op.outputs else "?"
        raise UnsupportedOperatorError(op.opcode, option, op.index, out, detail,
                                       file=str(self.graph.path))

    def ref(self, tensor) -> str:
        """C expression of a tensor's data: an arena slice or a const array."""
        if tensor.is_constant:
            if tensor.index not in self.const_names:
                ctype = {"INT8": "int8_t", "INT32": "int32_t"}.get(tensor.dtype)
                if ctype is None:
                    raise UnsupportedOperatorError("?", f"constant of type {tensor.dtype}", -1,
                                                   tensor.name, file=str(self.graph.path))
                sym = f"{self.name}_t{tensor.index}"
                self._emit_array(ctype, tensor.data, sym,
                                 f"constant tensor {tensor.index}: {c_comment(tensor.name)}")
                self.const_names[tensor.index] = sym
            return self.const_names[tensor.index]
        if tensor.index in self.external:
            return "input"
        return f"&{self.name}_arena[{self.offsets[tensor.index]}]"

    def scratch_ref(self, op_index: int) -> str:
        """C expression of a fast layer's scratch (int16 staging rows) in the arena."""
        if op_index not in self.scratch_offsets:
            return "0"
        return f"(int16_t *)(void *)&{self.name}_arena[{self.scratch_offsets[op_index]}]"

    # definitions --------------------------------------------------------------------------
    def _emit_array(self, ctype: str, values, sym: str, comment: str) -> None:
        arr = np.asarray(values).reshape(-1)
        self.data_bytes += arr.size * {"int8_t": 1, "int16_t": 2}.get(ctype, 4)
        self.data_defs.append(
            f"/* {comment} */\nstatic const {ctype} {sym}[{max(arr.size, 1)}] "
            f"DLK_ALIGNED({ALIGNMENT_BYTES}) = {c_array(arr)};"
        )

    def const_array(self, ctype: str, values, op, what: str) -> str:
        sym = f"{self.name}_l{op.index}_{what}"
        self._emit_array(ctype, values, sym, f"layer {op.index} {op.opcode}: {what}")
        return sym

    def const_quant(self, rows, op, what: str) -> str:
        """A dlk_channel_quant_t array from int32 rows (bias, multiplier, shift)."""
        sym = f"{self.name}_l{op.index}_{what}"
        rows = np.asarray(rows, np.int64).reshape(-1, 3)
        self.data_bytes += rows.size * 4
        body = ",\n".join(f"    {{{b}, {m}, {s}}}" for b, m, s in rows.tolist())
        self.data_defs.append(
            f"/* layer {op.index} {op.opcode}: {what} (bias, multiplier, shift) */\n"
            f"static const dlk_channel_quant_t {sym}[{len(rows)}] DLK_ALIGNED({ALIGNMENT_BYTES}) "
            f"= {{\n{body}\n}};")
        return sym

    def define(self, ctype: str, op, what: str, value) -> str:
        sym = f"{self.name}_l{op.index}_{what}"
        if isinstance(value, dict):
            body = ", ".join(f".{k} = {v}" for k, v in value.items())
            value = f"{{{body}}}"
        self.param_defs.append(f"static const {ctype} {sym} = {value};")
        return sym


class ModelCode:
    """The rendered C sources plus the figures ``generate_c`` reports."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _plan(graph: TfliteGraph, skip: frozenset[int] = frozenset(), *, input_in_arena: bool = False,
          scratch: dict[int, int] | None = None
          ) -> tuple[dict[int, int], int, int, list[Buffer], frozenset[int], dict[int, int]]:
    """Union RESHAPE aliases, compute lifetimes, place buffers.

    Operators in ``skip`` (PADs folded into a convolution) are not part of the schedule.
    ``scratch`` (op index -> bytes) adds a buffer live only while that operator runs. Unless
    ``input_in_arena``, the graph input (and its RESHAPE aliases) is read in place from the
    caller's buffer and takes no arena space (it is never written: operators only write their
    outputs). Returns (tensor -> offset, arena bytes, lower bound, buffers, caller-input tensors,
    op index -> scratch offset).
    """
    parent: dict[int, int] = {}

    def find(t: int) -> int:
        while parent.get(t, t) != t:
            t = parent[t]
        return t

    ops = [op for op in graph.operators if op.index not in skip]
    for op in ops:
        if op.opcode in ALIASING_OPS:
            parent[find(op.outputs[0])] = find(op.inputs[0])
    n_ops = len(graph.operators)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    size: dict[int, int] = {}

    def touch(t: int, step: int) -> None:
        tensor = graph.tensors[t]
        if tensor.is_constant:
            return
        root = find(t)
        first[root] = min(first.get(root, step), step)
        last[root] = max(last.get(root, step), step)
        size[root] = max(size.get(root, 0), tensor.n_elements)

    for t in graph.inputs:
        touch(t, 0)
    for op in ops:
        for t in list(op.inputs) + list(op.outputs):
            if t >= 0:
                touch(t, op.index)
    for t in graph.outputs:
        touch(t, max(n_ops - 1, 0))
    in_root = find(graph.inputs[0])
    external: frozenset[int] = frozenset()
    if not input_in_arena and in_root not in {find(t) for t in graph.outputs}:
        external = frozenset(t for t in range(len(graph.tensors)) if find(t) == in_root)
        size.pop(in_root, None)
    buffers = [Buffer(root, size[root], first[root], last[root]) for root in sorted(size)]
    n_tensors = len(graph.tensors)
    buffers += [Buffer(n_tensors + i, int(n), i, i) for i, n in sorted((scratch or {}).items())]
    plan = plan_arena(buffers, alignment=ALIGNMENT_BYTES)
    check_plan(buffers)
    by_root = {b.id: b.offset for b in buffers}
    offsets = {t: by_root[find(t)] for t in range(len(graph.tensors)) if find(t) in by_root}
    scratch_offsets = {b.id - n_tensors: b.offset for b in buffers if b.id >= n_tensors}
    return (offsets, plan.arena_bytes, plan.lower_bound_bytes, buffers, external,
            scratch_offsets)


def build_model_code(tflite_path: str | Path, *, name: str = "student", fold_pad: bool = True,
                     input_in_arena: bool = False, card: dict | None = None,
                     fast: bool = True, limits: BoardLimits = DEFAULT_LIMITS) -> ModelCode:
    """Read, validate, plan and lower a model; return the rendered sources and figures (writes
    nothing).

    ``fold_pad`` folds zero-point PADs into the convolution they feed (:mod:`.fuse`);
    ``input_in_arena`` copies the input into the arena instead of reading the caller's buffer;
    ``card`` (the run's model card, :mod:`dlink.export.model_card`) goes into the header as
    comments and ``#define``s; ``fast`` picks the fast-path kernels, folds TRANSPOSEs and fuses
    depthwise chains where they apply (:mod:`.lower_fast`); False lowers every layer to its
    generic kernel; ``limits`` is the board memory the model must fit
    (:class:`.graph_checks.BoardLimits`)."""
    check_c_identifier(name, what="model name")
    return _build_from_graph(read_tflite(tflite_path), name, fold_pad=fold_pad,
                             input_in_arena=input_in_arena, card=card, fast=fast, limits=limits)


_FOLD_REASONS = {
    "PAD": "its convolution pads implicitly with the zero point",
    "PADV2": "its convolution pads implicitly with the zero point",
    "TRANSPOSE": "that layer reads the transpose's input through strides",
}


def _build_from_graph(graph: TfliteGraph, name: str, *, fold_pad: bool = True,
                      input_in_arena: bool = False, card: dict | None = None,
                      fast: bool = True, limits: BoardLimits = DEFAULT_LIMITS) -> ModelCode:
    check_graph(graph, limits=limits)  # before anything else touches the graph
    tin, tout = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    fused, folded, plans, scratch = {}, {}, {}, {}
    original = graph
    if fold_pad:
        graph, fused, folded = fold_pads(graph)
    if fast:
        graph, plans, more, scratch = plan_fast_paths(graph, fused, skip=frozenset(folded))
        folded.update(more)
    offsets, arena_bytes, lower_bound, buffers, external, scratch_offsets = _plan(
        graph, frozenset(folded), input_in_arena=input_in_arena, scratch=scratch)
    ctx = _Context(graph, name, offsets, fused, external, plans, scratch_offsets)
    chained = {p.second.op.index: p.second for p in plans.values() if p.kind == "chain"}
    layers, macs = [], 0
    for op in graph.operators:
        if op.index in folded:
            out = original.tensors[original.operators[op.index].outputs[0]]
            own = dw1d_macs(chained[op.index]) if op.index in chained else 0
            macs += own
            why = _FOLD_REASONS.get(op.opcode, "computed channel by channel with it, so its "
                                    "input is never stored")
            layers.append({"index": op.index, "opcode": op.opcode, "call": None,
                           "tensor": c_comment(out.name), "shape": list(out.shape),
                           "folded_into": folded[op.index], "why": why, "macs": own})
            continue
        if op.opcode not in LOWERINGS:
            ctx.fail(op, "operator")
        try:
            call, op_macs = lower_layer(ctx, op)
        except QuantizationRangeError as e:  # graph_checks bounds these first: a safety net
            raise InvalidModelError(graph.path, str(e), layer=op.index, opcode=op.opcode) from None
        macs += int(op_macs)
        out = original.tensors[original.operators[op.index].outputs[0]]
        layers.append({"index": op.index, "opcode": op.opcode,
                       "tensor": c_comment(out.name),
                       "call": call, "shape": list(out.shape), "folded_into": None,
                       "macs": int(op_macs)})
    if arena_bytes > limits.ram_bytes or ctx.data_bytes > limits.flash_bytes:
        raise InvalidModelError(
            graph.path, f"the generated model needs an activation arena of {arena_bytes} bytes "
            f"and {ctx.data_bytes} bytes of constants; {limits.board} has {limits.ram_bytes} "
            f"bytes of RAM and {limits.flash_bytes} bytes of flash")
    sha = hashlib.sha256(graph.model_bytes).hexdigest()
    upper = name.upper()
    info = {
        "name": name, "NAME": upper, "version": __version__, "sha256": sha,
        "model_file": c_comment(graph.path.name), "arena_bytes": max(arena_bytes, ALIGNMENT_BYTES),
        "input_bytes": tin.n_elements, "output_bytes": tout.n_elements, "macs": macs,
        "input_offset": offsets.get(tin.index), "output_offset": offsets[tout.index],
        "input_in_arena": tin.index not in external,
        "input_shape": list(tin.shape), "output_shape": list(tout.shape),
        "input_scale": c_float(tin.scale), "input_zero_point": tin.zero_point,
        "output_scale": c_float(tout.scale), "output_zero_point": tout.zero_point,
        "data_defs": ctx.data_defs, "param_defs": ctx.param_defs, "layers": layers,
        "alignment": ALIGNMENT_BYTES, "n_folded": len(folded),
        **_card_info(card),
    }
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    header = env.get_template("model.h.jinja").render(**info)
    source = env.get_template("model.c.jinja").render(**info)
    return ModelCode(header=header, source=source, info=info, arena_bytes=info["arena_bytes"],
                     arena_lower_bound_bytes=lower_bound, macs=macs,
                     ops=[op.opcode for op in graph.operators], const_data_bytes=ctx.data_bytes,
                     buffers=buffers, sha256=sha, scratch_bytes=dict(scratch),
                     folded_pads=sorted(f for f in folded if graph.operators[f].opcode in
                                        ("PAD", "PADV2")),
                     folded=dict(folded),
                     input_in_arena=tin.index not in external)


def generate_c(tflite_path: str | Path, out_dir: str | Path, *, name: str = "student",
               fold_pad: bool = True, input_in_arena: bool = False, card: dict | None = None,
               fast: bool = True, limits: BoardLimits | None = None) -> dict:
    """Write ``<name>_model.h`` and ``<name>_model.c`` for ``tflite_path`` into ``out_dir``.

    Parameters
    ----------
    tflite_path : str | Path
        A full-integer ``.tflite`` (int8 input and output, int8 weights).
    out_dir : str | Path
        Folder to write into (created if needed).
    name : str
        Symbol prefix (a C identifier): ``<name>_invoke``, ``<NAME>_ARENA_BYTES``, ...
    fold_pad : bool
        Fold zero-point PADs into the following convolution (bit-identical; smaller arena).
    input_in_arena : bool
        Copy the input into the arena (as TFLite-Micro does). By default the first layers read
        the caller's input buffer in place (it may be const, e.g. in flash), so the arena holds
        activations only.
    card : dict | None
        The run's model card: channel names, rate, window, preprocessing, classes, teacher and
        data as comments and ``<NAME>_*`` ``#define``s in the header.
    fast : bool
        Run layers on the fast-path kernels where they apply (prepared constants, folded
        TRANSPOSEs, fused depthwise chains; bit-identical, see :mod:`.lower_fast`); False:
        every layer on its operator's generic kernel.
    limits : BoardLimits | None
        RAM and flash the model must fit; None: the largest supported board.

    Returns
    -------
    dict
        ``arena_bytes`` (planned activation arena), ``arena_lower_bound_bytes``, ``macs``,
        ``ops`` (operator names in order), ``c_files`` (generated + runtime sources, ref backend),
        ``include_dirs``, ``header``, ``source``, ``const_data_bytes``, ``input_bytes``,
        ``output_bytes``, ``sha256``, ``name``, ``folded_pads``, ``tflm_arena_bytes`` (the
        TFLite-Micro interpreter's arena {"total", "head", "tail"} for the same model, or None)
        and ``report`` (``<name>_model.json`` holding these figures).

    Raises
    ------
    UnsupportedOperatorError
        For any operator or option the runtime does not implement (names file, op, option,
        layer).
    ModelFormatError
        For a file that is not a readable TFLite flatbuffer, and (as its subclass
        :class:`~.graph_checks.InvalidModelError`) for a graph the C could not run safely; the
        message names the file, the layer or tensor and the reason. Nothing is written then.
    """
    from dlink.io import atomic_write_bytes, atomic_write_json

    from dlink.firmware import runtime_sources

    validate_type("out_dir", out_dir, (str, Path))
    code = build_model_code(tflite_path, name=name, fold_pad=fold_pad,
                            input_in_arena=input_in_arena, card=card, fast=fast,
                            limits=limits or DEFAULT_LIMITS)
    rt_c, rt_inc = runtime_sources("ref")
    tflm = _tflm_arena_or_none(tflite_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header, source = out_dir / f"{name}_model.h", out_dir / f"{name}_model.c"
    report = {
        "name": name, "model_sha256": code.sha256, "ops": code.ops,
        "folded_pads": code.folded_pads, "input_in_arena": code.input_in_arena,
        "macs": code.macs,
        "arena_bytes": code.arena_bytes,
        "arena_lower_bound_bytes": code.arena_lower_bound_bytes,
        "tflm_arena_bytes": tflm, "const_data_bytes": code.const_data_bytes,
        "input_bytes": code.info["input_bytes"], "output_bytes": code.info["output_bytes"],
        "layers": layer_table(code.info["layers"]),
    }
    # everything succeeded: write the three files (each atomically)
    atomic_write_bytes(header, code.header.encode())
    atomic_write_bytes(source, code.source.encode())
    atomic_write_json(out_dir / f"{name}_model.json", report)
    logger.info("generated %s (%d ops, arena %d bytes, %d MACs)", source, len(code.ops),
                code.arena_bytes, code.macs)
    return {
        "name": name, "header": header, "source": source,
        "arena_bytes": code.arena_bytes, "arena_lower_bound_bytes": code.arena_lower_bound_bytes,
        "macs": code.macs, "ops": code.ops, "const_data_bytes": code.const_data_bytes,
        "input_bytes": code.info["input_bytes"], "output_bytes": code.info["output_bytes"],
        "c_files": [source] + list(rt_c), "include_dirs": [out_dir] + list(rt_inc),
        "sha256": code.sha256, "folded_pads": code.folded_pads, "tflm_arena_bytes": tflm,
        "input_in_arena": code.input_in_arena,
        "report": out_dir / f"{name}_model.json",
    }


def _card_info(card: dict | None) -> dict:
    """Template fields of the model card (empty lists without one)."""
    if not card:
        return {"card_lines": [], "card_defines": []}
    from ..model_card import c_defines, c_header_lines

    # names from the data (channels, classes, dataset) reach the header comment sanitised
    return {"card_lines": [c_comment_line(ln) for ln in c_header_lines(card)],
            "card_defines": c_defines(card)}


def layer_table(layers: list[dict]) -> list[dict]:
    """The per-layer rows of ``<name>_model.json``: what the profile's layer indices refer to.

    One row per operator: ``index``, ``opcode``, ``shape`` (output), ``macs``, ``kernel`` (the
    runtime function called, None for a layer folded into another) and ``folded_into``.
    """
    rows = []
    for layer in layers:
        call = layer.get("call")
        kernel = call.split("(", 1)[0].strip() if call and "(" in call else None
        rows.append({"index": layer["index"], "opcode": layer["opcode"], "shape": layer["shape"],
                     "macs": int(layer.get("macs", 0)), "kernel": kernel,
                     "folded_into": layer.get("folded_into")})
    return rows


def _tflm_arena_or_none(tflite_path) -> dict | None:
    """TFLite-Micro's arena for the same model ({"total", "head", "tail"}), None if unavailable.

    The interpreter runs in a child process: a model that crashes it (or a missing wheel) costs
    this figure and a warning naming the model, never the generator's process."""
    from .tflm import TflmChildError, tflm_arena_bytes_isolated

    try:
        return tflm_arena_bytes_isolated(tflite_path)
    except TflmChildError as e:  # the reference interpreter is optional for generation
        logger.warning("could not measure the TFLite-Micro arena: %s", e)
        return None
