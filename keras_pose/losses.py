"""The reference's JointsMSELoss, per example for distribution strategies.

The training step sums these per-crop losses and divides by the global
batch, so that the replicas' sum is the reference's batch mean.

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

