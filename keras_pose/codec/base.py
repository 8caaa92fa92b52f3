"""The heatmap codec interface: targets from joints, joints from heatmaps.

A codec owns the heatmap geometry (input size, heatmap size, sigma) and the
two directions between joints and heatmaps:

- :meth:`HeatmapCodec.encode` (NumPy, inside ``tf.data``): the training
  targets of one person or, vectorised, of all the people of an image;
- :meth:`HeatmapCodec.decode_tf` (TF ops, inside the inference graph):
  each keypoint's heatmap position and score;
- :meth:`HeatmapCodec.to_image_tf` (shared): heatmap pixels back to image
  pixels through the inverse of the rotation-free crop.

The variants (``msra``: the official code's; ``dark``: Zhang et al.'s
distribution-aware targets and decoding) differ only in ``encode`` and in
the refinement of the argmax; :func:`keras_pose.codec.build_codec` picks one
from the config, so training, evaluation, the ``Predictor`` and every
exported signature use the same one.

Shapes: N people, K keypoints, H x W heatmap (input / 4), channels last.
"""

from __future__ import annotations

import abc
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from keras_pose.configs.base import PIXEL_STD


class HeatmapCodec(abc.ABC):
    """Encodes joints as Gaussian heatmaps and decodes heatmaps to joints.

    Args:
      input_size: network input (width, height) in pixels.
      heatmap_size: heatmap (width, height).
      sigma: Gaussian sigma in heatmap pixels.
      refine: refine the argmax to sub-pixel positions (each variant's own
        refinement); False gives the plain argmax.
    """

    name = ""

    def __init__(self, input_size: Sequence[int], heatmap_size: Sequence[int],
                 sigma: float, refine: bool = True):
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        if min(self.input_size + self.heatmap_size) <= 0:
            raise ValueError(f"sizes must be positive, got input {input_size} "
                             f"and heatmap {heatmap_size}")
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma = float(sigma)
        self.refine = bool(refine)

    @property
    def stride(self) -> tuple[float, float]:
        """Input pixels per heatmap pixel, (x, y)."""
        return (self.input_size[0] / self.heatmap_size[0],
                self.input_size[1] / self.heatmap_size[1])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(input_size={self.input_size}, "
                f"heatmap_size={self.heatmap_size}, sigma={self.sigma}, "
                f"refine={self.refine})")

    def encode(self, joints: np.ndarray, visibility: np.ndarray,
               out: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
        """The training targets of one person, or of N people at once.

        Args:
          joints: (K, 2) or (N, K, 2) joint positions in input-crop pixels
            (computed in float64, as the reference's Python floats).
          visibility: (K,) or (N, K) target weights before the in-map check.
          out: a C-contiguous (N, H, W, K) float32 array to write the maps
            into (the training pipeline's aligned output), or None.

        Returns:
          heatmaps (H, W, K) or (N, H, W, K) float32 (``out`` when given)
          and target_weight (K,) or (N, K) float32.
        """
        joints = np.asarray(joints, np.float64)
        single = joints.ndim == 2
        joints = joints.reshape(-1, joints.shape[-2], 2)
        n, k = joints.shape[:2]
        weight = np.array(visibility, np.float32).reshape(n, k)
        width, height = self.heatmap_size
        if out is None:
            heatmaps = np.zeros((n, height, width, k), np.float32)
        else:
            if (out.shape != (n, height, width, k) or out.dtype != np.float32
                    or not out.flags.c_contiguous):
                raise ValueError(f"out must be a C-contiguous {(n, height, width, k)} "
                                 f"float32 array")
            heatmaps = out
            heatmaps.fill(0)
        self._encode(joints, weight, heatmaps)
        return (heatmaps[0], weight[0]) if single else (heatmaps, weight)

    @abc.abstractmethod
    def _encode(self, joints: np.ndarray, weight: np.ndarray, heatmaps: np.ndarray) -> None:
        """Writes the targets of N people: ``joints`` (N, K, 2) float64,
        ``weight`` (N, K) float32 (updated in place by the in-map check),
        into ``heatmaps`` (N, H, W, K) float32 zeros."""

    @abc.abstractmethod
    def decode_tf(self, heatmaps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Keypoints of heatmaps, in TF ops.

        Args:
          heatmaps: (N, H, W, K) with a static K.

        Returns:
          coords (N, K, 2) float32 in heatmap pixels (x, y), scores (N, K)
          float32 (the heatmap maxima). :meth:`to_image_tf` maps the
          coordinates to the image.
        """

    def to_image_tf(self, coords: tf.Tensor, center: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
        """Heatmap pixels to image pixels: the inverse of the rotation-free
        crop built for the heatmap size (the reference's
        ``transform_preds``, closed form; its float32
        ``cv2.getAffineTransform`` differs by < 1e-5 relative). Only
        ``scale[0]`` is used, as in the reference.

        Args:
          coords: (N, K, 2) heatmap pixels.
          center: (N, 2) person centres, image pixels.
          scale: (N, 2) person scales, units of 200 px.

        Returns:
          (N, K, 2) float32 image pixels.
        """
        w, h = (float(v) for v in self.heatmap_size)
        center = tf.cast(center, tf.float32)[:, None, :]
        factor = tf.cast(scale, tf.float32)[:, None, :1] * (PIXEL_STD / w)
        half = tf.constant([w * 0.5, h * 0.5], tf.float32)
        return center + (tf.cast(coords, tf.float32) - half) * factor


class HeatmapArgmax:
    """The per-keypoint maximum of heatmaps, shared by every decoder.

    The reference's ``get_max_preds``: the first maximum of the flattened
    map (row-major); score = the maximum; position (0, 0) when the maximum
    is <= 0 (the score is kept). :meth:`at` reads any map of the same shape
    at integer offsets from the maximum (clamped to the map), for the
    refinements.

    Attributes:
      flat: (N, H*W, K) the heatmaps flattened (reductions over axis 1 give
        the same first maximum as over the reference's (N, K, H*W), without
        a transpose, which made decoding 6x slower on CPU).
      ix, iy: (N, K) int32 the maximum's column and row.
      scores: (N, K) float32 the maximum.
      width, height: the map's size (scalar int32 tensors).
    """

    def __init__(self, heatmaps: tf.Tensor):
        heatmaps = tf.cast(heatmaps, tf.float32)
        shape = tf.shape(heatmaps)
        n, self.height, self.width, k = shape[0], shape[1], shape[2], shape[3]
        self.flat = tf.reshape(heatmaps, tf.stack([n, self.height * self.width, k]))
        index = tf.argmax(self.flat, axis=1, output_type=tf.int32)
        self.scores = tf.reduce_max(self.flat, axis=1)
        found = tf.cast(self.scores > 0, tf.int32)
        self.ix = (index % self.width) * found
        self.iy = (index // self.width) * found
        people = tf.broadcast_to(tf.range(n)[:, None], tf.shape(index))
        joints = tf.broadcast_to(tf.range(k)[None, :], tf.shape(index))
        self._people_joints = (people, joints)

    def coords(self) -> tf.Tensor:
        """(N, K, 2) float32 integer positions (x, y)."""
        return tf.cast(tf.stack([self.ix, self.iy], axis=-1), tf.float32)

    def inside(self, far: int) -> tf.Tensor:
        """(N, K) bool: ``1 < x < W - far`` and ``1 < y < H - far``, the
        refinements' rule for a maximum whose neighbours they read (the
        quarter offset: far = 1; DARK's second differences: far = 2)."""
        return ((self.ix > 1) & (self.ix < self.width - far)
                & (self.iy > 1) & (self.iy < self.height - far))

    def at(self, flat: tf.Tensor, dx: int, dy: int) -> tf.Tensor:
        """(N, K) values of ``flat`` (N, H*W, K) at the maximum + (dx, dy),
        positions clamped to the map (callers mask what falls outside)."""
        x = tf.clip_by_value(self.ix + dx, 0, self.width - 1)
        y = tf.clip_by_value(self.iy + dy, 0, self.height - 1)
        people, joints = self._people_joints
        return tf.gather_nd(flat, tf.stack([people, y * self.width + x, joints], axis=-1))
