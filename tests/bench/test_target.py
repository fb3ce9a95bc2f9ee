"""The board the run was built for: its ELF's sizes, a same-core instruction count, time at its clock."""

from __future__ import annotations

import pytest

from dlink.bench.report import headline_rows, headline_text, to_markdown
from dlink.bench.target import target_summary, target_text, twin_board

NRF_SIZE = {"flash_bytes": 23_000, "image_bytes": 120_000, "ram_bytes": 52_000, "arena_bytes": 28_800,
            "backend": "dsp", "test_vectors_embedded": True}


def _report(**boards):
    base = {
        "nrf52840": {"board": "nrf52840", "core": "cortex-m4", "status": "not measured",
                     "command": "dlink firmware build ... --serial PORT", "size": dict(NRF_SIZE)},
        "mps2-an386": {"board": "mps2-an386", "core": "cortex-m4", "status": "measured",
                       "instructions_per_inference": 62_000_000, "flash_bytes": 24_000, "ram_bytes": 70_000,
                       "size": {"backend": "dsp"}},
        "mps2-an500": {"board": "mps2-an500", "core": "cortex-m7", "status": "measured",
                       "instructions_per_inference": 50_000_000, "size": {"backend": "dsp"}},
    }
    base.update(boards)
    return {"boards": base, "dataset": {"n": 15, "n_times": 800, "sfreq": 200.0},
            "runtimes": {}, "teacher": {}, "student": {"params": 9000, "macs": 600_000}, "models": {}}


def test_real_board_takes_the_same_core_count_and_its_own_sizes():
    rep = _report()
    assert twin_board("nrf52840", rep["boards"], "dsp") == "mps2-an386"
    assert twin_board("nrf52840", rep["boards"], "ref") is None  # other kernels: another count
    t = target_summary(rep, "nrf52840")
    assert t["instructions_per_inference"] == 62_000_000 and t["instructions_from"] == "mps2-an386"
    assert t["ram_bytes"] == 52_000 and t["image_bytes"] == 120_000 and t["fit"]["status"] == "fits"
    # the figure: 62 M instructions at 64 MHz are at least 0.97 s per 4-s window
    assert t["time_ms_lower_bound"] == pytest.approx(968.75)
    assert t["deadline_s"] == 4.0 and t["deadline_is"] == "window"
    assert t["duty_cycle_lower_bound"] == pytest.approx(0.2421875)
    text = target_text(t)
    assert "built for nrf52840 (cortex-m4, 64 MHz): RAM 52,000 B of 256 KiB" in text
    assert ">= 968.8 ms per inference at 64 MHz per 4-s window: at least 24.2% of real time" in text
    assert "QEMU counts instructions, not cycles" in text and "--no-test-vectors" in text


def test_headline_is_about_the_configured_board():
    rep = _report()
    rep["target"] = target_summary(rep, "nrf52840")
    rows = headline_rows(rep, default_board="nrf52840")
    s = rows[1]
    assert s["ram_bytes"] == 52_000 and s["flash_bytes"] == 23_000  # the nRF's ELF, not the M4's
    assert s["instructions_per_inference"] == 62_000_000
    assert s["board_ms_lower_bound"] == pytest.approx(968.75)
    text = headline_text({**rep, "headline": rows, "settings": {}})
    assert "instructions counted under QEMU on mps2-an386" in text and "64 MHz clock, a lower bound" in text
    rep["dataset"]["class_names"] = ["a", "b", "c", "d"]
    assert "test windows: 15; chance 0.250 (4 classes)" in headline_text({**rep, "headline": rows, "settings": {}})
    md = to_markdown({**rep, "headline": rows})
    assert "## Target board" in md and ">= 968.8 ms" in md


def test_a_board_that_cannot_keep_up_and_one_not_built():
    rep = _report()
    rep["dataset"]["n_times"] = 400  # 2-s windows; 62 M instructions need >= 0.97 s
    rep["boards"]["mps2-an386"]["instructions_per_inference"] = 200_000_000
    t = target_summary(rep, "nrf52840")
    assert t["duty_cycle_lower_bound"] > 1 and "cannot keep up" in target_text(t)
    bare = target_summary({"boards": {}, "dataset": {}}, "nrf52840")
    assert bare["fit"] is None and bare["instructions_per_inference"] is None
    assert any("dlink firmware build RUN --board nrf52840" in n for n in bare["notes"])
