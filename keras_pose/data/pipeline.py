"""tf.data pipelines: augmented training samples and evaluation crops.

Training follows the reference's ``JointsDataset.__getitem__`` sample for
sample: read, (optional half-body), random scale, random rotation with
probability 0.6, random horizontal flip with the flip pairs, the affine crop
(bilinear, zero border), the joints through the same matrix, Gaussian
targets. The work runs per image (one decode for all its people) in
OpenCV/NumPy through ``tf.numpy_function`` inside a parallel ``map``:
measured here, OpenCV's ``warpAffine`` is ~6x faster than TF's
``ImageProjectiveTransformV3`` for a 256x192 crop, and the JPEG decode
costs more than everything else of a sample together. Normalisation runs on
whole batches in TF (or in the training step).

Evaluation crops are pure TF ops (decode, the rotation-free crop,
normalisation), the same ops the exported SavedModel runs.

Elements (B = batch, h x w input, H x W heatmap, K keypoints):

- training: ``{"image": (B, h, w, 3) float32 normalised (uint8 RGB with
  ``normalize=False``), "heatmaps": (B, H, W, K),
  "target_weight": (B, K), "joints": (B, K, 2) crop pixels, "joints_vis": (B, K),
  "index": (B,) row of the records}``
- evaluation: ``{"image", "center" (B, 2), "scale" (B, 2), "score" (B,),
  "area" (B,), "image_id" (B,), "index" (B,) row of the records}``

One pass over the data per iteration (unless ``repeat``): an epoch is one pass.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Optional, Sequence

import cv2
import numpy as np
import tensorflow as tf
from absl import logging

from keras_pose.codec import HeatmapCodec
from keras_pose.data import transforms

AUTOTUNE = tf.data.AUTOTUNE

# Keys of the person records the pipelines read.
RECORD_KEYS = ("image_path", "center", "scale", "joints", "joints_vis",
               "score", "area", "image_id")


class SkipCounter:
    """Counts training samples (people) skipped for unreadable images
    (thread-safe).

    The trainer logs ``count`` (and the first ``names``) every epoch.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0
        self.names: list[str] = []

    def add(self, path: str, reason: str, people: int = 1) -> None:
        """Counts ``people`` samples of the image ``path`` as skipped."""
        with self._lock:
            self.count += people
            if path not in self.names:
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


def read_image_rgb(path: str) -> Optional[np.ndarray]:
    """Reads an image as RGB uint8 ignoring EXIF orientation; None if unreadable."""
    image = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


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


def augment_sample(image: np.ndarray, joints: np.ndarray, joints_vis: np.ndarray,
                   center: np.ndarray, scale: np.ndarray, rng: np.random.Generator, *,
                   image_size: Sequence[int], flip_pairs: Sequence[Sequence[int]],
                   scale_factor: float, rotation_factor: float,
                   rotation_prob: float = 0.6, flip: bool = True,
                   flip_prob: float = 0.5, half_body_prob: float = 0.0,
                   num_joints_half_body: int = 8,
                   upper_body_ids: Sequence[int] = ()
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training sample's geometry, as the reference's ``__getitem__``.

    Args:
      image: (H_img, W_img, C) uint8, any channel order (kept).
      joints: (K, 2) image pixels; joints_vis: (K,).
      center, scale: the person's (2,) center and scale.
      rng: the sample's random generator.

    Returns:
      crop (h, w, 3) uint8, joints (K, 2) in crop pixels (invisible joints
      keep their untransformed value, as the reference), joints_vis (K,).
    """
    joints = np.array(joints, np.float32)
    joints_vis = np.array(joints_vis, np.float32)
    center = np.array(center, np.float32)
    scale = np.array(scale, np.float32)
    aspect_ratio = image_size[0] / image_size[1]
    if (half_body_prob > 0 and np.sum(joints_vis > 0) > num_joints_half_body
            and rng.random() < half_body_prob):
        c_half, s_half = half_body_center_scale(joints, joints_vis, upper_body_ids,
                                                aspect_ratio, rng)
        if c_half is not None:
            center, scale = c_half, s_half
    scale = scale * np.clip(rng.standard_normal() * scale_factor + 1,
                            1 - scale_factor, 1 + scale_factor)
    rotation = 0.0
    if rng.random() <= rotation_prob:
        rotation = float(np.clip(rng.standard_normal() * rotation_factor,
                                 -rotation_factor * 2, rotation_factor * 2))
    flipped = flip and rng.random() <= flip_prob
    width = image.shape[1]
    if flipped:
        joints, joints_vis = transforms.flip_joints(joints, joints_vis, width, flip_pairs)
        center[0] = width - center[0] - 1
    matrix = transforms.get_affine_transform(center, scale, rotation, image_size)
    warp = matrix
    if flipped:
        # The reference mirrors the whole image, then crops; warping the
        # original through (crop o mirror) gives the same crop without
        # copying the image: mirror(x, y) = (W - 1 - x, y).
        warp = matrix.copy()
        warp[:, 2] = matrix[:, 0] * (width - 1) + matrix[:, 2]
        warp[:, 0] = -matrix[:, 0]
    crop = cv2.warpAffine(image, warp, (int(image_size[0]), int(image_size[1])),
                          flags=cv2.INTER_LINEAR)
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


def build_train_dataset(records: Any, *, image_size: Sequence[int],
                        heatmap_size: Sequence[int], sigma: float,
                        flip_pairs: Sequence[Sequence[int]], scale_factor: float,
                        rotation_factor: float, rotation_prob: float = 0.6,
                        flip: bool = True, flip_prob: float = 0.5,
                        half_body_prob: float = 0.0, num_joints_half_body: int = 8,
                        upper_body_ids: Sequence[int] = (), color_order: str = "RGB",
                        mean: Sequence[float] = (0.485, 0.456, 0.406),
                        std: Sequence[float] = (0.229, 0.224, 0.225),
                        batch_size: int = 32, seed: Optional[int] = None,
                        shuffle: bool = True, shuffle_buffer: int = 4096,
                        images_in_flight: int = 64,
                        num_parallel_calls: int = AUTOTUNE,
                        input_context: Optional[tf.distribute.InputContext] = None,
                        skipped_counter: Optional[SkipCounter] = None,
                        drop_remainder: bool = True, repeat: bool = False,
                        normalize: bool = True) -> tf.data.Dataset:
    """The augmented training pipeline (one pass per iteration).

    Needs the record keys ``image_path``, ``center``, ``scale``, ``joints``,
    ``joints_vis``; yields the training dict of the module docstring.

    Each sample is what the reference's ``__getitem__`` makes of its person
    (independent scale, rotation and flip draws; same crop and targets), but
    the work is organised by image: the images are shuffled, each is decoded
    once and all its people are cropped from it (COCO train2017 has ~2.6
    people per image, and the JPEG decode is most of a sample's cost), and
    the people of ``images_in_flight`` images are interleaved so that people
    of one image land in different batches. Every person appears once per
    pass, as in the reference; only the order's distribution differs.

    Unreadable images are skipped, their people counted in
    ``skipped_counter``. Deterministic for a given ``seed``: the order and
    every augmentation depend only on the seed and the pass number.

    Args:
      records: PersonRecords or a dict of arrays (see ``RECORD_KEYS``).
      shuffle_buffer: image shuffle buffer (image indices, cheap).
      images_in_flight: images whose people are interleaved.
      input_context: from ``strategy.distribute_datasets_from_function``;
        whole images are sharded by input pipeline (balanced by people) and
        ``batch_size`` is the per-replica batch.
      drop_remainder: keep batches full (needed for a fixed step count).
      repeat: repeat the passes (each reshuffled and re-augmented), for
        several input pipelines that must all yield the same step count.
      normalize: normalise the crops here; False leaves "image" uint8 RGB
        for the training step to normalise on the accelerator (a quarter of
        the bytes through the pipeline, and the host spends no time on it).
    """
    values = _records_dict(records)
    codec = HeatmapCodec(image_size, heatmap_size, sigma)
    num_keypoints = values["joints"].shape[1]
    counter = skipped_counter or SkipCounter()
    out_w, out_h = int(image_size[0]), int(image_size[1])
    hm_w, hm_h = int(heatmap_size[0]), int(heatmap_size[1])
    flip_pairs = tuple(tuple(p) for p in flip_pairs)
    groups = group_by_image(values["image_path"])
    group_ids = list(range(len(groups)))
    if input_context is not None and input_context.num_input_pipelines > 1:
        group_ids = shard_groups(groups, input_context.num_input_pipelines,
                                 input_context.input_pipeline_id)
    if not group_ids:
        raise ValueError(f"no images for input pipeline {input_context.input_pipeline_id} "
                         f"of {input_context.num_input_pipelines}: too few images")
    cv2.setNumThreads(1)  # tf.data parallelises across images.

    def load_group(group, group_seed):
        rows = groups[int(group)]
        path = str(values["image_path"][rows[0]])
        # BGR as OpenCV decodes it; only the small crops are turned into RGB.
        image = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if image is None:
            reason = "file does not exist" if not os.path.exists(path) else \
                "cannot be decoded (corrupt or not an image)"
            counter.add(path, reason, people=len(rows))
            rows = rows[:0]
        n = len(rows)
        crops = np.empty((n, out_h, out_w, 3), np.uint8)
        heatmaps = np.empty((n, hm_h, hm_w, num_keypoints), np.float32)
        weights = np.empty((n, num_keypoints), np.float32)
        joints = np.empty((n, num_keypoints, 2), np.float32)
        joints_vis = np.empty((n, num_keypoints), np.float32)
        rng = np.random.default_rng(int(group_seed) & 0x7FFFFFFFFFFFFFFF)
        for i, row in enumerate(rows):
            crop, joints[i], joints_vis[i] = augment_sample(
                image, values["joints"][row], values["joints_vis"][row],
                values["center"][row], values["scale"][row], rng, image_size=image_size,
                flip_pairs=flip_pairs, scale_factor=scale_factor,
                rotation_factor=rotation_factor, rotation_prob=rotation_prob,
                flip=flip, flip_prob=flip_prob, half_body_prob=half_body_prob,
                num_joints_half_body=num_joints_half_body, upper_body_ids=upper_body_ids)
            cv2.cvtColor(crop, cv2.COLOR_BGR2RGB, dst=crops[i])
            heatmaps[i], weights[i] = codec.encode(joints[i], joints_vis[i])
        return crops, heatmaps, weights, joints, joints_vis, rows.astype(np.int64)

    def image_samples(group, group_seed):
        crops, heatmaps, weights, joints, vis, index = tf.numpy_function(
            load_group, [group, group_seed],
            [tf.uint8, tf.float32, tf.float32, tf.float32, tf.float32, tf.int64],
            stateful=False)
        crops.set_shape((None, out_h, out_w, 3))
        heatmaps.set_shape((None, hm_h, hm_w, num_keypoints))
        weights.set_shape((None, num_keypoints))
        joints.set_shape((None, num_keypoints, 2))
        vis.set_shape((None, num_keypoints))
        index.set_shape((None,))
        return {"image": crops, "heatmaps": heatmaps, "target_weight": weights,
                "joints": joints, "joints_vis": vis, "index": index}

    def normalise(batch):
        batch = dict(batch)
        if normalize:
            batch["image"] = transforms.normalize_image(batch["image"], color_order, mean, std)
        return batch

    deterministic = True if seed is not None else None
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(group_ids, np.int64))
    if shuffle:
        ds = ds.shuffle(min(shuffle_buffer, len(group_ids)), seed=seed,
                        reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, seeds))
    if repeat:
        ds = ds.repeat()
    ds = ds.map(image_samples, num_parallel_calls=num_parallel_calls,
                deterministic=deterministic)
    ds = ds.interleave(tf.data.Dataset.from_tensor_slices,
                       cycle_length=max(1, min(images_in_flight, len(group_ids))),
                       block_length=1)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(normalise, num_parallel_calls=num_parallel_calls)
    return ds.prefetch(AUTOTUNE)


def eval_crop_tf(image: tf.Tensor, center: tf.Tensor, scale: tf.Tensor,
                 image_size: Sequence[int]) -> tf.Tensor:
    """The rotation-free evaluation crop of one image, in TF ops.

    Args:
      image: (H_img, W_img, 3) pixels.
      center, scale: (2,) the person's center and scale.
      image_size: (width, height) of the crop.

    Returns:
      (h, w, 3) float32 pixels (not normalised).
    """
    inverse = transforms.get_affine_transform_tf(center[None], scale[None], 0.0,
                                                 image_size, inverse=True)
    return transforms.warp_affine_tf(image[None], inverse, image_size)[0]


def check_images_exist(paths: Sequence[str]) -> None:
    """Raises FileNotFoundError naming the missing image files (evaluation
    must not silently run on fewer people)."""
    unique = sorted(set(str(p) for p in paths))
    missing = [p for p in unique if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(unique)} image files are missing, e.g. "
            + ", ".join(missing[:5]))


def build_eval_dataset(records: Any, *, image_size: Sequence[int],
                       color_order: str = "RGB",
                       mean: Sequence[float] = (0.485, 0.456, 0.406),
                       std: Sequence[float] = (0.229, 0.224, 0.225),
                       batch_size: int = 32,
                       num_parallel_calls: int = AUTOTUNE,
                       check_files: bool = True) -> tf.data.Dataset:
    """Evaluation crops in pure TF ops, in record order.

    Needs ``image_path``, ``center``, ``scale``, ``score``, ``area``,
    ``image_id``; yields the evaluation dict of the module docstring.
    Missing images raise FileNotFoundError up front, naming them; an image
    that cannot be decoded fails the iteration with TF's decode error.
    """
    values = _records_dict(records)
    if check_files:
        check_images_exist(values["image_path"])
    out_w, out_h = int(image_size[0]), int(image_size[1])

    def sample(element):
        data = tf.io.read_file(element["image_path"])
        image = transforms.decode_image_tf(data)
        crop = eval_crop_tf(image, element["center"], element["scale"], image_size)
        crop.set_shape((out_h, out_w, 3))
        result = {k: element[k] for k in ("center", "scale", "score", "area",
                                           "image_id", "index")}
        result["image"] = transforms.normalize_image(crop, color_order, mean, std)
        return result

    keys = ("image_path", "center", "scale", "score", "area", "image_id", "index")
    ds = tf.data.Dataset.from_tensor_slices({k: values[k] for k in keys})
    ds = ds.map(sample, num_parallel_calls=num_parallel_calls, deterministic=True)
    return ds.batch(batch_size).prefetch(AUTOTUNE)


def build_datasets_from_config(config: Any, train_records: Any = None,
                               eval_records: Any = None, *,
                               batch_size: Optional[int] = None,
                               input_context: Optional[tf.distribute.InputContext] = None,
                               skipped_counter: Optional[SkipCounter] = None,
                               augment: bool = True, normalize: bool = True,
                               repeat: bool = False) -> dict[str, tf.data.Dataset]:
    """Builds the pipelines an ``ExperimentConfig`` describes.

    Args:
      config: the experiment.
      train_records / eval_records: records for either pipeline (None: skip).
      batch_size: per-replica training batch (default
        ``train.batch_size_per_replica``).
      augment: False turns off scale, rotation, flip and half-body (for
        over-fitting checks and debugging).
      normalize, repeat: as in :func:`build_train_dataset`.

    Returns:
      ``{"train": ..., "eval": ...}`` for the records given.
    """
    m, d = config.model, config.data
    out = {}
    if train_records is not None:
        out["train"] = build_train_dataset(
            train_records, image_size=m.image_size, heatmap_size=m.heatmap_size,
            sigma=m.sigma, flip_pairs=d.flip_pairs,
            scale_factor=d.scale_factor if augment else 0.0,
            rotation_factor=d.rotation_factor if augment else 0.0,
            rotation_prob=d.rotation_prob if augment else 0.0,
            flip=d.flip and augment, flip_prob=d.flip_prob,
            half_body_prob=d.half_body_prob if augment else 0.0,
            num_joints_half_body=d.num_joints_half_body,
            upper_body_ids=d.upper_body_ids, color_order=m.color_order,
            mean=m.mean, std=m.std,
            batch_size=batch_size or config.train.batch_size_per_replica,
            seed=d.seed, shuffle_buffer=d.shuffle_buffer,
            num_parallel_calls=d.num_parallel_calls if d.num_parallel_calls > 0 else AUTOTUNE,
            input_context=input_context, skipped_counter=skipped_counter,
            normalize=normalize, repeat=repeat)
    if eval_records is not None:
        out["eval"] = build_eval_dataset(
            eval_records, image_size=m.image_size, color_order=m.color_order,
            mean=m.mean, std=m.std, batch_size=config.test.batch_size,
            num_parallel_calls=d.num_parallel_calls if d.num_parallel_calls > 0 else AUTOTUNE)
    return out
