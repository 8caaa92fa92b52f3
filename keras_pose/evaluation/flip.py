"""Flip test: mirror heatmaps back, shift them one pixel, fuse.

The flip test runs the network on the horizontally mirrored crop too. Its
heatmaps are mirrored back along the width, the left/right channels of each
flip pair are swapped, and (the reference's ``SHIFT_HEATMAP``) the result is
moved one pixel to the right: column j takes column j - 1 and column 0 keeps
its own value (the reference copies ``[..., 1:] = [..., :-1]`` and leaves
column 0 alone). The shift compensates the half-pixel misalignment of a
mirrored crop and is worth about +2 AP in the reference; it is on by default
(``test.shift_heatmap``). The fused heatmaps are the mean of the two.

Layout here is channels-last, as the Keras model outputs it.
Shapes: N crops, H x W heatmap, K keypoints.

Two implementations with identical results: NumPy (:func:`flip_back`,
:func:`fuse_flip`) for the evaluation loop, and pure TF ops
(:func:`flip_back_tf`, :func:`fuse_flip_tf`) for graphs such as the exported
SavedModel.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from keras_pose.configs.keypoints import flip_permutation


def flip_back(heatmaps: np.ndarray, flip_pairs: Sequence[Sequence[int]],
              shift: bool = False) -> np.ndarray:
    """Mirrors heatmaps of a flipped crop back to the original orientation.

    Args:
      heatmaps: (N, H, W, K) heatmaps predicted for mirrored crops.
      flip_pairs: left/right keypoint pairs (0-based).
      shift: also apply the reference's one-pixel shift to the right.

    Returns:
      (N, H, W, K) heatmaps aligned with the unflipped crops (a new array).
    """
    heatmaps = np.asarray(heatmaps)
    if heatmaps.ndim != 4:
        raise ValueError(
            f"heatmaps must be (N, H, W, K), got shape {heatmaps.shape}")
    perm = flip_permutation(heatmaps.shape[-1], flip_pairs)
    out = heatmaps[:, :, ::-1, :][..., perm]
    if shift:
        out = shift_right(out)
    return np.ascontiguousarray(out)


def shift_right(heatmaps: np.ndarray) -> np.ndarray:
    """The reference's one-pixel shift: column j takes column j - 1 (j >= 1);
    column 0 keeps its own value.

    Args:
      heatmaps: (N, H, W, K).

    Returns:
      (N, H, W, K), a new array.
    """
    heatmaps = np.asarray(heatmaps)
    return np.concatenate([heatmaps[:, :, :1], heatmaps[:, :, :-1]], axis=2)


def fuse_flip(heatmaps: np.ndarray, flipped_heatmaps: np.ndarray,
              flip_pairs: Sequence[Sequence[int]],
              shift: bool = True) -> np.ndarray:
    """Averages the heatmaps of the crops with those of the mirrored crops.

    Args:
      heatmaps: (N, H, W, K) heatmaps of the crops.
      flipped_heatmaps: (N, H, W, K) heatmaps of the mirrored crops, as the
        network returned them (not yet mirrored back).
      flip_pairs: left/right keypoint pairs (0-based).
      shift: the reference's one-pixel shift of the mirrored-back heatmaps.

    Returns:
      (N, H, W, K) float32 fused heatmaps.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    flipped_heatmaps = np.asarray(flipped_heatmaps, dtype=np.float32)
    if heatmaps.shape != flipped_heatmaps.shape:
        raise ValueError(
            f"heatmaps {heatmaps.shape} and flipped heatmaps "
            f"{flipped_heatmaps.shape} must have the same shape")
    back = flip_back(flipped_heatmaps, flip_pairs, shift=shift)
    return (heatmaps + back) * np.float32(0.5)


def flip_back_tf(heatmaps: tf.Tensor, flip_pairs: Sequence[Sequence[int]],
                 shift: bool = False) -> tf.Tensor:
    """TF version of :func:`flip_back` (pure TF ops, graph-safe).

    Args:
      heatmaps: (N, H, W, K) tensor; K must be static.
      flip_pairs: left/right keypoint pairs (0-based), a Python constant.
      shift: also apply the one-pixel shift to the right.

    Returns:
      (N, H, W, K) tensor.
    """
    heatmaps = tf.convert_to_tensor(heatmaps)
    num_keypoints = heatmaps.shape[-1]
    if num_keypoints is None:
        raise ValueError("flip_back_tf needs a static number of keypoints")
    perm = flip_permutation(int(num_keypoints), flip_pairs)
    out = tf.gather(tf.reverse(heatmaps, axis=[2]), perm, axis=3)
    if shift:
        out = shift_right_tf(out)
    return out


def shift_right_tf(heatmaps: tf.Tensor) -> tf.Tensor:
    """TF version of :func:`shift_right`."""
    heatmaps = tf.convert_to_tensor(heatmaps)
    return tf.concat([heatmaps[:, :, :1], heatmaps[:, :, :-1]], axis=2)


def fuse_flip_tf(heatmaps: tf.Tensor, flipped_heatmaps: tf.Tensor,
                 flip_pairs: Sequence[Sequence[int]],
                 shift: bool = True) -> tf.Tensor:
    """TF version of :func:`fuse_flip` (pure TF ops, graph-safe).

    Args:
      heatmaps: (N, H, W, K) heatmaps of the crops.
      flipped_heatmaps: (N, H, W, K) heatmaps of the mirrored crops.
      flip_pairs: left/right keypoint pairs (0-based).
      shift: the reference's one-pixel shift.

    Returns:
      (N, H, W, K) fused heatmaps, in the dtype of ``heatmaps``.
    """
    heatmaps = tf.convert_to_tensor(heatmaps)
    flipped_heatmaps = tf.cast(flipped_heatmaps, heatmaps.dtype)
    back = flip_back_tf(flipped_heatmaps, flip_pairs, shift=shift)
    return (heatmaps + back) * tf.constant(0.5, heatmaps.dtype)


def flip_images_tf(images: tf.Tensor) -> tf.Tensor:
    """Mirrors a batch of crops (N, h, w, C) along the width, as the reference
    mirrors its normalised input tensor."""
    return tf.reverse(images, axis=[2])
