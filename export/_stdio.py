"""Capture what C/C++ code (TensorFlow, TFLite-Micro) writes to file descriptor 2."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def capture_fd2() -> Iterator[list[str]]:
    """Redirect fd 2 to a temporary file; the yielded list receives its text on exit.

    >>> with capture_fd2() as text:          # doctest: +SKIP
    ...     interpreter.print_allocations()
    >>> text[0]                              # doctest: +SKIP
    '[RecordingMicroAllocator] Arena allocation total 1536 bytes...'
    """
    out: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        try:
            yield out
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            f.seek(0)
            out.append(f.read().decode("utf-8", "replace"))
