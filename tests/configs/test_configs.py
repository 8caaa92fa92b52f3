"""Experiment configs: named experiments, overrides, JSON round trip."""

import json

import pytest

from keras_pose.configs import (ConfigError, apply_overrides, config_from_dict,
                                config_to_dict, default_experiment,
                                get_experiment, list_experiments, load_config,
                                save_config)
from keras_pose.configs.keypoints import (COCO_FLIP_PAIRS, MPII_FLIP_PAIRS,
                                          flip_pairs_from_names,
                                          flip_permutation)


def test_one_experiment_per_official_file():
    names = set(list_experiments())
    for depth in (50, 101, 152):
        assert {f"coco_resnet{depth}_256x192", f"coco_resnet{depth}_384x288",
                f"mpii_resnet{depth}_256x256", f"mpii_resnet{depth}_384x384"} <= names
    assert "tiny" in names


@pytest.mark.parametrize("name,image,heatmap,sigma,k,sf,rf", [
    ("coco_resnet50_256x192", (192, 256), (48, 64), 2.0, 17, 0.3, 40.0),
    ("coco_resnet152_384x288", (288, 384), (72, 96), 3.0, 17, 0.3, 40.0),
    ("mpii_resnet101_256x256", (256, 256), (64, 64), 2.0, 16, 0.25, 30.0),
    ("mpii_resnet50_384x384", (384, 384), (96, 96), 3.0, 16, 0.25, 30.0),
])
def test_official_values(name, image, heatmap, sigma, k, sf, rf):
    c = get_experiment(name)
    assert c.model.image_size == image and c.model.heatmap_size == heatmap
    assert c.model.sigma == sigma and c.model.num_keypoints == k
    assert c.data.scale_factor == sf and c.data.rotation_factor == rf
    assert c.data.flip and c.train.learning_rate == 1e-3
    assert c.train.lr_steps == (90, 120) and c.train.lr_factor == 0.1
    assert c.train.epochs == 140 and c.train.batch_size_per_replica == 32
    assert c.train.adam_epsilon == 1e-8 and c.train.weight_decay == 0.0
    assert c.model.deconv_filters == (256, 256, 256)
    assert c.model.deconv_kernels == (4, 4, 4) and c.model.final_kernel == 1
    assert len(c.data.keypoint_names) == k
    assert c.data.flip_pairs == (COCO_FLIP_PAIRS if k == 17 else MPII_FLIP_PAIRS)
    assert c.model.color_order == "RGB"


def test_caffe_experiment_records_keras_preprocessing():
    c = get_experiment("coco_resnet50_256x192_caffe")
    assert c.model.style == "caffe" and c.model.pretrained == "imagenet"
    assert c.model.color_order == "BGR"
    assert c.model.mean[0] * 255 == pytest.approx(103.939)


def test_default_experiments():
    assert default_experiment("coco").name == "coco_resnet50_256x192"
    assert default_experiment("mpii").name == "mpii_resnet50_256x256"
    assert default_experiment("synthetic").name == "tiny"
    custom = default_experiment("crowdpose")
    assert custom.data.dataset == "custom" and custom.data.root == "data/crowdpose"
    assert custom.data.keypoint_names == ()


def test_unknown_experiment_names_known_ones():
    with pytest.raises(ValueError, match="coco_resnet50_256x192"):
        get_experiment("resnet42")


def test_overrides_change_fields_with_their_types():
    c = apply_overrides(get_experiment("tiny"), [
        "train.epochs=3", "data.rotation_factor=0", "train.lr_steps=1,2",
        "test.use_gt_boxes=none", "model.image_size=[64,128]", "data.flip=false",
        "data.root=/tmp/x", "train.lr_steps=[5]", "data.seed=7",
    ])
    assert c.train.epochs == 3 and isinstance(c.train.epochs, int)
    assert c.data.rotation_factor == 0.0 and isinstance(c.data.rotation_factor, float)
    assert c.train.lr_steps == (5,)
    assert c.test.use_gt_boxes is None
    assert c.model.image_size == (64, 128)
    assert c.data.flip is False and c.data.root == "/tmp/x" and c.data.seed == 7


@pytest.mark.parametrize("override,key", [
    ("train.epochs=abc", "train.epochs"),
    ("train.epochs=1.5", "train.epochs"),
    ("train.nope=1", "train.nope"),
    ("nope.epochs=1", "nope"),
    ("model.image_size=1,2,3", "model.image_size"),
    ("data.flip=1", "data.flip"),
    ("epochs=3", "epochs"),
    ("train.epochs", "train.epochs"),
])
def test_bad_overrides_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        apply_overrides(get_experiment("tiny"), [override])


def test_json_round_trip(tmp_path):
    c = apply_overrides(get_experiment("mpii_resnet50_384x384"), ["train.epochs=2"])
    path = tmp_path / "config.json"
    save_config(c, str(path))
    assert load_config(str(path)) == c
    assert config_from_dict(json.loads(path.read_text())) == c
    assert config_from_dict(config_to_dict(c)) == c


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="bad.json"):
        load_config(str(bad))
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"train": {"epochz": 1}}))
    with pytest.raises(ConfigError, match="train.*epochz"):
        load_config(str(unknown))


def test_flip_pairs_from_names():
    from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES, MPII_KEYPOINT_NAMES
    assert flip_pairs_from_names(COCO_KEYPOINT_NAMES) == COCO_FLIP_PAIRS
    assert flip_pairs_from_names(MPII_KEYPOINT_NAMES) == MPII_FLIP_PAIRS
    assert flip_pairs_from_names(["head", "l_paw", "r_paw", "tail"]) == ((1, 2),)
    with pytest.raises(ValueError, match="left partner"):
        flip_pairs_from_names(["head", "right_paw"])


@pytest.mark.parametrize("k,pairs", [(17, COCO_FLIP_PAIRS), (16, MPII_FLIP_PAIRS)])
def test_flip_permutation_is_an_involution(k, pairs):
    perm = flip_permutation(k, pairs)
    assert [perm[p] for p in perm] == list(range(k))
    assert perm != list(range(k))
