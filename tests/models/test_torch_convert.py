"""PyTorch -> Keras name/array mapping, architecture inference and configs.

No torch needed: state_dicts are built here as NumPy arrays with
torchvision's / the official code's names and shapes.
"""

import sys

import numpy as np
import pytest

from keras_pose.configs import get_experiment
from keras_pose.configs.base import IMAGENET_MEAN, IMAGENET_STD
from keras_pose.models import build_pose_resnet
from keras_pose.models import torch_convert as tc
from keras_pose.models.pretrained import WeightsMismatchError

LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3),
          101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class _Zeros:
    """Stands in for a Generator when only names and shapes matter (fast)."""

    def uniform(self, low, high, size):
        return np.zeros(size)

    def normal(self, size):
        return np.zeros(size)


def _bn(state, prefix, n, rng):
    state[f"{prefix}.weight"] = rng.uniform(0.5, 1.5, n).astype(np.float32)
    state[f"{prefix}.bias"] = rng.normal(size=n).astype(np.float32)
    state[f"{prefix}.running_mean"] = rng.normal(size=n).astype(np.float32)
    state[f"{prefix}.running_var"] = rng.uniform(0.5, 2, n).astype(np.float32)
    state[f"{prefix}.num_batches_tracked"] = np.array(3, np.int64)


def _conv(state, name, cout, cin, k, rng):
    state[name] = rng.normal(size=(cout, cin, k, k)).astype(np.float32)


def official_state_dict(depth, num_keypoints=17, head=True, classifier=False,
                        deconv=(256, 256, 256), kernels=(4, 4, 4), seed=None):
    """The torch layout: conv (out, in, kh, kw), deconv (in, out, kh, kw).

    Random values with a seed, zeros without (names and shapes only).
    """
    rng = _Zeros() if seed is None else np.random.default_rng(seed)
    state = {}
    _conv(state, "conv1.weight", 64, 3, 7, rng)
    _bn(state, "bn1", 64, rng)
    expansion = 4 if depth >= 50 else 1
    cin = 64
    for li, (blocks, width) in enumerate(zip(LAYERS[depth], (64, 128, 256, 512)), 1):
        for b in range(blocks):
            p = f"layer{li}.{b}"
            if expansion == 4:
                _conv(state, f"{p}.conv1.weight", width, cin, 1, rng)
                _conv(state, f"{p}.conv2.weight", width, width, 3, rng)
                _conv(state, f"{p}.conv3.weight", width * 4, width, 1, rng)
                for i, n in ((1, width), (2, width), (3, width * 4)):
                    _bn(state, f"{p}.bn{i}", n, rng)
            else:
                _conv(state, f"{p}.conv1.weight", width, cin, 3, rng)
                _conv(state, f"{p}.conv2.weight", width, width, 3, rng)
                _bn(state, f"{p}.bn1", width, rng)
                _bn(state, f"{p}.bn2", width, rng)
            if b == 0 and (li > 1 or cin != width * expansion):
                _conv(state, f"{p}.downsample.0.weight", width * expansion, cin, 1, rng)
                _bn(state, f"{p}.downsample.1", width * expansion, rng)
            cin = width * expansion
    if head:
        for j, (filters, k) in enumerate(zip(deconv, kernels)):
            state[f"deconv_layers.{3 * j}.weight"] = rng.normal(
                size=(cin, filters, k, k)).astype(np.float32)
            _bn(state, f"deconv_layers.{3 * j + 1}", filters, rng)
            cin = filters
        _conv(state, "final_layer.weight", num_keypoints, cin, 1, rng)
        state["final_layer.bias"] = rng.normal(size=num_keypoints).astype(np.float32)
    if classifier:
        state["fc.weight"] = rng.normal(size=(1000, cin)).astype(np.float32)
        state["fc.bias"] = np.zeros(1000, np.float32)
    return state


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_infer_depth(depth):
    arch = tc.infer_architecture(official_state_dict(depth, 17))
    assert arch.depth == depth
    assert arch.num_keypoints == 17 and arch.final_kernel == 1
    assert arch.deconv_filters == (256, 256, 256) and arch.deconv_kernels == (4, 4, 4)
    assert arch.has_head and not arch.has_classifier


def test_infer_torchvision_backbone_and_custom_head():
    arch = tc.infer_architecture(official_state_dict(50, head=False, classifier=True))
    assert arch.depth == 50 and not arch.has_head and arch.has_classifier
    arch = tc.infer_architecture(official_state_dict(
        18, 5, deconv=(128, 64), kernels=(3, 2)))
    assert (arch.num_keypoints, arch.deconv_filters, arch.deconv_kernels) == (
        5, (128, 64), (3, 2))


def test_infer_rejects_non_resnets():
    state = official_state_dict(18)
    del state["layer3.1.conv1.weight"], state["layer3.1.conv2.weight"]
    for k in [k for k in state if k.startswith("layer3.1.")]:
        del state[k]
    with pytest.raises(tc.ConversionError, match=r"\(2, 2, 1, 2\)"):
        tc.infer_architecture(state, source="x.pth")
    with pytest.raises(tc.ConversionError, match="x.pth: no 'conv1.weight'"):
        tc.infer_architecture({"backbone.conv1.weight": np.zeros(1)}, source="x.pth")
    state = official_state_dict(18)
    del state["final_layer.weight"], state["final_layer.bias"]
    with pytest.raises(tc.ConversionError, match="deconv_layers without final_layer"):
        tc.infer_architecture(state)


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
    assert tc.keras_name(torch_name) == expected
    if expected is not None:
        assert tc.torch_name(*expected) == torch_name


def test_every_model_variable_has_a_torch_name():
    model = build_pose_resnet(50, 3, input_shape=(64, 64, 3),
                              blocks_per_stage=(1, 2, 1, 1))
    for layer in model.layers:
        for variable in layer.weights:
            name = tc.torch_name(layer.name, variable.name)
            assert name is not None, (layer.name, variable.name)
            assert tc.keras_name(name) == (layer.name, variable.name)


def test_kernel_layouts():
    conv = np.arange(5 * 3 * 2 * 4, dtype=np.float32).reshape(5, 3, 2, 4)  # out,in,kh,kw
    k = tc.to_keras_array(conv)
    assert k.shape == (2, 4, 3, 5)
    assert k[1, 3, 2, 4] == conv[4, 2, 1, 3]
    deconv = np.arange(6 * 7 * 4 * 4, dtype=np.float32).reshape(6, 7, 4, 4)  # in,out,kh,kw
    k = tc.to_keras_array(deconv)
    assert k.shape == (4, 4, 7, 6)  # Conv2DTranspose: kh, kw, out, in
    assert k[0, 3, 5, 2] == deconv[2, 5, 0, 3]
    vec = np.arange(3, dtype=np.float64)
    assert tc.to_keras_array(vec).dtype == np.float32


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
        state = tc.unwrap_state_dict(obj)
        assert sorted(state) == ["bn1.weight", "conv1.weight"]
        assert isinstance(state["bn1.weight"], np.ndarray)
    # Only a prefix shared by every name is DataParallel's.
    mixed = tc.unwrap_state_dict({"module.conv1.weight": np.ones(1), "bn1.weight": np.ones(1)})
    assert "module.conv1.weight" in mixed
    with pytest.raises(tc.ConversionError, match="f.pth: no state_dict"):
        tc.unwrap_state_dict([1, 2], source="f.pth")
    with pytest.raises(tc.ConversionError, match="'epoch' is a int"):
        tc.unwrap_state_dict({"epoch": 3, "conv1.weight": np.ones(1)})


def _tiny_model(num_keypoints=17, **kwargs):
    return build_pose_resnet(18, num_keypoints, input_shape=(64, 64, 3), **kwargs)


def test_assign_weights_copies_every_tensor():
    state = official_state_dict(18, 17, seed=1)
    model = _tiny_model()
    converted = tc.convert_state_dict(state)
    assert not converted.unmatched
    count = tc.assign_weights(model, converted)
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
    with pytest.raises(tc.ConversionError) as info:
        tc.assign_weights(model, tc.convert_state_dict(state), source="f.pth")
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
    with pytest.raises(tc.ConversionError, match="final_layer.weight gives"):
        tc.assign_weights(model, tc.convert_state_dict(official_state_dict(18, 17, seed=3)))


def test_backbone_only_drops_classifier_and_head():
    state = official_state_dict(18, 17, classifier=True)
    converted = tc.convert_state_dict(state, backbone_only=True)
    assert "fc.weight" in converted.dropped and "final_layer.weight" in converted.dropped
    assert not converted.unmatched
    assert all(not layer.startswith("head_") for layer, _ in converted.arrays)
    model = _tiny_model()
    n = tc.assign_weights(model, converted, prefixes=("stem_", "stage"))
    assert n == len([layer for layer in model.layers
                     if layer.weights and layer.name.startswith(("stem_", "stage"))])


def test_size_from_file_name():
    assert tc.size_from_file_name("models/pose_resnet_50_384x288.pth.tar") == (50, 288, 384)
    assert tc.size_from_file_name("pose_resnet_152_256x256.pth.tar") == (152, 256, 256)
    assert tc.size_from_file_name("resnet50-19c8e357.pth") is None


def _arch(depth=50, k=17):
    return tc.infer_architecture(official_state_dict(depth, k))


def test_official_config_records_bgr_quirk():
    config = tc.official_config(_arch(), file_name="pose_resnet_50_256x192.pth.tar")
    assert config.name == "coco_resnet50_256x192_official"
    assert config.model.color_order == "BGR"
    # RGB statistics in the fed (BGR) order: channel 0 (blue) uses 0.485.
    assert config.model.mean == IMAGENET_MEAN and config.model.std == IMAGENET_STD
    assert config.model.pretrained == "" and config.model.style == "pytorch"
    reference = get_experiment("coco_resnet50_256x192")
    assert config.data == reference.data and config.test == reference.test


@pytest.mark.parametrize("depth,k,file_name,name,size,heatmap,sigma", [
    (101, 17, "pose_resnet_101_384x288.pth.tar", "coco_resnet101_384x288_official",
     (288, 384), (72, 96), 3.0),
    (152, 16, "pose_resnet_152_384x384.pth.tar", "mpii_resnet152_384x384_official",
     (384, 384), (96, 96), 3.0),
    (50, 16, "final_state.pth.tar", "mpii_resnet50_256x256_official",
     (256, 256), (64, 64), 2.0),
    (18, 17, "pose_resnet_18_128x96.pth", "coco_resnet18_128x96_official",
     (96, 128), (24, 32), 2.0),
])
def test_official_config_sizes(depth, k, file_name, name, size, heatmap, sigma):
    config = tc.official_config(_arch(depth, k), file_name=file_name)
    assert config.name == name
    assert config.model.depth == depth and config.model.num_keypoints == k
    assert config.model.image_size == size and config.model.heatmap_size == heatmap
    assert config.model.sigma == sigma
    assert config.data.dataset == ("coco" if k == 17 else "mpii")


def test_official_config_experiment_and_overrides():
    config = tc.official_config(_arch(50, 17), experiment="coco_resnet50_384x288",
                                file_name="pose_resnet_50_256x192.pth.tar",
                                overrides=["data.root=/data/coco", "test.batch_size=8"])
    assert config.model.image_size == (288, 384)  # the experiment decides
    assert config.data.root == "/data/coco" and config.test.batch_size == 8
    assert config.model.color_order == "BGR"
    with pytest.raises(tc.ConversionError, match="16 keypoints but the checkpoint predicts 17"):
        tc.official_config(_arch(50, 17), experiment="mpii_resnet50_256x256")
    with pytest.raises(tc.ConversionError, match="ResNet-101 but the checkpoint is a ResNet-50"):
        tc.official_config(_arch(50, 17), experiment="coco_resnet101_256x192")
    with pytest.raises(tc.ConversionError, match="caffe style"):
        tc.official_config(_arch(50, 17), experiment="coco_resnet50_256x192_caffe")
    with pytest.raises(ValueError, match="unknown experiment"):
        tc.official_config(_arch(50, 17), experiment="nope")


def test_official_config_custom_keypoints():
    config = tc.official_config(tc.infer_architecture(official_state_dict(18, 5)))
    assert config.data.dataset == "custom" and config.model.num_keypoints == 5


def test_read_without_torch_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "pose_resnet_50_256x192.pth.tar"
    path.write_bytes(b"not really")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(tc.TorchNotInstalledError, match=r"pip install -e \.\[torch\]"):
        tc.read_torch_state_dict(str(path))
    with pytest.raises(FileNotFoundError, match="missing.pth does not exist"):
        tc.read_torch_state_dict(str(tmp_path / "missing.pth"))


def test_output_that_is_not_a_checkpoint_is_refused(tmp_path):
    other = tmp_path / "models"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(tc.ConversionError, match="is not a model checkpoint directory"):
        tc.convert_pose_checkpoint(str(tmp_path / "pose_resnet_50_256x192.pth.tar"),
                                   str(other))
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(tc.ConversionError, match="is a directory"):
        tc.convert_backbone(str(tmp_path / "resnet50.pth"), str(other))
