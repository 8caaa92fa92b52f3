"""DARK (``dark``): distribution-aware targets and decoding.

Zhang, Zhu, Dai, Ye, Zhu, "Distribution-Aware Coordinate Representation for
Human Pose Estimation", CVPR 2020. Two changes to the ``msra`` codec, both
against the quantisation error of heatmaps at a quarter of the input
resolution:

- *unbiased encoding*: the target Gaussian is centred at the joint's exact
  sub-pixel position in the heatmap (``x / stride``), not at the nearest
  pixel, and drawn over the whole map;
- *distribution-aware decoding*: the predicted heatmap is first modulated
  (smoothed with a Gaussian kernel, then rescaled so that its maximum is
  unchanged: real predictions are multi-peaked and noisy), taken to the log
  (where a Gaussian is a quadratic), and the argmax is moved by one Newton
  step on that quadratic: ``x* = m - H^-1 g`` with the gradient ``g`` and
  Hessian ``H`` of the log-heatmap at the maximum ``m`` from central finite
  differences (steps of one pixel for ``g``, two for ``H``'s diagonal).

These follow mmpose's ``MSRAHeatmap(unbiased=True)`` (the DARK presets'
codec): the kernel of the modulation is OpenCV's Gaussian of size
``blur_kernel`` with OpenCV's default sigma for that size, the map is
zero-padded around its border, values are floored at 1e-10 before the log,
and the Newton step applies when the maximum lies in ``1 < x < W - 2`` and
``1 < y < H - 2`` and the Hessian's determinant is not 0.

Shapes: N people, K keypoints, H x W heatmap, channels last.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from keras_pose.codec.base import HeatmapArgmax, HeatmapCodec

# OpenCV's fixed Gaussian kernels for sizes 1-9 when sigma <= 0
# (getGaussianKernel's small-kernel table); larger sizes use its formula.
_OPENCV_SMALL_KERNELS = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
    9: tuple(v / 256 for v in (4, 13, 30, 51, 60, 51, 30, 13, 4)),
}
LOG_FLOOR = 1e-10


def default_blur_kernel(sigma: float) -> int:
    """The modulation kernel for a target sigma: the odd size whose OpenCV
    Gaussian (``getGaussianKernel(size, 0)``: sigma 0.3 ((size - 1) / 2 - 1)
    + 0.8, the relation mmpose's codecs state) is nearest ``sigma``: 11 at
    sigma 2, 17 at sigma 3 (mmpose's DARK configs), 7 at sigma 1.5 (mmpose:
    "sigma~=1.5 if ks=7"). Was 6 sigma - 1 made odd upwards: 9 at 1.5, whose
    Gaussian (sigma 1.7) is wider than the targets'."""
    half = math.floor((sigma - 0.8) / 0.3 + 1 + 0.5)  # (size - 1) / 2, nearest.
    return 2 * max(0, half) + 1


def gaussian_kernel_1d(size: int) -> np.ndarray:
    """OpenCV's ``getGaussianKernel(size, 0)``: (size,) float64, sums to 1."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the DARK blur kernel must be a positive odd size, got {size}")
    if size in _OPENCV_SMALL_KERNELS:
        return np.array(_OPENCV_SMALL_KERNELS[size], np.float64)
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-x ** 2 / (2 * sigma ** 2))
    return kernel / kernel.sum()


class DarkHeatmap(HeatmapCodec):
    """Unbiased Gaussian targets and DARK decoding (module docstring).

    Args:
      input_size, heatmap_size, sigma, refine: as :class:`HeatmapCodec`
        (``refine``: the modulation and Newton step; False: the argmax).
      blur_kernel: odd size of the modulation kernel; 0: from sigma
        (:func:`default_blur_kernel`).
    """

    name = "dark"

    def __init__(self, input_size, heatmap_size, sigma: float, refine: bool = True,
                 blur_kernel: int = 0):
        super().__init__(input_size, heatmap_size, sigma, refine)
        self.blur_kernel = int(blur_kernel) or default_blur_kernel(self.sigma)
        self._kernel = gaussian_kernel_1d(self.blur_kernel).astype(np.float32)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", blur_kernel={self.blur_kernel})"

    def _encode(self, joints: np.ndarray, weight: np.ndarray, heatmaps: np.ndarray) -> None:
        """Gaussians centred at the sub-pixel joints ``x / stride``,
        vectorised over people and joints.

        A joint whose 3-sigma window, [mu - 3 sigma, mu + 3 sigma + 1) as in
        the ``msra`` codec but not rounded, lies wholly outside the map gets
        weight 0; a joint with weight > 0.5 gets the Gaussian over the whole
        map (peak 1 only when the joint sits on a pixel centre), in float64
        as the product of its column and row factors
        (exp(-(dx^2 + dy^2) / 2s^2) = exp(-dx^2 / 2s^2) exp(-dy^2 / 2s^2)),
        rounded to float32: N K (H + W) exponentials instead of N K H W, at
        most one float32 ulp from the exponential of the sum (1 value in
        ~7e7 rounds the other way).
        """
        _, height, width, _ = heatmaps.shape
        radius = self.sigma * 3
        mu = joints / np.array(self.stride)  # (N, K, 2)
        mu_x, mu_y = mu[..., 0], mu[..., 1]
        weight[(mu_x - radius >= width) | (mu_y - radius >= height)
               | (mu_x + radius + 1 < 0) | (mu_y + radius + 1 < 0)] = 0.0
        two_var = 2 * self.sigma ** 2
        along_x = np.exp(-(np.arange(width) - mu_x[..., None]) ** 2 / two_var)  # (N, K, W)
        along_y = np.exp(-(np.arange(height) - mu_y[..., None]) ** 2 / two_var)  # (N, K, H)
        along_x[~(weight > 0.5)] = 0.0
        np.multiply(along_y.transpose(0, 2, 1)[:, :, None, :],
                    along_x.transpose(0, 2, 1)[:, None, :, :], out=heatmaps, casting="same_kind")

    def modulate_tf(self, heatmaps: tf.Tensor) -> tf.Tensor:
        """Smoothed heatmaps rescaled to their original maxima, then the log
        of their values floored at 1e-10.

        Args:
          heatmaps: (N, H, W, K) float32, static K.

        Returns:
          (N, H, W, K) float32 log-heatmaps.
        """
        k = int(heatmaps.shape[-1])
        kernel = tf.constant(self._kernel)
        size = self.blur_kernel
        along_x = tf.tile(tf.reshape(kernel, [1, size, 1, 1]), [1, 1, k, 1])
        along_y = tf.tile(tf.reshape(kernel, [size, 1, 1, 1]), [1, 1, k, 1])
        # SAME with an odd kernel pads (size - 1) / 2 zeros on each side:
        # mmpose's zero border of that width around each map.
        blurred = tf.nn.depthwise_conv2d(heatmaps, along_x, [1, 1, 1, 1], "SAME")
        blurred = tf.nn.depthwise_conv2d(blurred, along_y, [1, 1, 1, 1], "SAME")
        before = tf.reduce_max(heatmaps, axis=[1, 2], keepdims=True)
        after = tf.reduce_max(blurred, axis=[1, 2], keepdims=True)
        blurred = blurred * tf.math.divide_no_nan(before, after)
        return tf.math.log(tf.maximum(blurred, LOG_FLOOR))

    def decode_tf(self, heatmaps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The argmax (and its score) of the heatmaps, moved by the Newton
        step on the modulated log-heatmaps (module docstring)."""
        heatmaps = tf.cast(heatmaps, tf.float32)
        peak = HeatmapArgmax(heatmaps)
        coords = peak.coords()
        if not self.refine:
            return coords, peak.scores
        logs = self.modulate_tf(heatmaps)
        flat = tf.reshape(logs, tf.shape(peak.flat))

        def v(dx, dy):
            return peak.at(flat, dx, dy)

        center = v(0, 0)
        dx = 0.5 * (v(1, 0) - v(-1, 0))
        dy = 0.5 * (v(0, 1) - v(0, -1))
        dxx = 0.25 * (v(2, 0) - 2 * center + v(-2, 0))
        dyy = 0.25 * (v(0, 2) - 2 * center + v(0, -2))
        dxy = 0.25 * (v(1, 1) - v(1, -1) - v(-1, 1) + v(-1, -1))
        det = dxx * dyy - dxy * dxy
        usable = peak.inside(2) & tf.not_equal(det, 0.0)
        # -H^-1 g with H = [[dxx, dxy], [dxy, dyy]], g = [dx, dy].
        offset_x = tf.math.divide_no_nan(dxy * dy - dyy * dx, det)
        offset_y = tf.math.divide_no_nan(dxy * dx - dxx * dy, det)
        offset = tf.stack([offset_x, offset_y], axis=-1)
        return coords + tf.where(usable[..., None], offset, tf.zeros_like(offset)), peak.scores
