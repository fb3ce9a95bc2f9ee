"""Configuration: YAML files in ``configs/``, validated on load against dataclasses.

Everything is checked when the file is read, before any stage starts work: an unknown or
mistyped key is an error naming the key, the section and the file (with a "did you mean" hint);
a value of the wrong type names the expected type; a number that is not finite (``.nan``,
``.inf``) is refused; each section's ``validate()`` refuses values that make no sense (negative
steps, patience or weight decay, ...). An empty file, or one that is not UTF-8 text, is an error
naming the file. Fields marked ``metadata={"path": True}`` hold file system paths: ``~`` is
expanded and a relative path is taken relative to the config file's folder (not the working
directory); the resolved, absolute path is what the run's config.yaml records. Each stage owns its
section's dataclass (``dlink.data.config``, ``dlink.distill.config``, ``dlink.export.config``,
``dlink.bench.config``); this module only assembles them and does the checking.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from ._check import did_you_mean
from .io import atomic_write_text


class ConfigError(ValueError):
    """A config file does not match the schema; the message names the file and the key."""


def _root_cls():
    from .schema import Config

    return Config


def load_config(path: str | Path, overrides: dict[str, Any] | None = None):
    """Read, validate and return a :class:`dlink.schema.Config` from a YAML file.

    Parameters
    ----------
    path : str | Path
        The YAML file.
    overrides : dict | None
        Dotted keys to set after reading, e.g. ``{"train.epochs": 2}`` (same validation).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file {str(path)!r} does not exist. See configs/ for examples.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); save the "
            f"config as UTF-8 YAML.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if data is None or data == {}:
        raise ConfigError(
            f"{path}: the config is empty. A run needs at least its data section; start from "
            f"configs/demo.yaml (every key left out takes its default).")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}.")
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    cfg = from_mapping(_root_cls(), data, file=str(path))
    resolve_paths(cfg, base_dir=path.parent)
    return cfg


def resolve_paths(cfg: Any, *, base_dir: str | Path) -> Any:
    """Expand ``~`` and make every relative path field (``metadata={"path": True}``; a string or
    a list of strings) absolute against ``base_dir`` (the config file's folder), in place;
    returns ``cfg``."""
    base = Path(base_dir).resolve()
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            resolve_paths(value, base_dir=base)
        elif f.metadata.get("path") and isinstance(value, str) and value:
            setattr(cfg, f.name, _resolve_path(value, base))
        elif f.metadata.get("path") and isinstance(value, list):  # a list of paths
            setattr(cfg, f.name, [_resolve_path(v, base) if isinstance(v, str) and v else v
                                  for v in value])
    return cfg


def _resolve_path(value: str, base: Path) -> str:
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else Path(os.path.normpath(base / p)))


def config_from_dict(data: dict[str, Any], *, file: str = "<dict>"):
    return from_mapping(_root_cls(), data, file=file)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config (every default filled in) atomically as YAML."""
    return atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value


def from_mapping(cls: type, data: Any, *, file: str, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, checking keys, types and ``choices`` metadata."""
    where = prefix.rstrip(".") or "top level"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: {where} must be a mapping, got {type(data).__name__} {data!r}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(
                f"{file}: unknown key {prefix + str(key)!r} in {where}."
                f"{did_you_mean(str(key), fields)} Known keys: {', '.join(sorted(fields))}."
            )
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            continue
        kwargs[name] = _coerce(hints[name], data[name], file=file, key=prefix + name,
                               choices=f.metadata.get("choices"))
    try:
        obj = cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ConfigError(f"{file}: {where}: {e}") from None
    check = getattr(obj, "validate", None)
    if check is not None:
        try:
            check()
        except ValueError as e:
            raise ConfigError(f"{file}: {where}: {e}") from None
    return obj


def _coerce(tp: Any, value: Any, *, file: str, key: str, choices=None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        errors = []
        for a in non_none:
            try:
                return _coerce(a, value, file=file, key=key, choices=choices)
            except ConfigError as e:
                errors.append(e)
        raise errors[0] if len(errors) == 1 else ConfigError(
            f"{file}: {key!r} = {value!r} matches none of {tp}.")
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, file=file, prefix=key + ".")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{file}: {key!r} must be a list, got {value!r}.")
        item_t = args[0] if args else Any
        out = [_coerce(item_t, v, file=file, key=f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: {key!r} must be a mapping, got {value!r}.")
        return dict(value)
    if origin is typing.Literal:
        choices = args
        tp = type(args[0])
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{file}: {key} must be a finite number, got {value!r}.")
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{file}: {key!r} must be true or false, got {value!r}.")
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{file}: {key!r} must be an integer, got {value!r}.")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{file}: {key!r} must be of type {tp.__name__}, got {type(value).__name__} {value!r}.")
    if choices is not None and value not in choices:
        raise ConfigError(
            f"{file}: {key!r} = {value!r} is not allowed; choose one of "
            f"{', '.join(repr(c) for c in choices)}.{did_you_mean(str(value), map(str, choices))}"
        )
    return value
