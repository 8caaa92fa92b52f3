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


def _tiny_config(style="pytorch", depth=18):
    return apply_overrides(get_experiment("tiny"), [
        f"model.depth={depth}", f"model.style={style}", "model.image_size=64,96",
        "model.heatmap_size=16,24", "model.deconv_filters=8,8,8", "model.num_keypoints=5"])


def test_fused_model_reports_the_same_non_square_output_shape():
    """The fused twin's declared output shape is (H/4, W/4, K) like the
    original's for a 96x64 (H x W) input: a transposed shape (16, 24) would break
    exports and callers that size buffers from model.output_shape."""
    model = build_pose_resnet(18, 5, input_shape=(96, 64, 3), deconv_filters=(8, 8, 8),
                              blocks_per_stage=(1, 1, 1, 1))
    fused = build_inference_model(model, _tiny_config())
    assert model.output_shape == (None, 96 // 4, 64 // 4, 5)
    assert fused.output_shape == (None, 96 // 4, 64 // 4, 5)
    # Every sub-pixel deconvolution doubles (h, w) in that order: 3x2 -> 6x4 -> 12x8 -> 24x16.
    for i, size in enumerate([(6, 4), (12, 8), (24, 16)], 1):
        assert tuple(fused.get_layer(f"head_deconv{i}").output.shape[1:3]) == size


def test_fused_model_equals_the_original_with_ten_or_more_blocks_in_a_stage():
    """ResNet-101/152 have 23/36 blocks in stage 4: blocks 10 and up must be
    kept and have their BatchNorms folded too (an export that dropped them or
    left them unnormalised gives wrong heatmaps)."""
    model = build_pose_resnet(18, 5, input_shape=(96, 64, 3), deconv_filters=(8, 8, 8),
                              blocks_per_stage=(1, 1, 10, 1))
    _randomise(model)
    fused = build_inference_model(model, _tiny_config())
    assert "stage4_block10_conv2" in {layer.name for layer in fused.layers}
    x = np.random.default_rng(1).normal(size=(2, 96, 64, 3)).astype(np.float32)
    expected = model(x, training=False).numpy()
    got = fused(x, training=False).numpy()
    # Small heatmaps (head init std 0.001): tolerance 0.1% of their range;
    # float32 rounding measured at 1e-6 to 4e-6 of it.
    np.testing.assert_allclose(got, expected, atol=1e-3 * np.abs(expected).max())


def test_fused_caffe_model_equals_the_original_with_nonzero_conv_biases():
    """Caffe-style (keras.applications) convolutions carry biases, nonzero in
    trained weights: folding must scale them with the BatchNorm,
    b' = (b - mean) * s + beta, or the fused heatmaps are wrong."""
    model = build_pose_resnet(50, 5, input_shape=(96, 64, 3), style="caffe",
                              deconv_filters=(8, 8, 8), blocks_per_stage=(1, 1, 1, 1))
    _randomise(model)
    rng = np.random.default_rng(2)
    biased = [layer for layer in model.layers
              if isinstance(layer, keras.layers.Conv2D) and layer.use_bias
              and layer.name != "head_final_conv"]
    assert len(biased) == 1 + 4 * 4  # stem + 4 bottlenecks x (3 + downsample)
    for layer in biased:
        layer.bias.assign(rng.normal(0, 0.2, layer.bias.shape).astype(np.float32))
    fused = build_inference_model(model, _tiny_config("caffe", 50))
    x = np.random.default_rng(1).normal(size=(2, 96, 64, 3)).astype(np.float32)
    expected = model(x, training=False).numpy()
    got = fused(x, training=False).numpy()
    # Small heatmaps (head init std 0.001): tolerance 0.1% of their range;
    # float32 rounding measured at 1e-6 to 4e-6 of it.
    np.testing.assert_allclose(got, expected, atol=1e-3 * np.abs(expected).max())
