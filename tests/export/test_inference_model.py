"""The fused inference form equals the trained form."""

import keras
import numpy as np
import pytest

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.export.inference_model import build_inference_model
from keras_pose.models import build_pose_resnet


def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n),
                               rng.normal(0, 0.2, n), rng.uniform(0.5, 2.0, n)])
        elif layer.name.startswith("head_deconv") and layer.weights:
            layer.kernel.assign(rng.normal(0, 0.05, layer.kernel.shape).astype(np.float32))


@pytest.mark.parametrize("depth,style,kernels", [
    (18, "pytorch", (4, 4, 4)), (50, "pytorch", (4, 3, 2)), (50, "caffe", (4, 4, 4))])
def test_fused_model_equals_the_original(depth, style, kernels):
    config = apply_overrides(get_experiment("tiny"), [
        f"model.depth={depth}", f"model.style={style}", "model.image_size=64,96",
        "model.heatmap_size=16,24", "model.deconv_filters=16,16,16",
        f"model.deconv_kernels={list(kernels)}", "model.num_keypoints=5"])
    model = build_pose_resnet(depth, 5, input_shape=(96, 64, 3), style=style,
                              deconv_filters=(16, 16, 16), deconv_kernels=kernels,
                              blocks_per_stage=(1, 1, 2, 1))
    _randomise(model)
    fused = build_inference_model(model, config)
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in fused.layers)
    x = np.random.default_rng(1).normal(size=(2, 96, 64, 3)).astype(np.float32)
    expected = model(x, training=False).numpy()
    got = fused(x, training=False).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4 * max(1.0, np.abs(expected).max()))
