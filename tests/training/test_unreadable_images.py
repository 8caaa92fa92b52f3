"""Training on a data set with unreadable images: skipped, counted, reported."""

import logging
import os
import threading

import cv2
import numpy as np
import pytest

from keras_pose.configs.cli import build_config
from keras_pose.data import samples
from keras_pose.data.images import read_image
from keras_pose.training import train
from tests import broken_images
from tests.training.conftest import FAST

SETTINGS = [o for o in FAST if not o.startswith("data.")] + [
    "train.epochs=2", "train.steps_per_epoch=3", "train.image_summary_every=1"]


def _config(root):
    return build_config(dataset="custom", data_dir=root, experiment="tiny", overrides=SETTINGS)


def _train(root, model_dir, seconds=180):
    """Trains in a thread: before the fix these runs decoded unreadable
    images forever, and a hang must fail the test, not stall the test run."""
    outcome = {}

    def run():
        try:
            outcome["result"] = train(_config(root), model_dir, export=False, progress=False)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"training did not end within {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@pytest.mark.slow  # fits over broken image files
def test_unreadable_images_are_skipped_and_the_others_train(tmp_path, caplog):
    variants = broken_images.coco_set(str(tmp_path / "data"))
    for kind in broken_images.DECODABLE:  # decoded as OpenCV (the reference) decodes them
        reference = cv2.imread(variants[kind], cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        np.testing.assert_array_equal(read_image(variants[kind]), reference[..., ::-1])
    with caplog.at_level(logging.WARNING):
        result = _train(str(tmp_path / "data"), str(tmp_path / "run"))
    assert result.state.epoch == 2
    assert os.path.isfile(tmp_path / "run" / "checkpoints" / "epoch_0002" / "COMPLETE")
    last = result.history[-1]
    assert last["skipped_images"] == len(broken_images.UNREADABLE) and last["skipped_samples"] > 0
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    for kind, path in variants.items():  # each reported once, the decodable ones never
        assert sum(path in m for m in skipped) == (kind in broken_images.UNREADABLE), kind


@pytest.mark.slow  # fits over broken image files
def test_a_split_without_a_readable_image_fails_before_anything_is_written(tmp_path):
    broken_images.coco_set(str(tmp_path / "data"), num_images=4,
                           kinds=broken_images.UNREADABLE)
    with pytest.raises(samples.UnreadableImagesError,
                       match=r"none of the 4 training images.*000000\.jpg.*"
                             r"person_keypoints_train2017\.json"):
        _train(str(tmp_path / "data"), str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run" / "config.json")
