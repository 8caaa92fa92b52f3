"""Calibration crops for int8 quantization: real people, as the network sees them.

The crops come from the evaluation input pipeline
(``keras_pose.data.pipeline.build_eval_dataset``: each person's box, the
one crop op, no augmentation) on a random subset of a split's people, and
are normalised exactly as the inference path normalises them
(``transforms.normalize_image`` in the checkpoint's colour order). Calibration
only needs the activations' ranges of typical inputs, so the training
split's people without augmentation are the right sample (the evaluation
split's when only it is on disk: :func:`calibration_split`).

Without the data set (a user with photos only), :func:`input_crops` cuts
the people of the user's own images with the inference path's crop
(``TopDownEstimator.crops``): the very inputs the network will see.

Shapes: N crops, h x w the network's input.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np
import tensorflow as tf

from keras_pose.configs import ExperimentConfig
from keras_pose.data import datasets, transforms
from keras_pose.data.pipeline import build_eval_dataset
from keras_pose.inference.estimator import TopDownEstimator


def normalise(crops, config: ExperimentConfig) -> np.ndarray:
    """Pixel crops (N, h, w, 3) -> the network's input, as the inference
    path normalises them (the checkpoint's colour order, mean and std)."""
    m = config.model
    return transforms.normalize_image(tf.constant(crops, tf.float32), m.color_order, m.mean,
                                      m.std).numpy()


def normalised_crops(records, config: ExperimentConfig, batch_size: int = 32) -> np.ndarray:
    """Every person of ``records`` cropped and normalised, in record order.

    Returns:
      (N, h, w, 3) float32.
    """
    m = config.model
    width, height = m.image_size
    out = np.zeros((len(records), height, width, 3), np.float32)
    for batch in build_eval_dataset(records, image_size=m.image_size, batch_size=batch_size):
        out[batch["index"].numpy()] = normalise(batch["image"], config)
    return out


def calibration_split(config: ExperimentConfig) -> str:
    """The split that calibrates: "train", or "test" when only the
    evaluation split is on disk (as COCO val often is: calibration reads
    activation ranges, never labels)."""
    return "train" if os.path.isfile(datasets.annotation_file(config, "train")) else "test"


def calibration_crops(config: ExperimentConfig, count: int = 300, split: str = "train",
                      seed: int = 0, records=None, owner: str = "the model") -> np.ndarray:
    """``count`` people of ``split`` (or of ``records``) drawn at random,
    cropped and normalised for the network.

    Args:
      config: the checkpoint's (resolved) config: data set and normalisation.
      count: crops wanted (all people if fewer).
      split: "train" or "test".
      seed: the draw.
      records: ``PersonRecords`` to draw from instead of reading ``split``
        (their keypoints checked by the caller).
      owner: the model, for messages (e.g. ``checkpoint out/m5``).

    Returns:
      (min(count, people), h, w, 3) float32.

    Raises:
      DatasetError: the split's keypoints are not the model's (another K,
        other names, another order: ``datasets.check_metadata``; was
        calibrated on, only another K refused).
    """
    if records is None:
        records = datasets.load_records(config, split, owner=owner)
        datasets.check_metadata(config, records, owner, use="calibrate it on")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(records), size=min(count, len(records)), replace=False))
    with tf.device("/CPU:0"):
        return normalised_crops(records.select(chosen), config)


def input_crops(config: ExperimentConfig, samples: Iterable[tuple[np.ndarray, Any]],
                count: int = 300) -> np.ndarray:
    """Pixel crops of the first ``count`` people of ``samples``.

    Args:
      config: the checkpoint's config (crop size, box padding).
      samples: (image (H, W, 3) uint8 RGB, boxes (M, 4) [x, y, w, h]) pairs,
        read lazily: reading stops at ``count`` people.
      count: crops wanted.

    Returns:
      (min(count, people), h, w, 3) float32 pixel values (not normalised:
      ``TopDownEstimator.heatmaps`` and :func:`normalise` take them).

    Raises:
      ValueError: for a box ``Predictor.predict`` refuses (not finite, empty,
        off its image): its black crops would calibrate the export and pass
        the guard, where fp32 and int8 agree on nothing but black; for an
        image ``Predictor.predict`` refuses (``ImageArrayError``: not (H, W,
        3) uint8 RGB, such as a grey image or a file's path; was a
        TensorFlow traceback, or a TypeError from the boxes' check).
      TypeError: for a sample that is not an (image, boxes) pair.
    """
    from keras_pose.inference.predictor import check_boxes
    estimator = TopDownEstimator(None, config)
    width, height = config.model.image_size
    out, taken = [], 0
    for i, sample in enumerate(samples):
        image, boxes = _sample(sample, i)
        boxes = check_boxes(boxes, f"samples: image {i}", image.shape[:2])[:count - taken]
        if not len(boxes):
            continue
        center, scale = estimator.centers_and_scales(tf.constant(boxes))
        out.append(estimator.crops(tf.constant(image)[None], tf.zeros([len(boxes)], tf.int32),
                                   center, scale).numpy())
        taken += len(boxes)
        if taken >= count:
            break
    return np.concatenate(out) if out else np.zeros((0, height, width, 3), np.float32)


def _sample(sample: Any, i: int) -> tuple[np.ndarray, Any]:
    """Sample ``i`` of ``samples()`` as (image (H, W, 3) uint8 RGB, its
    boxes), the image checked as ``Predictor.predict`` checks it."""
    from keras_pose.data.images import check_rgb_image
    try:
        image, boxes = sample
    except (TypeError, ValueError):  # Was "cannot unpack" / "too many values to unpack".
        raise TypeError(f"samples: item {i} is not an (image, boxes) pair (got "
                        f"{type(sample).__name__}): samples() yields (image (H, W, 3) uint8 "
                        "RGB, boxes (M, 4) [x, y, w, h]) pairs") from None
    return check_rgb_image(image, f"samples: image {i}"), boxes
