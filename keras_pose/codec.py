"""Heatmap geometry: Gaussian targets (encode) and keypoints from heatmaps (decode).

:class:`HeatmapCodec` is the one place that knows the input size, the
heatmap size and sigma: the training pipeline encodes its targets with
:meth:`HeatmapCodec.encode` (NumPy, inside ``tf.data``), and the one
inference path (``keras_pose.inference``: evaluation, prediction, the
exported SavedModel) decodes with :meth:`HeatmapCodec.decode_tf` and
:meth:`HeatmapCodec.to_image_tf` inside its graph.

Shapes: N people, K keypoints, H x W heatmap (input / 4), channels last.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from keras_pose.configs.base import PIXEL_STD


class HeatmapCodec:
    """Encodes joints as Gaussian heatmaps and decodes heatmaps to joints.

    Args:
      input_size: network input (width, height) in pixels.
      heatmap_size: heatmap (width, height).
      sigma: Gaussian sigma in heatmap pixels (2 for 256-class inputs, 3
        for 384-class inputs in the official experiments).
    """

    def __init__(self, input_size: Sequence[int], heatmap_size: Sequence[int],
                 sigma: float):
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        if min(self.input_size + self.heatmap_size) <= 0:
            raise ValueError(f"sizes must be positive, got input {input_size} "
                             f"and heatmap {heatmap_size}")
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma = float(sigma)

    @classmethod
    def from_model_config(cls, model_config) -> "HeatmapCodec":
        """The codec of a ``keras_pose.configs.ModelConfig``."""
        return cls(model_config.image_size, model_config.heatmap_size,
                   model_config.sigma)

    @property
    def stride(self) -> tuple[float, float]:
        """Input pixels per heatmap pixel, (x, y)."""
        return (self.input_size[0] / self.heatmap_size[0],
                self.input_size[1] / self.heatmap_size[1])

    def __repr__(self) -> str:
        return (f"HeatmapCodec(input_size={self.input_size}, "
                f"heatmap_size={self.heatmap_size}, sigma={self.sigma})")

    # -- encode -------------------------------------------------------------

    def _window(self):
        """The reference's Gaussian patch: size, centre offset and radius."""
        radius = self.sigma * 3
        size = 2 * radius + 1
        return radius, size, size // 2

    def _patch(self) -> np.ndarray:
        """The reference's float32 Gaussian patch with peak 1 at its centre."""
        if not hasattr(self, "_patch_cache"):
            _, size, center = self._window()
            x = np.arange(0, size, 1, np.float32)
            y = x[:, None]
            self._patch_cache = np.exp(-((x - center) ** 2 + (y - center) ** 2)
                                       / (2 * self.sigma ** 2))
        return self._patch_cache

    def encode(self, joints: np.ndarray, visibility: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """The reference's ``generate_target`` (gaussian).

        Per joint: mu = int(x / stride + 0.5) (Python ``int`` truncates toward
        zero); the window is [mu - 3 sigma, mu + 3 sigma + 1) (again
        truncated); when it lies wholly right of / below the map, or ends
        left of / above it, the weight becomes 0 and the map stays empty;
        otherwise a Gaussian with peak 1 at the window's centre is pasted,
        clipped to the map, if the weight is > 0.5. This keeps the
        reference's asymmetric edge cases: a joint just off the left/top
        edge can keep weight 1 with an empty or partial map.

        Args:
          joints: (K, 2) joint positions in input-crop pixels.
          visibility: (K,) target weights before the window check.

        Returns:
          heatmaps (H, W, K) float32 and target_weight (K,) float32.
        """
        joints = np.asarray(joints, dtype=np.float64)
        weight = np.asarray(visibility, dtype=np.float32).reshape(-1).copy()
        width, height = self.heatmap_size
        radius, _, _ = self._window()
        stride_x, stride_y = self.stride
        patch = self._patch()
        heatmaps = np.zeros((height, width, len(joints)), np.float32)
        for k, (x, y) in enumerate(joints):
            mu_x, mu_y = int(x / stride_x + 0.5), int(y / stride_y + 0.5)
            ul_x, ul_y = int(mu_x - radius), int(mu_y - radius)
            br_x, br_y = int(mu_x + radius + 1), int(mu_y + radius + 1)
            if ul_x >= width or ul_y >= height or br_x < 0 or br_y < 0:
                weight[k] = 0.0
                continue
            if weight[k] > 0.5:
                x0, x1 = max(0, ul_x), min(br_x, width)
                y0, y1 = max(0, ul_y), min(br_y, height)
                heatmaps[y0:y1, x0:x1, k] = patch[y0 - ul_y:y1 - ul_y, x0 - ul_x:x1 - ul_x]
        return heatmaps, weight

    # -- decode -------------------------------------------------------------

    def decode_tf(self, heatmaps: tf.Tensor, refine: bool = True
                  ) -> tuple[tf.Tensor, tf.Tensor]:
        """The reference's ``get_max_preds`` + quarter offset, in TF ops.

        Argmax over the flattened map (first maximum, row-major); score = the
        maximum; coordinates (0, 0) when the maximum is <= 0 (the score is
        kept). With ``refine``, peaks strictly inside the map (1 < px < W - 1,
        1 < py < H - 1) move a quarter pixel toward the higher neighbour.

        Args:
          heatmaps: (N, H, W, K).
          refine: apply the quarter-pixel refinement.

        Returns:
          coords (N, K, 2) float32 in heatmap pixels (x, y), scores (N, K)
          float32. :meth:`to_image_tf` maps the coordinates to the image.
        """
        heatmaps = tf.cast(heatmaps, tf.float32)
        shape = tf.shape(heatmaps)
        n, h, w, k = shape[0], shape[1], shape[2], shape[3]
        # (N, H*W, K) and reductions over axis 1: the same first-maximum
        # argmax as over the reference's (N, K, H*W), without the transpose,
        # which made decoding 6x slower on CPU.
        flat = tf.reshape(heatmaps, tf.stack([n, h * w, k]))
        index = tf.argmax(flat, axis=1, output_type=tf.int32)
        scores = tf.reduce_max(flat, axis=1)
        found = tf.cast(scores > 0, tf.int32)
        ix, iy = (index % w) * found, (index // w) * found
        px, py = tf.cast(ix, tf.float32), tf.cast(iy, tf.float32)
        if refine:
            inside = (ix > 1) & (ix < w - 1) & (iy > 1) & (iy < h - 1)
            cx = tf.clip_by_value(ix, 1, tf.maximum(w - 2, 1))
            cy = tf.clip_by_value(iy, 1, tf.maximum(h - 2, 1))
            people = tf.broadcast_to(tf.range(n)[:, None], tf.shape(index))
            joints = tf.broadcast_to(tf.range(k)[None, :], tf.shape(index))

            def at(yy, xx):
                return tf.gather_nd(flat, tf.stack([people, yy * w + xx, joints], axis=-1))

            zero = tf.zeros_like(px)
            px += tf.where(inside, tf.sign(at(cy, cx + 1) - at(cy, cx - 1)) * 0.25, zero)
            py += tf.where(inside, tf.sign(at(cy + 1, cx) - at(cy - 1, cx)) * 0.25, zero)
        return tf.stack([px, py], axis=-1), scores

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
