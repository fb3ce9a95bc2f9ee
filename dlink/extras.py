"""Which optional extra each command needs, and the message that names it.

The base install (``pip install dlink``) carries only what the CI gate ``dlink check`` needs:
numpy, onnxruntime and PyYAML. Every other stage lives in an extra of ``pyproject.toml``
(``[project.optional-dependencies]``); ``make`` installs ``.[all]``. A command whose extra is not
installed stops before any work with one line naming the extra and the command that installs it,
instead of an ImportError from deep inside a stage:

>>> print(missing_extra_message("export", ["torch", "onnx"], needed_by="dlink export"))  # doctest: +SKIP
dlink export needs the 'export' extra (missing: torch, onnx). Install it with
  pip install 'dlink[export]'   (from a source checkout: pip install -e '.[export]'; `make venv` installs everything)

:data:`EXTRAS` mirrors ``pyproject.toml`` (``tests/test_extras.py`` keeps the two in step). Only the
standard library is imported here: the CLI uses this module on every run.
"""

from __future__ import annotations

import importlib.util

#: The base install's distributions (pyproject ``dependencies``).
BASE: tuple[str, ...] = ("numpy", "onnxruntime", "pyyaml")

#: extra -> (extras it includes, distributions it adds), as in pyproject.toml.
EXTRAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "data": ((), ("mne", "edfio", "pandas", "scipy", "tqdm", "scikit-learn")),
    "train": (("data",), ("torch", "braindecode", "skorch")),
    "codegen": ((), ("tflite-micro", "jinja2")),
    "export": (("train", "codegen"), ("tensorflow", "tf-keras", "onnx", "onnxsim", "onnx2tf",
                                      "onnx-graphsurgeon", "sng4onnx", "psutil", "ai-edge-litert",
                                      "tflite-runtime")),
    "firmware": (("codegen",), ("pyocd", "pyserial", "pyelftools")),
    "bench": (("export", "firmware"), ("matplotlib",)),
    "test": ((), ("pytest",)),
    "all": (("bench", "test"), ()),
    "moabb": (("data",), ("moabb",)),
}

#: Distribution name -> top-level import name, where the two differ.
IMPORT_NAMES: dict[str, str] = {
    "pyyaml": "yaml", "scikit-learn": "sklearn", "tflite-micro": "tflite_micro",
    "tf-keras": "tf_keras", "onnx-graphsurgeon": "onnx_graphsurgeon",
    "ai-edge-litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime", "pyserial": "serial",
    "pyelftools": "elftools",
}


class MissingExtraError(ImportError):
    """A command needs an extra that is not installed; the message names it and how to install it."""

    def __init__(self, message: str, *, extra: str, missing: list[str]):
        super().__init__(message)
        self.extra = extra
        self.missing = missing


def import_name(distribution: str) -> str:
    """The top-level module a distribution installs (``scikit-learn`` -> ``sklearn``)."""
    return IMPORT_NAMES.get(distribution, distribution.replace("-", "_"))


def extra_distributions(extra: str) -> list[str]:
    """Every distribution an extra installs, its included extras' too (the base install's not)."""
    if extra not in EXTRAS:
        from dlink._check import did_you_mean

        raise ValueError(f"Unknown extra {extra!r}; dlink's extras are {', '.join(EXTRAS)}."
                         f"{did_you_mean(extra, EXTRAS)}")
    includes, own = EXTRAS[extra]
    out: list[str] = []
    for inc in includes:
        out.extend(d for d in extra_distributions(inc) if d not in out)
    out.extend(d for d in own if d not in out)
    return out


def extra_modules(extra: str) -> list[str]:
    """Top-level import names of :func:`extra_distributions`."""
    return [import_name(d) for d in extra_distributions(extra)]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked package counts as missing
        return False


def missing_modules(extra: str) -> list[str]:
    """The top-level modules of ``extra`` that cannot be imported here (found, not imported)."""
    return [m for m in extra_modules(extra) if not _importable(m)]


def install_hint(extra: str) -> str:
    return (f"  pip install 'dlink[{extra}]'   (from a source checkout: pip install -e '.[{extra}]'; "
            "`make venv` installs everything)")


def missing_extra_message(extra: str, missing: list[str], *, needed_by: str) -> str:
    names = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return f"{needed_by} needs the {extra!r} extra (missing: {names}). Install it with\n{install_hint(extra)}"


def require_extra(extra: str | None, *, needed_by: str) -> None:
    """Raise :class:`MissingExtraError` when a module of ``extra`` cannot be imported (None: base)."""
    if extra is None:
        return
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(missing_extra_message(extra, missing, needed_by=needed_by),
                                extra=extra, missing=missing)


def extra_for_module(module: str | None, *, prefer: str | None = None) -> str | None:
    """The extra that provides ``module`` (dotted names are cut to the top level).

    ``prefer`` (the running command's extra) is named when it provides the module; otherwise the
    smallest extra that does. None when no extra of dlink provides it (a real bug, not a missing
    extra).
    """
    if not module:
        return None
    top = module.split(".")[0]
    if prefer is not None and prefer in EXTRAS and top in extra_modules(prefer):
        return prefer
    owners = [e for e in EXTRAS if e != "all" and top in extra_modules(e)]
    return min(owners, key=lambda e: len(extra_distributions(e))) if owners else None
