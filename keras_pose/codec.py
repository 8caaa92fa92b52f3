"""Heatmap geometry: Gaussian targets (encode) and keypoints from heatmaps (decode).

:class:`HeatmapCodec` is the one place that knows the input size, the
heatmap size and sigma; the training targets and every decoding path
(evaluation, prediction, the exported SavedModel) go through it.

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

    def encode_tf(self, joints: tf.Tensor, visibility: tf.Tensor
                  ) -> tuple[tf.Tensor, tf.Tensor]:
        """Pure-TF :meth:`encode` (same numbers), usable inside ``tf.data``.

        Args:
          joints: (K, 2) joint positions in input-crop pixels.
          visibility: (K,) target weights before the window check.

        Returns:
          heatmaps (H, W, K) float32 and target_weight (K,) float32.
        """
        joints = tf.cast(joints, tf.float64)
        weight = tf.reshape(tf.cast(visibility, tf.float32), [-1])
        width, height = self.heatmap_size
        radius, size, center = self._window()
        stride_x, stride_y = self.stride
        trunc = lambda v: tf.cast(tf.cast(v, tf.int64), tf.float64)  # noqa: E731
        mu_x = trunc(joints[:, 0] / stride_x + 0.5)
        mu_y = trunc(joints[:, 1] / stride_y + 0.5)
        ul_x, ul_y = trunc(mu_x - radius), trunc(mu_y - radius)
        br_x, br_y = trunc(mu_x + radius + 1), trunc(mu_y + radius + 1)
        outside = (ul_x >= width) | (ul_y >= height) | (br_x < 0) | (br_y < 0)
        weight = tf.where(outside, tf.zeros_like(weight), weight)
        num_g = float(np.ceil(size))
        xs = tf.range(width, dtype=tf.float64)[None, :]
        ys = tf.range(height, dtype=tf.float64)[None, :]
        jx = xs - ul_x[:, None]
        jy = ys - ul_y[:, None]
        in_x = ((xs >= tf.maximum(ul_x, 0.0)[:, None]) & (xs < tf.minimum(br_x, float(width))[:, None])
                & (jx >= 0) & (jx < num_g))
        in_y = ((ys >= tf.maximum(ul_y, 0.0)[:, None]) & (ys < tf.minimum(br_y, float(height))[:, None])
                & (jy >= 0) & (jy < num_g))
        dx = tf.cast(jx, tf.float32) - np.float32(center)
        dy = tf.cast(jy, tf.float32) - np.float32(center)
        g = tf.exp(-((dx[:, None, :] ** 2 + dy[:, :, None] ** 2)
                     / np.float32(2 * self.sigma ** 2)))
        mask = in_y[:, :, None] & in_x[:, None, :] & (weight > 0.5)[:, None, None]
        heatmaps = tf.where(mask, g, tf.zeros_like(g))
        return tf.transpose(heatmaps, (1, 2, 0)), weight

    # -- decode -------------------------------------------------------------

    def decode(self, heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray,
               refine: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The reference's ``get_final_preds``, vectorised.

        Argmax over the flattened map (first maximum, row-major); score = the
        maximum; coordinates (0, 0) when the maximum is <= 0 (the score is
        kept). With ``refine``, peaks strictly inside the map (1 < px < W - 1,
        1 < py < H - 1) move a quarter pixel toward the higher neighbour.
        Then back to the image with the inverse of the rotation-free crop
        built for the heatmap size (closed form; the reference's float32
        ``cv2.getAffineTransform`` differs by < 1e-5 relative).

        Args:
          heatmaps: (N, H, W, K).
          center: (N, 2) person centres in image pixels.
          scale: (N, 2) person scales (units of 200 px).
          refine: apply the quarter-pixel refinement.

        Returns:
          coords (N, K, 2) float32 in original-image pixels, scores (N, K)
          float32.
        """
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        n, h, w, k = heatmaps.shape
        flat = np.transpose(heatmaps, (0, 3, 1, 2)).reshape(n, k, h * w)
        index = np.argmax(flat, axis=2)
        scores = np.take_along_axis(flat, index[..., None], axis=2)[..., 0]
        px = (index % w).astype(np.float32)
        py = (index // w).astype(np.float32)
        found = scores > 0
        px, py = px * found, py * found
        if refine:
            ix, iy = px.astype(np.int64), py.astype(np.int64)
            inside = (ix > 1) & (ix < w - 1) & (iy > 1) & (iy < h - 1)
            cx, cy = np.clip(ix, 1, w - 2), np.clip(iy, 1, h - 2)
            hm = np.transpose(heatmaps, (0, 3, 1, 2))  # (N, K, H, W)
            nn, kk = np.meshgrid(np.arange(n), np.arange(k), indexing="ij")
            diff_x = hm[nn, kk, cy, cx + 1] - hm[nn, kk, cy, cx - 1]
            diff_y = hm[nn, kk, cy + 1, cx] - hm[nn, kk, cy - 1, cx]
            px = px + np.where(inside, np.sign(diff_x) * 0.25, 0).astype(np.float32)
            py = py + np.where(inside, np.sign(diff_y) * 0.25, 0).astype(np.float32)
        center = np.asarray(center, dtype=np.float64).reshape(n, 1, 2)
        scale = np.asarray(scale, dtype=np.float64).reshape(n, 1, 2)
        factor = scale[..., 0] * PIXEL_STD / w  # only scale[0], as the reference
        x = center[..., 0] + (px - w * 0.5) * factor
        y = center[..., 1] + (py - h * 0.5) * factor
        coords = np.stack([x, y], axis=-1).astype(np.float32)
        return coords, scores.astype(np.float32)

    def decode_tf(self, heatmaps: tf.Tensor, center: tf.Tensor, scale: tf.Tensor,
                  refine: bool = True) -> tuple[tf.Tensor, tf.Tensor]:
        """Pure-TF :meth:`decode` (same rules), for graphs and SavedModels.

        Args:
          heatmaps: (N, H, W, K) float32.
          center: (N, 2).
          scale: (N, 2).
          refine: apply the quarter-pixel refinement.

        Returns:
          coords (N, K, 2) and scores (N, K), float32.
        """
        heatmaps = tf.cast(heatmaps, tf.float32)
        shape = tf.shape(heatmaps)
        n, h, w, k = shape[0], shape[1], shape[2], shape[3]
        hm = tf.transpose(heatmaps, (0, 3, 1, 2))  # (N, K, H, W)
        flat = tf.reshape(hm, tf.stack([n, k, h * w]))
        index = tf.argmax(flat, axis=2, output_type=tf.int32)
        scores = tf.reduce_max(flat, axis=2)
        found = tf.cast(scores > 0, tf.int32)
        ix = (index % w) * found
        iy = (index // w) * found
        px, py = tf.cast(ix, tf.float32), tf.cast(iy, tf.float32)
        if refine:
            inside = (ix > 1) & (ix < w - 1) & (iy > 1) & (iy < h - 1)
            cx = tf.clip_by_value(ix, 1, tf.maximum(w - 2, 1))
            cy = tf.clip_by_value(iy, 1, tf.maximum(h - 2, 1))

            def at(yy, xx):
                return tf.gather(flat, yy * w + xx, axis=2, batch_dims=2)

            diff_x = at(cy, cx + 1) - at(cy, cx - 1)
            diff_y = at(cy + 1, cx) - at(cy - 1, cx)
            zero = tf.zeros_like(px)
            px += tf.where(inside, tf.sign(diff_x) * 0.25, zero)
            py += tf.where(inside, tf.sign(diff_y) * 0.25, zero)
        center = tf.cast(center, tf.float32)[:, None, :]
        scale = tf.cast(scale, tf.float32)[:, None, :]
        wf, hf = tf.cast(w, tf.float32), tf.cast(h, tf.float32)
        factor = scale[..., 0] * PIXEL_STD / wf
        x = center[..., 0] + (px - wf * 0.5) * factor
        y = center[..., 1] + (py - hf * 0.5) * factor
        return tf.stack([x, y], axis=-1), scores
