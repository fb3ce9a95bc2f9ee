"""The model card: JSON/Markdown, ONNX metadata_props, comments and #defines in the header."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from dlink.config import config_from_dict
from dlink.export.model_card import (ONNX_CARD_KEY, SCHEMA, build_model_card, c_defines, onnx_metadata,
                                     set_onnx_metadata, to_markdown, write_model_card)
from tests.firmware.helpers import STRICT_FLAGS, model_path

HEADSET = ["FC3", "FC4", "C3", "Cz", "C4", "CP3", "CP4", "Pz"]


def _card():
    cfg = config_from_dict({
        "name": "headset",
        "data": {"name": "recordings", "n_classes": 2, "events": {"T1": "left", "T2": "right"},
                 "tmin_s": 0.5, "notch_hz": 50.0,
                 "recordings": [{"file": f"{s}.edf", "split": s} for s in ("train", "val", "test")]},
        "firmware": {"board": "nrf52840"}})
    meta = {"arch": "mic", "n_chans": 8, "n_times": 800, "sfreq": 200.0, "ch_names": HEADSET,
            "class_names": ["left", "right"]}
    metrics = {
        "teacher": {"arch": "labram", "pretrained": False, "init": "trained from scratch",
                    "checkpoint": None, "params": 1000, "balanced_accuracy": 0.6},
        "student": {"n": 15, "balanced_accuracy": 0.7, "balanced_accuracy_ci": [0.5, 0.9],
                    "params": 9000, "macs": 600_000},
        "data": {"dataset": "recordings", "windows": {"train": 15, "val": 15, "test": 15, "pool": 0},
                 "sfreq_hz": 200.0, "notes": ["a.edf: events not in data.events (ignored): T0 x15"],
                 "recordings": [{"file": "a.edf", "subject": 1, "split": "train",
                                 "source_sfreq_hz": 250.0, "windows": 15, "events": {"left": 8}}]},
        "warnings": ["teacher: labram was trained from scratch"],
    }
    tflm = {"input": {"shape": [1, 8, 1, 800], "scale": 0.0165, "zero_point": 2},
            "output": {"shape": [1, 2], "scale": 0.0008, "zero_point": 127}}
    return build_model_card(cfg, meta, metrics, tflm=tflm, tflite_sha256="ab" * 32)


def test_card_holds_what_the_device_must_know():
    card = _card()
    assert card["schema"] == SCHEMA and json.loads(json.dumps(card)) == card  # plain JSON
    i = card["input"]
    assert i["channels"] == HEADSET and i["sfreq_hz"] == 200.0 and i["n_times"] == 800
    assert i["window_s"] == 4.0 and i["tmin_s"] == 0.5 and i["hop_s"] == 4.0
    assert i["units"] == "100 uV" and i["source_sfreq_hz"] == [250.0]
    p = card["preprocessing"]
    assert p["band_pass_hz"] == [0.3, 75.0] and p["notch_hz"] == 50.0 and p["unit_volts"] == 1e-4
    assert card["classes"] == ["left", "right"]
    assert card["quantization"]["input"] == {"dtype": "int8", "shape": [1, 8, 1, 800], "scale": 0.0165,
                                             "zero_point": 2, "formula": card["quantization"]["input"]["formula"]}
    assert card["teacher"]["pretrained"] is False and card["teacher"]["init"] == "trained from scratch"
    assert card["training_data"]["windows"]["test"] == 15 and card["training_data"]["notes"]
    assert card["evaluation"]["student_balanced_accuracy_ci95"] == [0.5, 0.9]
    assert card["board"] == {"name": "nrf52840", "core": "cortex-m4", "cpu_hz": 64_000_000,
                             "ram_bytes": 256 * 1024, "flash_bytes": 1024 * 1024}


def test_card_files_and_markdown(tmp_path):
    card = _card()
    paths = write_model_card(card, tmp_path)
    assert [p.name for p in paths] == ["model_card.json", "model_card.md"]
    assert json.loads(paths[0].read_text()) == card
    md = to_markdown(card)
    assert "channels (8, in this order): FC3, FC4, C3, Cz, C4, CP3, CP4, Pz" in md
    assert "starting 0.5 s after the cue" in md and "notch: 50 Hz" in md
    assert "classes (output order): 0 left, 1 right" in md and "trained from scratch" in md
    assert "recordings were at 250 Hz, resampled to 200 Hz" in md and "64 MHz" in md


def test_onnx_metadata_props_round_trip(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])])
    model = helper.make_model(graph)
    helper.set_model_props(model, {"producer_note": "kept"})
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    card = _card()
    set_onnx_metadata(path, onnx_metadata(card))
    set_onnx_metadata(path, onnx_metadata(card))  # again: replaced, not repeated
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["producer_note"] == "kept"
    assert props["dlink.channels"] == ",".join(HEADSET) and props["dlink.sfreq_hz"] == "200"
    assert props["dlink.classes"] == "left,right" and props["dlink.units"] == "100 uV"
    assert json.loads(props[ONNX_CARD_KEY]) == card
    assert len(onnx.load(str(path)).metadata_props) == len(props)


def test_header_carries_the_card_as_comments_and_defines(tmp_path):
    from dlink.export.codegen import generate_c
    from dlink.firmware import RUNTIME_DIR

    card = _card()
    card["classes"] = ['left "L"', "right"]  # a quote must not break the C string
    r = generate_c(model_path("student_like"), tmp_path, name="eeg_net", card=card)
    header = r["header"].read_text()
    assert " *   channels (8, input order): FC3 FC4 C3 Cz C4 CP3 CP4 Pz" in header
    assert "teacher: labram (trained from scratch)" in header
    for key, value in c_defines(card):
        assert f"#define EEG_NET_{key} {value}\n" in header
    assert '#define EEG_NET_CLASS_NAMES {"left \\"L\\"", "right"}' in header
    plain = generate_c(model_path("student_like"), tmp_path / "plain", name="eeg_net")
    assert "Model card" not in plain["header"].read_text()
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no host C compiler")
    probe = tmp_path / "probe.c"
    probe.write_text('#include "eeg_net_model.h"\n'
                     "static const char *const names[EEG_NET_N_CHANS] = EEG_NET_CHANNEL_NAMES;\n"
                     "static const char *const classes[EEG_NET_N_CLASSES] = EEG_NET_CLASS_NAMES;\n"
                     "const char *first(void) { return EEG_NET_TMIN_MS > 0 ? names[0] : classes[0]; }\n"
                     "float rate(void) { return EEG_NET_SFREQ_HZ * (float)EEG_NET_WINDOW_MS; }\n")
    proc = subprocess.run([gcc, *STRICT_FLAGS, f"-I{tmp_path}", f"-I{RUNTIME_DIR / 'include'}", "-c",
                           str(probe), "-o", str(tmp_path / "probe.o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_card_of_a_causal_run_names_its_front_end_and_hop():
    from dlink.data.preprocess import describe_preprocessing

    cfg = config_from_dict({"data": {"preprocessing": "causal", "notch_hz": 50.0},
                            "firmware": {"stream": {"hop_s": 0.5}}})
    p = describe_preprocessing(cfg.data)
    assert p["mode"] == "causal" and p["adc_sfreq_hz"] == 250.0
    assert "Butterworth band-pass of order 4 as biquads" in p["filter"] and "IIR notch" in p["filter"]
    meta = {"arch": "mic", "n_chans": 22, "n_times": 800, "sfreq": 200.0, "ch_names": [], "class_names": []}
    card = build_model_card(cfg, meta, None)
    assert card["input"]["hop_s"] == 0.5 and "streaming app" in card["input"]["hop_note"]
