"""Shared detection fixtures: a tiny random D-FINE and the COCO sample images."""

import glob
import os

import pytest

TINY_DFINE = dict(
    stem_channels=(3, 8, 8),
    stages=((8, 8, 16, 1, 1, 3), (16, 8, 32, 1, 1, 3), (32, 8, 32, 1, 1, 3),
            (32, 8, 64, 1, 1, 3)),
    out_features=("stage3", "stage4"), feat_strides=(16, 32), encoder_in_channels=(32, 64),
    encoder_hidden_dim=16, encoder_ffn_dim=32, encode_proj_layers=(1,), hidden_expansion=0.5,
    depth_multiplier=0.5, hidden_dim=16, decoder_ffn_dim=32, num_decoder_layers=1,
    decoder_n_points=(2, 2), num_attention_heads=2, decoder_attention_heads=2, lqe_hidden_dim=8)
TINY_SIZE = (64, 64)
TINY_QUERIES = 12


def skip_if_missing(runtime: str, precision: str = "fp32") -> None:
    """Skips a test whose runtime (at ``precision``) is not installed."""
    from keras_pose.detection import runtimes
    missing = runtimes.missing_packages(runtime, precision)
    if missing:
        pytest.skip(f"the {runtime} runtime needs {', '.join(missing)} (not installed)")


@pytest.fixture(scope="session")
def tiny_dfine():
    """keras-hub's DFineObjectDetector (the class the presets load) at a
    tiny size with random weights: 80 COCO classes, 64x64 input, 12 queries."""
    import keras

    from keras_pose.detection.dfine import build_dfine_detector
    keras.utils.set_random_seed(0)
    return build_dfine_detector(TINY_DFINE, num_classes=80, image_size=TINY_SIZE,
                                num_queries=TINY_QUERIES)


@pytest.fixture(scope="session")
def coco_images(coco_dir):
    """[(path, (H, W, 3) uint8 RGB)] of the four COCO sample images."""
    from keras_pose.data.images import read_image
    paths = sorted(glob.glob(os.path.join(coco_dir, "*.jpg")))
    return [(path, read_image(path)) for path in paths]
