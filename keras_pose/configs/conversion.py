"""Configs as plain JSON values and back: ``config_to_dict`` /
``config_from_dict`` (driven by the dataclasses' type hints, older files
migrated), the command line's ``--set section.field=value`` overrides
(:func:`apply_overrides`), and the config file next to the checkpoints
(:func:`save_config`, :func:`load_config`). Every error is a ``ConfigError``
naming the key. The dataclasses themselves are ``keras_pose.configs.base``'s.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from typing import Any, Sequence

from keras_pose.configs.base import ConfigError, ExperimentConfig
from keras_pose.configs.sigmas import expand_sigma_override
from keras_pose.files import write_json


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Converts a JSON-like ``value`` to type ``tp`` or raises ConfigError."""
    inner, optional = _strip_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"config key {key!r}: null is not allowed")
    tp = inner
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(
                f"config key {key!r}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise ConfigError(
                f"config key {key!r}: expected {len(args)} values, got "
                f"{len(value)} ({value!r})")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key {key!r}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"config key {key!r}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {key!r}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key {key!r}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"config key {key!r}: unsupported type {tp!r}")


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(ExperimentConfig)
    return {name: tp for name, tp in hints.items() if dataclasses.is_dataclass(tp)}


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Plain, JSON-serialisable dict of a config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_differences(old: ExperimentConfig, new: ExperimentConfig) -> list[str]:
    """``["train.learning_rate: 0.001 -> 0.002", ...]``: every field whose
    value differs, in ``section.field`` order."""
    def flat(config: ExperimentConfig) -> dict[str, Any]:
        return {f"{key}.{name}" if isinstance(value, dict) else key: field
                for key, value in config_to_dict(config).items()
                for name, field in (value.items() if isinstance(value, dict) else [(key, value)])}

    def unset(value: Any) -> Any:  # None and "" both mean "not given" (init_checkpoint).
        return None if value == "" else value

    a, b = flat(old), flat(new)
    return [f"{key}: {a.get(key)} -> {value}" for key, value in b.items()
            if unset(a.get(key)) != unset(value)]


def _section_from_dict(cls: type, values: dict[str, Any], prefix: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"config key {prefix!r}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(v, hints[name], f"{prefix}.{name}")
              for name, v in values.items()}
    return cls(**kwargs)


def _check_known(values: dict[str, Any]) -> None:
    """Refuses an unknown section or key (of the sections that are mappings)."""
    sections = _section_types()
    unknown = sorted(set(values) - set(sections) - {"name"})
    if unknown:
        raise ConfigError(f"unknown config section {unknown[0]!r}; known: "
                          f"name, {', '.join(sorted(sections))}")
    for section, given in values.items():
        hints = typing.get_type_hints(sections[section]) if section != "name" else {}
        unknown = sorted(set(given) - set(hints)) if isinstance(given, dict) else []
        if unknown:
            raise ConfigError(
                f"unknown config key {section}.{unknown[0]!r}; known keys of "
                f"{section!r}: {', '.join(sorted(hints))}")


def _migrate(values: dict[str, Any]) -> dict[str, Any]:
    """Configs written by earlier versions: ``train.mixed_precision`` (a
    bool) became ``train.precision``; ``data.shuffle_buffer`` is gone (the
    pipeline shuffles whole passes)."""
    data = values.get("data")
    if isinstance(data, dict) and "shuffle_buffer" in data:
        values = {**values, "data": {k: v for k, v in data.items() if k != "shuffle_buffer"}}
    train = values.get("train")
    if isinstance(train, dict) and "mixed_precision" in train:
        train = dict(train)
        if train.pop("mixed_precision") is True:
            train.setdefault("precision", "mixed_float16")
        values = {**values, "train": train}
    return values


def config_from_dict(values: dict[str, Any]) -> ExperimentConfig:
    """Builds a config from :func:`config_to_dict` output (missing keys keep
    their defaults, unknown keys are an error)."""
    if not isinstance(values, dict):  # Was an AttributeError in _migrate.
        raise ConfigError(f"a config is a JSON object of sections (model, data, train, "
                          f"test, track), not {_json_kind(values)}")
    sections = _section_types()
    values = _migrate(values)
    _check_known(values)
    kwargs: dict[str, Any] = {}
    if "name" in values:
        kwargs["name"] = _coerce(values["name"], str, "name")
    for name, cls in sections.items():
        if name in values:
            kwargs[name] = _section_from_dict(cls, values[name], name)
    return ExperimentConfig(**kwargs)


# Python's number forms that JSON lacks: .5, 5., +1, 1.e-3 (no inf or nan:
# those are words, refused by the range checks when JSON spells them).
_PYTHON_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _parse_literal(text: str) -> Any:
    """Parses an override value: JSON first, then a few friendly forms."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as e:
        if stripped.startswith("[") and stripped.endswith("]"):  # Meant as a list.
            raise ConfigError(f"{stripped} is not a JSON list ({e.msg}): write [90, 120] "
                              "(strings in double quotes) or 90,120") from None
    if "," in stripped:  # 90,120  or  192,256
        return [_parse_literal(part) for part in stripped.split(",") if part.strip()]
    if _PYTHON_NUMBER.fullmatch(stripped):  # .5 was "expected a number, got '.5'".
        return float(stripped)
    return stripped  # a bare string such as a path


def override_items(overrides: Sequence[str]) -> list[str]:
    """The ``section.field=value`` items of ``overrides``: one string is one
    item (it read as its characters: "override 't' is not of the form ...")."""
    return [overrides] if isinstance(overrides, str) else list(overrides)


def apply_overrides(config: ExperimentConfig,
                    overrides: Sequence[str]) -> ExperimentConfig:
    """Applies ``section.field=value`` overrides.

    Values are JSON (``[90, 120]``, ``true``, ``0.5``, ``"a"``) or a bare
    string, ``none``, or a comma-separated list (``90,120``). Types are those
    of the dataclass fields. ``data.oks_sigmas=<preset>`` (``coco``,
    ``crowdpose``...) becomes the preset's numbers, ordered by ``config``'s
    keypoint names when they match, so that every stored config holds
    numbers (``keras_pose.configs.sigmas.expand_sigma_override``).

    Args:
      config: the config to start from.
      overrides: strings such as ``"train.epochs=3"`` (one string: one
        override).

    Returns:
      A new config.

    Raises:
      ConfigError: for a malformed override, an unknown key or a value of
        the wrong type (or an unknown sigma preset); the message names the key.
    """
    sections = _section_types()
    values = config_to_dict(config)
    for item in override_items(overrides):
        if "=" not in item:
            raise ConfigError(
                f"override {item!r} is not of the form section.field=value")
        try:
            item = expand_sigma_override(item, config.data.keypoint_names)
        except ValueError as e:  # An unknown preset: the message lists them.
            raise ConfigError(str(e)) from e
        key, raw = item.split("=", 1)
        key = key.strip()
        if key == "name":
            values["name"] = raw
            continue
        section, field, tp = _override_key(key, sections)
        values[section][field] = _override_value(key, raw, tp)
    return config_from_dict(values)


def _override_key(key: str, sections: dict[str, type]) -> tuple[str, str, Any]:
    """(section, field, its type) of an override's ``section.field``."""
    if "." not in key:
        raise ConfigError(
            f"override key {key!r} must be section.field with section one "
            f"of: {', '.join(sorted(sections))}")
    section, field = key.split(".", 1)
    if section not in sections:
        raise ConfigError(f"unknown config section {section!r} in "
                          f"{key!r}; known: {', '.join(sorted(sections))}")
    hints = typing.get_type_hints(sections[section])
    if field not in hints:
        raise ConfigError(
            f"unknown config key {key!r}; known keys of {section!r}: "
            f"{', '.join(sorted(hints))}")
    return section, field, hints[field]


# Paths an empty value (an unset "$ROOT") turned into the working folder:
# evaluation generated a synthetic set into it, or stopped with a traceback.
NONEMPTY_PATHS = ("data.root",)


def _override_value(key: str, raw: str, tp: Any) -> Any:
    """The value of ``key`` (type ``tp``) an override's text gives."""
    inner, optional = _strip_optional(tp)
    if typing.get_origin(inner) is tuple and not raw.strip():
        # Was ('',): a later error blamed another key.
        raise ConfigError(f"config key {key!r}: the value is empty; give [] for an empty "
                          f"list{' (or none: unset)' if optional else ''}, as in {key}=[]")
    if key in NONEMPTY_PATHS and not raw.strip():
        raise ConfigError(f"config key {key!r}: the value is empty (an unset variable?): give "
                          "a folder, or leave the --set out for the default")
    try:
        parsed = _parse_literal(raw)
    except ConfigError as e:  # "[1,'a']" was "expected an integer, got '[1'".
        if inner is not str:
            raise ConfigError(f"config key {key!r}: {e}") from None
        parsed = raw.strip()  # A path may look like a list: "[2024] trip".
    if (typing.get_origin(inner) is tuple and not isinstance(parsed, list)
            and parsed is not None):
        parsed = [parsed]  # "train.lr_steps=90" means (90,)
    if inner is str and not isinstance(parsed, str) and (
            parsed is not None or not optional):
        parsed = raw.strip()  # "data.root=123" is still a path, "none" a word
    return _coerce(parsed, tp, key)


def save_config(config: ExperimentConfig, path: str) -> None:
    """Writes the config as indented JSON (atomically)."""
    write_json(path, config_to_dict(config), indent=2)


def _json_kind(value: Any) -> str:
    """What a JSON value is, for messages: "a list", "null"..."""
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), "a number")


# The keys every version wrote into a saved config. Missing, they took
# today's defaults in silence: a model without model.image_size evaluated
# at 256x192 (AP 0), one without model.depth blamed its weights file; a
# resume compares data.keypoint_names, data.flip_pairs and train.precision
# (an earlier version's train.mixed_precision, which _migrate reads), and
# named a false change of train.batch_size_per_replica. Keys added later
# keep their defaults when missing (model.blocks_per_stage: the depth's;
# model.codec: msra; train.init_checkpoint: not recorded).
SAVED_KEYS = {
    "model": ("depth", "num_keypoints", "style", "image_size", "heatmap_size", "sigma",
              "deconv_filters", "deconv_kernels", "final_kernel", "pretrained", "color_order",
              "mean", "std", "sync_bn"),
    "data": ("keypoint_names", "flip_pairs"),
    "train": ("batch_size_per_replica", "precision|mixed_precision"),
}


def _missing_saved_key(values: dict[str, Any]) -> str:
    """The first of :data:`SAVED_KEYS` that ``values`` lacks ("" for none)."""
    for section, keys in SAVED_KEYS.items():
        given = values.get(section, {})
        if not isinstance(given, dict):  # config_from_dict names it.
            continue
        for key in keys:
            if not set(key.split("|")) & set(given):
                return f"{section}.{key.split('|')[0]}"
    return ""


class ConfigFileError(ConfigError):
    """A config file that cannot be used; ``reason`` says what is wrong
    without the file's name or the fix, for callers that give their own."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _read_values(path: str) -> dict[str, Any]:
    """The JSON object of a config file."""
    try:
        with open(path, encoding="utf-8-sig") as f:  # A byte-order mark is no error.
            values = json.load(f)
    except FileNotFoundError as e:
        raise ConfigFileError(f"config file {path} does not exist", "it does not exist") from e
    except OSError as e:  # No read permission, a folder: was a traceback.
        reason = f"cannot be read ({e.strerror})"
        raise ConfigFileError(f"config file {path} {reason}: check its permissions",
                              reason) from e
    except json.JSONDecodeError as e:
        raise ConfigFileError(f"config file {path} is not valid JSON: {e}",
                              f"not valid JSON: {e}") from e
    except UnicodeDecodeError as e:  # Was a traceback (a file saved as Latin-1).
        reason = f"not UTF-8 text (byte {e.start}: {e.reason})"
        raise ConfigFileError(f"config file {path} is {reason}: save it as UTF-8", reason) from e
    if not isinstance(values, dict):  # null, [] ...: was an AttributeError.
        reason = (f"it holds {_json_kind(values)}, not a JSON object of config sections (model, "
                  "data, train, test, track)")
        raise ConfigFileError(f"config file {path}: {reason}; put back the file the run wrote",
                              reason)
    return values


def load_config(path: str) -> ExperimentConfig:
    """Reads a config written by :func:`save_config` (or by an earlier
    version: see :data:`SAVED_KEYS`).

    Raises:
      ConfigFileError: if the file is missing, is not UTF-8 JSON holding an
        object, has unknown keys or bad values, or lacks a key every
        version writes; the message names the file and the key.
    """
    values = _read_values(path)
    try:
        _check_known(_migrate(values))  # A file of something else: its unknown key first.
    except ConfigError as e:
        raise _entry_error(path, e) from e
    missing = _missing_saved_key(values)  # Before the values: its default fails their checks.
    if missing:
        reason = f"no {missing}, which every keras-pose version writes"
        raise ConfigFileError(f"{path} has {reason} {_MISSING_FIX}", reason)
    try:
        return config_from_dict(values)
    except ConfigError as e:
        raise _entry_error(path, e) from e


_MISSING_FIX = ("(a default would stand in for it unsaid): add the value the checkpoint was "
                "written with")


def saved_config_from_dict(values: Any) -> ExperimentConfig:
    """A config written by :func:`config_to_dict` into another file (an
    export's sidecar ``experiment``), with :func:`load_config`'s checks: no
    unknown key, none of :data:`SAVED_KEYS` missing. (Read with
    :func:`config_from_dict`, a sidecar without ``model.image_size`` ran at
    today's default size.)

    Raises:
      ConfigError: saying what is wrong, without the file (the caller names it).
    """
    if isinstance(values, dict):
        _check_known(_migrate(values))
        missing = _missing_saved_key(values)
        if missing:
            raise ConfigError(f"no {missing}, which every keras-pose version writes "
                              f"{_MISSING_FIX}")
    return config_from_dict(values)  # Not a dict: it says so.


def _entry_error(path: str, error: ConfigError) -> ConfigFileError:
    """A bad entry of a config file. (A value an earlier version accepted, a
    track threshold above 1: the file is read before any --set applies, so
    the message says where to fix it.)"""
    return ConfigFileError(f"{path}: {error}; correct that entry in the file (it is read "
                           "before any --set applies)", str(error))
