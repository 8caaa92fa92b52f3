"""Overrides at inference go the command lines' way (sigma presets, one
string), model.* is refused by its key before any value is applied, and an
export's sidecar config is read with a config file's checks and named."""

import json
import os
import shutil

import pytest

from keras_pose.configs import ConfigError, get_experiment
from keras_pose.export import runtimes
from keras_pose.inference import Predictor, with_overrides

COCO_SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
               0.107, 0.107, 0.087, 0.087, 0.089, 0.089)  # cocoapi's table / 10


def test_a_sigma_preset_given_to_the_predictor_is_numbers(tiny_exported):
    """Was "config key 'data.oks_sigmas': expected a number, got 'coco'"
    (presets expanded in configs/cli.py only)."""
    predictor = Predictor.from_checkpoint(tiny_exported[2], ["data.oks_sigmas=coco"])
    assert predictor.config.data.oks_sigmas == COCO_SIGMAS


@pytest.mark.parametrize("overrides, keys", [
    (["model.image_size=[192,256]"], "model.image_size"),
    (["test.flip_test=false", "model.image_size=[192,256]", "model.heatmap_size=48,64"],
     "model.image_size, model.heatmap_size"),
])
def test_model_overrides_are_refused_by_key_before_their_values(overrides, keys):
    """--set model.image_size=[192,256] said "set model.heatmap_size=48,64
    too" (the value's own check, run first), which was then refused."""
    with pytest.raises(ConfigError) as raised:
        with_overrides(get_experiment("tiny"), overrides)
    assert str(raised.value) == (f"model.* cannot be overridden at inference (--set {keys}): "
                                 "the checkpoint's weights define the model")


def _sidecar_copy(tiny_onnx, directory, change):
    """tiny_onnx and its sidecar copied into ``directory``, ``change(experiment)``
    applied to the sidecar's config: (the export's path, its sidecar's)."""
    path = shutil.copy(tiny_onnx, directory)
    side = runtimes.sidecar_path(path)
    with open(runtimes.sidecar_path(tiny_onnx)) as f:
        info = json.load(f)
    change(info["experiment"])
    with open(side, "w") as f:
        json.dump(info, f)
    return path, side


@pytest.mark.parametrize("key", ["color_order", "image_size"])
def test_a_sidecar_config_without_a_key_every_version_writes_is_a_damaged_export(
        tiny_onnx, tmp_path, key):
    """Read with config_from_dict: a sidecar without model.color_order ran
    on RGB pixels, today's default, whatever the network was trained on;
    without model.image_size the default's check asked to set
    model.heatmap_size (load_config refuses such a config file)."""
    path, side = _sidecar_copy(tiny_onnx, tmp_path, lambda exp: exp["model"].pop(key))
    with pytest.raises(runtimes.DamagedExportError) as raised:
        runtimes.load_export(path)
    assert str(raised.value).startswith(
        f"{side}: no usable 'experiment' config (no model.{key}, which every keras-pose "
        "version writes (a default would stand in for it unsaid)")


def test_a_sidecar_whose_metadata_does_not_fit_its_model_is_named(tiny_onnx, tmp_path):
    """Was "the checkpoint's config: data.skeleton: ...": no checkpoint there."""
    path, side = _sidecar_copy(tiny_onnx, tmp_path,
                               lambda exp: exp["data"].update(skeleton=[[0, 20]]))
    with pytest.raises(ConfigError) as raised:
        runtimes.load_export(path)
    assert str(raised.value) == (
        f"{side}: data.skeleton: limb [0, 20] is out of range for the model's 17 keypoints "
        "(0-based: 0..16); give data.skeleton=[] for none; correct that entry in the file")
    assert os.path.isfile(path)
