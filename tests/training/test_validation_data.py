"""Validation images are decoded once before training: one that the decoder
refuses failed every validation of the run, after the first epoch, and the
run ended without ``best/``."""

import dataclasses
import re
import shutil

import pytest

from keras_pose.data.datasets import BoxMode, load_records
from keras_pose.training.validation_data import TrainingError, validation_setup
from tests import broken_images
# The tiny model's config and the real COCO sample of the evaluate.py tests.
from tests.test_evaluate_cli import _tiny_config, coco_root  # noqa: F401


def test_a_validation_image_the_decoder_refuses_stops_training_before_it_starts(
        coco_root, tmp_path):
    root = shutil.copytree(coco_root, tmp_path / "data")
    images = sorted((root / "images" / "val2017").glob("*.jpg"))
    for name, kind in (("000000040083", "truncated"), ("000000197388", "text")):
        made = broken_images.write_variant(str(images[0]), str(tmp_path), name, kind)
        shutil.move(made, root / "images" / "val2017" / f"{name}.jpg")
    config = _tiny_config("coco", root, 17)
    config = config.replace(train=dataclasses.replace(config.train, validate_every=1))
    train = load_records(_tiny_config("coco", coco_root, 17), "test", BoxMode(True))
    first, second = (str(root / "images" / "val2017" / f"{n}.jpg")
                     for n in ("000000040083", "000000197388"))
    annotations = root / "annotations" / "person_keypoints_val2017.json"
    expected = (re.escape(f"validation split: {first}: cannot be decoded: corrupt, truncated "
                          "or not an image (") + r"[^()]*\[Op:DecodeJpeg\]" + re.escape(
        f") (2 such image(s) among the validation images: {first}, {second}); replace them "
        f"or remove their entries from {annotations} (--set train.validate_every=0 trains "
        "without validation)"))
    with pytest.raises(TrainingError, match="^" + expected + "$"):
        validation_setup(config, True, train)
