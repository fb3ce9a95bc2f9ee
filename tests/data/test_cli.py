"""`dlink data summary CONFIG`."""

from __future__ import annotations

import json

import yaml

from dlink.cli import main


def test_data_summary_prints_json_per_split(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"name": "synthetic", "synthetic": {
        "subjects": {"train": 2, "val": 1, "test": 1, "pool": 0}, "trials_per_class": 2}}}))
    out_json = tmp_path / "summary.json"
    rc = main(["data", "summary", str(cfg), "--cache-dir", str(tmp_path / "cache"), "-o", str(out_json)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads(out_json.read_text())
    splits = out["splits"]
    assert set(splits) == {"train", "val", "test", "pool"}
    train = splits["train"]
    assert train["windows"] == 16 and sum(train["classes"].values()) == 16
    assert train["classes"] == {"left_hand": 4, "right_hand": 4, "feet": 4, "tongue": 4}
    assert train["n_chans"] == len(out["channels"]) == 22 and "C3" in out["channels"]
    assert all("channels" not in s for s in splits.values())  # the names once, not per split
    assert out["notes"] == []
    assert train["sfreq_hz"] == 200.0 and train["window_samples"] == 800
    assert train["subjects"] == [1, 2] and splits["val"]["subjects"] == [3]
    assert splits["pool"]["windows"] == 0
    assert (tmp_path / "cache").is_dir()


def test_data_summary_reports_a_bad_config(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"name": "synthtic"}}))
    assert main(["data", "summary", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "Failed to data summary" in err and "synthtic" in err
