"""``student.options`` checked against the architecture's keyword arguments, without torch.

The accepted options are read from the source of the architecture's ``__init__`` (its
signature's names, annotations and defaults, through :mod:`ast`), so a config is checked when it
is loaded, before any data is read or any teacher trained, and the base install (no torch) can
still validate a config. An unknown option names the accepted ones; a value of the wrong type
names the expected one. Whether the values fit together (e.g. strides that divide the window) is
checked by building the student, which ``dlink distill`` does first.

>>> sorted(accepted_options("mic"))[:3]
['compress_strides', 'drop_prob', 'final_width']
"""

from __future__ import annotations

import ast
import importlib.util
import math
from functools import lru_cache
from typing import Any

from dlink._check import did_you_mean

#: Constructor arguments the stage fills in from the data (never options).
FROM_DATA = ("self", "n_chans", "n_times", "n_outputs", "sfreq")


@lru_cache(maxsize=None)
def accepted_options(arch: str) -> dict[str, str]:
    """``{option: annotation source}`` of architecture ``arch``'s keyword arguments."""
    from . import ARCHS

    if arch not in ARCHS:
        raise ValueError(f"student.arch: unknown architecture {arch!r}; choose one of "
                         f"{', '.join(map(repr, ARCHS))}.{did_you_mean(arch, ARCHS)}")
    module, cls_name = ARCHS[arch].split(":")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"student.arch {arch!r}: module {module} not found.")
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = [*item.args.args, *item.args.kwonlyargs]
                    return {a.arg: ast.unparse(a.annotation) if a.annotation else ""
                            for a in args if a.arg not in FROM_DATA}
    raise ValueError(f"student.arch {arch!r}: no {cls_name}.__init__ in {spec.origin}.")


def _type_ok(annotation: str, value: Any) -> bool:
    kinds = {k.strip().split("[")[0] for k in annotation.split("|")} if annotation else set()
    if not kinds:
        return True
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return bool(kinds & {"int", "float"})
    if isinstance(value, float):
        return "float" in kinds and math.isfinite(value)
    if isinstance(value, str):
        return "str" in kinds
    if isinstance(value, (list, tuple)):
        return bool(kinds & {"list", "tuple"}) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value)
    return value is None and "None" in kinds


def check_options(arch: str, options: dict) -> None:
    """Raise ValueError naming the option unless every key of ``options`` is a keyword argument
    of ``arch`` and its value has the annotated type."""
    accepted = accepted_options(arch)
    for key, value in options.items():
        if key not in accepted:
            raise ValueError(
                f"student.options: unknown option {key!r} for arch {arch!r}."
                f"{did_you_mean(str(key), accepted)} Accepted: {', '.join(sorted(accepted))}.")
        if not _type_ok(accepted[key], value):
            raise ValueError(f"student.options.{key} must be {accepted[key]} (a finite value), "
                             f"got {value!r}.")
