"""Small C-source formatting helpers for the code generator (arrays, floats, identifiers)."""

from __future__ import annotations

import re

import numpy as np

__all__ = ["c_array", "c_float", "c_comment", "c_comment_line", "c_string", "check_c_identifier",
           "C_KEYWORDS"]

C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while _Bool _Complex _Imaginary main".split()
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Characters a name from the model may keep inside a C comment: no '*' or '/' (no comment
#: delimiters), no backslash or '?' (no line splices, no trigraphs), no quotes, no control chars.
_COMMENT_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,:;=+()\[\]<>#@%&|~^!-]")


def c_comment(text: str, *, max_chars: int = 96) -> str:
    """``text`` (a tensor, operator or file name from the model) made safe inside a C comment.

    >>> c_comment("conv/BiasAdd;*/ int injected = 42; /*")
    'conv_BiasAdd;__ int injected = 42; __'
    """
    safe = _COMMENT_UNSAFE.sub("_", str(text))
    return safe if len(safe) <= max_chars else safe[:max_chars] + "..."


def c_comment_line(text: str) -> str:
    r"""Readable text (a formula, a list of names) made safe as one line of a C block comment:
    control characters and backslashes (line splices) become '_', '??' (a trigraph under
    -std=c99) becomes '?_', and '*/' becomes '* /'.

    >>> print(c_comment_line("q = round(x / 0.5) */ bad\\"))
    q = round(x / 0.5) * / bad_
    """
    text = re.sub(r"[\x00-\x1f\x7f\\]", "_", str(text)).replace("??", "?_")
    while "*/" in text:
        text = text.replace("*/", "* /")
    return text


def c_string(text: str) -> str:
    r"""``text`` as a C string literal: quotes and backslashes escaped, '?' escaped (no
    trigraphs), other characters outside printable ASCII as octal escapes of their UTF-8 bytes.

    >>> print(c_string('C3 "left"??/'))
    "C3 \"left\"\?\?/"
    """
    out = []
    for byte in str(text).encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7f:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


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
