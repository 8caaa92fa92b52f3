"""PyTorch -> Keras name/array mapping, architecture inference, assignment.

No torch needed: state_dicts are built here as NumPy arrays with
torchvision's / the official code's names and shapes.
"""

import numpy as np
import pytest

from keras_pose.models import build_pose_resnet
from keras_pose.convert import state_dict as sd
from keras_pose.convert.state_dict import WeightsMismatchError
from tests.convert.state_dicts import official_state_dict


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_infer_depth(depth):
    arch = sd.infer_architecture(official_state_dict(depth, 17))
    assert arch.depth == depth
    assert arch.num_keypoints == 17 and arch.final_kernel == 1
    assert arch.deconv_filters == (256, 256, 256) and arch.deconv_kernels == (4, 4, 4)
    assert arch.has_head and not arch.has_classifier


def test_infer_torchvision_backbone_and_custom_head():
    arch = sd.infer_architecture(official_state_dict(50, head=False, classifier=True))
    assert arch.depth == 50 and not arch.has_head and arch.has_classifier
    arch = sd.infer_architecture(official_state_dict(
        18, 5, deconv=(128, 64), kernels=(3, 2)))
    assert (arch.num_keypoints, arch.deconv_filters, arch.deconv_kernels) == (
        5, (128, 64), (3, 2))


def test_infer_rejects_non_resnets():
    state = official_state_dict(18)
    del state["layer3.1.conv1.weight"], state["layer3.1.conv2.weight"]
    for k in [k for k in state if k.startswith("layer3.1.")]:
        del state[k]
    with pytest.raises(sd.ConversionError, match=r"\(2, 2, 1, 2\)"):
        sd.infer_architecture(state, source="x.pth")
    with pytest.raises(sd.ConversionError, match="x.pth: no 'conv1.weight'"):
        sd.infer_architecture({"backbone.conv1.weight": np.zeros(1)}, source="x.pth")
    state = official_state_dict(18)
    del state["final_layer.weight"], state["final_layer.bias"]
    with pytest.raises(sd.ConversionError, match="deconv_layers without final_layer"):
        sd.infer_architecture(state)


@pytest.mark.parametrize("torch_name,expected", [
    ("conv1.weight", ("stem_conv", "kernel")),
    ("bn1.running_var", ("stem_bn", "moving_variance")),
    ("layer1.0.conv1.weight", ("stage2_block1_conv1", "kernel")),
    ("layer3.22.bn3.bias", ("stage4_block23_bn3", "beta")),
    ("layer4.0.downsample.0.weight", ("stage5_block1_downsample_conv", "kernel")),
    ("layer2.0.downsample.1.weight", ("stage3_block1_downsample_bn", "gamma")),
    ("layer2.0.downsample.1.running_mean", ("stage3_block1_downsample_bn", "moving_mean")),
    ("deconv_layers.0.weight", ("head_deconv1", "kernel")),
    ("deconv_layers.4.bias", ("head_deconv2_bn", "beta")),
    ("deconv_layers.7.running_var", ("head_deconv3_bn", "moving_variance")),
    ("final_layer.weight", ("head_final_conv", "kernel")),
    ("final_layer.bias", ("head_final_conv", "bias")),
    ("fc.weight", None),
    ("layer1.0.bn1.foo", None),
    ("backbone.conv1.weight", None),
])
def test_keras_name(torch_name, expected):
    assert sd.keras_name(torch_name) == expected
    if expected is not None:
        assert sd.torch_name(*expected) == torch_name


def test_every_model_variable_has_a_torch_name():
    model = build_pose_resnet(50, 3, input_shape=(64, 64, 3),
                              blocks_per_stage=(1, 2, 1, 1))
    for layer in model.layers:
        for variable in layer.weights:
            name = sd.torch_name(layer.name, variable.name)
            assert name is not None, (layer.name, variable.name)
            assert sd.keras_name(name) == (layer.name, variable.name)


def test_kernel_layouts():
    conv = np.arange(5 * 3 * 2 * 4, dtype=np.float32).reshape(5, 3, 2, 4)  # out,in,kh,kw
    k = sd.to_keras_array(conv)
    assert k.shape == (2, 4, 3, 5)
    assert k[1, 3, 2, 4] == conv[4, 2, 1, 3]
    deconv = np.arange(6 * 7 * 4 * 4, dtype=np.float32).reshape(6, 7, 4, 4)  # in,out,kh,kw
    k = sd.to_keras_array(deconv)
    assert k.shape == (4, 4, 7, 6)  # Conv2DTranspose: kh, kw, out, in
    assert k[0, 3, 5, 2] == deconv[2, 5, 0, 3]
    vec = np.arange(3, dtype=np.float64)
    assert sd.to_keras_array(vec).dtype == np.float32


class _Tensor:
    """Duck-typed stand-in for torch.Tensor."""

    def __init__(self, array):
        self.array = array

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.array


def test_unwrap_variants():
    bare = {"conv1.weight": np.ones(2), "bn1.weight": _Tensor(np.zeros(2))}
    wrapped = {"epoch": 140, "perf": 0.7, "state_dict": {
        f"module.{k}": v for k, v in bare.items()}}
    for obj in (bare, wrapped, {f"module.{k}": v for k, v in bare.items()}):
        state = sd.unwrap_state_dict(obj)
        assert sorted(state) == ["bn1.weight", "conv1.weight"]
        assert isinstance(state["bn1.weight"], np.ndarray)
    # Only a prefix shared by every name is DataParallel's.
    mixed = sd.unwrap_state_dict({"module.conv1.weight": np.ones(1), "bn1.weight": np.ones(1)})
    assert "module.conv1.weight" in mixed
    with pytest.raises(sd.ConversionError, match="f.pth: no state_dict"):
        sd.unwrap_state_dict([1, 2], source="f.pth")
    with pytest.raises(sd.ConversionError, match="'epoch' is a int"):
        sd.unwrap_state_dict({"epoch": 3, "conv1.weight": np.ones(1)})


def _tiny_model(num_keypoints=17, **kwargs):
    return build_pose_resnet(18, num_keypoints, input_shape=(64, 64, 3), **kwargs)


def test_assign_weights_copies_every_tensor():
    state = official_state_dict(18, 17, seed=1)
    model = _tiny_model()
    converted = sd.convert_state_dict(state)
    assert not converted.unmatched
    count = sd.assign_weights(model, converted)
    assert count == len([layer for layer in model.layers if layer.weights])
    np.testing.assert_array_equal(model.get_layer("stem_conv").kernel.numpy(),
                                  state["conv1.weight"].transpose(2, 3, 1, 0))
    bn = model.get_layer("stage4_block1_downsample_bn")
    np.testing.assert_array_equal(bn.moving_variance.numpy(),
                                  state["layer3.0.downsample.1.running_var"])
    np.testing.assert_array_equal(bn.gamma.numpy(), state["layer3.0.downsample.1.weight"])
    deconv = model.get_layer("head_deconv2").kernel.numpy()
    np.testing.assert_array_equal(deconv, state["deconv_layers.3.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(model.get_layer("head_final_conv").bias.numpy(),
                                  state["final_layer.bias"])


def test_assign_weights_reports_every_problem_and_loads_nothing():
    state = official_state_dict(18, 17, seed=2)
    del state["layer2.1.bn2.running_mean"]                            # missing
    state["layer4.1.conv2.weight"] = state["layer4.1.conv2.weight"][:, :10]  # shape
    state["deconv_layers.0.bias"] = np.zeros(256, np.float32)         # DECONV_WITH_BIAS
    state["fc.weight"] = np.zeros((1000, 512), np.float32)            # classifier
    model = _tiny_model()
    before = model.get_layer("stem_conv").kernel.numpy().copy()
    with pytest.raises(sd.ConversionError) as info:
        sd.assign_weights(model, sd.convert_state_dict(state), source="f.pth")
    message = str(info.value)
    assert isinstance(info.value, WeightsMismatchError)
    assert "f.pth" in message and "nothing was loaded" in message
    assert "missing tensor layer2.1.bn2.running_mean for stage3_block2_bn2/moving_mean" in message
    assert "layer4.1.conv2.weight" in message
    assert "deconv_layers.0.bias" in message
    assert "fc.weight" in message
    assert "4 problems" in message
    np.testing.assert_array_equal(model.get_layer("stem_conv").kernel.numpy(), before)


def test_wrong_keypoint_count_is_a_shape_error():
    model = _tiny_model(num_keypoints=16)
    with pytest.raises(sd.ConversionError, match="final_layer.weight gives"):
        sd.assign_weights(model, sd.convert_state_dict(official_state_dict(18, 17, seed=3)))


def test_backbone_only_drops_classifier_and_head():
    state = official_state_dict(18, 17, classifier=True)
    converted = sd.convert_state_dict(state, backbone_only=True)
    assert "fc.weight" in converted.dropped and "final_layer.weight" in converted.dropped
    assert not converted.unmatched
    assert all(not layer.startswith("head_") for layer, _ in converted.arrays)
    model = _tiny_model()
    n = sd.assign_weights(model, converted, prefixes=("stem_", "stage"))
    assert n == len([layer for layer in model.layers
                     if layer.weights and layer.name.startswith(("stem_", "stage"))])
