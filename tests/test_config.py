"""Config validation: unknown keys and wrong types name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dlink.config import ConfigError, load_config, save_config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.data.window_s >= 1


def test_unknown_key_names_key_and_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"train": {"epochz": 3}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml.*'train\.epochz'.*Did you mean 'epochs'"):
        load_config(p)


def test_unknown_section_is_rejected(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"trian": {}}))
    with pytest.raises(ConfigError, match=r"unknown key 'trian'.*Did you mean 'train'"):
        load_config(p)


def test_wrong_type_names_expected_type(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"train": {"epochs": "many"}}))
    with pytest.raises(ConfigError, match=r"'train\.epochs' must be of type int"):
        load_config(p)


def test_choice_is_checked(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"teacher": {"arch": "labrm"}}))
    with pytest.raises(ConfigError, match=r"'teacher\.arch' = 'labrm' is not allowed.*'labram'"):
        load_config(p)


def test_resolved_config_round_trips(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"seed": 3, "train": {"epochs": 2}}))
    cfg = load_config(p, overrides={"train.lr": 0.01})
    out = save_config(cfg, tmp_path / "resolved.yaml")
    again = load_config(out)
    assert again == cfg and again.train.lr == 0.01 and again.seed == 3


def test_a_rate_the_teachers_cannot_take_is_refused_when_the_config_loads(tmp_path):
    # data.sfreq_hz: 250 used to be refused only after the data had been loaded
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  name: eegmmidb\n  path: /nowhere\n  sfreq_hz: 250\n")
    with pytest.raises(ConfigError, match=r"data.sfreq_hz=250: the teachers \(labram\) take 200 Hz EEG.*"
                                          r"Set data.sfreq_hz: 200; recordings at any other rate"):
        load_config(p)
