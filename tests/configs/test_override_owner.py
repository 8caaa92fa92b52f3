"""One owner of how overrides are read (keras_pose.configs.conversion.
apply_overrides): one string is one override, an OKS sigma preset becomes
numbers on every path; and what the config messages say of the keypoint
settings (the K of a file, flip pairs of a --set, the skeleton's base)."""

import logging

import pytest

from keras_pose.configs import ConfigError, apply_overrides, get_experiment
from keras_pose.configs.base import DataConfig
from keras_pose.configs.keypoints import index_base, resolve_flip_pairs
from keras_pose.configs.sigmas import sigmas_by_name

# COCO's published OKS sigmas (cocoapi: .26, .25, .25, .35, .35, .79, .79, .72,
# .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89, divided by 10).
COCO_SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
               0.107, 0.107, 0.087, 0.087, 0.089, 0.089)


def test_one_string_is_one_override():
    """Was read as its characters: "override 't' is not of the form ..."."""
    assert apply_overrides(get_experiment("tiny"), "train.epochs=3").train.epochs == 3


def test_a_sigma_preset_is_numbers_wherever_overrides_are_applied():
    """Expanded in configs/cli.py alone: Predictor.from_checkpoint(ckpt,
    ["data.oks_sigmas=coco"]) said "expected a number, got 'coco'"."""
    base = apply_overrides(get_experiment("tiny"), ["data.oks_sigmas=" + ",".join(["0.05"] * 17)])
    assert apply_overrides(base, ["data.oks_sigmas=coco"]).data.oks_sigmas == COCO_SIGMAS
    with pytest.raises(ConfigError, match="unknown OKS sigma preset 'nonsense'"):
        apply_overrides(base, ["data.oks_sigmas=nonsense"])


def test_an_official_conversions_overrides_may_be_one_string():
    """convert_pose_checkpoint(src, out, overrides="data.root=/x") listed the
    string's characters before apply_overrides saw it."""
    from keras_pose.convert.official import official_config
    from keras_pose.convert.state_dict import infer_architecture
    from tests.convert.state_dicts import official_state_dict
    arch = infer_architecture(official_state_dict(50), source="pose_resnet_50_256x192.pth")
    config = official_config(arch, file_name="pose_resnet_50_256x192.pth",
                             overrides="data.root=/x")
    assert config.data.root == "/x"


def test_a_keypoint_count_replaced_by_the_files_gives_advice_that_works(caplog):
    """The warning said to give data.keypoint_names=[...] to train on some of
    the file's keypoints: they name all of them, and fewer stopped the run
    ("has 5 keypoints but the model has ...")."""
    from keras_pose.configs.cli import build_config
    caplog.set_level(logging.WARNING, logger="absl")
    build_config(dataset="custom", data_dir="/data/k5", overrides=["model.num_keypoints=3"])
    assert caplog.messages == [
        "model.num_keypoints=3 is replaced by the keypoint count of /data/k5's annotation file "
        "(its category's keypoint names): a model learns every keypoint of the file; drop the "
        "--set model.num_keypoints (for fewer keypoints, write an annotation file of those "
        "only)"]


def test_flip_pairs_out_of_range_name_the_set_that_gave_them():
    """Was "flip pair (3, 5) is out of range", behind "data set <root>:":
    blamed on the data set, not on --set data.flip_pairs."""
    with pytest.raises(ValueError) as raised:
        resolve_flip_pairs(["a", "b", "c", "d", "e"], [[1, 2], [3, 5]])
    assert str(raised.value) == ("--set data.flip_pairs: flip pair (3, 5) is out of range for "
                                 "5 keypoints (0-based: 0..4)")


@pytest.mark.parametrize("pairs, base, message", [
    ([(0, 1), (2, 3)], 0, "f.json skeleton: read as 0-based (it uses index 0, which only "
                          "0-based indices have)"),
    ([(1, 2), (4, 5)], 1, "f.json skeleton: read as 1-based (it uses index 5, which only "
                          "1-based indices of 5 keypoints have)"),
])
def test_a_skeleton_base_decided_by_an_index_is_logged(caplog, pairs, base, message):
    """The README says the base "choice is logged"; it was, only when the
    indices fit both."""
    caplog.set_level(logging.INFO, logger="absl")
    assert index_base(pairs, 5, "f.json skeleton") == base
    assert caplog.messages == [message]


def test_the_data_configs_docstring_says_the_default_sigmas_the_code_gives():
    """It said "COCO's for K=17, else DEFAULT_OKS_SIGMA": the code gives
    COCO's sigma by keypoint name, 0.0669 (the mean of COCO's) to others."""
    assert sigmas_by_name(["tail", "nose", "left_knee"]) == ((0.0669, 0.026, 0.087), [0])
    doc = " ".join(DataConfig.__doc__.split())
    assert "COCO's for K=17" not in doc
    assert ("empty: by keypoint name, COCO's sigma for each COCO keypoint (any order, any "
            "naming style) and ``DEFAULT_OKS_SIGMA`` (0.0669, the mean of COCO's)") in doc
