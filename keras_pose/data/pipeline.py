"""tf.data pipelines: augmented training samples and evaluation crops.

Training follows the reference's ``JointsDataset.__getitem__`` sample for
sample: (optional half-body), random scale, random rotation with
probability 0.6, random horizontal flip with the flip pairs, the affine crop
(bilinear, zero border), the joints through the same matrix, Gaussian
targets. The work runs per image: each image is decoded once for all its
people (TF's decoder, the project's one decoding policy; an unreadable image
is skipped once per pass and its people counted; a pipeline none of whose
images can be read is an error, before training and while it runs), then
its people are cropped in
OpenCV/NumPy through ``tf.numpy_function`` inside a parallel ``map``
(OpenCV's ``warpAffine`` is ~6x faster than a TF crop; the evaluation crop
``transforms.crop_images_tf`` samples the same positions with the same
arithmetic, see its docstring), and their targets made by the codec for all
the people of the image at once. That NumPy code holds the GIL, one per
process (the decoding, the warps and TF's work run outside it), so its time
per sample bounds one process's samples per second whatever its cores
(measured by scripts/benchmark_pipeline_scaling.py). Normalisation happens
in the training step.

The training data is one dataset for the whole run, epoch after epoch: the
order and every augmentation of epoch ``e`` are a function of the seed and
``e`` alone, so a run resumed at epoch ``e`` sees exactly the data an
uninterrupted run would have seen.

Elements (B = batch, h x w input, H x W heatmap, K keypoints):

- training: ``{"image": (B, h, w, 3) uint8 RGB, "heatmaps": (B, H, W, K),
  "target_weight": (B, K), "joints": (B, K, 2) crop pixels,
  "joints_vis": (B, K), "index": (B,) row of the records}``
- evaluation: see :func:`build_eval_dataset`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Any, Optional, Sequence

import cv2
import numpy as np
import tensorflow as tf
from absl import logging

from keras_pose.codec import HeatmapCodec
from keras_pose.data import transforms
from keras_pose.data.images import ImageReadError, read_image

AUTOTUNE = tf.data.AUTOTUNE

# Keys of the person records the pipelines read.
RECORD_KEYS = ("image_path", "center", "scale", "joints", "joints_vis",
               "score", "area", "image_id")


class UnreadableImagesError(ValueError):
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


def _records_dict(records: Any) -> dict[str, np.ndarray]:
    """Accepts a PersonRecords (``to_dict``) or a plain dict of arrays."""
    values = records.to_dict() if hasattr(records, "to_dict") else dict(records)
    missing = [k for k in RECORD_KEYS if k not in values]
    if missing:
        raise ValueError(f"person records lack keys {missing}")
    n = len(values["image_path"])
    if n == 0:
        raise ValueError("no person records: the data set is empty")
    out = {
        "image_path": np.asarray(values["image_path"]).astype(str),
        "center": np.asarray(values["center"], np.float32).reshape(n, 2),
        "scale": np.asarray(values["scale"], np.float32).reshape(n, 2),
        "joints": np.asarray(values["joints"], np.float32).reshape(n, -1, 2),
        "joints_vis": np.asarray(values["joints_vis"], np.float32).reshape(n, -1),
        "score": np.asarray(values["score"], np.float32).reshape(n),
        "area": np.asarray(values["area"], np.float32).reshape(n),
        "image_id": np.asarray(values["image_id"], np.int64).reshape(n),
    }
    out["index"] = np.arange(n, dtype=np.int64)
    return out


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


def group_by_image(image_paths: Sequence[str]) -> list[np.ndarray]:
    """Rows of the person records grouped by image file, in order of first
    appearance (each group's rows in record order)."""
    paths = np.asarray(image_paths).astype(str)
    _, first, inverse = np.unique(paths, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group_of_row = rank[inverse.reshape(-1)]
    rows = np.argsort(group_of_row, kind="stable")
    return np.split(rows, np.cumsum(np.bincount(group_of_row))[:-1])


def shard_groups(groups: Sequence[np.ndarray], num_shards: int, shard_id: int) -> list[int]:
    """Indices of the image groups of one input pipeline.

    Whole images go to one shard (so each is decoded once); each image goes
    to the shard with the fewest people so far, so the shards' people counts
    differ by at most the largest group.
    """
    load = [0] * num_shards
    mine = []
    for g, rows in enumerate(groups):
        target = int(np.argmin(load))
        load[target] += len(rows)
        if target == shard_id:
            mine.append(g)
    return mine


def _decoded_images(paths: np.ndarray):
    """A function group -> (image (H, W, 3) uint8, or (0, 0, 3) when the
    file cannot be read or decoded), for ``Dataset.interleave``: a decode
    error drops the one-element inner dataset, and the empty image that
    follows it tells the sample code to skip and count the image."""
    paths = tf.constant(paths)
    empty = tf.zeros([0, 0, 3], tf.uint8)

    def decoded(group, *rest):
        read = tf.data.Dataset.from_tensors(paths[group]).map(
            lambda path: transforms.decode_image_tf(tf.io.read_file(path))).ignore_errors()
        image = read.concatenate(tf.data.Dataset.from_tensors(empty)).take(1)
        return image.map(lambda im: (group, im, *rest))

    return decoded


SAMPLE_KEYS = ("image", "heatmaps", "target_weight", "joints", "joints_vis", "index")


class _SampleMaker:
    """The NumPy side of training samples: every person of one image."""

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
        self.counter.add(path, "cannot be read or decoded", people=len(rows))
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
        crops, heatmaps = (_aligned_empty((n, h, w, 3), np.uint8),
                           _aligned_empty((n, hh, hw, self.k), np.float32))
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


def _aligned_empty(shape: tuple[int, ...], dtype, alignment: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose data start on an
    ``alignment``-byte boundary. ``tf.numpy_function`` (in a graph) hands
    such an array to TF without copying it; any other array is copied, with
    the GIL held."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffer = np.empty(size + alignment, np.uint8)
    start = -buffer.ctypes.data % alignment
    return buffer[start:start + size].view(dtype).reshape(shape)


def build_train_dataset(records: Any, aug: Augmentation, codec: HeatmapCodec, *,
                        batch_size: int, steps_per_epoch: int, start_epoch: int = 0,
                        seed: int = 0, images_in_flight: int = 64,
                        num_parallel_calls: int = -1,
                        input_context: Optional[tf.distribute.InputContext] = None,
                        skipped_counter: Optional[SkipCounter] = None) -> tf.data.Dataset:
    """The training data of a whole run, from ``start_epoch`` on (endless).

    Epoch ``e`` is ``steps_per_epoch`` batches: the images in an order
    shuffled from (seed, e), each decoded once and all its people cropped
    with draws from (seed, e, image), the people of ``images_in_flight``
    images interleaved so that one image's people land in different batches.
    An epoch of one pass or less sees every person at most once (the tail
    that does not fill a batch is dropped, as full batches need); a longer
    epoch continues with the next passes, each reshuffled and re-augmented.
    With several input pipelines each shard holds whole images (balanced by
    people) and continues into its next pass when it is the shortest. An
    unreadable image is skipped once per pass, its people counted in
    ``skipped_counter``; the epoch is filled from the next pass.

    Args:
      records: PersonRecords or a dict of arrays (see ``RECORD_KEYS``).
      aug: the augmentation; codec: the targets' geometry.
      batch_size: this pipeline's batch (per replica).
      steps_per_epoch: batches per epoch.
      start_epoch: the first epoch (a resumed run starts where it stopped).
      seed: the data seed.
      images_in_flight: images whose people are interleaved.
      num_parallel_calls: images decoded and augmented at once; -1 or 0:
        autotuned, else fixed and without the autotuner (whose thread can
        delay the end of a run: see :func:`_without_autotuner`).
      input_context: from ``strategy.distribute_datasets_from_function``.
      skipped_counter: counts people of unreadable images.

    Raises:
      UnreadableImagesError: none of this pipeline's images can be read
        (while iterating: as TF's error, the message in the counter).
    """
    values = _records_dict(records)
    groups = group_by_image(values["image_path"])
    group_ids, where = _pipeline_groups(groups, input_context)
    paths = np.asarray(values["image_path"])[[g[0] for g in groups]]
    source = getattr(records, "source", None)
    check_readable(paths[group_ids], where, source)
    cv2.setNumThreads(1)  # tf.data parallelises across images.
    maker = _SampleMaker(values, groups, aug, codec, seed, skipped_counter or SkipCounter(),
                         group_ids, where, source)
    # Autotuned by default: 1.3-1.6x the samples per core of a fixed CPU
    # count here. (Its cost, a wait when the iterator is deleted, is paid
    # once per run, in a background thread: PoseTrainingModel.)
    parallel = num_parallel_calls if num_parallel_calls > 0 else AUTOTUNE
    def one_pass(epoch, repetition):
        order = tf.random.experimental.stateless_shuffle(
            tf.constant(group_ids), seed=tf.stack([tf.constant(seed, tf.int64),
                                                   epoch * 16 + repetition]))
        images = tf.data.Dataset.from_tensor_slices(order).map(
            lambda g: (g, epoch, repetition)).interleave(
            _decoded_images(paths), cycle_length=8, num_parallel_calls=parallel, deterministic=True)
        return images.interleave(maker.samples, cycle_length=max(1, min(images_in_flight,
                                                                  len(group_ids))),
                                 block_length=1, num_parallel_calls=parallel,
                                 deterministic=True)

    def one_epoch(epoch):
        # As many passes as the epoch needs (built when reached), so that
        # skips never take samples from the next epoch; a pass yields none
        # only if no image is readable, an error in _SampleMaker.
        passes = tf.data.Dataset.range(np.iinfo(np.int64).max).flat_map(
            lambda r: one_pass(epoch, r))
        return passes.take(steps_per_epoch * batch_size)

    ds = tf.data.Dataset.range(start_epoch, np.iinfo(np.int64).max).flat_map(one_epoch)
    ds = ds.batch(batch_size, drop_remainder=True)
    if num_parallel_calls > 0:
        return _without_autotuner(ds.prefetch(2))
    return ds.prefetch(AUTOTUNE)


def _pipeline_groups(groups: Sequence[np.ndarray],
                     input_context: Optional[tf.distribute.InputContext]
                     ) -> tuple[np.ndarray, str]:
    """The image groups of this input pipeline: all, or its shard (whole
    images, balanced by people) when there are several pipelines; and the
    words that name them in messages."""
    group_ids = np.arange(len(groups), dtype=np.int64)
    where = "of the training split"
    if input_context is not None and input_context.num_input_pipelines > 1:
        group_ids = np.asarray(shard_groups(groups, input_context.num_input_pipelines,
                                            input_context.input_pipeline_id), np.int64)
        where = (f"of input pipeline {input_context.input_pipeline_id + 1} of "
                 f"{input_context.num_input_pipelines} (whole images per pipeline)")
    if not len(group_ids):
        raise ValueError("no images for this input pipeline: too few images")
    return group_ids, where


def check_readable(paths: Sequence[str], where: str = "of the training split",
                   source: Optional[str] = None) -> None:
    """Reads ``paths`` in order until one decodes (one read when the first
    is fine): training data none of whose images can be read would never
    yield a sample.

    Raises:
      UnreadableImagesError: naming the files, their reasons and ``source``
        (the annotation file).
    """
    problems = []
    for path in paths:
        try:
            read_image(str(path))
            return
        except ImageReadError as e:
            problems.append(f"{e.path} ({e.reason})")
    raise UnreadableImagesError(
        f"none of the {len(problems)} training images {where} can be read or decoded: "
        f"{'; '.join(problems[:3])}" + (f" and {len(problems) - 3} more" if len(problems) > 3
                                        else "")
        + f"; replace them or remove their entries from {source or 'the annotation file'}")


def readable_rows(image_paths: Sequence[str], count: int) -> np.ndarray:
    """Rows of the first ``count`` people whose images can be read (images
    in order of first appearance): a fixed sample, such as the debug
    images', that unreadable images cannot leave empty."""
    rows: list[int] = []
    for group in group_by_image(image_paths):
        try:
            read_image(str(image_paths[group[0]]))
        except ImageReadError:
            continue
        rows.extend(int(r) for r in group[:count - len(rows)])
        if len(rows) >= count:
            break
    return np.asarray(rows, np.int64)


def _without_autotuner(ds: tf.data.Dataset) -> tf.data.Dataset:
    """No autotuning (for iterators that are created and deleted often).

    TF's autotuner thread sleeps for periods that double while an iterator
    lives (up to a minute in TF 2.21), and deleting a finished iterator waits
    for the current sleep to end: up to a minute at every validation, and
    at the end of a training run (``PoseTrainingModel.release_iterator``
    moves that wait to a background thread, but a 4-minute demo run still
    saw 25 s of it once, so the demo uses fixed parallelism).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def build_eval_dataset(records: Any, *, image_size: Sequence[int], batch_size: int = 32,
                       num_parallel_calls: int = -1) -> tf.data.Dataset:
    """Evaluation crops in TF ops, each image decoded once for all its people.

    Needs ``image_path``, ``center`` and ``scale``; yields batches of
    ``{"image": (B, h, w, 3) float32 crops in pixel values (RGB, not
    normalised: the inference path normalises), "center" (B, 2), "scale"
    (B, 2), "score" (B,), "index" (B,) the record row}``. People come image
    by image (images in order of first appearance), so rows are matched by
    ``index``. The crop is :func:`transforms.crop_images_tf`, the one the
    exported model runs.

    An image that cannot be read or decoded fails the iteration with TF's
    error (the caller names the files). Fixed parallelism, no autotuning
    (see :func:`_without_autotuner`).

    Args:
      records: PersonRecords or a dict of arrays.
      image_size: (width, height) of the crops.
      batch_size: people per batch.
      num_parallel_calls: images decoded in parallel (-1 or 0: the CPU count).
    """
    values = _records_dict(records)
    groups = group_by_image(values["image_path"])
    rows = tf.RaggedTensor.from_row_lengths(
        np.concatenate(groups).astype(np.int64), [len(g) for g in groups])
    paths = np.asarray([values["image_path"][g[0]] for g in groups])
    table = {k: tf.constant(values[k]) for k in ("center", "scale", "score", "index")}

    def image_people(path, people):
        image = transforms.decode_image_tf(tf.io.read_file(path))
        out = {k: tf.gather(v, people) for k, v in table.items()}
        inverse = transforms.get_affine_transform_tf(out["center"], out["scale"], 0.0,
                                                     image_size, inverse=True)
        out["image"] = transforms.crop_images_tf(
            image[None], tf.zeros(tf.shape(people), tf.int32), inverse, image_size)
        return out

    parallel = num_parallel_calls if num_parallel_calls > 0 else (os.cpu_count() or 1)
    ds = tf.data.Dataset.from_tensor_slices((paths, rows))
    ds = ds.map(image_people, num_parallel_calls=parallel, deterministic=True)
    return _without_autotuner(ds.unbatch().batch(batch_size).prefetch(2))
