"""Shared pytest settings and fixtures."""

import os

# Quiet TensorFlow's C++ start-up logs; tests run on the CPU.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(TESTS_DIR, "data")


@pytest.fixture(scope="session")
def coco_dir() -> str:
    """The real COCO sample: 4 val2017 images, test_coco.json, detections."""
    return os.path.join(DATA_DIR, "coco")


@pytest.fixture(scope="session")
def mpii_dir() -> str:
    """The real MPII sample: 5 images and test_mpii.json."""
    return os.path.join(DATA_DIR, "mpii")
