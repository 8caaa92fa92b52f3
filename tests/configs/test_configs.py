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
        "test.use_gt_boxes=none", "model.image_size=[64,128]", "model.heatmap_size=16,32",
        "data.flip=false",
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


def test_a_list_that_is_not_json_is_named_as_such_and_a_path_may_look_like_one():
    # Was "expected an integer, got '[1'" (the text split at its comma).
    with pytest.raises(ConfigError, match=r"^config key 'train.lr_steps': \[1,'a'\] is not "
                                          r"a JSON list .*: write \[90, 120\]"):
        apply_overrides(get_experiment("tiny"), ["train.lr_steps=[1,'a']"])
    config = apply_overrides(get_experiment("tiny"), ["data.root=[2024] trip"])
    assert config.data.root == "[2024] trip"


def test_json_round_trip(tmp_path):
    c = apply_overrides(get_experiment("mpii_resnet50_384x384"), ["train.epochs=2"])
    path = tmp_path / "config.json"
    save_config(c, str(path))
    assert load_config(str(path)) == c
    assert config_from_dict(json.loads(path.read_text())) == c
    assert config_from_dict(config_to_dict(c)) == c


def test_configs_of_earlier_versions_load():
    # The checkpoints' config.json of earlier versions: a boolean
    # train.mixed_precision and the unused data.shuffle_buffer.
    old = config_to_dict(get_experiment("coco_resnet50_256x192"))
    old["train"].pop("precision")
    old["train"]["mixed_precision"] = True
    old["data"]["shuffle_buffer"] = 4096
    config = config_from_dict(old)
    assert config.train.precision == "mixed_float16"
    assert config == apply_overrides(get_experiment("coco_resnet50_256x192"),
                                     ["train.precision=mixed_float16"])
    old["train"]["mixed_precision"] = False
    assert config_from_dict(old).train.precision == "fp32"


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="bad.json"):
        load_config(str(bad))
    unknown = tmp_path / "unknown.json"
    saved = config_to_dict(get_experiment("tiny"))  # A whole config: every key written.
    unknown.write_text(json.dumps({**saved, "train": {**saved["train"], "epochz": 1}}))
    with pytest.raises(ConfigError, match="train.*epochz"):
        load_config(str(unknown))
    # A value an earlier version saved and this one refuses: where to fix it.
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({**saved, "track": {"similarity_threshold": 1.5}}))
    with pytest.raises(ConfigError, match=r"earlier.json: track.similarity_threshold must be "
                                          r"in \[0, 1\], got 1.5; correct that entry in the "
                                          r"file \(it is read before any --set applies\)"):
        load_config(str(earlier))


def test_flip_pairs_from_names():
    from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES, MPII_KEYPOINT_NAMES
    assert flip_pairs_from_names(COCO_KEYPOINT_NAMES) == COCO_FLIP_PAIRS
    assert flip_pairs_from_names(MPII_KEYPOINT_NAMES) == MPII_FLIP_PAIRS
    assert flip_pairs_from_names(["head", "l_paw", "r_paw", "tail"]) == ((1, 2),)
    # A sided name without its partner is not flipped (and is warned about).
    assert flip_pairs_from_names(["head", "right_paw"]) == ()


@pytest.mark.parametrize("k,pairs", [(17, COCO_FLIP_PAIRS), (16, MPII_FLIP_PAIRS)])
def test_flip_permutation_is_an_involution(k, pairs):
    perm = flip_permutation(k, pairs)
    assert [perm[p] for p in perm] == list(range(k))
    assert perm != list(range(k))


@pytest.mark.parametrize("override,message", [
    ("model.depth=19", r"model.depth must be one of \[18, 34, 50, 101, 152\], got 19"),
    ("model.image_size=0,0", r"model.image_size must be two whole numbers > 0"),
    ("model.heatmap_size=-4,16", r"model.heatmap_size must be two whole numbers > 0"),
    # OKS, scores and IoUs lie in [0, 1]: 1.5 gave every tracked pose a new id.
    ("track.similarity_threshold=1.5", r"track.similarity_threshold must be in \[0, 1\], got 1.5"),
    ("track.detection_threshold=-0.1", r"track.detection_threshold must be in \[0, 1\]"),
    ("track.box_nms_iou=2", r"track.box_nms_iou must be in \[0, 1\], got 2"),
    # Was a traceback where the network is built, after the run's folders were made.
    ("model.image_size=128,96", r"model.heatmap_size \[24, 32\] does not match "
                                r"model.image_size \[128, 96\] with 3 deconvolutions: set "
                                r"model.heatmap_size=32,24 too"),
    ("model.image_size=100,130", r"model.image_size \[100, 130\]: width and height must be "
                                 r"multiples of 32 .*e.g. model.image_size=96,128"),
    ("test.oks_threshold=-1", r"test.oks_threshold must be in \[0, 1\], got -1"),
    ("test.in_vis_threshold=1.5", r"test.in_vis_threshold must be in \[0, 1\], got 1.5"),
    # Tracebacks from the codec and from inside the input pipeline, after
    # the run directory was written.
    ("model.sigma=0", r"model.sigma must be > 0 \(heatmap pixels\), got 0.0"),
    ("data.seed=-5", r"data.seed must be none or in \[0, 2\*\*32\), got -5"),
    ("train.seed=4294967296", r"train.seed must be in \[0, 2\*\*32\), got 4294967296"),
    # Tracebacks inside the first training step (or from Keras), after the
    # run directory was written.
    ("model.color_order=bgr", r"model.color_order must be one of \['RGB', 'BGR'\], got 'bgr'"),
    ("model.style=tf", r"model.style must be one of \['pytorch', 'caffe'\], got 'tf'"),
    ("model.final_kernel=5", r"model.final_kernel must be one of \[1, 3\], got 5"),
    ("model.blocks_per_stage=1,1", r"model.blocks_per_stage must be empty .* got \[1, 1\]"),
    ("model.deconv_kernels=5,5,5", r"model.deconv_kernels must each be one of \[2, 3, 4\]"),
    ("model.deconv_kernels=4,4", r"model.deconv_kernels \[4, 4\] must give one kernel per "
                                 r"deconvolution of model.deconv_filters \[64, 64, 64\]"),
    ("model.deconv_filters=0,64,64", r"model.deconv_filters must each be >= 1"),
    # Taken in silence: NaN weights kept as best/, gradient ascent, always flipped.
    ("model.std=0,0,0", r"model.mean and model.std must be 3 numbers each, std > 0"),
    ("train.lr_factor=-1", r"train.lr_factor must be > 0, got -1"),
    ("train.weight_decay=-0.5", r"train.weight_decay must be >= 0, got -0.5"),
    ("data.flip_prob=3", r"data.flip_prob must be a probability in \[0, 1\], got 3"),
    ("data.rotation_prob=7", r"data.rotation_prob must be a probability"),
    ("data.half_body_prob=-0.1", r"data.half_body_prob must be a probability"),
    ("data.scale_factor=-1", r"data.scale_factor must be >= 0"),
    ("data.num_parallel_calls=0", r"data.num_parallel_calls must be -1 \(autotuned\) or >= 1"),
    ("data.num_parallel_calls=-2", r"data.num_parallel_calls must be -1"),
    # Minutes and gigabytes a batch, keypoints moved by up to 82 px, unsaid.
    ("test.blur_kernel=100001", r"test.blur_kernel=100001 is wider than twice the heatmap "
                                r"\(\d+x\d+\): it blurs the map flat; give an odd size up to")])
def test_model_values_the_network_cannot_take_are_config_errors(override, message):
    # Were a ValueError / ZeroDivisionError traceback where the network is built.
    from keras_pose.configs import ConfigError
    with pytest.raises(ConfigError, match=message):
        apply_overrides(get_experiment("tiny"), [override])


def test_the_widest_blur_kernel_is_twice_the_heatmap():
    config = get_experiment("tiny")
    widest = 2 * max(config.model.heatmap_size) + 1
    assert apply_overrides(config, [f"test.blur_kernel={widest}"]).test.blur_kernel == widest
    with pytest.raises(ConfigError, match=f"up to {widest} "):
        apply_overrides(config, [f"test.blur_kernel={widest + 2}"])


def test_no_deconvolution_asks_for_whole_heatmap_sizes():
    # Was "set model.heatmap_size=3.0,4.0 too": a value that failed again.
    from keras_pose.configs import ConfigError
    with pytest.raises(ConfigError, match=r"set model.heatmap_size=3,4 too"):
        apply_overrides(get_experiment("tiny"), ["model.deconv_filters=[]",
                                                 "model.deconv_kernels=[]"])


def test_the_config_knows_the_depths_the_backbone_builds():
    from keras_pose.configs.base import RESNET_DEPTHS
    from keras_pose.models.resnet import BLOCKS_PER_STAGE
    assert RESNET_DEPTHS == tuple(sorted(BLOCKS_PER_STAGE))


def test_a_custom_data_sets_default_experiment_evaluates_on_ground_truth_boxes():
    """A custom data set has no person detections file: its evaluation uses
    ground-truth boxes, not COCO's detections."""
    assert default_experiment("lizards").test.use_gt_boxes is True
