"""Calibration crops for int8 quantization: real people, as the network sees them.

The crops come from the evaluation input pipeline
(``keras_pose.data.pipeline.build_eval_dataset``: each person's box, the
one crop op, no augmentation) on a random subset of a split's people, and
are normalised exactly as the inference path normalises them
(``transforms.normalize_image`` in the checkpoint's colour order). Calibration
only needs the activations' ranges of typical inputs, so the training
split's people without augmentation are the right sample.

Shapes: N crops, h x w the network's input.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_pose.configs import ExperimentConfig
from keras_pose.data import datasets, transforms
from keras_pose.data.pipeline import build_eval_dataset


def normalised_crops(records, config: ExperimentConfig, batch_size: int = 32) -> np.ndarray:
    """Every person of ``records`` cropped and normalised, in record order.

    Returns:
      (N, h, w, 3) float32.
    """
    m = config.model
    width, height = m.image_size
    out = np.zeros((len(records), height, width, 3), np.float32)
    for batch in build_eval_dataset(records, image_size=m.image_size, batch_size=batch_size):
        images = transforms.normalize_image(batch["image"], m.color_order, m.mean, m.std)
        out[batch["index"].numpy()] = images.numpy()
    return out


def calibration_crops(config: ExperimentConfig, count: int = 300, split: str = "train",
                      seed: int = 0, records=None) -> np.ndarray:
    """``count`` people of ``split`` (or of ``records``) drawn at random,
    cropped and normalised for the network.

    Args:
      config: the checkpoint's (resolved) config: data set and normalisation.
      count: crops wanted (all people if fewer).
      split: "train" or "test".
      seed: the draw.
      records: ``PersonRecords`` to draw from instead of reading ``split``.

    Returns:
      (min(count, people), h, w, 3) float32.
    """
    if records is None:
        records = datasets.load_records(config, split)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(records), size=min(count, len(records)), replace=False))
    with tf.device("/CPU:0"):
        return normalised_crops(records.select(chosen), config)
