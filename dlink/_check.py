"""Argument checkers with uniform messages (MNE style): name the parameter, the allowed values,
the value received, and how to fix it. Never ``assert`` on user input."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def did_you_mean(value: str, options: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' when a close option exists, else ''."""
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_option(name: str, value: Any, allowed: Iterable[Any], *, fix: str = "") -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ValueError naming all of them."""
    allowed = list(allowed)
    if value not in allowed:
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        raise ValueError(
            f"Invalid value for the {name!r} parameter: got {value!r}; allowed values are "
            f"{', '.join(repr(a) for a in allowed)}.{hint}{(' ' + fix) if fix else ''}"
        )
    return value


def validate_type(name: str, value: Any, types: type | tuple[type, ...]) -> Any:
    """Return ``value`` if it is an instance of ``types``, else raise TypeError."""
    if not isinstance(value, types):
        names = (
            " or ".join(t.__name__ for t in types) if isinstance(types, tuple) else types.__name__
        )
        raise TypeError(f"{name} must be an instance of {names}, got {type(value).__name__} {value!r}.")
    return value


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}.")
    return value


def check_file(path: str | Path, *, what: str = "file", fix: str = "") -> Path:
    """Return ``path`` as a Path if it is an existing file, else FileNotFoundError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"The {what} {str(path)!r} does not exist or is not a file.{(' ' + fix) if fix else ''}"
        )
    return path


def check_shape(name: str, shape: tuple[int, ...], expected: tuple[int | None, ...]) -> None:
    """Raise ValueError unless ``shape`` matches ``expected`` (None matches any size)."""
    ok = len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected))
    if not ok:
        exp = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name} must have shape {exp}, got {tuple(shape)}.")
