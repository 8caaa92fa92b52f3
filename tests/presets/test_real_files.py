"""Every preset loads by name from a file of its real format and exact
architecture (tests/presets/torch_files.py: real torch serialization, tiny
files), through the whole path: name -> weights file -> conversion with the
preset's config -> cached checkpoint -> load_pose_model.

Default tier: one preset per head key style and per data-set family, and
one official checkpoint; the slow tier runs every preset."""

import os

import numpy as np
import pytest

from keras_pose import presets
from keras_pose.configs.dataset_info import DATASETS
from keras_pose.convert import download
from keras_pose.presets import PRESETS, loader
from tests.presets import torch_files

# One per head key style (1.x head., 0.x-era keypoint_head.), per family
# (body, animal, hand, face) and an official checkpoint. Each load builds a
# ResNet-50 twice (conversion, then loading): about 30 s on 2 cores.
HANDFUL = [
    "simplebaseline_resnet50_coco_256x192_dark",      # 1.x keys, body, DARK, the default
    "simplebaseline_resnet50_ap10k_256x256",          # 0.x-era keys, animal, respelt names
    "simplebaseline_resnet50_freihand_224x224",       # hand, 224x224, padding 0.8
    "simplebaseline_resnet50_coco_wholebody_face_256x256",  # face, K=68
    "pose_resnet_50_256x192",                         # official, BGR
]


def _needs_converter(preset):
    if not preset.is_official:
        pytest.importorskip("keras_pose.convert.mmpose",
                            reason="the mmpose converter (branch mmpose) is not merged yet")


def _load_by_name(name, tmp_path, monkeypatch):
    preset = PRESETS[name]
    _needs_converter(preset)
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(download.OFFLINE_ENV, "1")  # The file is local: nothing downloads.
    k = DATASETS[preset.dataset].num_keypoints
    if preset.is_official:  # Where the user places it: the cache folder.
        os.makedirs(tmp_path / "cache")
        torch_files.write_official(str(tmp_path / "cache" / preset.file_name), preset.depth, k)
    else:  # The published file's name and format (its hash cannot be the published one).
        path = str(tmp_path / preset.file_name)
        torch_files.write_mmpose(path, preset.depth, k, torch_files.head_style(preset))
        monkeypatch.setattr(loader, "weights_file", lambda p: path)
    from keras_pose.inference import load_pose_model
    loaded = load_pose_model(name)
    assert loaded.path == presets.preset_dir(name)
    assert loaded.config == presets.preset_config(name)
    model = loaded.keras_model
    assert model.output_shape[-1] == k
    assert model.get_layer("head_final_conv").kernel.shape[-1] == k
    # Every weight was assigned from the file (all zeros there; the fresh
    # initialisation is not).
    assert all(not np.any(w.numpy()) for w in model.weights
               if "moving_variance" not in w.path and "gamma" not in w.path), name
    return loaded


@pytest.mark.slow  # ResNet-50..152 built from real-format files
@pytest.mark.parametrize("name", HANDFUL)
def test_a_handful_of_presets_load_from_their_real_format(name, tmp_path, monkeypatch):
    loaded = _load_by_name(name, tmp_path, monkeypatch)
    width, height = PRESETS[name].input_size
    heatmaps = loaded.network(np.zeros((1, height, width, 3), np.float32))
    assert heatmaps.shape == (1, height // 4, width // 4, loaded.config.model.num_keypoints)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(PRESETS) - set(HANDFUL)))
def test_every_preset_loads_from_its_real_format(name, tmp_path, monkeypatch):
    _load_by_name(name, tmp_path, monkeypatch)


def test_the_written_files_are_the_official_architecture():
    from tests.convert.state_dicts import official_state_dict
    ours = torch_files.pose_resnet_shapes(50, 17)
    theirs = official_state_dict(50, 17)
    assert list(ours) == list(theirs)
    assert all(ours[k] == theirs[k].shape for k in ours)
    assert torch_files.head_style(PRESETS["simplebaseline_resnet50_coco_256x192"]) == "head"
    assert torch_files.head_style(PRESETS["simplebaseline_resnet50_mpii_256x256"]) == \
        "keypoint_head"


def test_an_official_file_of_another_model_names_the_preset_and_the_file(tmp_path,
                                                                         monkeypatch):
    """A ResNet-50 saved as pose_resnet_101_256x192.pth.tar said only
    'experiment coco_resnet101_256x192 is a ResNet-101 but the checkpoint
    is a ResNet-50': neither the file nor the preset."""
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "cache"))
    os.makedirs(tmp_path / "cache")
    wrong = str(tmp_path / "cache" / "pose_resnet_101_256x192.pth.tar")
    torch_files.write_official(wrong, 50, 17)
    with pytest.raises(presets.PresetError) as info:
        presets.preset_checkpoint("pose_resnet_101_256x192")
    message = str(info.value)
    assert message.startswith(f"preset pose_resnet_101_256x192: {wrong} is not this preset's "
                              "file (")
    assert "is a ResNet-101 but the checkpoint is a ResNet-50" in message
    assert "replace it with the published file" in message
    assert not os.path.exists(presets.preset_dir("pose_resnet_101_256x192"))
