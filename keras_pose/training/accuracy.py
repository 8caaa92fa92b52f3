"""Train-time accuracy: the reference's PCK on heatmaps.

Argmax of the prediction against argmax of the target, per joint; distances
normalised by (H/10, W/10) — applied to (x, y) in that order, a quirk of the
reference kept here — correct below 0.5; only joints whose target peak has
x > 1 and y > 1 count. The average is over joints that had any such case.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def _argmax_xy(heatmaps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(B, H, W, K) -> x, y (B, K) of the argmax; (0, 0) when max <= 0."""
    shape = tf.shape(heatmaps)
    w = shape[2]
    flat = tf.reshape(tf.transpose(heatmaps, (0, 3, 1, 2)), tf.stack([shape[0], shape[3], -1]))
    index = tf.argmax(flat, axis=2, output_type=tf.int32)
    found = tf.cast(tf.reduce_max(flat, axis=2) > 0, tf.float32)
    return tf.cast(index % w, tf.float32) * found, tf.cast(index // w, tf.float32) * found


def heatmap_accuracy_counts(pred: tf.Tensor, target: tf.Tensor,
                            threshold: float = 0.5) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-joint (correct, counted) over a batch, summable across replicas.

    Args:
      pred, target: (B, H, W, K) heatmaps.

    Returns:
      correct (K,) and counted (K,) float32.
    """
    pred = tf.cast(pred, tf.float32)
    target = tf.cast(target, tf.float32)
    h = tf.cast(tf.shape(pred)[1], tf.float32)
    w = tf.cast(tf.shape(pred)[2], tf.float32)
    px, py = _argmax_xy(pred)
    tx, ty = _argmax_xy(target)
    valid = tf.cast((tx > 1) & (ty > 1), tf.float32)
    dist = tf.sqrt(tf.square((px - tx) / (h / 10)) + tf.square((py - ty) / (w / 10)))
    correct = tf.cast(dist < threshold, tf.float32) * valid
    return tf.reduce_sum(correct, axis=0), tf.reduce_sum(valid, axis=0)


class HeatmapAccuracy(keras.metrics.Metric):
    """The reference's train-time accuracy as a Keras metric.

    Sums the per-joint counts of :func:`heatmap_accuracy_counts` over the
    epoch (and over replicas: the variables aggregate by sum); the result is
    the mean accuracy of the joints that had any counted case.
    """

    def __init__(self, num_keypoints: int, name: str = "acc", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_keypoints = num_keypoints
        self.correct = self.add_variable(shape=(num_keypoints,), initializer="zeros",
                                         name="correct", aggregation="sum")
        self.counted = self.add_variable(shape=(num_keypoints,), initializer="zeros",
                                         name="counted", aggregation="sum")

    def update_state(self, target: tf.Tensor, pred: tf.Tensor, sample_weight=None) -> None:
        correct, counted = heatmap_accuracy_counts(pred, target)
        self.correct.assign_add(correct)
        self.counted.assign_add(counted)

    def result(self) -> tf.Tensor:
        used = self.counted > 0
        ratio = tf.math.divide_no_nan(self.correct, self.counted)
        return tf.math.divide_no_nan(tf.reduce_sum(tf.where(used, ratio, 0.0)),
                                     tf.reduce_sum(tf.cast(used, tf.float32)))

    def get_config(self) -> dict:
        return {**super().get_config(), "num_keypoints": self.num_keypoints}
