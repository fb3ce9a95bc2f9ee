"""Fuzzing the C code generator with mutants of a .tflite (a script; the test suite runs a
reduced form).

    .venv/bin/python bench/codegen_fuzz.py runs/demo/export/student.int8.tflite --cases 300 \\
        --out runs/demo/fuzz

Each case is a seeded mutant of the model: byte flips (in the flatbuffer's tables or in the
weights), a truncation, or a schema edit of the decoded model re-packed with the flatbuffers
builder (operators dropped, swapped, duplicated or relabelled; zero points, scales, shapes,
types, buffers, tensor wiring, options, biases and names changed; graph inputs and outputs
rewired; subgraphs added or emptied). For each, ``generate_c`` must either

* refuse it with a project error (``ModelFormatError``, its subclass ``InvalidModelError``, or
  ``UnsupportedOperatorError``) whose message names the file, or
* generate C that builds on the host with ``-fsanitize=address,undefined``, runs clean on random
  and extreme windows, returns DLK_OK, and, when the TFLite-Micro interpreter (in a child process)
  accepts the mutant too, gives exactly the interpreter's outputs.

Anything else is a failure: a foreign exception (any other type, or a project error that does
not name the file), a hang (generation or the C past its time-out), a crash or sanitizer report,
an error status from the generated C, a build failure, or a mismatch with TFLite-Micro. Output:
``<out>/fuzz.md`` (the table) and ``<out>/fuzz.json`` (every case).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger("codegen_fuzz")

#: Verdicts that pass; every other one is a failure.
PASSING = ("refused", "verified")
VERDICTS = ("refused", "verified", "foreign_exception", "hang", "crash", "error_status",
            "build_failed", "mismatch")
KINDS = ("flip_structure", "flip_weights", "truncate", "schema_edit")
INJECTED_NAMES = (b"*/ int injected = 42; /*", b"a\nb\\\n#define X", b"??/\n\xff\xfe bad utf-8",
                  b"x" * 300)


@dataclass
class Case:
    index: int
    kind: str
    what: str
    verdict: str = ""
    detail: str = ""
    tflm: str = ""  # verified cases: "match", or why the interpreter gave no reference
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


# -- flatbuffer helpers (also used by the tests) -----------------------------------------------
def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def load_model_t(raw: bytes):
    """The decoded, mutable object tree (``ModelT``) of a .tflite's bytes."""
    schema = _schema()
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(raw, 0))


def pack_model_t(model) -> bytes:
    """A ``ModelT`` packed back into .tflite bytes (file identifier TFL3)."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def weight_ranges(raw: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the constant buffers' data inside ``raw`` (the rest is tables)."""
    out = []
    for buf in load_model_t(raw).buffers or []:
        data = bytes(bytearray(buf.data)) if buf.data is not None else b""
        if len(data) >= 8:
            at = raw.find(data)
            if at >= 0:
                out.append((at, at + len(data)))
    return out


# -- mutations ---------------------------------------------------------------------------------
def _tensors(m):
    return m.subgraphs[0].tensors


def _ops(m):
    return m.subgraphs[0].operators


def _int8_tensors(m):
    schema = _schema()
    return [t for t in _tensors(m) if t.type == schema.TensorType.INT8 and t.quantization is not None
            and t.quantization.scale is not None and len(t.quantization.scale)]


def _const_tensors(m, type_code=None):
    bufs = m.buffers
    return [t for t in _tensors(m) if 0 <= t.buffer < len(bufs) and bufs[t.buffer].data is not None
            and len(bufs[t.buffer].data) and (type_code is None or t.type == type_code)]


def _edit_drop_operator(m, rng):
    ops = _ops(m)
    i = int(rng.integers(len(ops)))
    del ops[i]
    return f"dropped operator {i}"


def _edit_swap_operators(m, rng):
    ops = _ops(m)
    i, j = sorted(rng.choice(len(ops), 2, replace=False).tolist())
    ops[i], ops[j] = ops[j], ops[i]
    return f"swapped operators {i} and {j}"


def _edit_duplicate_operator(m, rng):
    import copy

    ops = _ops(m)
    i = int(rng.integers(len(ops)))
    ops.insert(i + 1, copy.deepcopy(ops[i]))
    return f"duplicated operator {i}"


def _edit_relabel_opcode(m, rng):
    schema = _schema()
    ops = _ops(m)
    i = int(rng.integers(len(ops)))
    if rng.random() < 0.5 and len(m.operatorCodes) > 1:
        new = int(rng.integers(len(m.operatorCodes)))
        ops[i].opcodeIndex = new
        return f"operator {i} now uses operator code {new}"
    names = ["RELU", "RELU6", "QUANTIZE", "RESHAPE", "SOFTMAX", "ADD", "MUL", "PAD", "MEAN",
             "AVERAGE_POOL_2D", "MAX_POOL_2D", "TANH", "CONV_2D", "FULLY_CONNECTED"]
    name = names[int(rng.integers(len(names)))]
    code = schema.OperatorCodeT()
    code.builtinCode = getattr(schema.BuiltinOperator, name)
    code.deprecatedBuiltinCode = min(code.builtinCode, 127)
    code.version = 1
    m.operatorCodes.append(code)
    ops[i].opcodeIndex = len(m.operatorCodes) - 1
    return f"operator {i} relabelled {name}"


def _edit_zero_point(m, rng):
    t = _int8_tensors(m)[int(rng.integers(len(_int8_tensors(m))))]
    zp = int(rng.choice([300, -1000, 128, -129, 2 ** 31 - 1, int(rng.integers(-128, 128))]))
    t.quantization.zeroPoint = [zp] * len(t.quantization.scale)
    return f"tensor {t.name!r} zero point {zp}"


def _edit_scale(m, rng):
    ts = _int8_tensors(m)
    t = ts[int(rng.integers(len(ts)))]
    factor = float(rng.choice([0.0, -1.0, np.nan, np.inf, 1e-30, 1e30, 2.0 ** 40, 2.0 ** -40,
                               0.5, 2.0]))
    t.quantization.scale = [float(np.float32(s * factor)) for s in t.quantization.scale]
    return f"tensor {t.name!r} scales x {factor}"


def _edit_shape(m, rng):
    ts = _tensors(m)
    t = ts[int(rng.integers(len(ts)))]
    shape = [int(d) for d in (t.shape if t.shape is not None else [])]
    if not shape:
        shape = [1]
    k = int(rng.integers(len(shape)))
    shape[k] = int(rng.choice([0, -1, 2 ** 24, shape[k] + 1, max(shape[k] - 1, 1), 2 ** 31 - 1]))
    t.shape = shape
    return f"tensor {t.name!r} shape {shape}"


def _edit_input_constant(m, rng):
    schema = _schema()
    sg = m.subgraphs[0]
    t = sg.tensors[sg.inputs[0]]
    n = int(np.prod([max(int(d), 0) for d in t.shape])) if t.shape is not None else 1
    buf = schema.BufferT()
    buf.data = np.zeros(n, np.uint8)
    m.buffers.append(buf)
    t.buffer = len(m.buffers) - 1
    return "graph input turned into a constant"


def _edit_rewire(m, rng):
    ops = _ops(m)
    op = ops[int(rng.integers(len(ops)))]
    n = len(_tensors(m))
    where = "inputs" if rng.random() < 0.7 or not len(op.outputs) else "outputs"
    vec = [int(v) for v in getattr(op, where)]
    k = int(rng.integers(len(vec)))
    vec[k] = int(rng.choice([-1, n, 2 ** 20, int(rng.integers(n))]))
    setattr(op, where, vec)
    return f"operator {where}[{k}] -> tensor {vec[k]}"


def _edit_name(m, rng):
    ts = _tensors(m)
    t = ts[int(rng.integers(len(ts)))]
    t.name = INJECTED_NAMES[int(rng.integers(len(INJECTED_NAMES)))]
    return f"tensor renamed {t.name[:30]!r}"


def _edit_options(m, rng):
    ops = [op for op in _ops(m) if op.builtinOptions is not None]
    if not ops:
        return None
    op = ops[int(rng.integers(len(ops)))]
    fields = [k for k, v in vars(op.builtinOptions).items() if isinstance(v, (int, float))
              and not isinstance(v, bool)]
    if not fields:
        op.builtinOptions = None
        return "options removed"
    name = fields[int(rng.integers(len(fields)))]
    value = rng.choice([0, -1, 7, 2 ** 16, 2 ** 31 - 1, 3, np.nan])
    value = float(value) if isinstance(getattr(op.builtinOptions, name), float) else \
        int(0 if np.isnan(value) else value)
    setattr(op.builtinOptions, name, value)
    return f"option {name} = {value}"


def _edit_bias(m, rng):
    schema = _schema()
    ts = _const_tensors(m, schema.TensorType.INT32)
    if not ts:
        return None
    t = ts[int(rng.integers(len(ts)))]
    data = np.frombuffer(bytes(bytearray(m.buffers[t.buffer].data)), np.int32).copy()
    v = int(rng.choice([2 ** 31 - 1, -2 ** 31, 2 ** 30, -2 ** 29]))
    data[int(rng.integers(len(data)))] = v
    m.buffers[t.buffer].data = np.frombuffer(data.tobytes(), np.uint8)
    return f"bias {t.name!r} value {v}"


def _edit_type(m, rng):
    ts = _tensors(m)
    t = ts[int(rng.integers(len(ts)))]
    t.type = int(rng.choice([0, 1, 2, 3, 7, 9, 17, 200]))
    return f"tensor {t.name!r} type code {t.type}"


def _edit_quant(m, rng):
    ts = _int8_tensors(m)
    t = ts[int(rng.integers(len(ts)))]
    choice = int(rng.integers(3))
    if choice == 0:
        t.quantization = None
        return f"tensor {t.name!r} quantisation removed"
    if choice == 1:
        t.quantization.quantizedDimension = int(rng.choice([-1, 1, 3, 7]))
        return f"tensor {t.name!r} quantized dimension {t.quantization.quantizedDimension}"
    scales = list(t.quantization.scale)
    t.quantization.scale = scales[:-1] if len(scales) > 1 else scales * 3
    return f"tensor {t.name!r} {len(t.quantization.scale)} scales"


def _edit_graph_io(m, rng):
    sg = m.subgraphs[0]
    n = len(sg.tensors)
    choice = int(rng.integers(5))
    if choice == 0:
        sg.inputs = []
    elif choice == 1:
        sg.outputs = [int(sg.inputs[0])]
    elif choice == 2:
        sg.inputs = [int(sg.inputs[0]), int(rng.integers(n))]
    elif choice == 3:
        sg.outputs = [int(rng.integers(n))]
    else:
        sg.inputs = [n + 5]
    return f"graph inputs {list(sg.inputs)} outputs {list(sg.outputs)}"


def _edit_graph(m, rng):
    import copy

    if rng.random() < 0.5:
        m.subgraphs[0].operators = []
        return "all operators removed"
    m.subgraphs.append(copy.deepcopy(m.subgraphs[0]))
    return "second subgraph"


def _edit_buffer_index(m, rng):
    ts = _tensors(m)
    t = ts[int(rng.integers(len(ts)))]
    t.buffer = int(rng.choice([0, len(m.buffers) + 3, int(rng.integers(len(m.buffers)))]))
    return f"tensor {t.name!r} buffer {t.buffer}"


SCHEMA_EDITS = (_edit_drop_operator, _edit_swap_operators, _edit_duplicate_operator,
                _edit_relabel_opcode, _edit_zero_point, _edit_scale, _edit_shape,
                _edit_input_constant, _edit_rewire, _edit_name, _edit_options, _edit_bias,
                _edit_type, _edit_quant, _edit_graph_io, _edit_graph, _edit_buffer_index)


def mutate(raw: bytes, kind: str, rng: np.random.Generator,
           weights: list[tuple[int, int]]) -> tuple[bytes, str]:
    """One mutant of ``raw`` of the given kind, and what was done."""
    if kind == "truncate":
        n = int(rng.integers(0, len(raw)))
        return raw[:n], f"truncated to {n} of {len(raw)} bytes"
    if kind in ("flip_structure", "flip_weights"):
        in_w = np.zeros(len(raw), bool)
        for a, b in weights:
            in_w[a:b] = True
        pool = np.flatnonzero(in_w if kind == "flip_weights" and in_w.any() else ~in_w)
        pool = pool[pool >= 8]  # keep the file identifier: those cases are trivially refused
        k = int(rng.integers(1, 9))
        pos = rng.choice(pool, size=min(k, len(pool)), replace=False)
        data = bytearray(raw)
        for p in pos:
            data[int(p)] ^= int(rng.integers(1, 256))
        return bytes(data), f"{len(pos)} byte(s) changed at {sorted(int(p) for p in pos)[:8]}"
    for _ in range(20):
        edit = SCHEMA_EDITS[int(rng.integers(len(SCHEMA_EDITS)))]
        m = load_model_t(raw)
        what = edit(m, rng)
        if what is not None:
            try:
                return pack_model_t(m), f"{edit.__name__[6:]}: {what}"
            except Exception as e:  # noqa: BLE001 - an edit the builder cannot pack: next one
                log.debug("cannot pack %s: %s", what, e)
    return raw, "unchanged"


# -- one case ----------------------------------------------------------------------------------
class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: float):
    def handler(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_case(case: Case, mutant: Path, work: Path, *, n_windows: int = 8,
             generate_timeout_s: float = 60.0, run_timeout_s: float = 60.0) -> Case:
    """Generate, build (ASan + UBSan), run and compare one mutant; fills in the verdict."""
    from dlink.export.codegen import ModelFormatError, UnsupportedOperatorError, generate_c
    from dlink.export.codegen.tflm import TflmChildError, tflm_invoke_isolated
    from dlink.firmware.host import HostBuildError, HostRunError
    from dlink.firmware.sanitize import probe_windows, sanitized_host_model, sanitizer_env

    t0 = time.perf_counter()
    out_dir = work / f"case{case.index:04d}"
    try:
        with _alarm(generate_timeout_s):
            gen = generate_c(mutant, out_dir, name="fuzz")
    except (ModelFormatError, UnsupportedOperatorError) as e:
        named = str(mutant) in str(e)
        case.verdict = "refused" if named else "foreign_exception"
        case.detail = f"{type(e).__name__}: {e}"[:400]
        case.extra["names_file"] = named
        case.seconds = round(time.perf_counter() - t0, 3)
        return case
    except _Timeout:
        case.verdict, case.detail = "hang", f"generate_c ran past {generate_timeout_s:g} s"
        case.seconds = round(time.perf_counter() - t0, 3)
        return case
    except Exception as e:  # noqa: BLE001 - exactly what the fuzz test counts
        case.verdict, case.detail = "foreign_exception", f"{type(e).__name__}: {e}"[:400]
        case.seconds = round(time.perf_counter() - t0, 3)
        return case
    try:
        host = sanitized_host_model(gen, work / "build")
    except HostBuildError as e:
        case.verdict, case.detail = "build_failed", str(e)[-400:]
        return case
    header = gen["header"].read_text()
    import re

    zp = int(re.search(r"_INPUT_ZERO_POINT \((-?\d+)\)", header).group(1))
    x = probe_windows(gen["input_bytes"], zp, n_random=n_windows, seed=case.index)
    try:
        y = host.run(x, timeout_s=run_timeout_s, env=sanitizer_env())
    except HostRunError as e:
        text = str(e)
        status = "failed with DLK_" in text
        case.verdict = "error_status" if status else "crash"
        case.detail = text[-600:]
        case.seconds = round(time.perf_counter() - t0, 3)
        return case
    except Exception as e:  # noqa: BLE001 - subprocess.TimeoutExpired
        case.verdict, case.detail = "hang", f"the generated C: {type(e).__name__}: {e}"[:400]
        case.seconds = round(time.perf_counter() - t0, 3)
        return case
    try:
        ref = tflm_invoke_isolated(mutant, x, timeout_s=run_timeout_s)
        if ref.reshape(len(x), -1).shape == y.shape and np.array_equal(ref.reshape(y.shape), y):
            case.tflm = "match"
        else:
            case.verdict = "mismatch"
            diff = int(np.sum(ref.reshape(-1)[:y.size] != y.reshape(-1)[:ref.size]))
            case.detail = f"{diff} output values differ from TFLite-Micro"
    except TflmChildError as e:
        case.tflm = "interpreter: " + str(e).split(" on ")[0].replace("the TFLite-Micro ", "")
        case.extra["interpreter"] = str(e)[-300:]
    if not case.verdict:
        case.verdict = "verified"
    case.seconds = round(time.perf_counter() - t0, 3)
    return case


def run_fuzz(tflite: str | Path, *, cases: int, out_dir: str | Path, seed: int = 0,
             n_windows: int = 8, kinds: tuple[str, ...] = KINDS, verbose: bool = False) -> dict:
    """Run ``cases`` mutants of ``tflite``; write fuzz.json and fuzz.md into ``out_dir``."""
    from tqdm import tqdm

    from dlink.io import atomic_write_json, atomic_write_text

    raw = Path(tflite).read_bytes()
    out = Path(out_dir)
    mutants = out / "mutants"
    mutants.mkdir(parents=True, exist_ok=True)
    weights = weight_ranges(raw)
    rng = np.random.default_rng(seed)
    results = []
    t0 = time.perf_counter()
    for i in tqdm(range(cases), desc="fuzz", disable=not verbose):
        kind = kinds[i % len(kinds)]
        data, what = mutate(raw, kind, rng, weights)
        path = mutants / f"mutant{i:04d}.tflite"
        path.write_bytes(data)
        results.append(run_case(Case(i, kind, what), path, out / "work", n_windows=n_windows))
        log.info("case %d %s: %s (%s)", i, kind, results[-1].verdict, what)
    summary = summarize(results)
    summary.update(model=str(tflite), seed=seed, n_windows=n_windows,
                   wall_s=round(time.perf_counter() - t0, 1))
    atomic_write_json(out / "fuzz.json", {"summary": summary,
                                          "cases": [asdict(c) for c in results]})
    atomic_write_text(out / "fuzz.md", format_table(summary))
    return {"summary": summary, "cases": results}


def summarize(results: list[Case]) -> dict:
    counts = {v: sum(c.verdict == v for c in results) for v in VERDICTS}
    by_kind = {k: {v: sum(c.verdict == v for c in results if c.kind == k) for v in VERDICTS}
               for k in sorted({c.kind for c in results})}
    tflm = {}
    for c in results:
        if c.verdict == "verified":
            tflm[c.tflm] = tflm.get(c.tflm, 0) + 1
    failures = [asdict(c) for c in results if c.verdict not in PASSING]
    return {"cases": len(results), "counts": counts, "by_kind": by_kind,
            "verified_against_tflm": tflm, "failures": failures[:50],
            "ok": not failures}


def format_table(summary: dict) -> str:
    cols = ("cases", *VERDICTS)
    lines = [f"| mutation | {' | '.join(cols)} |", "|" + "---|" * (len(cols) + 1)]
    for kind, counts in summary["by_kind"].items():
        n = sum(counts.values())
        lines.append(f"| {kind} | {n} | " + " | ".join(str(counts[v]) for v in VERDICTS) + " |")
    c = summary["counts"]
    lines.append(f"| **all** | {summary['cases']} | " + " | ".join(str(c[v]) for v in VERDICTS)
                 + " |")
    lines.append("")
    lines.append("Verified cases against the TFLite-Micro interpreter: " + ", ".join(
        f"{k}: {v}" for k, v in sorted(summary["verified_against_tflm"].items())))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example:\n  .venv/bin/python bench/codegen_fuzz.py "
               "runs/demo/export/student.int8.tflite --cases 300 --out runs/demo/fuzz")
    p.add_argument("tflite", metavar="<model.tflite>", help="the int8 model to mutate")
    p.add_argument("--cases", type=int, default=300, metavar="N", help="mutants (default 300)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="mutation seed")
    p.add_argument("--windows", type=int, default=8, metavar="N",
                   help="random windows per generated mutant, plus 4 extreme ones")
    p.add_argument("--out", required=True, metavar="<dir>", help="output folder")
    p.add_argument("-v", "--verbose", action="store_true", help="progress bar and per-case log")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    result = run_fuzz(args.tflite, cases=args.cases, out_dir=args.out, seed=args.seed,
                      n_windows=args.windows, verbose=args.verbose)
    print(format_table(result["summary"]))
    for f in result["summary"]["failures"][:10]:
        print(f"FAIL case {f['index']} ({f['kind']}: {f['what']}): {f['verdict']}: {f['detail']}")
    print(f"-> {args.out}/fuzz.md, {args.out}/fuzz.json")
    return 0 if result["summary"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
