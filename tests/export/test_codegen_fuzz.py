"""The code generator against mutated flatbuffers (bench/codegen_fuzz.py; the script runs
hundreds of cases, CI a reduced form): every mutant is refused with a project error naming the
file, or generates C that builds, runs clean under ASan/UBSan and matches TFLite-Micro."""

from __future__ import annotations

import shutil

import pytest

from tests.firmware.helpers import model_path

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the host gcc")


def _fuzz(tmp_path, cases: int, seed: int):
    from dlink.bench.codegen_fuzz import run_fuzz

    return run_fuzz(model_path("mic_student"), cases=cases, out_dir=tmp_path, seed=seed,
                    n_windows=2)


def test_reduced_fuzz_every_mutant_is_refused_or_verified(tmp_path):
    result = _fuzz(tmp_path, cases=16, seed=1)
    s = result["summary"]
    assert s["ok"], s["failures"]
    assert s["counts"]["refused"] + s["counts"]["verified"] == 16
    assert s["counts"]["refused"] >= 4 and s["counts"]["verified"] >= 1
    for c in result["cases"]:
        if c.verdict == "refused":
            assert c.extra["names_file"]
    assert (tmp_path / "fuzz.md").read_text().startswith("| mutation | cases | refused")


@pytest.mark.slow
def test_long_fuzz(tmp_path):
    s = _fuzz(tmp_path, cases=200, seed=7)["summary"]
    assert s["ok"], s["failures"]


def test_the_fuzz_verdicts_catch_failures(tmp_path, monkeypatch):
    """A generator that throws a foreign exception, or hangs, is counted as a failure."""
    import time

    from dlink.bench import codegen_fuzz
    from dlink.export import codegen

    path = tmp_path / "m.tflite"
    path.write_bytes(model_path("fc").read_bytes())

    def boom(*a, **k):
        raise IndexError("list index out of range")

    monkeypatch.setattr(codegen, "generate_c", boom)
    case = codegen_fuzz.run_case(codegen_fuzz.Case(0, "x", "y"), path, tmp_path)
    assert case.verdict == "foreign_exception" and "IndexError" in case.detail

    def unnamed(*a, **k):
        raise codegen.ModelFormatError("something is wrong")  # no file named

    monkeypatch.setattr(codegen, "generate_c", unnamed)
    case = codegen_fuzz.run_case(codegen_fuzz.Case(1, "x", "y"), path, tmp_path)
    assert case.verdict == "foreign_exception"

    monkeypatch.setattr(codegen, "generate_c", lambda *a, **k: time.sleep(5))
    case = codegen_fuzz.run_case(codegen_fuzz.Case(2, "x", "y"), path, tmp_path,
                                 generate_timeout_s=0.2)
    assert case.verdict == "hang"


def test_mutations_are_reproducible_from_the_seed():
    import numpy as np

    from dlink.bench.codegen_fuzz import KINDS, mutate, weight_ranges

    raw = model_path("mic_student").read_bytes()
    w = weight_ranges(raw)
    assert w and all(0 < a < b <= len(raw) for a, b in w)
    for kind in KINDS:
        a = mutate(raw, kind, np.random.default_rng(3), w)
        b = mutate(raw, kind, np.random.default_rng(3), w)
        assert a == b and a[0] != raw
