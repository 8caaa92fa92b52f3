"""A checkpoint's keypoint metadata against its model's K, checked as a whole
where its config is loaded and where a --set changes it
(keras_pose.configs.cli.check_keypoint_metadata)."""

import dataclasses
import json
import re
import shutil

import pytest

from keras_pose.configs import ConfigError, get_experiment
from keras_pose.configs.cli import build_config, checkpoint_config
from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES
from keras_pose.inference.loading import load_pose_model, with_overrides


def _edited_checkpoint(tiny_exported, tmp_path, edit):
    """A copy of the tiny checkpoint whose config.json's data section is edited."""
    path = tmp_path / "ckpt"
    shutil.copytree(tiny_exported[2], path)
    values = json.loads((path / "config.json").read_text())
    edit(values["data"])
    (path / "config.json").write_text(json.dumps(values))
    return path


@pytest.mark.parametrize("field, value, message", [
    ("keypoint_names", list(COCO_KEYPOINT_NAMES[:16]),
     "data.keypoint_names has 16 names for the model's 17 keypoints: give 17 names, one per "
     "heatmap channel in the model's order; correct that entry in the file"),
    ("oks_sigmas", [0.05] * 16, "data.oks_sigmas has 16 values for the model's 17 keypoints: "
                                "give 17 numbers, or [] for sigmas by keypoint name"),
    ("flip_pairs", [[1, 2], [17, 18]], "data.flip_pairs: flip pair [17, 18] is out of range "
                                       "for the model's 17 keypoints (0-based: 0..16)"),
    ("skeleton", [[0, 17]], "data.skeleton: limb [0, 17] is out of range"),
])
def test_a_checkpoint_whose_metadata_does_not_fit_its_model_is_named(
        tiny_exported, tmp_path, field, value, message):
    """16 names of a 17-keypoint model: evaluate.py blamed the data set's
    skeleton, predict.py wrote 17 keypoints under 16 names; flip pair
    [17, 18] was a traceback after the model loaded."""
    path = _edited_checkpoint(tiny_exported, tmp_path, lambda data: data.update({field: value}))
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path / 'config.json'))}: "
                                          f"{re.escape(message)}"):
        load_pose_model(str(path))


def test_a_checkpoint_without_names_or_sigmas_still_loads(tiny_exported, tmp_path):
    """Empty names or sigmas are not given (the data's, the names'), not wrong."""
    path = _edited_checkpoint(tiny_exported, tmp_path,
                              lambda data: data.update(oks_sigmas=[]))
    assert load_pose_model(str(path)).config.data.oks_sigmas == ()


@pytest.mark.parametrize("items, message", [
    (["data.keypoint_names=a,b"], "--set data.keypoint_names has 2 names for the model's 17 "
                                  "keypoints: give 17 names"),
    (["data.keypoint_names=a,b", "data.oks_sigmas=[0.1,0.1]"],
     "--set data.keypoint_names has 2 names"),
    (["data.oks_sigmas=[0.1,0.1]"], "--set data.oks_sigmas has 2 values for the model's 17 "
                                    "keypoints"),
    (["data.flip_pairs=[[1,17]]"], "--set data.flip_pairs: flip pair [1, 17] is out of range"),
])
def test_a_set_of_metadata_that_does_not_fit_the_model_is_named(items, message):
    """--set data.keypoint_names=a,b: evaluate.py blamed the data set's
    skeleton; predict.py ran silently (17 keypoints under 2 names), or with
    --track stopped with a traceback ("estimate_fn returned 17 keypoints,
    the OKS sigmas are for 2")."""
    trained = get_experiment("tiny")
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        with_overrides(trained, items)
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        checkpoint_config(build_config(start=trained, overrides=items), trained, items)


def test_metadata_of_the_models_k_is_taken():
    trained = get_experiment("tiny")
    names = [f"k{i}" for i in range(17)]
    items = [f"data.keypoint_names={json.dumps(names)}", "data.oks_sigmas=[]",
             "data.flip_pairs=[[1,2]]"]
    assert with_overrides(trained, items).data.keypoint_names == tuple(names)
    config = checkpoint_config(build_config(start=trained, overrides=items), trained, items)
    assert config.data.keypoint_names == tuple(names) and config.data.oks_sigmas == ()
    # A config built in memory is checked too (the exporter's, the Predictor's).
    bad = trained.replace(data=dataclasses.replace(trained.data, keypoint_names=("a",)))
    with pytest.raises(ConfigError, match=r"^the checkpoint's config: data.keypoint_names "
                                          r"has 1 "):
        with_overrides(bad, [])
