"""Pose-ResNet: shapes, parameter counts, strides, PyTorch-exact deconvolutions."""

import numpy as np
import pytest

import keras

from keras_pose.checkpoint import (CheckpointError, load_model,
                                   resolve_checkpoint, save_model_checkpoint)
from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.models import build_model_from_config, build_pose_resnet


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# torchvision's backbone (without fc) + the official head for K=17:
# deconvs in_ch*256*16 + 2*256*256*16, 3 BNs, 1x1 conv 256*17+17.
@pytest.mark.parametrize("depth,expected", [
    (18, 15_376_721),
    (50, 33_999_697),   # the official PyTorch model's count
    (101, 52_991_825),
    (152, 68_635_473),
])
@pytest.mark.slow  # R-18..152 built to count parameters
def test_parameter_counts(depth, expected):
    model = build_pose_resnet(depth, 17, input_shape=(256, 192, 3))
    assert _trainable(model) == expected


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_output_shape_and_names(depth):
    model = build_pose_resnet(depth, 5, input_shape=(64, 32, 3),
                              blocks_per_stage=(1, 1, 1, 1))
    out = model(np.zeros((2, 64, 32, 3), np.float32), training=False)
    assert tuple(out.shape) == (2, 16, 8, 5)
    names = {layer.name for layer in model.layers}
    for name in ("stem_conv", "stem_bn", "stage2_block1_conv1", "stage5_block1_bn2",
                 "stage3_block1_downsample_conv", "head_deconv1", "head_deconv1_bn",
                 "head_deconv3_bn", "head_final_conv", "heatmaps"):
        assert name in names
    bn = model.get_layer("stem_bn")
    assert bn.momentum == 0.9 and bn.epsilon == 1e-5
    assert not model.get_layer("stage2_block1_conv1").use_bias
    assert model.get_layer("head_final_conv").use_bias


@pytest.mark.parametrize("style,conv1_stride,conv2_stride", [
    ("pytorch", 1, 2), ("caffe", 2, 1)])
def test_stride_placement(style, conv1_stride, conv2_stride):
    model = build_pose_resnet(50, 17, input_shape=(64, 64, 3), style=style,
                              blocks_per_stage=(1, 1, 1, 1))
    for stage in (3, 4, 5):
        assert model.get_layer(f"stage{stage}_block1_conv1").strides == (conv1_stride,) * 2
        assert model.get_layer(f"stage{stage}_block1_conv2").strides == (conv2_stride,) * 2
        assert model.get_layer(f"stage{stage}_block1_downsample_conv").strides == (2, 2)
    assert model.get_layer("stage2_block1_conv2").strides == (1, 1)
    assert model.get_layer("stem_conv").use_bias == (style == "caffe")


def test_head_initialisation():
    model = build_pose_resnet(18, 17, input_shape=(64, 64, 3),
                              blocks_per_stage=(1, 1, 1, 1))
    kernel = model.get_layer("head_deconv1").kernel.numpy()
    assert abs(kernel.std() - 0.001) < 0.0002 and abs(kernel.mean()) < 0.0002
    final = model.get_layer("head_final_conv")
    assert abs(final.kernel.numpy().std() - 0.001) < 0.0003
    assert np.all(final.bias.numpy() == 0)
    bn = model.get_layer("head_deconv2_bn")
    assert np.all(bn.gamma.numpy() == 1) and np.all(bn.beta.numpy() == 0)


def test_layers_start_from_their_own_random_weights():
    """Was: one RandomNormal instance for the whole head, whose seed Keras 3
    fixes when it is made, so head_deconv2 and head_deconv3 started
    bit-identical. Every random kernel of the network is its own draw."""
    model = build_pose_resnet(18, 17, input_shape=(64, 64, 3), deconv_filters=(8, 8, 8),
                              blocks_per_stage=(1, 1, 1, 1))
    kernels = [(w.path, w.numpy()) for w in model.weights if w.path.endswith("kernel")]
    assert len(kernels) > 10
    for i, (name, kernel) in enumerate(kernels):
        for other_name, other in kernels[i + 1:]:
            assert kernel.shape != other.shape or not np.array_equal(kernel, other), (
                f"{name} and {other_name} start equal")


def torch_conv_transpose2d(x, w, stride, padding, output_padding):
    """PyTorch ConvTranspose2d semantics in NumPy (no bias).

    x: (C_in, H, W); w: (C_in, C_out, k, k), PyTorch's layout.
    """
    c_in, h, wd = x.shape
    _, c_out, k, _ = w.shape
    full = np.zeros((c_out, (h - 1) * stride + k, (wd - 1) * stride + k))
    for i in range(h):
        for j in range(wd):
            full[:, i * stride:i * stride + k, j * stride:j * stride + k] += np.einsum(
                "c,cokl->okl", x[:, i, j], w)
    out_h = (h - 1) * stride - 2 * padding + k + output_padding
    out_w = (wd - 1) * stride - 2 * padding + k + output_padding
    full = np.pad(full, ((0, 0), (0, output_padding), (0, output_padding)))
    return full[:, padding:padding + out_h, padding:padding + out_w]


# The official _get_deconv_cfg: kernel -> (padding, output_padding).
@pytest.mark.parametrize("kernel,padding,output_padding", [(4, 1, 0), (3, 1, 1), (2, 0, 0)])
def test_deconv_matches_pytorch_semantics(kernel, padding, output_padding):
    rng = np.random.default_rng(kernel)
    model = build_pose_resnet(18, 3, input_shape=(64, 96, 3),
                              deconv_filters=(4, 4, 4),
                              deconv_kernels=(kernel,) * 3,
                              blocks_per_stage=(1, 1, 1, 1))
    assert model.output_shape == (None, 16, 24, 3)
    # Feed the first deconvolution directly through a sub-model.
    layer = model.get_layer("head_deconv1")
    crop_or_deconv = (model.get_layer("head_deconv1_crop") if kernel == 3 else layer)
    sub = keras.Model(layer.input, crop_or_deconv.output)
    x = rng.normal(size=(1, 2, 3, layer.input.shape[-1])).astype(np.float32)
    w_torch = rng.normal(size=(layer.input.shape[-1], 4, kernel, kernel)).astype(np.float32)
    layer.kernel.assign(np.transpose(w_torch, (2, 3, 1, 0)))  # (kh, kw, out, in)
    got = np.asarray(sub(x))[0]
    expected = torch_conv_transpose2d(np.transpose(x[0], (2, 0, 1)), w_torch, 2,
                                      padding, output_padding)
    np.testing.assert_allclose(np.transpose(got, (2, 0, 1)), expected, atol=1e-4)


@pytest.mark.parametrize("kwargs,match", [
    (dict(depth=42), "depth must be one of"),
    (dict(style="foo"), "style must be one of"),
    (dict(num_keypoints=0), "num_keypoints"),
    (dict(input_shape=(250, 192, 3)), "multiples of 32"),
    (dict(input_shape=(256, 192, 1)), "input_shape"),
    (dict(deconv_kernels=(5, 4, 4)), "deconv_kernels"),
    (dict(final_kernel=2), "final_kernel"),
])
def test_bad_arguments(kwargs, match):
    args = dict(depth=18, num_keypoints=17, input_shape=(64, 64, 3))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        build_pose_resnet(**args)


def _randomise_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n),
                               rng.normal(0, 0.1, n), rng.uniform(0.5, 2.0, n)])


def test_checkpoint_round_trip(tmp_path):
    config = apply_overrides(get_experiment("tiny"), ["model.image_size=64,64",
                                                      "model.heatmap_size=16,16"])
    model = build_model_from_config(config.model)
    _randomise_bn(model, seed=3)
    path = str(tmp_path / "ckpt")
    save_model_checkpoint(model, config, path)
    assert resolve_checkpoint(path).kind == "keras"
    loaded, loaded_config = load_model(path)
    assert loaded_config == config
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(model(x, training=False)),
                                  np.asarray(loaded(x, training=False)))
    # Overwriting keeps a single complete checkpoint.
    save_model_checkpoint(model, config, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint(str(tmp_path / "nope"))
    with pytest.raises(CheckpointError, match="is not a checkpoint"):
        resolve_checkpoint(str(tmp_path))
    # Weights of another architecture than its config.json says.
    config = apply_overrides(get_experiment("tiny"), ["model.image_size=64,64",
                                                      "model.heatmap_size=16,16"])
    model = build_model_from_config(config.model)
    path = str(tmp_path / "ckpt")
    save_model_checkpoint(model, config, path)
    wrong = apply_overrides(config, ["model.depth=50"])
    from keras_pose.configs import save_config
    save_config(wrong, str(tmp_path / "ckpt" / "config.json"))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(path)


def test_heatmap_size_must_match_image_size():
    # A config error now (keras_pose.configs), before any network is built.
    with pytest.raises(ValueError, match="heatmap_size"):
        apply_overrides(get_experiment("tiny"), ["model.heatmap_size=10,10"])


def test_checkpoint_with_other_keypoint_count_is_refused(tmp_path):
    config = apply_overrides(get_experiment("tiny"), ["model.image_size=64,64",
                                                      "model.heatmap_size=16,16"])
    path = str(tmp_path / "ckpt")
    save_model_checkpoint(build_model_from_config(config.model), config, path)
    from keras_pose.configs import save_config
    save_config(apply_overrides(config, ["model.num_keypoints=16"]),
                str(tmp_path / "ckpt" / "config.json"))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(path)


def test_final_kernel_3_keeps_the_heatmap_size_as_pytorch_padding_1():
    """A 3x3 final convolution pads by 1 as the official Conv2d(k=3, padding=1):
    without it the heatmaps lose a pixel on every side (14x14 for a 64x64 input)."""
    model = build_pose_resnet(18, 5, input_shape=(64, 64, 3), deconv_filters=(8, 8, 8),
                              final_kernel=3, blocks_per_stage=(1, 1, 1, 1))
    assert model.output_shape == (None, 64 // 4, 64 // 4, 5)  # REFERENCE: heatmap = input / 4
    # The layer alone against a NumPy 3x3 convolution with zero padding 1 (PyTorch's).
    layer = model.get_layer("head_final_conv")
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 8, 5)).astype(np.float32)
    bias = rng.normal(size=5).astype(np.float32)
    layer.set_weights([kernel, bias])
    x = rng.normal(size=(1, 16, 16, 8)).astype(np.float32)
    padded = np.pad(x[0], ((1, 1), (1, 1), (0, 0)))
    expected = bias + sum(np.einsum("hwc,ck->hwk", padded[dy:dy + 16, dx:dx + 16], kernel[dy, dx])
                          for dy in range(3) for dx in range(3))
    np.testing.assert_allclose(np.asarray(layer(x))[0], expected, atol=1e-4)


def _keras_applications_resnet_bn_epsilons():
    app = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    return {layer.epsilon for layer in app.layers
            if isinstance(layer, keras.layers.BatchNormalization)}


@pytest.mark.parametrize("style", ["pytorch", "caffe"])
def test_every_batch_norm_has_pytorch_momentum_and_the_styles_epsilon(style):
    """Every BatchNorm (stem, blocks, shortcuts and head), not only the stem's,
    has PyTorch's momentum 0.1 (Keras 0.9) and the style's epsilon: PyTorch's
    1e-5, or keras.applications' own for caffe style so its ImageNet weights
    give the same features; a head or caffe BN off these would drift in training."""
    model = build_pose_resnet(50, 5, input_shape=(64, 64, 3), style=style,
                              deconv_filters=(8, 8, 8), blocks_per_stage=(1, 1, 1, 1))
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    # stem + 4 blocks x (3 + downsample) + 3 head deconvolutions
    assert len(bns) == 1 + 4 * 4 + 3
    if style == "pytorch":
        expected_epsilon = 1e-5  # REFERENCE: PyTorch BN epsilon 1e-5
    else:
        (expected_epsilon,) = _keras_applications_resnet_bn_epsilons()  # 1.001e-5
    head = {f"head_deconv{i}_bn" for i in (1, 2, 3)}
    for bn in bns:
        assert bn.momentum == 0.9, bn.name  # REFERENCE: PyTorch momentum 0.1
        # The head is the official one in both styles: PyTorch's epsilon.
        assert bn.epsilon == (1e-5 if bn.name in head else expected_epsilon), bn.name
