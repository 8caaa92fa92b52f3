"""Geometry of the reference: boxes to center/scale, the affine crop, flips.

Points are (x, y); sizes are (width, height); ``scale`` is in units of
``PIXEL_STD`` = 200 px, as in the official code. Shapes: N people, K
keypoints.

NumPy functions serve the readers, the training pipeline (through
``tf.numpy_function``) and tests; the ``*_tf`` functions are pure TF ops for
the evaluation and serving graphs, which must export into a SavedModel.
"""

from __future__ import annotations

import math
from typing import Any, Sequence, Union

import cv2
import numpy as np
import tensorflow as tf

from keras_pose.configs.base import COLOR_ORDERS, PIXEL_STD
from keras_pose.configs.keypoints import flip_permutation

ArrayLike = Union[np.ndarray, Sequence[float]]


# A box this many times its image's larger side is no person's (and 1e30
# would overflow the crop): refused, as a box that misses its image.
MAX_BOX_TO_IMAGE = 10.0


def box_array(boxes: ArrayLike, what: str = "boxes", dtype: Any = np.float32) -> np.ndarray:
    """(M, 4) ``[x, y, w, h]`` boxes of ``dtype`` from an (M, 4) array-like
    (or an empty one); a ValueError naming the shape otherwise: (4, 5)
    boxes with their scores were read as five boxes of garbage, (3, 0) as
    no box."""
    array = np.asarray(boxes, dtype)
    if array.size == 0 and (array.ndim == 1 or array.shape == (0, 4)):
        return np.zeros((0, 4), dtype)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{what}: expected (M, 4) [x, y, w, h] boxes, got shape {array.shape}")
    return array


def boxes_too_large(boxes: np.ndarray, height: float, width: float) -> np.ndarray:
    """(M,) bool: the (M, 4) [x, y, w, h] boxes wider or taller (either
    sign) than ``MAX_BOX_TO_IMAGE`` times the larger side of a ``height`` x ``width``
    image (garbage: no person's box)."""
    _, _, w, h = np.abs(np.asarray(boxes, np.float64).reshape(-1, 4).T)  # -1e30 too.
    limit = MAX_BOX_TO_IMAGE * max(height, width)
    return (w > limit) | (h > limit)


def boxes_off_image(boxes: np.ndarray, height: float, width: float) -> np.ndarray:
    """(M,) bool: the (M, 4) [x, y, w, h] boxes that do not overlap an image
    of ``height`` x ``width`` or exceed ``MAX_BOX_TO_IMAGE`` times its
    larger side (boxes in another image's pixels, or garbage)."""
    x, y, w, h = np.asarray(boxes, np.float64).reshape(-1, 4).T
    overlap = (x < width) & (y < height) & (x + w > 0) & (y + h > 0)
    return ~overlap | boxes_too_large(boxes, height, width)


def box_to_center_scale(box_xywh: ArrayLike, aspect_ratio: float,
                        padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """The reference's ``_xywh2cs``: box to (center, scale).

    The box is widened or heightened to the network's aspect ratio around its
    centre, then scaled by ``padding`` (1.25). Reproduces the reference's
    legacy rule that a centre x of exactly -1 skips the padding.

    Args:
      box_xywh: (4,) or (N, 4) boxes [x, y, w, h] in pixels.
      aspect_ratio: network input width / height.
      padding: enlargement factor of the reference (1.25).

    Returns:
      center (2,) or (N, 2) and scale (2,) or (N, 2), float32, with scale in
      units of 200 px.
    """
    boxes = np.asarray(box_xywh, dtype=np.float64)
    single = boxes.ndim == 1
    boxes = np.atleast_2d(boxes)
    x, y, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2].copy(), boxes[:, 3].copy()
    center = np.stack([x + w * 0.5, y + h * 0.5], axis=-1)
    wider = w > aspect_ratio * h
    taller = w < aspect_ratio * h
    h = np.where(wider, w / aspect_ratio, h)
    w = np.where(taller, h * aspect_ratio, w)
    scale = np.stack([w / PIXEL_STD, h / PIXEL_STD], axis=-1)
    pad = np.where(center[:, 0] != -1, padding, 1.0)[:, None]
    scale = scale * pad
    center, scale = center.astype(np.float32), scale.astype(np.float32)
    if single:
        return center[0], scale[0]
    return center, scale


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point that makes (a, b, c) a right angle at b, turned +90 deg."""
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def get_affine_transform(center: ArrayLike, scale: ArrayLike, rotation: float,
                         output_size: Sequence[int], shift: ArrayLike = (0.0, 0.0),
                         inverse: bool = False) -> np.ndarray:
    """The reference's crop matrix (``get_affine_transform``).

    Maps ``center`` to the output centre (w/2, h/2), a source width of
    ``scale[0] * 200`` onto the output width (its left edge to 0, its right
    edge to w, not w - 1), rotated by ``rotation`` degrees counter-clockwise.
    Only ``scale[0]`` is used, as in the reference. Built like the reference
    from three float32 point pairs with ``cv2.getAffineTransform``, so the
    result matches it bit for bit.

    Args:
      center: (2,) source centre in pixels.
      scale: (2,) box size in units of 200 px.
      rotation: degrees.
      output_size: (width, height) of the output.
      shift: shift of the source centre in units of the box size.
      inverse: return the output->source matrix instead.

    Returns:
      (2, 3) float64 matrix.
    """
    center = np.asarray(center, dtype=np.float32)
    scale_px = np.asarray(scale, dtype=np.float32) * PIXEL_STD
    shift = np.asarray(shift, dtype=np.float32)
    dst_w, dst_h = float(output_size[0]), float(output_size[1])
    rad = np.pi * float(rotation) / 180.0
    # libm's sin/cos as the reference (NumPy's vectorised ones can differ by
    # an ulp, which moves a rotated crop's pixels by one grey level).
    sn, cs = math.sin(rad), math.cos(rad)
    half = scale_px[0] * -0.5
    # (0, half) rotated, in float64 as the reference adds it to the float32 centre.
    src_dir = np.array([-half * sn, half * cs], dtype=np.float64)
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center + scale_px * shift
    src[1] = center + src_dir + scale_px * shift
    dst[0] = (dst_w * 0.5, dst_h * 0.5)
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5], np.float32) + np.array(
        [0.0, dst_w * -0.5], np.float32)
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    if inverse:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def affine_transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Applies a (2, 3) matrix to (..., 2) points."""
    points = np.asarray(points, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def flip_joints(joints: np.ndarray, joints_vis: np.ndarray, image_width: int,
                flip_pairs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The reference's ``fliplr_joints`` for a horizontally mirrored image.

    x -> image_width - 1 - x, left/right pairs swapped (joints and
    visibility), and joints with zero visibility set to (0, 0) as the
    reference does.

    Args:
      joints: (K, 2) pixel coordinates.
      joints_vis: (K,) visibility.
      image_width: width of the image being mirrored.
      flip_pairs: left/right pairs (0-based).

    Returns:
      (joints (K, 2), joints_vis (K,)) as new arrays.
    """
    joints = np.array(joints, dtype=np.float32)
    joints_vis = np.array(joints_vis, dtype=np.float32)
    joints[:, 0] = image_width - joints[:, 0] - 1
    perm = flip_permutation(len(joints), flip_pairs)
    joints, joints_vis = joints[perm], joints_vis[perm]
    joints = joints * (joints_vis[:, None] > 0)
    return joints, joints_vis


# ---------------------------------------------------------------------------
# Pure TF versions for graphs (evaluation, SavedModel serving).


def box_to_center_scale_tf(boxes: tf.Tensor, aspect_ratio: float,
                           padding: float = 1.25) -> tuple[tf.Tensor, tf.Tensor]:
    """TF version of :func:`box_to_center_scale` for (..., 4) boxes: float32
    center and scale, computed in float64 as the NumPy version (and the
    reference's Python floats). In float32, a graph of fixed shapes had
    ``/ 200`` rewritten as ``* 0.005`` (TF's optimizer), giving 1.8749999
    for 375 / 200: one call's keypoints differed from the next's by the
    shapes first traced (23 px on a near-tied heatmap peak)."""
    x, y, w, h = tf.unstack(tf.cast(boxes, tf.float64), axis=-1)
    center = tf.stack([x + w * 0.5, y + h * 0.5], axis=-1)
    h2 = tf.where(w > aspect_ratio * h, w / aspect_ratio, h)
    w2 = tf.where(w < aspect_ratio * h, h2 * aspect_ratio, w)
    scale = tf.stack([w2, h2], axis=-1) / PIXEL_STD
    pad = tf.where(center[..., 0] != -1.0, tf.constant(padding, tf.float64), 1.0)[..., None]
    return tf.cast(center, tf.float32), tf.cast(scale * pad, tf.float32)


def get_affine_transform_tf(center: tf.Tensor, scale: tf.Tensor,
                            rotation: tf.Tensor | float, output_size: Sequence[int],
                            inverse: bool = False) -> tf.Tensor:
    """Batched closed form of :func:`get_affine_transform` (no shift).

    The reference's matrix is the similarity M = k R(r) with
    k = w / (scale[0] * 200), R = [[cos, sin], [-sin, cos]] and translation
    (w/2, h/2) - M center.

    Args:
      center: (N, 2).
      scale: (N, 2).
      rotation: (N,) degrees or a scalar.
      output_size: (width, height).
      inverse: return the output->source matrices.

    Returns:
      (N, 2, 3) float32 matrices.
    """
    center = tf.cast(center, tf.float32)
    scale = tf.cast(scale, tf.float32)
    out_w, out_h = float(output_size[0]), float(output_size[1])
    rad = tf.cast(rotation, tf.float32) * (np.pi / 180.0) + tf.zeros_like(center[:, 0])
    cs, sn = tf.cos(rad), tf.sin(rad)
    if not inverse:
        k = out_w / (scale[:, 0] * PIXEL_STD)
        a, b = k * cs, k * sn
        tx = out_w * 0.5 - (a * center[:, 0] + b * center[:, 1])
        ty = out_h * 0.5 - (-b * center[:, 0] + a * center[:, 1])
        rows = [tf.stack([a, b, tx], -1), tf.stack([-b, a, ty], -1)]
    else:
        k = scale[:, 0] * PIXEL_STD / out_w
        a, b = k * cs, k * sn
        # x_src = center + k R^T (x_dst - out_center)
        tx = center[:, 0] - (a * out_w * 0.5 - b * out_h * 0.5)
        ty = center[:, 1] - (b * out_w * 0.5 + a * out_h * 0.5)
        rows = [tf.stack([a, -b, tx], -1), tf.stack([b, a, ty], -1)]
    return tf.stack(rows, axis=1)


def crop_images_tf(images: tf.Tensor, image_index: tf.Tensor,
                   inverse_matrices: tf.Tensor, output_size: Sequence[int]) -> tf.Tensor:
    """The one affine crop: bilinear sampling with a zero border.

    Every crop of evaluation, prediction and the exported SavedModel comes
    from here. Only the crops' own pixels are read: for each output pixel
    the four source neighbours are gathered from the image it belongs to,
    so an image is never copied per person nor converted to float as a
    whole (a 48-megapixel photo with 32 boxes costs 32 crops, not 32
    images). The arithmetic is OpenCV's ``warpAffine`` (INTER_LINEAR,
    BORDER_CONSTANT 0), which the training pipeline uses: float32 source
    coordinates ``m00 u + (m01 v + m02)``, then
    ``v0 = p00 + fx (p01 - p00)``, ``v1 = p10 + fx (p11 - p10)``,
    ``v0 + fy (v1 - v0)``, neighbours outside the image reading 0, then
    rounded (half up) for integer images, as OpenCV rounds to the image's
    type: equal to OpenCV's uint8 crop, the reference's evaluation input,
    at all but about 1 pixel in 10,000 (one grey level there; tested on real
    images). Was: the float values, every pixel up to half a grey level
    from the reference's crop (and from the training crops), which moved
    some keypoints of weak models by whole heatmap pixels.

    Args:
      images: (N, H, W, C) images, any numeric dtype (uint8 as decoded).
      image_index: (M,) int, the image of each crop.
      inverse_matrices: (M, 2, 3) output->source pixel matrices (the
        ``inverse`` form of :func:`get_affine_transform_tf`).
      output_size: (width, height) of the crops.

    Returns:
      (M, h, w, C) float32 crops, pixel values as in ``images`` (whole
      numbers for integer ``images``).
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images, out_type=tf.int64)
    height, width, channels = shape[1], shape[2], shape[3]
    flat = tf.reshape(images, tf.stack([-1, channels]))
    m = tf.cast(inverse_matrices, tf.float32)[:, :, :, None, None]  # (M, 2, 3, 1, 1)
    u = tf.range(int(output_size[0]), dtype=tf.float32)[None, None, :]
    v = tf.range(int(output_size[1]), dtype=tf.float32)[None, :, None]
    x = m[:, 0, 0] * u + (m[:, 0, 1] * v + m[:, 0, 2])  # (M, h, w)
    y = m[:, 1, 0] * u + (m[:, 1, 1] * v + m[:, 1, 2])
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    ix, iy = tf.cast(x0, tf.int64), tf.cast(y0, tf.int64)
    base = tf.cast(image_index, tf.int64)[:, None, None] * height * width

    def tap(dy: int, dx: int) -> tf.Tensor:
        xx, yy = ix + dx, iy + dy
        inside = (xx >= 0) & (xx < width) & (yy >= 0) & (yy < height)
        index = base + tf.clip_by_value(yy, 0, height - 1) * width + tf.clip_by_value(
            xx, 0, width - 1)
        values = tf.cast(tf.gather(flat, index), tf.float32)
        return values * tf.cast(inside, tf.float32)[..., None]

    p00, p01, p10, p11 = tap(0, 0), tap(0, 1), tap(1, 0), tap(1, 1)
    top = p00 + fx * (p01 - p00)
    bottom = p10 + fx * (p11 - p10)
    crops = top + fy * (bottom - top)
    return tf.floor(crops + 0.5) if images.dtype.is_integer else crops


def normalize_image(images: tf.Tensor, color_order: str,
                    mean: Sequence[float], std: Sequence[float]) -> tf.Tensor:
    """The one place input normalisation happens.

    Args:
      images: (..., 3) RGB pixels in [0, 255] (uint8 or float).
      color_order: "RGB", or "BGR" for networks fed BGR (the official
        checkpoints: OpenCV read BGR and the code never converted).
      mean: per-channel mean in ``color_order``, on pixels / 255.
      std: per-channel std, same convention.

    Returns:
      float32 tensor (pixels / 255 - mean) / std in ``color_order``.
    """
    if color_order not in COLOR_ORDERS:
        raise ValueError(f"color_order must be 'RGB' or 'BGR', got {color_order!r}")
    images = tf.cast(images, tf.float32)
    if color_order == "BGR":
        images = images[..., ::-1]
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)
    return (images / 255.0 - mean) / std
