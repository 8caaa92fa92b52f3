"""A checkpoint's config.json as load_config reads it: what is not a config,
and the keys every version wrote (a missing one took today's default)."""

import dataclasses
import json
import re

import pytest

from keras_pose.configs import (ConfigError, apply_overrides, config_from_dict, config_to_dict,
                                get_experiment, load_config)


@pytest.mark.parametrize("content, what", [
    (b"null", "it holds null, not a JSON object of config sections"),
    (b"[]", "it holds a list, not a JSON object of config sections"),
    (b'"tiny"', "it holds a string, not a JSON object of config sections"),
    ('{"name": "caf\u00e9"}'.encode("latin-1"), r"is not UTF-8 text \(byte 13: invalid "
                                                r"continuation byte\): save it as UTF-8"),
])
def test_a_file_that_is_no_json_object_or_not_utf8_is_named(tmp_path, content, what):
    """Was an AttributeError in _migrate ('NoneType' object has no attribute
    'get') or a UnicodeDecodeError, with their tracebacks."""
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"^config file {re.escape(str(path))}:? .*{what}"):
        load_config(str(path))


def test_a_config_file_that_cannot_be_read_is_named_with_the_reason(tmp_path):
    """A folder named config.json (or one without read permission): was an
    IsADirectoryError / PermissionError traceback."""
    path = tmp_path / "config.json"
    path.mkdir()
    with pytest.raises(ConfigError, match=rf"^config file {re.escape(str(path))} cannot be read "
                                          r"\(Is a directory\): check its permissions$"):
        load_config(str(path))


def test_config_from_dict_refuses_what_is_no_mapping():
    with pytest.raises(ConfigError, match=r"a config is a JSON object of sections .*not a list"):
        config_from_dict([])


def _saved(tmp_path, edit):
    values = config_to_dict(get_experiment("tiny"))
    edit(values)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    return str(path)


@pytest.mark.parametrize("section, key", [
    ("model", "image_size"), ("model", "heatmap_size"), ("model", "depth"),
    ("model", "num_keypoints"), ("model", "mean"),
    ("data", "keypoint_names"), ("train", "batch_size_per_replica"), ("train", "precision")])
def test_a_key_every_version_wrote_is_required(tmp_path, section, key):
    """Missing, it was today's default: no model.image_size evaluated a
    128x96 model at 256x192 (AP 0.000, no warning); no model.depth blamed
    the weights file; no train.batch_size_per_replica made a resume warn of
    a batch change 32 -> 8 that never happened."""
    path = _saved(tmp_path, lambda values: values[section].pop(key))
    with pytest.raises(ConfigError, match=rf"^{re.escape(path)} has no {section}\.{key}, which "
                                          r"every keras-pose version writes .*: add the value "
                                          r"the checkpoint was written with$"):
        load_config(path)


def test_keys_added_later_keep_their_defaults(tmp_path):
    """A config of the first version: no model.blocks_per_stage (the depth's
    blocks), no model.codec (msra), a boolean train.mixed_precision, no
    train.init_checkpoint (not recorded) and the old data.shuffle_buffer."""
    tiny = get_experiment("tiny")
    values = config_to_dict(tiny)
    for section, key in (("model", "blocks_per_stage"), ("model", "codec"),
                         ("train", "precision"), ("train", "init_checkpoint")):
        values[section].pop(key)
    values["train"]["mixed_precision"] = True
    values["data"]["shuffle_buffer"] = 4096
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    loaded = load_config(str(path))
    assert loaded.model == dataclasses.replace(tiny.model, blocks_per_stage=(), codec="msra")
    assert loaded.train == dataclasses.replace(tiny.train, precision="mixed_float16",
                                               init_checkpoint=None)
    assert (loaded.data, loaded.test, loaded.track) == (tiny.data, tiny.test, tiny.track)
    values["train"]["mixed_precision"] = False  # fp32: also a recorded precision.
    path.write_text(json.dumps(values))
    assert load_config(str(path)).train.precision == "fp32"


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_data_root_is_refused(value):
    """--set data.root="$ROOT" with ROOT unset was the working folder: a
    synthetic set generated into it, or a traceback from the guard that
    keeps it."""
    with pytest.raises(ConfigError, match=r"config key 'data.root': the value is empty"):
        apply_overrides(get_experiment("tiny"), [f"data.root={value}"])
    assert apply_overrides(get_experiment("tiny"), ["data.root=d"]).data.root == "d"
