"""The reference's JointsMSELoss, per example for distribution strategies.

Shapes: B crops, H x W heatmaps, K keypoints (channels last).
"""

from __future__ import annotations

import tensorflow as tf


def joints_mse_per_example(pred: tf.Tensor, target: tf.Tensor, target_weight: tf.Tensor,
                           use_target_weight: bool = True) -> tf.Tensor:
    """0.5 * mean over (H, W, K) of (w * (pred - target))^2, per crop.

    The reference averages MSE over pixels per joint, then over joints and
    the batch, with a 0.5 factor; the mean over the batch of these per-crop
    values is exactly that loss.

    Args:
      pred: (B, H, W, K) predicted heatmaps.
      target: (B, H, W, K) target heatmaps.
      target_weight: (B, K) per-joint weights.
      use_target_weight: multiply both heatmaps by the weights first.

    Returns:
      (B,) float32 losses.
    """
    pred = tf.cast(pred, tf.float32)
    target = tf.cast(target, tf.float32)
    diff = pred - target
    if use_target_weight:
        diff = diff * tf.cast(target_weight, tf.float32)[:, None, None, :]
    return 0.5 * tf.reduce_mean(tf.square(diff), axis=[1, 2, 3])


def joints_mse_loss(pred: tf.Tensor, target: tf.Tensor, target_weight: tf.Tensor,
                    global_batch_size: int | None = None,
                    use_target_weight: bool = True) -> tf.Tensor:
    """The scalar JointsMSELoss.

    With ``global_batch_size`` (inside a replica of a distribution strategy)
    the per-example losses are summed and divided by the global batch, so
    that summing the replicas' values (and gradients) gives the mean over
    the global batch whatever the number of replicas.
    """
    per_example = joints_mse_per_example(pred, target, target_weight, use_target_weight)
    if global_batch_size is None:
        return tf.reduce_mean(per_example)
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
