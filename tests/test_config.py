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


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_point_at_the_shared_data_folder(path):
    """A shipped config's data.path resolves (against the config's folder) to ../shared/data."""
    cfg = load_config(path)
    if cfg.data.path is None or "shared" not in Path(cfg.data.path).parts:
        pytest.skip("no ../shared path in this config")
    if not (REPO.parent / "shared").is_dir():
        pytest.skip("../shared is absent")
    assert Path(cfg.data.path).resolve() == (REPO.parent / "shared" / "data").resolve()


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


@pytest.mark.parametrize("text", ["", "# only a comment\n", "{}\n"])
def test_an_empty_config_is_an_error_naming_the_file(tmp_path, text):
    p = tmp_path / "empty.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=r"empty\.yaml: the config is empty.*configs/demo\.yaml"):
        load_config(p)


def test_a_config_that_is_not_utf8_names_the_file(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: d\xe9mo\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: not UTF-8 text \(byte 0xe9 at offset 7\)"):
        load_config(p)


@pytest.mark.parametrize("section, key, value, message", [
    ("train", "max_steps_per_epoch", -5, r"train\.max_steps_per_epoch must be >= 1 or null"),
    ("train", "patience", -1, r"train\.patience .* must be >= 1"),
    ("train", "patience", 0, r"train\.patience .* must be >= 1"),
    ("train", "weight_decay", -1.0, r"train\.weight_decay must be >= 0"),
    ("train", "lr", float("nan"), r"train\.lr must be a finite number, got nan"),
    ("train", "lr", float("inf"), r"train\.lr must be a finite number"),
    ("train", "epochs", -1, r"train\.epochs must be >= 1"),
    ("teacher", "lr", float("nan"), r"teacher\.lr must be a finite number"),
    ("teacher", "weight_decay", -1.0, r"teacher\.weight_decay must be >= 0"),
    ("teacher", "patience", -1, r"teacher\.patience .* must be >= 1"),
    ("teacher", "label_smoothing", 1.5, r"teacher\.label_smoothing must be in \[0, 1\)"),
    ("teacher", "min_lr", 1.0, r"teacher\.min_lr must be >= 0 and <= teacher\.lr"),
    ("distill", "temperature", float("nan"), r"distill\.temperature must be a finite number"),
    ("student", "options", {"widht": 8}, r"student\.options: unknown option 'widht'.*Accepted:"),
    ("student", "options", {"mimic_width": "wide"}, r"student\.options\.mimic_width must be int"),
    ("student", "max_params", 0, r"student\.max_params must be >= 1"),
    ("data", "notch_hz", -50.0, r"data\.notch_hz must be between 0 and the Nyquist"),
    # the within-subject recipe's fields (issue 14)
    ("data", "channels", ["C3", 5], r"'data\.channels\[1\]' must be of type str"),
    ("data", "channels", ["C3", "c3"], r"data\.channels names \['C3'\] more than once"),
    ("data", "splits", {"by": "kfold", "folds": 5, "fold": 5}, r"data\.splits\.fold must be in \[0, 4\]"),
    ("data", "splits", {"by": "run", "train": [4], "test": [4]}, r"'train' and 'test' share runs \[4\]"),
    ("train", "steps", 0, r"train\.steps must be >= 1 or null"),
    ("train", "min_steps", 0, r"train\.min_steps must be >= 1"),
    ("train", "warmup_fraction", 1.0, r"train\.warmup_fraction must be in \[0, 1\)"),
    ("train", "select", "best", r"'train\.select' = 'best' is not allowed"),
    ("train", "augment", {"channel_dropout": 1.0}, r"train\.augment\.channel_dropout must be in \[0, 1\)"),
    ("train", "augment", {"nosie": 0.1}, r"unknown key 'train\.augment\.nosie'.*Did you mean 'noise'"),
    ("distill", "teacher_gate", "maybe", r"'distill\.teacher_gate' = 'maybe' is not allowed"),
    ("distill", "baselines", ["csp"], r"unknown baseline 'csp'"),
    ("student", "spatial_init", "pca", r"'student\.spatial_init' = 'pca' is not allowed"),
    ("student", "options", {"filterbank_init": 3}, r"student\.options\.filterbank_init must be str"),
    # the pretrain: section (issue 15)
    ("pretrain", "mask_ratio", 1.0, r"pretrain\.mask_ratio must be in \(0, 1\)"),
    ("pretrain", "layer_scale_init", 0.0, r"pretrain\.layer_scale_init must be > 0"),
    ("pretrain", "lr", float("nan"), r"pretrain\.lr must be a finite number"),
    ("pretrain", "device", "tpu", r"pretrain\.device' = 'tpu' is not allowed"),
    ("pretrain", "corpus", "eeg/", r"pretrain\.corpus' must be a list"),
    # issue 16's options
    ("data", "synthetic", {"timing": "yes"}, r"data\.synthetic\.timing must be true or false"),
    ("data", "synthetic", {"timing": True, "erd_onset_s": -1}, r"data\.synthetic\.erd_onset_s must be > 0"),
    ("distill", "target", "block", r"distill\.target_block must be a block number >= 1"),
    # int8 calibration (issue 14b)
    ("export", "calibration_splits", ["train", "test"], r"export\.calibration_splits: 'test' is not allowed"),
    ("export", "calibration_splits", [], r"export\.calibration_splits must name at least one"),
    ("export", "calibration_clip_percentile", 50.0, r"export\.calibration_clip_percentile must be in 90\.\.100"),
])
def test_nonsense_values_are_refused_naming_file_and_key(tmp_path, section, key, value, message):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"data": {"name": "synthetic"}, section: {key: value}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml: .*" + message):
        load_config(p)


def test_an_override_is_checked_like_the_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"data": {"name": "synthetic"}}))
    with pytest.raises(ConfigError, match=r"c\.yaml: .*train\.epochs must be >= 1"):
        load_config(p, overrides={"train.epochs": 0})


def test_relative_paths_resolve_against_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "configs dir"
    folder.mkdir()
    p = folder / "real.yaml"
    p.write_text(yaml.safe_dump({"data": {"name": "eegmmidb", "path": "../eeg data",
                                          "cache_dir": "cache"},
                                 "teacher": {"checkpoint": "~/weights/labram-base.pth"}}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    cfg = load_config(p)
    assert cfg.data.path == str(tmp_path / "eeg data")
    assert cfg.data.cache_dir == str(folder / "cache")
    assert cfg.teacher.checkpoint == str(Path("~/weights/labram-base.pth").expanduser())
    saved = save_config(cfg, tmp_path / "run" / "config.yaml")
    recorded = yaml.safe_load(saved.read_text())
    assert recorded["data"]["path"] == str(tmp_path / "eeg data")  # config.yaml records it resolved
    assert load_config(saved) == cfg


def test_pretraining_paths_resolve_against_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    folder.mkdir()
    p = folder / "pre.yaml"
    p.write_text(yaml.safe_dump({"data": {"name": "synthetic"},
                                 "pretrain": {"corpus": ["../archive", "/abs/tuh"],
                                              "init_checkpoint": "weights/labram-base.pth"}}))
    monkeypatch.chdir(tmp_path)
    cfg = load_config(p)
    assert cfg.pretrain.corpus == [str(tmp_path / "archive"), "/abs/tuh"]
    assert cfg.pretrain.init_checkpoint == str(folder / "weights" / "labram-base.pth")


def test_loading_a_config_imports_no_torch(tmp_path):
    import subprocess
    import sys

    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"data": {"name": "synthetic"},
                                 "student": {"options": {"mimic_width": 4}}}))
    code = ("import sys; from dlink.config import load_config; "
            f"load_config({str(p)!r}); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_a_fixed_target_block_beyond_the_teacher_is_refused(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"teacher": {"depth": 4},
                                 "distill": {"target": "block", "target_block": 5}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml: .*distill\.target_block=5: the teacher has 4 blocks"):
        load_config(p)
