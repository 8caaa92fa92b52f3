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
        """The reference's float32 Gaussian patch, its peak 1 at index
        ceil(3 sigma): where the joint falls in its window (see ``_encode``).
        The reference's ``size // 2`` is the same index for every 3 sigma but
        those of fractional part in (0, 0.5) (sigma 1.7: 5 against 6), whose
        every peak it put one pixel up and left of the joint (sigma 1.7, 3
        epochs of the synthetic set: AP 0.047 so, 0.375 with the peak here)."""
        if not hasattr(self, "_patch_cache"):
            size = 2 * self.sigma * 3 + 1
            center = float(np.ceil(self.sigma * 3))  # A Python float: float32 maths.
            x = np.arange(0, size, 1, np.float32)
            y = x[:, None]
            self._patch_cache = np.exp(-((x - center) ** 2 + (y - center) ** 2)
                                       / (2 * self.sigma ** 2))
        return self._patch_cache

    def _encode(self, joints: np.ndarray, weight: np.ndarray, heatmaps: np.ndarray) -> None:
        """The reference's ``generate_target`` (gaussian), vectorised over
        people and joints.

        Per joint: mu = int(x / stride + 0.5) (Python ``int`` truncates toward
        zero); the window is [mu - ceil(3 sigma), mu + 3 sigma + 1) (the
        reference's int() for its integer 3 sigma); when it lies wholly right of / below the map, or ends
        left of / above it, the weight becomes 0 and the map stays empty;
        otherwise a Gaussian with peak 1 at the window's centre is pasted,
        clipped to the map, if the weight is > 0.5. This keeps the
        reference's asymmetric edge cases: a joint just off the left/top
        edge can keep weight 1 with an empty or partial map.

        The windows are computed for all joints at once; the paste is the
        reference's, joint by joint, so the maps equal the reference's bit for
        bit.
        """
        _, height, width, _ = heatmaps.shape
        radius = self.sigma * 3
        mu = (joints / np.array(self.stride) + 0.5).astype(np.int64)  # int(): truncated
        # The window starts ceil(3 sigma) before mu, the patch's peak index
        # (``_patch``). Not the reference's int(mu - 3 sigma): the same for its
        # integer 3 sigma (sigma 2, 3), but at 3 sigma = 4.5 (sigma 1.5, the
        # tiny experiment) int() rounded a window starting left of / above
        # the map toward zero, the peak one pixel past the joint. Nor
        # floor(mu - 3 sigma): 12 - 3.0000000000000004 (a sigma from
        # np.arange) is 9.0 in floats, the peak one pixel past the joint.
        ul = mu - int(np.ceil(radius))  # (N, K, 2)
        br = (mu + radius + 1).astype(np.int64)
        weight[(ul[..., 0] >= width) | (ul[..., 1] >= height)
               | (br[..., 0] < 0) | (br[..., 1] < 0)] = 0.0
        patch = self._patch()
        painted = np.nonzero(weight > 0.5)
        for n, k, (ux, uy), (bx, by) in zip(*(a.tolist() for a in painted),
                                            ul[painted].tolist(), br[painted].tolist()):
            x0, x1, y0, y1 = max(0, ux), min(bx, width), max(0, uy), min(by, height)
            heatmaps[n, y0:y1, x0:x1, k] = patch[y0 - uy:y1 - uy, x0 - ux:x1 - ux]

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
