"""A data set's image files that tf.data must not read are found by a
``stat`` before anything opens them: a named pipe (FIFO) hung evaluate.py
and train.py in silence (Pillow's header check opened it and waited for a
writer), and a 3 GB file crashed tf.data (a segmentation fault in
``tf.io.read_file``). Training skips their people and counts them, as it
does for missing images; evaluation refuses, naming each file and its kind.
"""

import contextlib
import json
import os
import signal

import numpy as np
import pytest

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.data import datasets, synthetic

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")


class Hung(Exception):
    """Not an OSError: the readers take those for an unreadable image."""


@contextlib.contextmanager
def deadline(seconds: int):
    """Fails, rather than hangs, when the code waits on a FIFO's open."""
    def expire(signum, frame):
        raise Hung(f"still waiting after {seconds} s: a FIFO was opened")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _data_set(tmp_path):
    """A small synthetic set, its config and a function: split -> (the first
    annotated image's path, its people in the intact set's records)."""
    root = str(tmp_path / "data")
    synthetic.ensure_dataset(root, num_train=4, num_val=3)
    config = apply_overrides(get_experiment("tiny"), [f"data.root={root}"])

    def first_image(split: str):
        name = {"train": "train", "test": "val"}[split]
        with open(os.path.join(root, "annotations", f"person_keypoints_{name}.json")) as f:
            data = json.load(f)
        image_id = data["annotations"][0]["image_id"]
        file_name = next(i["file_name"] for i in data["images"] if i["id"] == image_id)
        path = os.path.abspath(os.path.join(root, "images", name, file_name))
        intact = datasets.load_records(config, split, datasets.BoxMode(True))
        return path, intact

    return config, first_image


def _replace_with_fifo(path: str) -> None:
    os.remove(path)
    os.mkfifo(path)


def test_a_fifo_among_the_training_images_is_skipped_unopened_and_counted(tmp_path):
    config, first_image = _data_set(tmp_path)
    fifo, intact = first_image("train")
    people = int(np.sum(intact.image_path == fifo))
    assert people >= 1
    _replace_with_fifo(fifo)
    with deadline(20):
        records = datasets.load_records(config, "train")
    assert fifo not in set(records.image_path)
    assert len(records) == len(intact) - people
    assert records.skipped_reasons["image not a regular file"] == people


def test_a_fifo_among_the_evaluation_images_is_refused_by_its_kind(tmp_path):
    config, first_image = _data_set(tmp_path)
    fifo, _ = first_image("test")
    _replace_with_fifo(fifo)
    with deadline(20), pytest.raises(datasets.DatasetError) as error:
        datasets.load_records(config, "test", datasets.BoxMode(True))
    message = str(error.value)
    assert f"{fifo}: is a named pipe (FIFO), not a regular file" in message
    assert "missing" not in message and "does not exist" not in message


def test_an_image_file_above_the_bound_is_skipped_for_training_and_refused_for_evaluation(
        tmp_path):
    """3 GiB, sparse (nothing written): TensorFlow's decoders take at most
    2**31 - 1 bytes, and tf.data crashed reading it."""
    config, first_image = _data_set(tmp_path)
    for split in ("train", "test"):
        path, intact = first_image(split)
        with open(path, "r+b") as f:
            f.truncate(3 * 2 ** 30)
        if split == "train":
            records = datasets.load_records(config, "train")
            people = int(np.sum(intact.image_path == path))
            assert path not in set(records.image_path) and len(records) == len(intact) - people
            assert records.skipped_reasons["image file over 0.5 GiB"] == people
        else:
            with pytest.raises(datasets.DatasetError,
                               match=f"{path}: is 3.0 GiB, above the 0.5 GiB allowed"):
                datasets.load_records(config, "test", datasets.BoxMode(True))


def test_missing_images_keep_their_words(tmp_path):
    """The policy the special files follow, unchanged for missing images."""
    config, first_image = _data_set(tmp_path)
    path, intact = first_image("test")
    os.remove(path)
    with pytest.raises(FileNotFoundError, match=f"images named in .* are missing, e.g. {path}$"):
        datasets.load_records(config, "test", datasets.BoxMode(True))
