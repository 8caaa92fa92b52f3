"""Configs of converted official checkpoints and the converters' guards.

No torch needed: state_dicts are built as NumPy arrays (the PyTorch parity
of the conversions is tests/convert/test_parity.py).
"""

import pytest

from keras_pose.configs import get_experiment
from keras_pose.configs.base import IMAGENET_MEAN, IMAGENET_STD
from keras_pose.convert import official
from keras_pose.convert import state_dict as sd
from tests.convert.state_dicts import official_state_dict


def test_size_from_file_name():
    assert official.size_from_file_name("models/pose_resnet_50_384x288.pth.tar") == (50, 288, 384)
    assert official.size_from_file_name("pose_resnet_152_256x256.pth.tar") == (152, 256, 256)
    assert official.size_from_file_name("resnet50-19c8e357.pth") is None


def _arch(depth=50, k=17):
    return sd.infer_architecture(official_state_dict(depth, k))


def test_official_config_records_bgr_quirk():
    config = official.official_config(_arch(), file_name="pose_resnet_50_256x192.pth.tar")
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
    config = official.official_config(_arch(depth, k), file_name=file_name)
    assert config.name == name
    assert config.model.depth == depth and config.model.num_keypoints == k
    assert config.model.image_size == size and config.model.heatmap_size == heatmap
    assert config.model.sigma == sigma
    assert config.data.dataset == ("coco" if k == 17 else "mpii")


def test_a_file_name_without_a_size_is_warned_of(caplog):
    """model_best.pth.tar (the official training's name) was converted at
    the data set's default size in silence: a 384x288 model at 256x192."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    config = official.official_config(_arch(50, 17), file_name="model_best.pth.tar")
    assert config.model.image_size == (192, 256)
    assert ("model_best.pth.tar names no input size (as pose_resnet_50_384x288.pth.tar does): "
            "converted at coco_resnet50_256x192's 256x192 (height x width); give --experiment "
            "NAME") in caplog.text
    caplog.clear()
    official.official_config(_arch(50, 17), file_name="pose_resnet_50_384x288.pth.tar")
    official.official_config(_arch(50, 17), "coco_resnet50_384x288",
                             file_name="model_best.pth.tar")
    assert "names no input size" not in caplog.text


def test_official_config_experiment_and_overrides():
    config = official.official_config(_arch(50, 17), experiment="coco_resnet50_384x288",
                                file_name="pose_resnet_50_256x192.pth.tar",
                                overrides=["data.root=/data/coco", "test.batch_size=8"])
    assert config.model.image_size == (288, 384)  # the experiment decides
    assert config.data.root == "/data/coco" and config.test.batch_size == 8
    assert config.model.color_order == "BGR"
    with pytest.raises(sd.ConversionError, match="16 keypoints but the checkpoint predicts 17"):
        official.official_config(_arch(50, 17), experiment="mpii_resnet50_256x256")
    with pytest.raises(sd.ConversionError, match="ResNet-101 but the checkpoint is a ResNet-50"):
        official.official_config(_arch(50, 17), experiment="coco_resnet101_256x192")
    with pytest.raises(sd.ConversionError, match="caffe style"):
        official.official_config(_arch(50, 17), experiment="coco_resnet50_256x192_caffe")
    with pytest.raises(ValueError, match="unknown experiment"):
        official.official_config(_arch(50, 17), experiment="nope")


def test_official_config_custom_keypoints():
    config = official.official_config(sd.infer_architecture(official_state_dict(18, 5)))
    assert config.data.dataset == "custom" and config.model.num_keypoints == 5


def test_output_that_is_not_a_checkpoint_is_refused(tmp_path):
    other = tmp_path / "models"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(sd.ConversionError, match="is not a model checkpoint directory"):
        official.convert_pose_checkpoint(
            str(tmp_path / "pose_resnet_50_256x192.pth.tar"), str(other))
    assert (other / "notes.txt").read_text() == "keep me"
    # A training run's epoch (its optimizer state) or best/ was replaced whole.
    epoch = tmp_path / "run" / "checkpoints" / "epoch_0008"
    epoch.mkdir(parents=True)
    for name in ("COMPLETE", "config.json", "model.weights.h5", "optimizer_state.npz",
                 "state.json"):
        (epoch / name).write_text("{}")
    with pytest.raises(sd.ConversionError, match=r"epoch_0008 is a checkpoint of a training run "
                                                 r"\(it holds optimizer_state.npz, state.json\)"):
        official.check_output_dir(str(epoch))
    assert (epoch / "optimizer_state.npz").exists()
    for name in ("optimizer_state.npz", "state.json"):  # A converted one: replaced.
        (epoch / name).unlink()
    official.check_output_dir(str(epoch))
    with pytest.raises(sd.ConversionError, match="is not a .npz file path"):
        official.convert_backbone(str(tmp_path / "resnet50.pth"), str(other))
    # model.pretrained reads a backbone by its suffix: conv/bb failed to train.
    with pytest.raises(sd.ConversionError, match=r"conv/bb is not a .npz file path; give one "
                                                 r"\(e.g. .*conv/bb.npz\)"):
        official.convert_backbone(str(tmp_path / "resnet50.pth"), str(tmp_path / "conv/bb"))
    # A folder as the input file said "does not exist".
    from keras_pose.convert.torch_reader import load_torch_file
    with pytest.raises(FileNotFoundError, match="models is a folder; give the .pth"):
        load_torch_file(str(other))


@pytest.mark.parametrize("deconvolutions, heatmap", [(4, (96, 128)), (2, (24, 32)), (1, (12, 16))])
def test_the_heatmap_size_follows_the_number_of_deconvolutions(deconvolutions, heatmap):
    """At 256x192 (h x w) the ResNet's stride-32 map is 8x6, doubled once per
    deconvolution: four give 128x96, two 32x24, one 16x12 (width first in
    the config), not input/4 whatever the head. One or two were refused
    ("two whole numbers", a float size)."""
    arch = sd.infer_architecture(official_state_dict(
        50, 17, deconv=(256,) * deconvolutions, kernels=(4,) * deconvolutions))
    config = official.official_config(arch, file_name="pose_resnet_50_256x192.pth.tar")
    assert config.model.image_size == (192, 256)
    assert config.model.deconv_filters == (256,) * deconvolutions
    assert config.model.heatmap_size == heatmap


def test_a_deeper_file_without_a_size_is_converted_at_its_own_depths_experiment(caplog):
    """model_best.pth.tar of a ResNet-101: the official default, 256x192
    (h x w), is image_size (192, 256) (width first), heatmap (48, 64), the
    base experiment coco_resnet101_256x192 (not ResNet-50's, resized)."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    config = official.official_config(_arch(101, 17), file_name="model_best.pth.tar")
    assert config.model.image_size == (192, 256) and config.model.heatmap_size == (48, 64)
    assert config.model.depth == 101
    assert ("model_best.pth.tar names no input size (as pose_resnet_50_384x288.pth.tar does): "
            "converted at coco_resnet101_256x192's 256x192 (height x width)") in caplog.text
