"""Small C-source formatting helpers for the code generator (arrays, floats, identifiers)."""

from __future__ import annotations

import re

import numpy as np

__all__ = ["c_array", "c_float", "check_c_identifier", "C_KEYWORDS"]

C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while _Bool _Complex _Imaginary main".split()
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_c_identifier(name: str, *, what: str = "name") -> str:
    """Return ``name`` if it is a valid, non-reserved C identifier prefix, else ValueError."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(
            f"The {what} must be a C identifier (letters, digits, '_', not starting with a "
            f"digit), got {name!r}. Example: name='student'."
        )
    if name in C_KEYWORDS or name.startswith("dlk_") or name.startswith("__") or \
            re.match(r"^_[A-Z]", name):
        raise ValueError(
            f"The {what} {name!r} is a C keyword or a reserved prefix (dlk_, __, _X); choose "
            "another, e.g. 'student'."
        )
    if len(name) > 31:
        raise ValueError(f"The {what} {name!r} is longer than 31 characters.")
    return name


def c_float(value: float) -> str:
    """A float32 value as a C99 hexadecimal float literal (exact round trip).

    >>> c_float(0.03125)
    '0x1.0000000000000p-5f'
    """
    v = float(np.float32(value))
    if v == 0.0:
        return "0.0f"
    return f"{v.hex()}f"


def c_array(values, *, per_line: int = 16, indent: str = "    ") -> str:
    """Initialiser body ``{...}`` for integer values, ``per_line`` per line."""
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    if not flat:
        return "{0}"
    lines = [
        indent + ", ".join(str(v) for v in flat[i:i + per_line]) + ","
        for i in range(0, len(flat), per_line)
    ]
    return "{\n" + "\n".join(lines) + "\n}"
