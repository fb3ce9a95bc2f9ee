"""Randomly drawn operator shapes of the student family, as tiny .tflite models, with the
TFLite-Micro interpreter's outputs as the reference.

A case is one small graph (one to three operators) that exercises one fast path of the code
generator or its fallback:

- ``dw``: DEPTHWISE_CONV_2D 1 x k (k 1-64), depth multiplier 1-8, stride 1-10, SAME or VALID,
  channel counts that are rarely multiples of 4, sometimes several rows (H > 1), sometimes an
  explicit PAD before it (any left/right padding; the generator folds it into the layer);
- ``chain``: two such layers in a row (fused channel by channel), sometimes with a PAD between;
- ``transpose``: TRANSPOSE [1, C, H, T] -> [1, H, T, C] then such a layer (the transpose is
  folded into the layer's input strides);
- ``pw``: CONV_2D 1x1 (a matrix product), any channel counts;
- ``fallback``: shapes no fast path takes (a 3 x k depthwise, a dilated one, a 1 x k conv), which
  must keep running on the generic kernels.

:func:`build_cases` writes each model and computes its reference outputs; the tests compile all
of them into one program per backend and compare every byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.firmware.helpers import tflm_outputs
from tests.firmware.tflite_builder import ModelBuilder

KINDS = ("dw", "chain", "transpose", "pw", "fallback")
#: The generator's fast path each kind must take (a substring of the generated C), or the
#: generic kernel a fallback keeps.
EXPECTED_KERNEL = {"dw": "dlk_dw1d_s8", "chain": "dlk_dw1d_chain_s8", "transpose": "dlk_dw1d_s8",
                   "pw": "dlk_pointwise_s8", "fallback": None}


@dataclass
class Case:
    name: str
    kind: str
    desc: str
    model: bytes
    inputs: np.ndarray          # int8 [n, input elements]
    expected: np.ndarray = field(default=None)  # int8 [n, output elements]


def _act(rng) -> str:
    return str(rng.choice(["NONE", "NONE", "RELU", "RELU6"]))


def _channels(rng, hi: int = 13) -> int:
    return int(rng.integers(1, hi + 1))


def _dw_layer(mb: ModelBuilder, rng, x, *, pad_first: bool, max_taps: int = 64):
    """A random 1 x k depthwise layer on x (with an explicit PAD before it when asked)."""
    k = int(rng.integers(1, max_taps + 1))
    stride = int(rng.integers(1, 11))
    dm = int(rng.integers(1, 9))
    padding = str(rng.choice(["SAME", "VALID"]))
    desc = f"dw k{k} s{stride} dm{dm} {padding}"
    if pad_first:
        left, right = (int(v) for v in rng.integers(0, k + 1, size=2))
        x = mb.pad(x, [[0, 0], [0, 0], [left, right], [0, 0]])
        padding = "VALID"
        desc = f"pad({left},{right})+dw k{k} s{stride} dm{dm} VALID"
    if padding == "VALID" and x.shape[2] < k:
        padding = "SAME"
        desc = desc.replace("VALID", "SAME")
    return mb.depthwise(x, kw=k, dm=dm, stride=stride, stride_h=1, padding=padding,
                        act=_act(rng)), desc


def _draw(kind: str, rng, seed: int) -> tuple[bytes, str, tuple[int, ...]]:
    mb = ModelBuilder(seed=seed)
    zp = int(rng.integers(-30, 31))
    scale = float(rng.uniform(0.01, 0.1))
    if kind == "dw":
        rows, c, w = int(rng.choice([1, 1, 1, 2, 3])), _channels(rng), int(rng.integers(1, 90))
        x = mb.activation((1, rows, w, c), scale, zp)
        y, desc = _dw_layer(mb, rng, x, pad_first=bool(rng.random() < 0.3))
        desc = f"[1,{rows},{w},{c}] {desc}"
    elif kind == "chain":
        c, w = _channels(rng, 6), int(rng.integers(8, 120))
        x = mb.activation((1, 1, w, c), scale, zp)
        h, d1 = _dw_layer(mb, rng, x, pad_first=False, max_taps=32)
        h.spread = 30.0
        if rng.random() < 0.5:
            left, right = (int(v) for v in rng.integers(0, 8, size=2))
            h = mb.pad(h, [[0, 0], [0, 0], [left, right], [0, 0]])
            d1 += f" pad({left},{right})"
        k2 = int(rng.integers(1, min(41, h.shape[2]) + 1))
        y = mb.depthwise(h, kw=k2, dm=int(rng.integers(1, 3)), stride=int(rng.integers(1, 11)),
                         stride_h=1, padding="VALID", act=_act(rng))
        desc = f"[1,1,{w},{c}] {d1} -> dw k{k2} VALID"
    elif kind == "transpose":
        c, rows, t = _channels(rng), int(rng.choice([1, 1, 2])), int(rng.integers(4, 100))
        x = mb.activation((1, c, rows, t), scale, zp)
        h = mb.transpose(x, [0, 2, 3, 1])
        y, desc = _dw_layer(mb, rng, h, pad_first=bool(rng.random() < 0.5))
        desc = f"transpose [1,{c},{rows},{t}] + {desc}"
    elif kind == "pw":
        px, ic, oc = int(rng.integers(1, 41)), _channels(rng, 40), _channels(rng, 24)
        x = mb.activation((1, 1, px, ic), scale, zp)
        y = mb.conv(x, n_out=oc, act=_act(rng))
        desc = f"pw [1,1,{px},{ic}] -> {oc}"
    else:  # fallback: shapes no fast path takes
        which = str(rng.choice(["dw3xk", "dilated", "conv1xk"]))
        c, w = _channels(rng, 6), int(rng.integers(6, 30))
        if which == "dw3xk":
            x = mb.activation((1, 4, w, c), scale, zp)
            y = mb.depthwise(x, kw=int(rng.integers(1, 6)), kh=3, dm=int(rng.integers(1, 4)),
                             padding="SAME")
        elif which == "dilated":
            x = mb.activation((1, 1, w, c), scale, zp)
            y = mb.depthwise(x, kw=3, dilation=2, dm=int(rng.integers(1, 4)), padding="SAME")
        else:
            x = mb.activation((1, 1, w, c), scale, zp)
            y = mb.conv(x, n_out=_channels(rng, 6), kw=int(rng.integers(2, 8)), padding="SAME")
        desc = f"fallback {which} [1,?,{w},{c}]"
    return mb.build([x], [y]), desc, x.shape


def draw_cases(n: int, *, seed: int = 0) -> list[Case]:
    """``n`` cases, the kinds in turn, each with 2 random input windows plus the 2 extremes."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        model, desc, shape = _draw(kind, rng, seed * 100003 + i)
        count = int(np.prod(shape))
        x = rng.integers(-128, 128, size=(2, count), dtype=np.int64).astype(np.int8)
        x = np.concatenate([x, np.full((1, count), -128, np.int8),
                            np.full((1, count), 127, np.int8)])
        cases.append(Case(f"case{i:03d}", kind, desc, model, x))
    return cases


def build_cases(n: int, out_dir: Path, *, seed: int = 0) -> list[Case]:
    """Draw the cases, write ``<name>.tflite`` and generate ``<name>_model.c/h`` into
    ``out_dir``, and fill in the reference outputs."""
    from dlink.export.codegen import build_model_code

    out_dir.mkdir(parents=True, exist_ok=True)
    cases = draw_cases(n, seed=seed)
    for case in cases:
        path = out_dir / f"{case.name}.tflite"
        path.write_bytes(case.model)
        code = build_model_code(path, name=case.name)
        (out_dir / f"{case.name}_model.h").write_text(code.header)
        (out_dir / f"{case.name}_model.c").write_text(code.source)
        case.expected = tflm_outputs(case.model, case.inputs)
    return cases


def driver_source(cases: list[Case]) -> str:
    """A host C driver: reads each case's input windows from stdin (in order), runs them, and
    writes the outputs; one translation unit that includes every generated model."""
    lines = ["/* Random-case driver (generated by tests/firmware/random_cases.py). */",
             "#include <stdio.h>", "#include <stdlib.h>"]
    lines += [f'#include "{c.name}_model.c"' for c in cases]
    lines += ["typedef dlk_status_t (*invoke_t)(const int8_t *, size_t, int8_t *, size_t);",
              "static const struct { invoke_t f; size_t in, out; } cases[] = {"]
    lines += [f"    {{{c.name}_invoke, {c.name.upper()}_INPUT_BYTES, "
              f"{c.name.upper()}_OUTPUT_BYTES}}," for c in cases]
    lines += ["};", "static int8_t in_buf[1 << 16], out_buf[1 << 16];",
              "int main(int argc, char **argv)", "{",
              "    const int n_windows = argc > 1 ? atoi(argv[1]) : 1;",
              "    size_t i;", "    int k;",
              "    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {",
              "        for (k = 0; k < n_windows; ++k) {",
              "            dlk_status_t st;",
              "            if (fread(in_buf, 1, cases[i].in, stdin) != cases[i].in) {",
              "                return 3;", "            }",
              "            st = cases[i].f(in_buf, cases[i].in, out_buf, cases[i].out);",
              "            if (st != DLK_OK) {",
              '                fprintf(stderr, "case %u: %s\\n", (unsigned)i, dlk_status_str(st));',
              "                return 2;", "            }",
              "            fwrite(out_buf, 1, cases[i].out, stdout);", "        }", "    }",
              "    return 0;", "}"]
    return "\n".join(lines) + "\n"


def _put_text(text: str, value: str) -> list[str]:
    """C lines appending ``text`` and then the decimal ``value`` to ``line`` at ``at``."""
    c_text = text.replace('"', '\\"')
    return [f'    memcpy(line + at, "{c_text}", {len(text)});', f"    at = put_u(at + {len(text)}, {value});"]


def target_source(cases: list[Case]) -> str:
    """A board app (replaces firmware/app/main.c) with the inputs and expected outputs embedded:
    runs every case, prints ``DLINK_CASES {"matched":m,"total":n,"first_bad":i}`` and exits
    with 0 when every byte matched."""
    def arr(name: str, a: np.ndarray) -> str:
        body = ",".join(str(int(v)) for v in a.reshape(-1))
        return f"static const int8_t {name}[{a.size}] = {{{body}}};"

    lines = ["/* Random cases on a board (generated by tests/firmware/random_cases.py). */",
             "#include <stdint.h>", "#include <string.h>", '#include "dlink/board.h"']
    lines += [f'#include "{c.name}_model.h"' for c in cases]
    for c in cases:
        lines.append(arr(f"{c.name}_x", c.inputs))
        lines.append(arr(f"{c.name}_y", c.expected))
    lines += ["typedef dlk_status_t (*invoke_t)(const int8_t *, size_t, int8_t *, size_t);",
              "static const struct { invoke_t f; const int8_t *x, *y; size_t in, out, n; } "
              "cases[] = {"]
    lines += [f"    {{{c.name}_invoke, {c.name}_x, {c.name}_y, {c.name.upper()}_INPUT_BYTES, "
              f"{c.name.upper()}_OUTPUT_BYTES, {len(c.inputs)}}}," for c in cases]
    lines += ["};", "static int8_t out_buf[1 << 14];", "static char line[96];",
              "static size_t put_u(size_t at, uint32_t v)", "{",
              "    char d[12];", "    size_t n = 0;",
              "    do { d[n++] = (char)('0' + (int)(v % 10u)); v /= 10u; } while (v != 0u);",
              "    while (n > 0u) { line[at++] = d[--n]; }", "    return at;", "}",
              "int main(void)", "{",
              "    uint32_t matched = 0, total = 0, first_bad = 0xffffffffu;",
              "    size_t i, k, at = 0;",
              "    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {",
              "        int ok = 1;",
              "        for (k = 0; k < cases[i].n; ++k) {",
              "            if (cases[i].f(cases[i].x + k * cases[i].in, cases[i].in, out_buf,",
              "                           cases[i].out) != DLK_OK ||",
              "                memcmp(out_buf, cases[i].y + k * cases[i].out, cases[i].out) != 0) {",
              "                ok = 0;", "            }", "        }",
              "        total += 1u;",
              "        if (ok) { matched += 1u; } else if (first_bad == 0xffffffffu) { "
              "first_bad = (uint32_t)i; }",
              "    }",
              *_put_text("DLINK_CASES {\"matched\":", "matched"),
              *_put_text(",\"total\":", "total"),
              *_put_text(",\"first_bad\":", "first_bad"),
              "    line[at++] = '}';", "    line[at++] = '\\n';",
              "    dlk_board_write(line, at);",
              "    return matched == total ? 0 : 1;", "}"]
    return "\n".join(lines) + "\n"
