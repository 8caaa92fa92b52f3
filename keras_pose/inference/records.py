"""The inference path over person records (evaluation and validation).

Crops come from ``keras_pose.data.pipeline.build_eval_dataset`` (each image
decoded once for all its people, the one crop op); the estimator's
``keypoints_from_crops`` runs in one compiled function per batch; only
keypoints and scores come back to the host.

Shapes: N people (records), K keypoints.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import tensorflow as tf

from keras_pose.data.images import find_unreadable_images, unreadable_images_error
from keras_pose.data.pipeline import build_eval_dataset
from keras_pose.inference.estimator import TopDownEstimator
from keras_pose.signals import defer_interrupts, raise_lost_stop


@dataclasses.dataclass(frozen=True)
class Predictions:
    """Decoded predictions, one row per record (records order).

    Attributes:
      keypoints: (N, K, 2) float32 joints in original-image pixels (0-based).
      keypoint_scores: (N, K) float32 heatmap maxima.
      scores: (N,) float32 person scores (box score x mean confident
        keypoint score).
    """

    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])


# What reading or decoding an image raises in tf.data: a missing file, a
# folder (FailedPrecondition), no read permission (PermissionDenied, was a
# traceback), a failed read (Unknown, DataLoss) or bytes no decoder takes.
# Only a failure :func:`find_unreadable_images` then confirms is reported so.
_IMAGE_ERRORS = (tf.errors.InvalidArgumentError, tf.errors.NotFoundError,
                 tf.errors.PermissionDeniedError, tf.errors.FailedPreconditionError,
                 tf.errors.UnknownError, tf.errors.DataLossError)


def _batches(dataset: tf.data.Dataset, total: int, progress: bool):
    if not progress:
        return dataset
    from tqdm import tqdm  # Only for the command line.
    return tqdm(dataset, total=total, desc="evaluating", unit="batch", dynamic_ncols=True)


def predict_records(estimator: TopDownEstimator, records: Any, *, batch_size: int = 32,
                    progress: bool = False) -> Predictions:
    """Runs the inference path on every person of ``records``.

    Args:
      estimator: the model's inference path (flip test decided there).
      records: ``PersonRecords`` (``image_path``, ``center``, ``scale``,
        ``score``).
      batch_size: people per network batch (doubled by the flip test).
      progress: show a progress bar.

    Returns:
      :class:`Predictions` in record order.

    Raises:
      ImageReadError: naming the images that cannot be read or decoded
        (evaluation never runs on fewer people than asked).
    """
    n, k = len(records), estimator.num_keypoints
    out = Predictions(np.zeros((n, k, 2), np.float32), np.zeros((n, k), np.float32),
                      np.zeros((n,), np.float32))
    if n == 0:
        return out
    config = estimator.config
    dataset = build_eval_dataset(records, image_size=config.model.image_size,
                                 batch_size=batch_size,
                                 num_parallel_calls=config.data.num_parallel_calls)
    run = estimator.compiled_keypoints_from_crops
    seen = np.zeros(n, np.int64)
    try:
        for batch in _batches(dataset, math.ceil(n / batch_size), progress):
            raise_lost_stop()
            with defer_interrupts():  # Not inside TF's tracing (see Predictor.predict).
                result = run(batch["image"], batch["center"], batch["scale"], batch["score"])
            index = batch["index"].numpy()
            out.keypoints[index] = result["keypoints"].numpy()
            out.keypoint_scores[index] = result["keypoint_scores"].numpy()
            out.scores[index] = result["scores"].numpy()
            np.add.at(seen, index, 1)
    except _IMAGE_ERRORS as e:
        bad = find_unreadable_images(records.image_path)
        if not bad:
            raise
        # The first one's reason (an animated WebP's was "cannot be read").
        raise unreadable_images_error(bad, "the evaluation images") from e
    if not np.all(seen == 1):
        raise RuntimeError(f"the evaluation crops covered {int(np.sum(seen > 0))} of {n} "
                           "people")  # A pipeline bug, not a user error.
    return out
