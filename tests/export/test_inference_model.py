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


def _small_model_and_config():
    config = apply_overrides(get_experiment("tiny"), [
        "model.image_size=64,96", "model.heatmap_size=16,24", "model.deconv_filters=16,16,16",
        "model.num_keypoints=5"])
    model = build_pose_resnet(18, 5, input_shape=(96, 64, 3), deconv_filters=(16, 16, 16),
                              blocks_per_stage=(1, 1, 1, 1))
    _randomise(model)
    return model, config


def _op_dtypes(fn) -> dict[str, set[str]]:
    """Op type -> the dtypes (attr T) it runs in, over the traced graph."""
    import tensorflow as tf
    graph = tf.function(lambda x: fn(x, training=False)).get_concrete_function(
        tf.TensorSpec([None, 96, 64, 3], tf.float32)).graph
    found: dict[str, set[str]] = {}
    for op in graph.get_operations():
        if "T" in op.node_def.attr:
            found.setdefault(op.type, set()).add(op.get_attr("T").name)
    return found


@pytest.mark.parametrize("precision,dtype,rtol", [("bf16", "bfloat16", 0.05),
                                                  ("fp16", "float16", 0.01)])
@pytest.mark.slow  # bf16/fp16 graphs
def test_low_precision_fused_model_computes_in_that_type(precision, dtype, rtol):
    """bf16 keeps 8 significant bits (rounding 2^-9 = 0.2% per value), fp16
    11; through a dozen layers the heatmaps differ from fp32's by about 1% of
    their range in bf16 (measured), so 5% fails only on a real error."""
    model, config = _small_model_and_config()
    reference = build_inference_model(model, config)
    low = build_inference_model(model, config, precision=precision)
    assert {v.dtype for v in low.weights} == {dtype}
    ops = _op_dtypes(low)
    assert ops["Conv2D"] == {dtype} and ops["Relu"] == {dtype}
    x = np.random.default_rng(1).normal(size=(2, 96, 64, 3)).astype(np.float32)
    expected = reference(x, training=False).numpy()
    got = low(x, training=False).numpy()
    assert got.dtype == np.float32  # The heatmaps layer stays float32.
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, atol=rtol * scale)
    assert np.abs(got - expected).max() > 1e-6 * scale  # Really rounded, not fp32.


def test_int8_is_not_a_keras_precision():
    model, config = _small_model_and_config()
    with pytest.raises(ValueError, match="int8"):
        build_inference_model(model, config, precision="int8")
