"""The official code's codec (``msra``): integer-centred Gaussian targets,
argmax + quarter-pixel offset.

Named after mmpose's ``MSRAHeatmap``, the same codec: the target Gaussian
sits at the heatmap pixel nearest the joint (``int(x / stride + 0.5)``), so
a target carries up to half a heatmap pixel of quantisation error, and the
decoder moves the argmax a quarter pixel toward its higher neighbour.

Shapes: K keypoints, H x W heatmap, channels last.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_pose.codec.base import HeatmapArgmax, HeatmapCodec


class MSRAHeatmap(HeatmapCodec):
    """The reference's ``generate_target`` (gaussian) and ``get_final_preds``.

    Args: as :class:`HeatmapCodec` (``refine``: the quarter offset).
    """

    name = "msra"

    def _patch(self) -> np.ndarray:
        """The reference's float32 Gaussian patch with peak 1 at its centre."""
        if not hasattr(self, "_patch_cache"):
            size = 2 * self.sigma * 3 + 1
            center = size // 2
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
        radius = self.sigma * 3
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

    def decode_tf(self, heatmaps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The reference's ``get_max_preds`` + quarter offset, in TF ops.

        With ``refine``, a maximum strictly inside the map (1 < px < W - 1,
        1 < py < H - 1) moves a quarter pixel toward its higher neighbour
        along x and along y (``sign`` of the difference: none on a tie).
        """
        peak = HeatmapArgmax(heatmaps)
        coords = peak.coords()
        if not self.refine:
            return coords, peak.scores
        flat = peak.flat
        step_x = tf.sign(peak.at(flat, 1, 0) - peak.at(flat, -1, 0))
        step_y = tf.sign(peak.at(flat, 0, 1) - peak.at(flat, 0, -1))
        step = tf.stack([step_x, step_y], axis=-1) * 0.25
        inside = peak.inside(1)[..., None]
        return coords + tf.where(inside, step, tf.zeros_like(step)), peak.scores
