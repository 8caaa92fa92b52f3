"""Runs a pose model over an evaluation dataset: flip test, then decoding.

The network (a Keras model or any callable mapping normalised crops to
heatmaps, such as an exported SavedModel's ``heatmaps`` signature) runs
inside one ``tf.function``: with the flip test on, the crops and their
mirrors go through the network as one doubled batch, and the mirrored
heatmaps are flipped back, shifted one pixel (``shift_heatmap``) and
averaged in TF (:func:`keras_pose.evaluation.flip.fuse_flip_tf`), exactly
as the reference's ``validate``. The fused heatmaps are decoded on the host
with the shared ``HeatmapCodec.decode`` (argmax, quarter-pixel refinement,
inverse affine back to the original image), vectorised over the batch.

Shapes: N people (records), B batch, h x w crop, H x W heatmap, K keypoints.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Optional, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from keras_pose.data import iteration
from keras_pose.evaluation.flip import fuse_flip_tf

ModelFn = Callable[[tf.Tensor], tf.Tensor]


@dataclasses.dataclass(frozen=True)
class Predictions:
    """Decoded predictions, one row per record (records order).

    Attributes:
      coords: (N, K, 2) float32 joints in original-image pixels (0-based).
      scores: (N, K) float32 heatmap maxima.
    """

    coords: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.coords.shape[0])


def make_heatmap_fn(model_fn: ModelFn, *, flip: bool,
                    flip_pairs: Sequence[Sequence[int]] = (),
                    shift_heatmap: bool = True) -> Callable[[tf.Tensor], tf.Tensor]:
    """Wraps a network into a compiled function crops -> (fused) heatmaps.

    Args:
      model_fn: (B, h, w, 3) float32 normalised crops -> (B, H, W, K).
      flip: run the mirrored crops too and average (the flip test).
      flip_pairs: left/right keypoint pairs for flipping back.
      shift_heatmap: the reference's one-pixel shift of the flipped-back maps.

    Returns:
      A ``tf.function`` (B, h, w, 3) -> (B, H, W, K) float32.
    """
    pairs = tuple(tuple(int(i) for i in p) for p in flip_pairs)

    @tf.function(reduce_retracing=True)
    def heatmaps_of(images: tf.Tensor) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        if not flip:
            return tf.cast(model_fn(images), tf.float32)
        batch = tf.shape(images)[0]
        both = tf.cast(model_fn(tf.concat([images, tf.reverse(images, [2])], 0)),
                       tf.float32)
        return fuse_flip_tf(both[:batch], both[batch:], pairs, shift=shift_heatmap)

    return heatmaps_of


def keras_model_fn(model: Any) -> ModelFn:
    """Inference call of a Keras model (BatchNorm in inference mode)."""
    return lambda images: model(images, training=False)


def _progress(iterable, total: int, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm import tqdm  # Only for the command line.
    return tqdm(iterable, total=total, desc=desc, unit="batch", dynamic_ncols=True)


def predict_dataset(heatmap_fn: Callable[[tf.Tensor], tf.Tensor],
                    dataset: tf.data.Dataset, num_records: int, codec: Any,
                    *, refine: bool = True, batch_size: Optional[int] = None,
                    progress: bool = False,
                    expected_keypoints: Optional[int] = None) -> Predictions:
    """Runs ``heatmap_fn`` over an evaluation dataset and decodes every person.

    Args:
      heatmap_fn: crops -> heatmaps (see :func:`make_heatmap_fn`).
      dataset: batches of dicts with ``image`` (B, h, w, 3), ``center``
        (B, 2), ``scale`` (B, 2) and ``index`` (B,) (the record row), as
        ``keras_pose.data.pipeline.build_eval_dataset`` yields.
      num_records: N, the number of records the dataset covers.
      codec: a ``keras_pose.codec.HeatmapCodec`` (its ``decode``).
      refine: quarter-pixel refinement.
      batch_size: only for the progress bar's total.
      progress: show a tqdm progress bar.
      expected_keypoints: K the caller expects; a model with another K is an
        error.

    Returns:
      :class:`Predictions` in record order.

    Raises:
      ValueError: when the model's K differs from ``expected_keypoints`` or
        the dataset does not cover every record exactly once.
    """
    coords: Optional[np.ndarray] = None
    scores: Optional[np.ndarray] = None
    seen = np.zeros(num_records, np.int64)
    total = math.ceil(num_records / batch_size) if batch_size else None
    for batch in _progress(iteration.iterate(dataset), total, progress, "evaluating"):
        heatmaps = heatmap_fn(batch["image"]).numpy()
        num_keypoints = heatmaps.shape[-1]
        if expected_keypoints is not None and num_keypoints != expected_keypoints:
            raise ValueError(
                f"the model predicts {num_keypoints} keypoints but the data set "
                f"has {expected_keypoints}: wrong checkpoint for this data set?")
        if coords is None:
            coords = np.zeros((num_records, num_keypoints, 2), np.float32)
            scores = np.zeros((num_records, num_keypoints), np.float32)
        index = np.asarray(batch["index"]).astype(np.int64)
        batch_coords, batch_scores = codec.decode(
            heatmaps, np.asarray(batch["center"]), np.asarray(batch["scale"]),
            refine=refine)
        coords[index] = np.asarray(batch_coords, np.float32).reshape(len(index), num_keypoints, 2)
        scores[index] = np.asarray(batch_scores, np.float32).reshape(len(index), num_keypoints)
        np.add.at(seen, index, 1)
    if coords is None:
        if num_records:
            raise ValueError("the evaluation dataset yielded no batches")
        k = expected_keypoints or 0
        return Predictions(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32))
    if not np.all(seen == 1):
        missing = int(np.sum(seen == 0))
        raise ValueError(
            f"the evaluation dataset covered {int(np.sum(seen > 0))} of "
            f"{num_records} records ({missing} missing, "
            f"{int(np.sum(seen > 1))} repeated)")
    logging.info("Predicted %d people.", num_records)
    return Predictions(coords, scores)
