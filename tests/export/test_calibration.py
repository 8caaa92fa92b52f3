"""Calibration crops: random people of a split, as the network sees them."""

import numpy as np
import tensorflow as tf

from keras_pose.data import decoding
from keras_pose.data.datasets import load_records
from keras_pose.export.calibration import calibration_crops, input_crops
from keras_pose.inference import TopDownEstimator


def test_crops_are_the_inference_paths_normalised_crops(tiny_synthetic):
    """Each calibration crop is the chosen person's crop (the inference
    path's crop op) normalised as (pixels / 255 - mean) / std: the values the
    network sees, not pixels."""
    config = tiny_synthetic
    records = load_records(config, "train")
    crops = calibration_crops(config, count=5, seed=1, records=records)
    assert crops.shape == (5, 64, 64, 3) and crops.dtype == np.float32
    chosen = np.sort(np.random.default_rng(1).choice(len(records), 5, replace=False))
    estimator = TopDownEstimator(lambda x: x, config, flip=False)
    raw = []
    for row in chosen:
        image = decoding.decode_image_tf(tf.io.read_file(records.image_path[row]))
        raw.append(estimator.crops(image[None], tf.zeros([1], tf.int32),
                                   records.center[row:row + 1], records.scale[row:row + 1]))
    m = config.model
    assert m.color_order == "RGB"
    expected = (np.concatenate(raw) / 255.0 - np.array(m.mean)) / np.array(m.std)
    np.testing.assert_allclose(crops, expected, atol=1e-4)


def test_count_and_seed(tiny_synthetic):
    records = load_records(tiny_synthetic, "train")
    everyone = calibration_crops(tiny_synthetic, count=10_000, records=records)
    assert len(everyone) == len(records)
    a = calibration_crops(tiny_synthetic, count=3, seed=0, records=records)
    b = calibration_crops(tiny_synthetic, count=3, seed=0, records=records)
    c = calibration_crops(tiny_synthetic, count=3, seed=7, records=records)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_input_crops_stop_at_count_inside_an_image(tiny_synthetic):
    """An image holding more people than still wanted gives only those wanted."""
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 255, (80, 60, 3)).astype(np.uint8) for _ in range(2)]
    boxes = [[5, 5, 20, 30], [20, 10, 30, 40], [10, 30, 40, 40]]
    crops = input_crops(tiny_synthetic, ((image, boxes) for image in images), count=4)
    # 3 people of the first image, then 1 of the second's 3: 4 crops of 64x64.
    assert crops.shape == (4, 64, 64, 3)
