"""The NumPy side of the training samples: one image's people, augmented.

Each person's geometry follows the reference's ``JointsDataset.__getitem__``
sample for sample (:func:`augment_sample`: optional half-body, random
scale, rotation, flip, the affine crop, the joints through the same
matrix); :class:`SampleMaker` makes the samples of all the people of one
decoded image (crops warped into, targets encoded into, arrays handed to TF
without a copy) for the ``tf.numpy_function`` inside
``pipeline.build_train_dataset``, and skips and counts an unreadable image
(:class:`SkipCounter`).

This code holds the GIL (one per process; the warps, the decoding and TF's
work run outside it), so its time per sample bounds one process's samples
per second whatever its cores: scripts/benchmark_pipeline_scaling.py
measures it.

Shapes: K keypoints, h x w crop, H x W heatmap, n people of one image.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Optional, Sequence

import cv2
import numpy as np
import tensorflow as tf

from keras_pose import log as logging
from keras_pose.codec import HeatmapCodec
from keras_pose.data import transforms
from keras_pose.data.images import unreadable_reason
from keras_pose.errors import UserError

SAMPLE_KEYS = ("image", "heatmaps", "target_weight", "joints", "joints_vis", "index")


class UnreadableImagesError(UserError, ValueError):
    """No image of a training pipeline can be read or decoded; the message
    names the files and the annotation file."""


class SkipCounter:
    """Counts training samples (people) skipped for unreadable images
    (thread-safe).

    The trainer logs ``count``, ``images`` (and the first ``names``) every
    epoch; ``error`` holds the message of a pipeline that found none of its
    images readable (the error TF raises from inside the pipeline loses the
    exception's type).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0
        self.names: list[str] = []
        self._paths: set[str] = set()
        self.error: Optional[str] = None

    @property
    def images(self) -> int:
        """Distinct unreadable images seen so far."""
        return len(self._paths)

    def add(self, path: str, reason: str, people: int = 1) -> None:
        """Counts ``people`` samples of the image ``path`` as skipped."""
        with self._lock:
            self.count += people
            if path not in self._paths:
                self._paths.add(path)
                if len(self.names) < 100:
                    self.names.append(path)
                logging.warning("skipping %d training sample(s) of %s: %s", people, path, reason)


def half_body_center_scale(joints: np.ndarray, joints_vis: np.ndarray,
                           upper_body_ids: Sequence[int], aspect_ratio: float,
                           rng: np.random.Generator
                           ) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """HRNet's half-body box: the upper or the lower visible joints, x1.5.

    Reproduces HRNet's choice rule ``randn() < 0.5`` (a normal, not a
    uniform, draw: the upper body is chosen ~69% of the time when it has
    more than two visible joints).

    Returns:
      (center, scale) or (None, None) when fewer than two joints qualify.
    """
    visible = joints_vis > 0
    upper_mask = np.zeros(len(joints), bool)
    upper_mask[list(upper_body_ids)] = True
    upper = joints[visible & upper_mask]
    lower = joints[visible & ~upper_mask]
    if rng.standard_normal() < 0.5 and len(upper) > 2:
        selected = upper
    else:
        selected = lower if len(lower) > 2 else upper
    if len(selected) < 2:
        return None, None
    center = selected.mean(axis=0)
    left_top, right_bottom = selected.min(axis=0), selected.max(axis=0)
    w, h = right_bottom[0] - left_top[0], right_bottom[1] - left_top[1]
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / 200.0, h / 200.0], np.float32) * 1.5
    return center.astype(np.float32), scale


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """The geometry of a training sample (the reference's settings).

    Attributes:
      image_size: network input (width, height).
      flip_pairs: left/right keypoint pairs.
      scale_factor: sf; scale *= clip(1 + N(0,1) sf, 1 - sf, 1 + sf).
      rotation_factor: rf; rotation = clip(N(0,1) rf, -2rf, 2rf) degrees.
      rotation_prob: probability of a rotation.
      flip: random horizontal flip.
      flip_prob: its probability.
      half_body_prob: HRNet's half-body probability (0: off).
      num_joints_half_body: half-body needs more visible joints than this.
      upper_body_ids: the upper-body keypoints for half-body.
    """

    image_size: tuple[int, int]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    scale_factor: float = 0.0
    rotation_factor: float = 0.0
    rotation_prob: float = 0.6
    flip: bool = False
    flip_prob: float = 0.5
    half_body_prob: float = 0.0
    num_joints_half_body: int = 8
    upper_body_ids: tuple[int, ...] = ()

    @classmethod
    def from_config(cls, config: Any, augment: bool = True) -> "Augmentation":
        """The experiment's augmentation; ``augment=False``: crops only."""
        d = config.data
        common = dict(image_size=tuple(config.model.image_size),
                      flip_pairs=tuple(tuple(p) for p in d.flip_pairs))
        if not augment:
            return cls(**common, rotation_prob=0.0)
        return cls(**common, scale_factor=d.scale_factor, rotation_factor=d.rotation_factor,
                   rotation_prob=d.rotation_prob, flip=d.flip, flip_prob=d.flip_prob,
                   half_body_prob=d.half_body_prob, num_joints_half_body=d.num_joints_half_body,
                   upper_body_ids=tuple(d.upper_body_ids))


def _draw(joints: np.ndarray, joints_vis: np.ndarray, center: np.ndarray,
          scale: np.ndarray, rng: np.random.Generator, aug: Augmentation):
    """The reference's random draws, in its order: (center, scale,
    rotation, flipped)."""
    if (aug.half_body_prob > 0 and np.sum(joints_vis > 0) > aug.num_joints_half_body
            and rng.random() < aug.half_body_prob):
        c_half, s_half = half_body_center_scale(joints, joints_vis, aug.upper_body_ids,
                                                aug.image_size[0] / aug.image_size[1], rng)
        if c_half is not None:
            center, scale = c_half, s_half
    sf, rf = aug.scale_factor, aug.rotation_factor
    scale = scale * np.clip(rng.standard_normal() * sf + 1, 1 - sf, 1 + sf)
    rotation = 0.0
    if rng.random() <= aug.rotation_prob:
        rotation = float(np.clip(rng.standard_normal() * rf, -rf * 2, rf * 2))
    return center, scale, rotation, aug.flip and rng.random() <= aug.flip_prob


def augment_sample(image: np.ndarray, joints: np.ndarray, joints_vis: np.ndarray,
                   center: np.ndarray, scale: np.ndarray, rng: np.random.Generator,
                   aug: Augmentation, out: Optional[np.ndarray] = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training sample's geometry, as the reference's ``__getitem__``.

    Args:
      image: (H_img, W_img, C) uint8, any channel order (kept).
      joints: (K, 2) image pixels; joints_vis: (K,).
      center, scale: the person's (2,) center and scale.
      rng: the sample's random generator.
      aug: the augmentation settings.
      out: a C-contiguous (h, w, C) uint8 array to warp the crop into (no
        copy), or None.

    Returns:
      crop (h, w, 3) uint8 (``out`` when given), joints (K, 2) in crop pixels (invisible joints
      keep their untransformed value, as the reference), joints_vis (K,).
    """
    joints = np.array(joints, np.float32)
    joints_vis = np.array(joints_vis, np.float32)
    center, scale, rotation, flipped = _draw(joints, joints_vis, np.array(center, np.float32),
                                             np.array(scale, np.float32), rng, aug)
    width = image.shape[1]
    if flipped:
        joints, joints_vis = transforms.flip_joints(joints, joints_vis, width, aug.flip_pairs)
        center = np.array([width - center[0] - 1, center[1]], np.float32)
    matrix = transforms.get_affine_transform(center, scale, rotation, aug.image_size)
    warp = matrix
    if flipped:
        # The reference mirrors the whole image, then crops; warping the
        # original through (crop o mirror) gives the same crop without
        # copying the image: mirror(x, y) = (W - 1 - x, y).
        warp = matrix.copy()
        warp[:, 2] = matrix[:, 0] * (width - 1) + matrix[:, 2]
        warp[:, 0] = -matrix[:, 0]
    crop = cv2.warpAffine(image, warp, (int(aug.image_size[0]), int(aug.image_size[1])),
                          dst=out, flags=cv2.INTER_LINEAR)
    if out is not None and crop is not out:  # OpenCV allocated anew
        out[...] = crop
        crop = out
    visible = joints_vis > 0
    joints[visible] = transforms.affine_transform_points(joints[visible], matrix)
    return crop, joints, joints_vis




class SampleMaker:
    """The training samples of every person of one image.

    Args:
      values: the person records as arrays (``pipeline._records_dict``).
      groups: each image's rows of the records (``pipeline.group_by_image``).
      aug: the augmentation; codec: the targets' geometry and encoding.
      seed: the data seed (draws are a function of seed, epoch, pass and image).
      counter: counts the people of unreadable images.
      group_ids: the images of this input pipeline; where, source: the words
        naming them and the annotation file in messages.
    """

    def __init__(self, values, groups, aug: Augmentation, codec: HeatmapCodec, seed: int,
                 counter: SkipCounter, group_ids: np.ndarray, where: str,
                 source: Optional[str]):
        self.values, self.groups, self.aug, self.codec = values, groups, aug, codec
        self.seed, self.counter = int(seed), counter
        self.k = values["joints"].shape[1]
        self.num_groups, self.where, self.source = len(group_ids), where, source
        self._lock = threading.Lock()
        self._unreadable: set[int] = set()

    def _skip(self, group: int, rows: np.ndarray) -> None:
        """Counts an unreadable image; when every image of the pipeline has
        failed, raises: no pass could yield a sample, and the endless
        training data would decode the same files forever."""
        path = str(self.values["image_path"][rows[0]])
        self.counter.add(path, unreadable_reason(path), people=len(rows))
        with self._lock:
            self._unreadable.add(group)
            if len(self._unreadable) < self.num_groups:
                return
            examples = [str(self.values["image_path"][self.groups[g][0]])
                        for g in sorted(self._unreadable)[:3]]
        message = (f"none of the {self.num_groups} training images {self.where} can be read or "
                   f"decoded any more (e.g. {', '.join(examples)}); replace them or remove "
                   f"their entries from {self.source or 'the annotation file'}")
        self.counter.error = message
        raise UnreadableImagesError(message)

    def samples(self, group, image, epoch, repetition) -> tf.data.Dataset:
        """The people of one decoded image as a dataset of samples (for
        ``Dataset.interleave``; the NumPy work runs in :meth:`__call__`)."""
        (w, h), (hw, hh), k = self.aug.image_size, self.codec.heatmap_size, self.k
        shapes = ((None, h, w, 3), (None, hh, hw, k), (None, k), (None, k, 2), (None, k),
                  (None,))
        arrays = tf.numpy_function(self, [group, image, epoch, repetition],
                                   [tf.uint8, tf.float32, tf.float32, tf.float32,
                                    tf.float32, tf.int64], stateful=False)
        for array, shape in zip(arrays, shapes):
            array.set_shape(shape)
        return tf.data.Dataset.from_tensor_slices(dict(zip(SAMPLE_KEYS, arrays)))

    def __call__(self, group, image, epoch, repetition):
        """Every person of one image: crops warped straight into, and targets
        written straight into, 64-byte aligned arrays, which TF takes without
        a copy (the GIL is held for as little as the NumPy side needs)."""
        rows = self.groups[int(group)]
        if image.size == 0:
            self._skip(int(group), rows)
            rows = rows[:0]
        elif self._unreadable:
            with self._lock:
                self._unreadable.discard(int(group))
        (w, h), (hw, hh), n = self.aug.image_size, self.codec.heatmap_size, len(rows)
        crops, heatmaps = (aligned_empty((n, h, w, 3), np.uint8),
                           aligned_empty((n, hh, hw, self.k), np.float32))
        joints, joints_vis = np.empty((n, self.k, 2), np.float32), np.empty((n, self.k), np.float32)
        # The draws depend on the seed, the epoch and the image only.
        rng = np.random.default_rng([self.seed, int(epoch), int(repetition), int(group)])
        v = self.values
        for i, row in enumerate(rows):
            _, joints[i], joints_vis[i] = augment_sample(
                image, v["joints"][row], v["joints_vis"][row], v["center"][row],
                v["scale"][row], rng, self.aug, out=crops[i])
        _, target_weight = self.codec.encode(joints, joints_vis, out=heatmaps)
        return crops, heatmaps, target_weight, joints, joints_vis, rows.astype(np.int64)


def aligned_empty(shape: tuple[int, ...], dtype, alignment: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose data start on an
    ``alignment``-byte boundary. ``tf.numpy_function`` (in a graph) hands
    such an array to TF without copying it; any other array is copied, with
    the GIL held."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffer = np.empty(size + alignment, np.uint8)
    start = -buffer.ctypes.data % alignment
    return buffer[start:start + size].view(dtype).reshape(shape)
