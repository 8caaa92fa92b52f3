"""Person records of the sample data sets, shared by the data tests."""

import os

import pytest

from keras_pose.data import coco, mpii


@pytest.fixture(scope="module")
def coco_records(coco_dir):
    return coco.load_coco_gt(os.path.join(coco_dir, "test_coco.json"), coco_dir, 0.75)


@pytest.fixture(scope="module")
def mpii_records(mpii_dir):
    return mpii.load_mpii(os.path.join(mpii_dir, "test_mpii.json"), mpii_dir)
