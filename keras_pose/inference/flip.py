"""Flip test: mirror heatmaps back, shift them one pixel, fuse (TF ops).

The flip test runs the network on the horizontally mirrored crop too. Its
heatmaps are mirrored back along the width, the left/right channels of each
flip pair are swapped, and (the reference's ``SHIFT_HEATMAP``) the result is
moved one pixel to the right: column j takes column j - 1 and column 0 keeps
its own value (the reference copies ``[..., 1:] = [..., :-1]`` and leaves
column 0 alone). The shift compensates the half-pixel misalignment of a
mirrored crop and is worth about +2 AP in the reference; it is on by default
(``test.shift_heatmap``). The fused heatmaps are the mean of the two.

Channels last, as the Keras model outputs them. Shapes: N crops, H x W
heatmap, K keypoints.
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from keras_pose.configs.keypoints import flip_permutation


def flip_back(heatmaps: tf.Tensor, flip_pairs: Sequence[Sequence[int]],
              shift: bool = False) -> tf.Tensor:
    """Mirrors the heatmaps of mirrored crops back to the crops' orientation.

    Args:
      heatmaps: (N, H, W, K) heatmaps predicted for mirrored crops; K static.
      flip_pairs: left/right keypoint pairs (0-based), a Python constant.
      shift: also apply the reference's one-pixel shift to the right.

    Returns:
      (N, H, W, K) heatmaps aligned with the unmirrored crops.
    """
    heatmaps = tf.convert_to_tensor(heatmaps)
    if heatmaps.shape.rank != 4 or heatmaps.shape[-1] is None:
        raise ValueError(f"heatmaps must be (N, H, W, K) with a static K, got {heatmaps.shape}")
    perm = flip_permutation(int(heatmaps.shape[-1]), flip_pairs)
    out = tf.gather(tf.reverse(heatmaps, axis=[2]), perm, axis=3)
    if shift:
        out = tf.concat([out[:, :, :1], out[:, :, :-1]], axis=2)
    return out


def fuse_flip(heatmaps: tf.Tensor, flipped_heatmaps: tf.Tensor,
              flip_pairs: Sequence[Sequence[int]], shift: bool = True) -> tf.Tensor:
    """Averages the heatmaps of the crops with those of the mirrored crops.

    Args:
      heatmaps: (N, H, W, K) heatmaps of the crops.
      flipped_heatmaps: (N, H, W, K) heatmaps of the mirrored crops, as the
        network returned them (not yet mirrored back).
      flip_pairs: left/right keypoint pairs (0-based).
      shift: the reference's one-pixel shift of the mirrored-back heatmaps.

    Returns:
      (N, H, W, K) fused heatmaps, in the dtype of ``heatmaps``.
    """
    heatmaps = tf.convert_to_tensor(heatmaps)
    back = flip_back(tf.cast(flipped_heatmaps, heatmaps.dtype), flip_pairs, shift=shift)
    return (heatmaps + back) * tf.constant(0.5, heatmaps.dtype)
