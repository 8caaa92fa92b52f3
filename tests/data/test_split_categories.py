"""The keypoint categories of a custom set's two splits (recorded with the
run), category ids that no int64 holds, and a data folder given as a file."""

import dataclasses
import json
import logging
import os

import pytest

from keras_pose.configs import default_experiment
from keras_pose.data import coco_files, datasets
from keras_pose.data.coco_files import AnnotationError

NAMES = ["head", "left_eye", "right_eye"]


def _split(root, split, category_id, names=NAMES):
    """One image of 100 x 80 pixels, two people of ``category_id``."""
    os.makedirs(os.path.join(root, "images", split), exist_ok=True)
    with open(os.path.join(root, "images", split, "a.jpg"), "wb") as f:
        f.write(b"not read: the records only check that it exists")
    people = [{"id": i, "image_id": 7, "category_id": category_id, "iscrowd": 0,
               "bbox": [10.0 + 40 * i, 10.0, 30.0, 50.0], "area": 1500.0, "num_keypoints": 3,
               "keypoints": [20.0 + 40 * i, 20.0, 2, 18.0 + 40 * i, 18.0, 2,
                             22.0 + 40 * i, 18.0, 2]} for i in (0, 1)]
    data = {"images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 80}],
            "categories": [{"id": category_id, "name": "thing", "keypoints": names}],
            "annotations": people}
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    path = os.path.join(root, "annotations", f"person_keypoints_{split}.json")
    with open(path, "w") as f:
        json.dump(data, f)
    return path


def _config(root, category_ids=()):
    config = default_experiment("mine")
    return config.replace(data=dataclasses.replace(config.data, root=str(root),
                                                   category_ids=tuple(category_ids)))


def test_a_validation_split_of_its_own_category_id_is_read_and_recorded(tmp_path, caplog):
    """Train of category 1, validation of category 3 (same keypoints): was
    recorded (1,), and the validation file refused for lacking category 1."""
    _split(str(tmp_path), "train2017", 1)
    _split(str(tmp_path), "val2017", 3)
    with caplog.at_level(logging.WARNING):
        resolved = datasets.resolve_dataset_config(_config(tmp_path))
    assert resolved.data.category_ids == (1, 3)
    assert "keypoint categories [3] have the keypoint names of" in caplog.text
    val = datasets.load_records(resolved, "test")
    assert list(val.category_id) == [3, 3]
    assert list(datasets.load_records(resolved, "train").category_id) == [1, 1]
    # evaluate.py re-resolves the checkpoint's config (names given): kept.
    assert datasets.resolve_dataset_config(resolved).data.category_ids == (1, 3)


@pytest.mark.parametrize("given", [(1, 3), (3, 1)])
def test_a_given_list_is_kept_whole(tmp_path, given):
    """Was cut to the training file's [1]; the validation split then refused."""
    _split(str(tmp_path), "train2017", 1)
    _split(str(tmp_path), "val2017", 3)
    resolved = datasets.resolve_dataset_config(_config(tmp_path, given))
    assert resolved.data.category_ids == given
    assert list(datasets.load_records(resolved, "test").category_id) == [3, 3]


def test_a_given_id_of_neither_split_is_an_error_naming_it(tmp_path):
    _split(str(tmp_path), "train2017", 1)
    _split(str(tmp_path), "val2017", 3)
    with pytest.raises(datasets.DatasetError,
                       match=r"data.category_ids \[1, 7\]: \[7\] are keypoint categories of "
                             r"neither split: .*train2017.json has \[1\], .*val2017.json has \[3\]"):
        datasets.resolve_dataset_config(_config(tmp_path, (1, 7)))


def test_a_validation_category_of_other_keypoints_is_not_recorded(tmp_path):
    _split(str(tmp_path), "train2017", 1)
    _split(str(tmp_path), "val2017", 3, names=["nose", "left_eye", "right_eye"])
    assert datasets.resolve_dataset_config(_config(tmp_path)).data.category_ids == (1,)


@pytest.mark.parametrize("bad", [2 ** 64, -1])
def test_category_ids_outside_int64_or_negative_are_refused_naming_the_file(tmp_path, bad):
    """2**64 was an OverflowError in the records; -1 marks a box without
    category (keras_pose.detection.results.NO_CATEGORY)."""
    path = _split(str(tmp_path), "train2017", bad)
    with pytest.raises(AnnotationError, match=rf"{path}: category {bad} \('thing'\): its 'id' "
                                              rf"{bad} is not an integer from 0 to 2\*\*63 - 1"):
        coco_files.read_annotation_file(path)
    with pytest.raises(AnnotationError, match=rf"{path}: category {bad} "):
        coco_files.dataset_metadata(path)


@pytest.mark.parametrize("bad", [2 ** 64, -1])
def test_category_ids_given_outside_int64_or_negative_are_refused(tmp_path, bad):
    _split(str(tmp_path), "train2017", 1)
    config = _config(tmp_path, (bad,))
    for resolved in (config, config.replace(data=dataclasses.replace(
            config.data, keypoint_names=tuple(NAMES)))):  # evaluate.py: names given.
        with pytest.raises(datasets.DatasetError,
                           match=rf"data.category_ids \[{bad}\]: {bad} is not an integer"):
            datasets.resolve_dataset_config(resolved)


def test_an_annotation_file_given_as_the_data_folder_names_the_folder(tmp_path):
    """Was "data directory ... does not exist" for a file that does."""
    path = _split(str(tmp_path / "mine"), "train2017", 1)
    with pytest.raises(datasets.DatasetError,
                       match=rf"data directory {path} is a file \(data.root / --data_dir\): "
                             rf"give the data set's folder, {tmp_path / 'mine'}, which holds"):
        datasets.resolve_dataset_config(_config(path))
