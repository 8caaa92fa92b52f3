"""Backbone weights without torch: keras.applications' ResNets, .npz files of
named weights, and initialize_backbone from a config's model.pretrained."""

import numpy as np
import pytest

import keras

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.convert.pretrained import (copy_keras_applications_weights,
                                           initialize_backbone, load_named_weights,
                                           load_pretrained_backbone, save_named_weights)
from keras_pose.convert.state_dict import WeightsMismatchError
from keras_pose.models import build_model_from_config, build_pose_resnet
from tests.models.test_pose_resnet import _randomise_bn


@pytest.mark.slow  # full ResNets
def test_keras_applications_weight_mapping_gives_identical_features():
    source = keras.applications.ResNet50(weights=None, include_top=False,
                                         input_shape=(64, 64, 3))
    _randomise_bn(source)
    model = build_pose_resnet(50, 17, input_shape=(64, 64, 3), style="caffe")
    assert copy_keras_applications_weights(model, source) == 106
    x = np.random.default_rng(1).normal(size=(2, 64, 64, 3)).astype(np.float32)
    ours = keras.Model(model.input, model.get_layer("stage5_block3_out").output)(x, training=False)
    theirs = source(x, training=False)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-5)


def test_keras_imagenet_weights_exist_for_50_101_152_only():
    # (The pytorch style's "imagenet" is torchvision's file: test_pretrained.py.)
    model = build_pose_resnet(18, 17, input_shape=(64, 64, 3), style="caffe")
    with pytest.raises(ValueError, match="ResNet-50/101/152"):
        load_pretrained_backbone(model, "imagenet", depth=18, style="caffe")


def test_pretrained_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        load_pretrained_backbone(None, str(tmp_path / "nothere.npz"), depth=18,
                                 style="pytorch")
    a = build_pose_resnet(18, 17, input_shape=(64, 64, 3), blocks_per_stage=(1, 1, 1, 1))
    path = str(tmp_path / "backbone.npz")
    save_named_weights([l for l in a.layers if l.name.startswith(("stem_", "stage"))], path)
    b = build_pose_resnet(18, 17, input_shape=(64, 64, 3), blocks_per_stage=(1, 1, 1, 1))
    load_pretrained_backbone(b, path, depth=18, style="pytorch")
    np.testing.assert_array_equal(a.get_layer("stage5_block1_conv2").kernel.numpy(),
                                  b.get_layer("stage5_block1_conv2").kernel.numpy())
    # A backbone of another depth is rejected with the offending names.
    c = build_pose_resnet(18, 17, input_shape=(64, 64, 3), blocks_per_stage=(1, 1, 2, 1))
    before = c.get_layer("stem_conv").kernel.numpy().copy()
    with pytest.raises(WeightsMismatchError, match="stage4_block2"):
        load_named_weights(c, path)
    # All or nothing: the layers that did fit were not loaded either.
    np.testing.assert_array_equal(c.get_layer("stem_conv").kernel.numpy(), before)



def test_initialize_backbone_follows_model_pretrained(tmp_path):
    config = apply_overrides(get_experiment("tiny"), ["model.image_size=64,64",
                                                      "model.heatmap_size=16,16"])
    source = build_model_from_config(config.model)
    _randomise_bn(source, seed=5)
    path = str(tmp_path / "backbone.npz")
    save_named_weights([l for l in source.layers if l.name.startswith(("stem_", "stage"))],
                       path)
    target = build_model_from_config(config.model)  # Random: building loads nothing.
    assert not np.array_equal(target.get_layer("stem_bn").gamma.numpy(),
                              source.get_layer("stem_bn").gamma.numpy())
    for skip in ("", "none"):
        before = target.get_layer("stem_conv").kernel.numpy().copy()
        initialize_backbone(target, apply_overrides(config, [f"model.pretrained={skip}"]).model)
        np.testing.assert_array_equal(target.get_layer("stem_conv").kernel.numpy(), before)
    initialize_backbone(target, apply_overrides(config, [f"model.pretrained={path}"]).model)
    for name in ("stem_bn", "stage5_block1_conv2"):
        for ours, theirs in zip(target.get_layer(name).weights, source.get_layer(name).weights):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
