"""The data set metadata table and the OKS sigma presets against the values
mmpose publishes (tests/data/published_keypoint_metadata.json, transcribed
with its provenance)."""

import json
import os

import pytest

from keras_pose.configs import keypoints as kp
from keras_pose.configs.dataset_info import DATASETS, dataset_info
from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS, DEFAULT_OKS_SIGMA, SIGMA_PRESETS
from tests.conftest import DATA_DIR

with open(os.path.join(DATA_DIR, "published_keypoint_metadata.json")) as _file:
    PUBLISHED = json.load(_file)["datasets"]

# Deliberate differences, each explained in dataset_info's docstring.
RESPELLED = {"crowdpose", "ap10k"}     # names as in the sets' annotation files
OWN_SKELETON = {"mpii"}                # the official code's drawing skeleton


def _pairs(values):
    return [tuple(p) for p in values]


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_metadata_is_the_published_one(name):
    info, published = DATASETS[name], PUBLISHED[name]
    assert (info.mmpose_names or info.names) == tuple(published["keypoint_names"])
    assert bool(info.mmpose_names) == (name in RESPELLED)
    # Respelt names are the same keypoints in the same order (any naming style
    # or a documented synonym).
    assert len(info.names) == len(published["keypoint_names"])
    assert sorted(_pairs(info.flip_pairs)) == sorted(_pairs(published["flip_pairs"]))
    if name in OWN_SKELETON:
        assert len(info.skeleton) == len(published["skeleton"])
    else:
        assert _pairs(info.skeleton) == _pairs(published["skeleton"])
    assert info.sigmas == tuple(published["sigmas"])
    assert info.upper_body_ids == tuple(published["upper_body_ids"])
    assert all(0 <= i < info.num_keypoints for limb in info.skeleton + info.flip_pairs
               for i in limb)


def test_respelt_names_differ_only_where_documented():
    crowdpose = DATASETS["crowdpose"]
    changed = [(a, b) for a, b in zip(crowdpose.names, crowdpose.mmpose_names) if a != b]
    assert changed == [("head", "top_head")]
    ap10k = DATASETS["ap10k"]
    # L_Eye -> left_eye is a naming style; L_F_Paw -> left_front_paw a synonym.
    synonyms = {"f_paw": "front_paw", "b_paw": "back_paw"}
    for ours, theirs in zip(kp.keypoint_keys(ap10k.names), kp.keypoint_keys(ap10k.mmpose_names)):
        assert ours == (theirs[0], synonyms.get(theirs[1], theirs[1]))


def test_coco_and_mpii_constants_come_from_the_table():
    assert kp.COCO_KEYPOINT_NAMES == DATASETS["coco"].names
    assert kp.COCO_FLIP_PAIRS == DATASETS["coco"].flip_pairs
    assert kp.MPII_SKELETON == DATASETS["mpii"].skeleton
    assert COCO_OKS_SIGMAS == tuple(PUBLISHED["coco"]["sigmas"])
    with pytest.raises(KeyError, match="no keypoint metadata for data set 'cocco'.*coco"):
        dataset_info("cocco")


@pytest.mark.parametrize("preset", sorted(SIGMA_PRESETS))
def test_every_sigma_preset_is_its_data_sets_published_table(preset):
    """Issue 23.11: the ap10k preset had COCO's sigmas in COCO's order (8 of 17
    wrong). Every preset must be its data set's published sigmas, in the
    order of its keypoint names."""
    chosen = SIGMA_PRESETS[preset]
    table = {"coco_wholebody_body": "coco"}.get(preset, preset)
    published = PUBLISHED[table]
    assert kp.keypoint_keys(chosen.names) == kp.keypoint_keys(DATASETS[table].names)
    if published["sigmas"]:
        assert chosen.sigmas == tuple(published["sigmas"])
    else:  # Horse-10 publishes none: the default, and the source says so.
        assert chosen.sigmas == (DEFAULT_OKS_SIGMA,) * len(chosen.names)
        assert "none published" in chosen.source


def test_ap10k_sigmas_follow_ap10k_order():
    ap10k = dict(zip(kp.keypoint_keys(SIGMA_PRESETS["ap10k"].names),
                     SIGMA_PRESETS["ap10k"].sigmas))
    assert ap10k[("L", "elbow")] == 0.072 and ap10k[("R", "shoulder")] == 0.079
    assert ap10k[("L", "front_paw")] == 0.062 and ap10k[("R", "back_paw")] == 0.089
    # The earlier table (COCO's list) differed at these 8 positions.
    old = (0.025, 0.025, 0.026, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062,
           0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089)
    assert [i for i, (a, b) in enumerate(zip(old, SIGMA_PRESETS["ap10k"].sigmas))
            if a != b] == [6, 7, 8, 9, 12, 13, 14, 15]
