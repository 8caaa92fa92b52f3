"""The one top-down inference path: boxes -> crops -> network -> flip -> decode -> rescore.

Evaluation, the Python ``Predictor``, the video tracker and every signature
of the exported SavedModel run :class:`TopDownEstimator`; nothing else
crops, fuses flipped heatmaps, decodes or rescores. Every step is a TF op,
so the whole path runs inside one graph (a ``tf.function`` or a SavedModel)
and only keypoints leave it:

1. boxes [x, y, w, h] -> the reference's center/scale (aspect ratio fixed,
   x1.25); evaluation records arrive with center/scale already computed by
   the readers (the reference's cleaning and MPII adjustments);
2. the rotation-free affine crop (``transforms.crop_images_tf``, which
   reads only the crops' pixels), normalised in the checkpoint's colour
   order;
3. the network, on the crops and (flip test) their mirrors in one batch;
   mirrored heatmaps flipped back, shifted one pixel, averaged;
4. argmax + sub-pixel refinement in heatmap space, then the inverse crop to
   image pixels (the config's codec, ``keras_pose.codec``: msra or DARK);
5. the reference's person score: box score x the mean of the keypoint
   scores above ``test.in_vis_threshold`` (0 when none is).

Shapes: N images, M people (boxes), h x w crop, H x W heatmap, K keypoints.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import tensorflow as tf

from keras_pose.codec import build_codec
from keras_pose.configs import ExperimentConfig
from keras_pose.data import transforms
from keras_pose.data.images import ImageArrayError
from keras_pose.inference.flip import fuse_flip

Network = Callable[[tf.Tensor], tf.Tensor]


def person_scores(keypoint_scores: tf.Tensor, box_scores: tf.Tensor,
                  threshold: float) -> tf.Tensor:
    """The reference's rescoring (``lib/dataset/coco.py``, ``evaluate``).

    Args:
      keypoint_scores: (M, K) heatmap maxima.
      box_scores: (M,) detection scores (1 for ground-truth boxes).
      threshold: only keypoint scores strictly above it are averaged.

    Returns:
      (M,) float32 box score x mean confident keypoint score (0 if none).
    """
    keypoint_scores = tf.cast(keypoint_scores, tf.float32)
    confident = tf.cast(keypoint_scores > threshold, tf.float32)
    mean = tf.math.divide_no_nan(tf.reduce_sum(keypoint_scores * confident, -1),
                                 tf.reduce_sum(confident, -1))
    return tf.cast(box_scores, tf.float32) * mean


def check_flip(flip: Any) -> Optional[bool]:
    """``flip`` (True, False, NumPy's bools, or None: the config's) as a bool
    or None; a ValueError for anything else ("no" or "false" was True)."""
    if flip is not None and not isinstance(flip, (bool, np.bool_)):
        raise ValueError(f"flip must be True, False or None, got {flip!r}")
    return None if flip is None else bool(flip)


def _check_box_scores(box_scores: Any, center: Any) -> None:
    """A ValueError naming ``box_scores`` when its static shape is not (M,)
    for the M people of ``center`` (M, 2): 3 scores for 1 person, or 1
    score for 3, were broadcast into the person scores in silence."""
    center, shape = (tf.TensorShape(v.shape if hasattr(v, "shape") else np.shape(v))
                     for v in (center, box_scores))
    people = center[:1]
    if not shape.is_compatible_with(people):
        raise ValueError(f"box_scores: one score per person expected, shape {people}; got "
                         f"shape {shape}")


class TopDownEstimator:
    """Keypoints of people given their boxes, entirely in TF ops.

    Args:
      network: normalised crops (B, h, w, 3) float32 -> heatmaps
        (B, H, W, K); a Keras model, a SavedModel signature, a fused model.
      config: the checkpoint's experiment: ``model`` (sizes, normalisation),
        ``data`` (flip pairs, box padding) and ``test`` (shift, refinement,
        rescoring threshold).
      flip: the flip test (a bool, else ValueError); None:
        ``config.test.flip_test``.
    """

    def __init__(self, network: Network, config: ExperimentConfig, flip: bool | None = None):
        self.network = network
        self.config = config
        flip = check_flip(flip)
        self.flip = config.test.flip_test if flip is None else flip
        self.codec = build_codec(config.model, config.test)
        self.num_keypoints = int(config.model.num_keypoints)
        self._compiled = None

    @property
    def compiled_keypoints_from_crops(self):
        """:meth:`keypoints_from_crops` as one ``tf.function``, traced once
        per estimator (validation after validation reuses it)."""
        if self._compiled is None:
            self._compiled = tf.function(self.keypoints_from_crops, reduce_retracing=True)
        return self._compiled

    def centers_and_scales(self, boxes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(M, 4) [x, y, w, h] boxes -> center (M, 2), scale (M, 2)."""
        return transforms.box_to_center_scale_tf(
            boxes, self.config.model.aspect_ratio, self.config.data.box_padding)

    def crops(self, images: tf.Tensor, image_index: tf.Tensor, center: tf.Tensor,
              scale: tf.Tensor) -> tf.Tensor:
        """The crops (M, h, w, 3) float32, in pixel values (not normalised).

        Args:
          images: (N, H_img, W_img, 3) RGB images (uint8 as decoded).
          image_index: (M,) the image of each person.
          center, scale: (M, 2) each.

        Raises:
          ImageArrayError: for images that are not uint8 (floats in 0..1
            gave keypoints far off, in silence).
        """
        images = images if hasattr(images, "dtype") else tf.convert_to_tensor(images)
        if tf.as_dtype(images.dtype) != tf.uint8:
            raise ImageArrayError(f"images must be uint8 RGB (0..255), got {images.dtype.name}; "
                                  "scale them to 0..255 and cast them, e.g. "
                                  "tf.cast(images * 255, tf.uint8)")
        size = self.config.model.image_size
        inverse = transforms.get_affine_transform_tf(center, scale, 0.0, size, inverse=True)
        return transforms.crop_images_tf(images, image_index, inverse, size)

    def network_heatmaps(self, images: tf.Tensor) -> tf.Tensor:
        """The network on normalised crops (B, h, w, 3) -> (B, H, W, K)
        float32. With no crop the network still sees one (zeros) and its
        output is dropped: a batch of zero images is an error in TF's CPU
        convolutions, and a ``tf.cond`` around the network would capture its
        variables twice in an exported graph."""
        count = tf.shape(images)[0]
        padding = tf.zeros(tf.concat([[tf.maximum(1 - count, 0)], tf.shape(images)[1:]], 0),
                           images.dtype)
        heatmaps = tf.cast(self.network(tf.concat([images, padding], 0)), tf.float32)[:count]
        width, height = self.config.model.heatmap_size
        heatmaps.set_shape([None, height, width, self.num_keypoints])
        return heatmaps

    def heatmaps(self, crops: tf.Tensor) -> tf.Tensor:
        """Heatmaps (M, H, W, K) float32 of pixel crops: normalised in the
        checkpoint's colour order, then the network, fused with the mirrored
        crops' heatmaps when flipping (one doubled batch)."""
        m = self.config.model
        images = transforms.normalize_image(crops, m.color_order, m.mean, m.std)
        if not self.flip:
            return self.network_heatmaps(images)
        count = tf.shape(images)[0]
        both = self.network_heatmaps(tf.concat([images, tf.reverse(images, [2])], 0))
        return fuse_flip(both[:count], both[count:], self.config.data.flip_pairs,
                         shift=self.config.test.shift_heatmap)

    def keypoints_from_crops(self, crops: tf.Tensor, center: tf.Tensor, scale: tf.Tensor,
                             box_scores: tf.Tensor) -> dict[str, tf.Tensor]:
        """Steps 3-5 on ready crops (evaluation crops them in ``tf.data``).

        Returns:
          ``keypoints`` (M, K, 2) image pixels, ``keypoint_scores`` (M, K),
          ``scores`` (M,), all float32.

        Raises:
          ValueError: ``box_scores`` not of shape (M,), when the shapes are
            known (always, outside a graph).
        """
        _check_box_scores(box_scores, center)
        heatmaps = self.heatmaps(crops)
        coords, scores = self.codec.decode_tf(heatmaps)
        return {"keypoints": self.codec.to_image_tf(coords, center, scale),
                "keypoint_scores": scores,
                "scores": person_scores(scores, box_scores, self.config.test.in_vis_threshold)}

    def __call__(self, images: tf.Tensor, image_index: tf.Tensor, center: tf.Tensor,
                 scale: tf.Tensor, box_scores: tf.Tensor) -> dict[str, tf.Tensor]:
        """The whole path from images and person boxes (as center/scale).

        Args:
          images: (N, H_img, W_img, 3) uint8 RGB.
          image_index: (M,) int, the image of each person.
          center, scale: (M, 2) the people's center and scale.
          box_scores: (M,) box scores (ones for given boxes).

        Returns:
          As :meth:`keypoints_from_crops`.
        """
        crops = self.crops(images, image_index, center, scale)
        return self.keypoints_from_crops(crops, center, scale, box_scores)
