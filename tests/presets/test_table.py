"""The preset table: names, files, and what each entry records and its
config carries. No TensorFlow, no files."""

import collections
import re

import pytest

from keras_pose.configs import get_experiment
from keras_pose.configs.base import IMAGENET_MEAN, IMAGENET_STD
from keras_pose.configs.dataset_info import DATASETS
from keras_pose.presets import (DEFAULT_PRESET, EVALUATIONS, PRESETS, PresetError,
                                close_presets, get_preset, missing_message, preset_config)
from keras_pose.presets.preset import Preset

MMPOSE = [p for p in PRESETS.values() if not p.is_official]
OFFICIAL = [p for p in PRESETS.values() if p.is_official]

# The data set as mmpose's file names spell it.
FILE_TOKENS = {
    "coco": "coco", "mpii": "mpii", "crowdpose": "crowdpose", "aic": "aic",
    "posetrack18": "posetrack18", "ap10k": "ap10k", "animalpose": "animalpose",
    "macaque": "macaque", "atrw": "atrw", "horse10": "horse10", "locust": "locust",
    "zebra": "zebra", "fly": "fly", "onehand10k": "onehand10k", "freihand2d": "freihand",
    "rhd2d": "rhd2d", "coco_wholebody_hand": "coco_wholebody_hand",
    "interhand2d": "interhand2d", "panoptic_hand2d": "panoptic",
    "coco_wholebody_face": "coco_wholebody_face"}


def url_problems(preset: Preset) -> list:
    """What an mmpose preset's URL says that its entry does not: depth,
    input size (the file names give height x width), data set, DARK, fp16,
    the release's folder, the hash prefix."""
    name = preset.file_name
    problems = []
    if not preset.url.endswith("/" + name) or not preset.url.startswith(
            "https://download.openmmlab.com/mmpose/"):
        problems.append("URL")
    depth = re.search(r"res(\d+)", name)
    if not depth or int(depth.group(1)) != preset.depth:
        problems.append("depth")
    width, height = preset.input_size
    if re.findall(r"(\d+)x(\d+)", name) != [(str(height), str(width))]:
        problems.append("input size")
    stem = re.sub(r"[-_]", "_", name.lower())
    token = FILE_TOKENS[preset.dataset]
    if f"_{token}_" not in stem or (preset.dataset == "coco" and "wholebody" in stem):
        problems.append("data set")
    if ("_dark" in stem) != (preset.codec == "dark"):
        problems.append("dark")
    if ("fp16" in stem) != preset.name.endswith(("_fp16", "_fp16_0x")):
        problems.append("fp16")
    for part in ("split1", "split2", "split3", "human", "machine", "all"):
        if (f"_{part}" in stem) != (f"_{part}_" in preset.name):
            problems.append(part)
    if ("/mmpose/v1/" in preset.url) != (preset.release == "mmpose 1.x"
                                         and preset.dataset == "coco"):
        problems.append("release folder")
    if not re.fullmatch(r"[0-9a-f]{8}", preset.sha256_prefix or ""):
        problems.append("hash prefix")
    return problems


@pytest.mark.parametrize("preset", MMPOSE, ids=lambda p: p.name)
def test_each_url_names_its_entrys_model(preset):
    assert url_problems(preset) == []


def test_the_url_check_catches_the_model_index_mismatch():
    # mmpose 1.x's td-hm_res101_8xb32-210e_coco-384x288 links the 256x192 file:
    # left out of the table; an entry made from the index would be caught.
    good = PRESETS["simplebaseline_resnet101_coco_256x192"]
    assert good.file_name == "td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth"
    wrong = Preset(**{**good.__dict__, "name": "simplebaseline_resnet101_coco_384x288",
                      "input_size": (288, 384), "heatmap_size": (72, 96), "sigma": 3.0})
    assert url_problems(wrong) == ["input size"]
    assert "simplebaseline_resnet101_coco_384x288" not in PRESETS
    dark = Preset(**{**good.__dict__, "codec": "dark"})
    assert url_problems(dark) == ["dark"]


def test_names_are_lowercase_unique_and_in_one_style():
    pattern = re.compile(r"simplebaseline_resnet(50|101|152)_[a-z0-9_]+_\d+x\d+"
                         r"(_dark)?(_fp16)?(_0x)?|pose_resnet_(50|101|152)_\d+x\d+")
    for name, preset in PRESETS.items():
        assert name == preset.name and pattern.fullmatch(name), name
        width, height = preset.input_size
        assert f"_{height}x{width}" in name and f"resnet{preset.depth}_" in name.replace(
            "pose_resnet_", "resnet")
    assert len({n.lower() for n in PRESETS}) == len(PRESETS)


def test_counts_per_data_set():
    counts = collections.Counter((p.dataset, p.release) for p in PRESETS.values())
    assert counts[("coco", "mmpose 1.x")] == 12  # 5 plain (res101 384x288 left out), 6 DARK, fp16
    assert counts[("coco", "mmpose 0.x")] == 13  # 6 plain, 6 DARK, fp16
    assert counts[("coco", "official")] == 6 and counts[("mpii", "official")] == 6
    per_set = collections.Counter(p.dataset for p in MMPOSE)
    assert per_set == {
        "coco": 25, "mpii": 3, "crowdpose": 4, "aic": 1, "posetrack18": 1, "ap10k": 2,
        "animalpose": 3, "macaque": 3, "atrw": 3, "horse10": 9, "locust": 3, "zebra": 3,
        "fly": 3, "onehand10k": 1, "freihand2d": 1, "rhd2d": 1, "coco_wholebody_hand": 1,
        "interhand2d": 3, "panoptic_hand2d": 1, "coco_wholebody_face": 1}
    assert len(PRESETS) == 84
    assert len({p.url for p in MMPOSE}) == 72  # one file per preset


def test_decoding_as_the_releases_configure_it():
    blur = {p.name: p.blur_kernel for p in PRESETS.values() if p.codec == "dark"}
    # 1.x: 11 except ResNet-152 DARK 384x288 (17); 0.x DARK 384x288: 17.
    assert blur == {
        "simplebaseline_resnet50_coco_256x192_dark": 11,
        "simplebaseline_resnet50_coco_384x288_dark": 11,
        "simplebaseline_resnet101_coco_256x192_dark": 11,
        "simplebaseline_resnet101_coco_384x288_dark": 11,
        "simplebaseline_resnet152_coco_256x192_dark": 11,
        "simplebaseline_resnet152_coco_384x288_dark": 17,
        "simplebaseline_resnet50_coco_256x192_dark_0x": 11,
        "simplebaseline_resnet50_coco_384x288_dark_0x": 17,
        "simplebaseline_resnet101_coco_256x192_dark_0x": 11,
        "simplebaseline_resnet101_coco_384x288_dark_0x": 17,
        "simplebaseline_resnet152_coco_256x192_dark_0x": 11,
        "simplebaseline_resnet152_coco_384x288_dark_0x": 17}
    assert all(p.shift_heatmap for p in PRESETS.values())
    assert {p.sigma for p in PRESETS.values() if p.input_size[1] == 384} == {3.0}
    assert {p.sigma for p in PRESETS.values() if p.input_size[1] != 384} == {2.0}


def test_box_padding_as_published():
    padding = {p.dataset: p.box_padding for p in PRESETS.values() if p.box_padding != 1.25}
    assert padding == {"locust": 0.8, "zebra": 0.8, "fly": 0.8, "freihand2d": 0.8,
                       "atrw": 1.0, "interhand2d": 1.5, "panoptic_hand2d": 1.76}


@pytest.mark.parametrize("preset", MMPOSE, ids=lambda p: p.name)
def test_mmpose_configs_carry_the_entry(preset):
    config = preset_config(preset.name)
    info = DATASETS[preset.dataset]
    m, d, t = config.model, config.data, config.test
    assert config.name == preset.name
    assert (m.depth, m.num_keypoints, m.image_size, m.heatmap_size, m.sigma, m.codec) == (
        preset.depth, info.num_keypoints, preset.input_size, preset.heatmap_size,
        preset.sigma, preset.codec)
    assert (m.deconv_filters, m.deconv_kernels, m.final_kernel, m.style) == (
        (256, 256, 256), (4, 4, 4), 1, "pytorch")
    # mmpose's data preprocessor: RGB, mean 123.675/116.28/103.53 and std
    # 58.395/57.12/57.375 on 0-255.
    assert m.color_order == "RGB" and m.pretrained == ""
    assert [round(v * 255, 3) for v in m.mean] == [123.675, 116.28, 103.53]
    assert [round(v * 255, 3) for v in m.std] == [58.395, 57.12, 57.375]
    assert (d.keypoint_names, d.flip_pairs, d.skeleton) == (info.names, info.flip_pairs,
                                                           info.skeleton)
    assert d.oks_sigmas == (info.sigmas or (0.0669,) * info.num_keypoints)
    assert d.box_padding == preset.box_padding
    assert d.gt_box_rule == {"mmpose 1.x": "mmpose", "mmpose 0.x": "mmpose_0x"}[preset.release]
    assert (d.root, d.test_set) == (preset.evaluation.root, preset.evaluation.split)
    assert "test" not in d.test_set  # else the COCO reader takes it for test-dev
    assert d.dataset == (preset.dataset if preset.dataset in ("coco", "mpii") else "custom")
    assert (t.flip_test, t.shift_heatmap, t.decoding, t.blur_kernel) == (
        True, True, "", preset.blur_kernel)
    if preset.evaluation.detections:
        assert t.use_gt_boxes is None and t.detection_file == preset.evaluation.detections
    else:
        assert t.use_gt_boxes is True


@pytest.mark.parametrize("preset", OFFICIAL, ids=lambda p: p.name)
def test_official_configs_are_the_converters(preset):
    from keras_pose.convert.official import official_config
    from keras_pose.convert.state_dict import infer_architecture
    from tests.convert.state_dicts import official_state_dict
    config = preset_config(preset.name)
    k = 17 if preset.dataset == "coco" else 16
    width, height = preset.input_size
    converted = official_config(infer_architecture(official_state_dict(preset.depth, k)),
                                experiment=f"{preset.dataset}_resnet{preset.depth}_"
                                           f"{height}x{width}", file_name=preset.file_name)
    assert config.model == converted.model
    assert config.model.color_order == "BGR"  # the official quirk
    assert config.model.mean == IMAGENET_MEAN and config.model.std == IMAGENET_STD
    assert config.data == converted.data and config.test == converted.test
    assert config.data.gt_box_rule == "official"
    assert preset.file_name == f"{preset.name}.pth.tar" and preset.url == ""


def test_results_and_evaluations():
    for preset in PRESETS.values():
        assert preset.results and all(r.values for r in preset.results), preset.name
        assert preset.evaluation is EVALUATIONS[preset.dataset] or preset.dataset == "horse10"
    assert PRESETS["simplebaseline_resnet50_coco_256x192"].headline == "AP 0.718"
    assert PRESETS["pose_resnet_50_256x192"].headline == "AP 0.704"
    assert PRESETS["simplebaseline_resnet50_horse10_split2_256x256"].evaluation.annotation == \
        "horse10-test-split2.json"
    ochuman = PRESETS["simplebaseline_resnet50_coco_256x192_0x"].results[1]
    assert ochuman.on.startswith("OCHuman") and ochuman.values[0] == ("AP", 0.546)
    computed = {p.dataset for p in PRESETS.values() if p.evaluation.evaluate_py}
    assert computed == {"coco", "mpii", "ap10k", "animalpose", "macaque", "atrw"}


def test_default_preset():
    preset = PRESETS[DEFAULT_PRESET]
    assert preset.dataset == "coco" and preset.depth == 50 and preset.input_size == (192, 256)
    assert preset.codec == "dark" and preset.release == "mmpose 1.x"


def test_unknown_names_list_close_ones():
    assert close_presets("simplebaseline_resnet50_coco_256x192_drak")[0] == \
        "simplebaseline_resnet50_coco_256x192_dark"
    assert "pose_resnet_50_256x192" in close_presets("pose_resnet50_256x192")
    with pytest.raises(PresetError, match="unknown preset 'resnet50_ap10k'; close names: "
                                          "simplebaseline_resnet50_ap10k_256x256"):
        get_preset("resnet50_ap10k")
    assert missing_message("output/nothing") == (
        "checkpoint output/nothing does not exist; it is not a preset name either "
        "(all presets: python -m keras_pose.presets)")
    assert "close preset names: simplebaseline_resnet50_coco_256x192" in missing_message(
        "simplebaseline_resnet50_coco_256x129")


def test_the_listing(capsys):
    from keras_pose.presets.__main__ import main
    assert main(["x", "ap10k"]) == 0
    out = capsys.readouterr().out
    assert "simplebaseline_resnet50_ap10k_256x256" in out and "AP 0.68" in out
    assert "2 preset(s)" in out and "coco_256x192" not in out
    assert main(["x"]) == 0
    out = capsys.readouterr().out
    assert f"{DEFAULT_PRESET} (default)" in out and "84 preset(s)" in out
    assert "pose_resnet_152_384x384" in out and "Mean 0.902" in out
    assert get_experiment("coco_resnet50_256x192")  # the listing needs no TensorFlow
    # A filter nothing matches printed an empty table with exit code 0.
    assert main(["x", "ap10"]) == 0 and main(["x", "simplebaseline_resnt50_coco_256x192"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("keras_pose.presets: error: no preset's name or data set "
                                   "contains 'simplebaseline_resnt50_coco_256x192'; close names: ")
    assert "simplebaseline_resnet50_coco_256x192" in captured.err


def test_the_readme_lists_every_preset_with_its_published_number():
    import os
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    section = readme.split("## Pretrained models")[1].split("\n## ")[0]
    for preset in PRESETS.values():
        row = next((line for line in section.splitlines()
                    if line.startswith(f"| `{preset.name}` |")), None)
        assert row is not None, preset.name
        assert preset.headline in row, preset.name
        assert ("python evaluate.py --checkpoint " + preset.name in row) == \
            preset.evaluation.evaluate_py, preset.name
    assert f"python predict.py --checkpoint {DEFAULT_PRESET} --input photo.jpg" in \
        readme.split("## Quick start")[1].split("```")[1]
