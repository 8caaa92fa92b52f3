"""Train-time accuracy: the reference's PCK on heatmaps.

Argmax of the prediction against argmax of the target, per joint; distances
normalised by (H/10, W/10) — applied to (x, y) in that order, a quirk of the
reference kept here — correct below 0.5; only joints whose target peak has
x > 1 and y > 1 count. A batch's accuracy is the mean over its joints that
had any such case; the epoch's, as the reference's ``AverageMeter``, the
batches' accuracies weighted by those joints' counts.
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

    Per step, the reference's ``accuracy()`` of the global batch (the
    per-joint counts of :func:`heatmap_accuracy_counts` summed over the
    replicas first): its mean over the joints with a counted case, ``avg``,
    and their number, ``cnt``. The result is ``sum(avg * cnt) / sum(cnt)``
    over the epoch's steps, the reference's ``acc.update(avg_acc, cnt)``.
    Was: the per-joint counts pooled over the whole epoch, another average
    (0.8869 against the reference's 0.8890 over three batches).
    """

    def __init__(self, num_keypoints: int, name: str = "acc", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_keypoints = num_keypoints
        # sum(avg * cnt) and sum(cnt) of the reference's AverageMeter.
        self.weighted = self.add_variable(shape=(), initializer="zeros", name="weighted",
                                          aggregation="sum")
        self.joints = self.add_variable(shape=(), initializer="zeros", name="joints",
                                        aggregation="sum")

    def update_state(self, target: tf.Tensor, pred: tf.Tensor, sample_weight=None) -> None:
        correct, counted = heatmap_accuracy_counts(pred, target)
        share = 1.0
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # The reference scores the whole batch at once. Every replica
            # then adds the same numbers, which the variables sum.
            correct, counted = context.all_reduce("sum", [correct, counted])
            share = 1.0 / context.num_replicas_in_sync
        used = counted > 0
        per_joint = tf.where(used, tf.math.divide_no_nan(correct, counted), 0.0)
        self.weighted.assign_add(tf.reduce_sum(per_joint) * share)  # avg * cnt
        self.joints.assign_add(tf.reduce_sum(tf.cast(used, tf.float32)) * share)

    def result(self) -> tf.Tensor:
        return tf.math.divide_no_nan(self.weighted, self.joints)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_keypoints": self.num_keypoints}
