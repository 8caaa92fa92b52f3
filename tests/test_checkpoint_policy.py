"""Checkpoints load and run in float32 whatever the caller's Keras dtype
policy or floatx (a notebook that set mixed_bfloat16 got bf16 results
labelled fp32), and the caller's settings are left as they were."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_pose import Predictor
from keras_pose.checkpoint import load_model
from keras_pose.export import export_saved_model
from keras_pose.export.precision import ExportError

# How a caller had set Keras up: (global policy or None, floatx).
CALLER_SETTINGS = [("mixed_bfloat16", "float32"), ("mixed_float16", "float32"),
                   (None, "float16"), ("bfloat16", "float32")]


def _raw_policy():
    """Keras's global policy as held (None: unset, it follows floatx)."""
    from keras.src.backend.common import global_state
    return global_state.get_global_attribute("dtype_policy", None)


def _set_raw_policy(policy):
    from keras.src.backend.common import global_state
    global_state.set_global_attribute("dtype_policy", policy)


@pytest.fixture
def caller_settings(request):
    """Sets the caller's policy / floatx; puts the test process's back after."""
    saved = _raw_policy(), keras.config.floatx()
    policy, floatx = request.param
    keras.config.set_floatx(floatx)
    _set_raw_policy(None if policy is None else keras.DTypePolicy(policy))
    try:
        yield policy, floatx
    finally:
        keras.config.set_floatx(saved[1])
        _set_raw_policy(saved[0])


def _crops(config, n=2):
    width, height = config.model.image_size
    return np.random.default_rng(0).uniform(-2, 2, (n, height, width, 3)).astype("float32")


def _assert_float32_close(heatmaps, expected):
    """Equal but for float32 rounding (bf16 / fp16 differ by about 1e-3 of
    the peak; the tiny network's heatmaps are about 4e-5)."""
    np.testing.assert_allclose(heatmaps, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def _assert_caller_settings_kept(policy, floatx):
    assert keras.config.floatx() == floatx
    raw = _raw_policy()
    assert (raw is None) if policy is None else (raw.name == policy)


@pytest.mark.parametrize("caller_settings", CALLER_SETTINGS, indirect=True)
def test_a_checkpoint_loads_in_float32_under_any_caller_policy(tiny_exported,
                                                               caller_settings):
    model, config, checkpoint, _ = tiny_exported  # loaded under float32
    expected = model(_crops(config), training=False).numpy()
    loaded, _ = load_model(checkpoint)
    _assert_caller_settings_kept(*caller_settings)  # unset stays unset: it follows floatx
    assert {layer.compute_dtype for layer in loaded.layers} == {"float32"}
    assert {w.dtype for w in loaded.weights} == {"float32"}
    out = loaded(_crops(config), training=False)
    assert out.dtype == tf.float32
    _assert_float32_close(out.numpy(), expected)


@pytest.mark.parametrize("caller_settings", CALLER_SETTINGS[:3], indirect=True)
def test_predictor_keypoints_do_not_follow_the_caller_policy(tiny_exported, caller_settings):
    model, config, checkpoint, _ = tiny_exported
    image = (np.random.default_rng(1).uniform(0, 255, (120, 100, 3))).astype("uint8")
    boxes = [[10.0, 5.0, 60.0, 100.0], [30.0, 20.0, 50.0, 70.0]]
    policy, floatx = caller_settings
    keras.config.set_floatx("float32")
    _set_raw_policy(keras.DTypePolicy("float32"))
    expected = Predictor.from_checkpoint(checkpoint).predict(image, boxes)
    keras.config.set_floatx(floatx)
    _set_raw_policy(None if policy is None else keras.DTypePolicy(policy))
    result = Predictor.from_checkpoint(checkpoint).predict(image, boxes)
    np.testing.assert_allclose(result.keypoints, expected.keypoints, rtol=0, atol=1e-3)
    np.testing.assert_allclose(result.keypoint_scores, expected.keypoint_scores, atol=1e-6)
    _assert_caller_settings_kept(policy, floatx)


@pytest.mark.parametrize("caller_settings", [CALLER_SETTINGS[0], CALLER_SETTINGS[2]],
                         indirect=True)
@pytest.mark.parametrize("optimize", [False, True])
def test_a_saved_model_exported_under_a_caller_policy_is_the_fp32_it_says(
        tiny_exported, tmp_path, caller_settings, optimize):
    model, config, checkpoint, _ = tiny_exported
    crops = _crops(config)
    expected = model(crops, training=False).numpy()
    loaded, _ = load_model(checkpoint)
    out = export_saved_model(loaded, config, str(tmp_path / "sm"), optimize=optimize)
    _assert_caller_settings_kept(*caller_settings)
    with open(os.path.join(out, "assets", "export.json")) as f:
        assert json.load(f)["precision"] == "fp32"
    heatmaps = tf.saved_model.load(out).signatures["heatmaps"](images=tf.constant(crops))
    _assert_float32_close(heatmaps["heatmaps"].numpy(), expected)


@pytest.mark.parametrize("caller_settings", [CALLER_SETTINGS[0]], indirect=True)
def test_a_network_built_in_bf16_is_not_exported_as_fp32(tiny_exported, tmp_path,
                                                         caller_settings):
    from keras_pose.models import build_model_from_config
    config = tiny_exported[1]
    network = build_model_from_config(config.model)  # the caller's mixed_bfloat16
    with pytest.raises(ExportError, match=r"computes in bfloat16 / float32 .* optimize=False "
                                          r"exports it as it is, as fp32"):
        export_saved_model(network, config, str(tmp_path / "sm"), optimize=False)
    assert not os.path.exists(tmp_path / "sm")


@pytest.fixture
def channels_first():
    """A caller's ``"image_data_format": "channels_first"`` (keras.json)."""
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format("channels_last")


def test_a_checkpoint_loads_under_a_callers_channels_first(tiny_exported, channels_first):
    """Was: every checkpoint "did not fit the model" (the network built
    channels-first: a kernel of (7, 7, 128, 64) for (7, 7, 3, 64))."""
    model, config, checkpoint, _ = tiny_exported
    expected = model(_crops(config), training=False).numpy()
    loaded, _ = load_model(checkpoint)
    assert keras.config.image_data_format() == "channels_first"  # The caller's, kept.
    _assert_float32_close(loaded(_crops(config), training=False).numpy(), expected)


def test_training_builds_channels_last_under_a_callers_channels_first(channels_first):
    """Was: train.py's first step failed in its loss (heatmaps of 17 and 32
    channels): the network was built channels-first."""
    from keras_pose.configs import get_experiment
    from keras_pose.models import build_model_from_config
    from keras_pose.training.precision import dtype_policy
    config = get_experiment("tiny")
    with dtype_policy("fp32"):  # As train() builds its network.
        network = build_model_from_config(config.model)
    w, h = config.model.heatmap_size
    assert tuple(network.output_shape) == (None, h, w, config.model.num_keypoints)
    assert keras.config.image_data_format() == "channels_first"
