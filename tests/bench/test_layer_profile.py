"""The per-layer profile table: the generator's layer list joined with the app's counts."""

from __future__ import annotations

from dlink.bench.layer_profile import layer_rows, profile_markdown

LAYERS = [
    {"index": 0, "opcode": "TRANSPOSE", "shape": [1, 1, 8, 2], "macs": 0, "kernel": None,
     "folded_into": 2},
    {"index": 1, "opcode": "PAD", "shape": [1, 1, 10, 2], "macs": 0, "kernel": None,
     "folded_into": 2},
    {"index": 2, "opcode": "DEPTHWISE_CONV_2D", "shape": [1, 1, 8, 4], "macs": 96,
     "kernel": "dlk_dw1d_chain_s8", "folded_into": None},
    {"index": 3, "opcode": "DEPTHWISE_CONV_2D", "shape": [1, 1, 4, 4], "macs": 48,
     "kernel": None, "folded_into": 2},
    {"index": 4, "opcode": "MEAN", "shape": [1, 4], "macs": 0, "kernel": "dlk_mean_s8",
     "folded_into": None},
]
PROFILE = {"counter": "instructions", "hook_overhead": 40,
           "layers": [{"index": 2, "count": 1480}, {"index": 4, "count": 240}]}


def test_layer_rows_merge_folded_layers_and_subtract_the_hook():
    rows = layer_rows(LAYERS, PROFILE)
    assert [r["index"] for r in rows] == [2, 4]
    chain = rows[0]
    assert chain["op"] == "TRANSPOSE+PAD+DEPTHWISE_CONV_2D+DEPTHWISE_CONV_2D"
    assert chain["layers"] == [0, 1, 2, 3] and chain["kernel"] == "dlk_dw1d_chain_s8"
    assert chain["macs"] == 144 and chain["count"] == 1440 and chain["per_mac"] == 10.0
    assert rows[1]["per_mac"] is None and rows[1]["count"] == 200
    assert abs(sum(r["share"] for r in rows) - 1.0) < 1e-3


def test_profile_markdown_says_qemu_counts_instructions():
    rows = layer_rows(LAYERS, PROFILE)
    text = "\n".join(profile_markdown("mps2-an386", {
        "core": "cortex-m4", "backend": "dsp",
        "profile": {"counter": "instructions", "hook_overhead": 40, "rows": rows,
                    "total": 1640}}))
    assert "Per-layer profile: mps2-an386 (cortex-m4, dsp kernels)" in text
    assert "QEMU counts instructions, not cycles" in text
    assert "| 2 | TRANSPOSE+PAD+DEPTHWISE_CONV_2D+DEPTHWISE_CONV_2D |" in text
