"""Runtime hygiene: the status table matches the enum, sources are warnings-clean, backends."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.firmware.helpers import HAS_ARM_GCC, REPO, STRICT_FLAGS

RUNTIME = REPO / "firmware" / "runtime"


def _enum_names() -> dict[str, int]:
    text = (RUNTIME / "include" / "dlink" / "status.h").read_text()
    body = text[text.index("typedef enum"):text.index("} dlk_status_t;")]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"(DLK_\w+)\s*=\s*(\d+)", body)}


def test_status_table_in_sync_with_enum():
    names = _enum_names()
    count = names.pop("DLK_STATUS_COUNT")
    assert names["DLK_OK"] == 0
    assert sorted(names.values()) == list(range(count)), "status codes must be 0..COUNT-1"
    table = (RUNTIME / "src" / "status.c").read_text()
    entries = dict(re.findall(r'\[(DLK_\w+)\]\s*=\s*"([^"]+)"', table))
    assert set(entries) == set(names), f"table keys {sorted(entries)} != enum {sorted(names)}"
    assert all(entries[k] == k for k in names)


def test_backends_build_on_each_other():
    """mve takes dsp's kernels where it has none of its own, dsp takes ref's; every backend
    provides every kernel file once."""
    from dlink.firmware import runtime_sources

    by = {b: {p.name: p.parent.name for p in runtime_sources(b)[0] if p.parent.name != "src"}
          for b in ("ref", "dsp", "mve")}
    assert set(by["ref"]) == set(by["dsp"]) == set(by["mve"])
    assert by["mve"]["dw1d.c"] == "mve" and by["mve"]["conv.c"] == "dsp"
    assert by["mve"]["softmax.c"] == "ref" and by["dsp"]["dw1d.c"] == "dsp"


def test_mve_is_not_built_for_the_host(tmp_path):
    from dlink.firmware.host import HostModel

    with pytest.raises(ValueError, match=r"backend 'mve'.*mps3-an547"):
        HostModel.build(tmp_path, tmp_path, backend="mve")


def test_runtime_sources_ref_and_errors():
    from dlink.firmware import runtime_sources

    c_files, include_dirs = runtime_sources("ref")
    assert {p.name for p in c_files} >= {"conv.c", "softmax.c", "status.c", "shape.c"}
    assert all(p.is_file() for p in c_files)
    assert (include_dirs[0] / "dlink" / "kernels.h").is_file()
    with pytest.raises(ValueError, match="backend.*'ref'"):
        runtime_sources("cuda")


@pytest.mark.parametrize("backend", ["ref", "dsp"])
def test_runtime_compiles_warnings_clean_host(backend, tmp_path):
    from dlink.firmware import runtime_sources

    c_files, inc = runtime_sources(backend)
    for src in c_files:
        proc = subprocess.run(["gcc", *STRICT_FLAGS, "-O2", f"-I{inc[0]}", "-c", str(src), "-o",
                               str(tmp_path / "x.o")], capture_output=True, text=True)
        assert proc.returncode == 0, f"{src.name}: {proc.stderr}"


@pytest.mark.skipif(not HAS_ARM_GCC, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("backend,cpu", [("ref", "cortex-m4"), ("dsp", "cortex-m4"),
                                         ("dsp", "cortex-m33"), ("ref", "cortex-m0plus"),
                                         ("mve", "cortex-m55"), ("dsp", "cortex-m55")])
def test_runtime_compiles_warnings_clean_arm(backend, cpu, tmp_path):
    from dlink.firmware import runtime_sources

    c_files, inc = runtime_sources(backend)
    fpu = ["-mfloat-abi=hard", "-mfpu=auto"] if cpu == "cortex-m55" else []  # MVE needs it
    cmd = ["arm-none-eabi-gcc", *STRICT_FLAGS, "-O2", f"-mcpu={cpu}", "-mthumb", *fpu,
           f"-I{inc[0]}", "-c", *map(str, c_files)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(list(tmp_path.glob("*.o"))) == len(c_files)
