"""tf.data pipelines: augmented training samples and evaluation crops.

Training follows the reference's ``JointsDataset.__getitem__`` sample for
sample (the geometry and the targets: :mod:`keras_pose.data.samples`). The
work runs per image: each image is decoded once for all its people (TF's
decoder, the project's one decoding policy; an unreadable image is skipped
once per pass and its people counted; a pipeline none of whose images can
be read is an error, before training and while it runs), then its people
are cropped in OpenCV/NumPy and their targets encoded, through
``tf.numpy_function`` inside a parallel ``interleave`` (OpenCV's
``warpAffine`` is ~6x faster than a TF crop; the evaluation crop
``transforms.crop_images_tf`` samples the same positions with the same
arithmetic, see its docstring). Normalisation happens in the training step.

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

import os
from typing import Any, Optional, Sequence

import cv2
import numpy as np
import tensorflow as tf

from keras_pose.codec import HeatmapCodec
from keras_pose.data import decoding, transforms
from keras_pose.data.images import MAX_IMAGE_FILE_BYTES, ImageReadError, read_image
from keras_pose.data.samples import Augmentation, SampleMaker, SkipCounter, UnreadableImagesError
from keras_pose.special_files import file_problem, gib

AUTOTUNE = tf.data.AUTOTUNE

# Keys of the person records the pipelines read.
RECORD_KEYS = ("image_path", "center", "scale", "joints", "joints_vis",
               "score", "area", "image_id")


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
            lambda path: decoding.decode_image_tf(tf.io.read_file(path))).ignore_errors()
        image = read.concatenate(tf.data.Dataset.from_tensors(empty)).take(1)
        return image.map(lambda im: (group, im, *rest))

    return decoded


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
      steps_per_epoch: steps per epoch (each takes a batch for every replica
        this pipeline feeds).
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
    maker = SampleMaker(values, groups, aug, codec, seed, skipped_counter or SkipCounter(),
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

    samples_per_epoch = steps_per_epoch * batch_size * _replicas_fed(input_context)

    def one_epoch(epoch):
        # As many passes as the epoch needs (built when reached), so that
        # skips never take samples from the next epoch; a pass yields none
        # only if no image is readable, an error in SampleMaker.
        passes = tf.data.Dataset.range(np.iinfo(np.int64).max).flat_map(
            lambda r: one_pass(epoch, r))
        return passes.take(samples_per_epoch)

    ds = tf.data.Dataset.range(start_epoch, np.iinfo(np.int64).max).flat_map(one_epoch)
    ds = ds.batch(batch_size, drop_remainder=True)
    if num_parallel_calls > 0:
        return _without_autotuner(ds.prefetch(2))
    return ds.prefetch(AUTOTUNE)


def _replicas_fed(input_context: Optional[tf.distribute.InputContext]) -> int:
    """How many replicas one pipeline feeds, a batch each per step, in turn
    (MirroredStrategy over one machine's GPUs). An epoch of one batch per
    step took two epochs' samples with two replicas, and a resumed run
    started from other samples than the uninterrupted one."""
    if input_context is None:
        return 1
    return input_context.num_replicas_in_sync // input_context.num_input_pipelines


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


def undecodable_images(paths: Sequence[str], num_parallel_calls: int = -1) -> list[str]:
    """The distinct files among ``paths`` (in order of first appearance)
    that tf.data's decoder refuses, every file decoded once, in parallel:
    for data read again and again (the validation images, each epoch), where
    a file found bad only when first read would fail every validation.
    ``num_parallel_calls``: files decoded at once (-1: tf.data's choice)."""
    unique = list(dict.fromkeys(str(p) for p in paths))
    if not unique:
        return []
    calls, files = (AUTOTUNE if num_parallel_calls == -1 else num_parallel_calls), tf.constant(unique)
    decoded = tf.data.Dataset.from_tensor_slices(np.arange(len(unique))).map(
        lambda i: (i, tf.shape(decoding.decode_image_tf(tf.io.read_file(files[i])))),
        num_parallel_calls=calls).ignore_errors()  # A refused file is dropped, the rest go on.
    good = np.zeros(len(unique), bool)
    for i, _ in decoded.as_numpy_iterator():
        good[i] = True
    return [path for path, ok in zip(unique, good) if not ok]


def image_file_problems(paths: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The files among ``paths`` that tf.data must not read, by path: (the
    reason their people are skipped for, what is wrong, to follow the path
    in a message). Missing; not a regular file (a FIFO's open waits for a
    writer, in silence, forever; a device never ends); above
    ``MAX_IMAGE_FILE_BYTES`` (predict.py's bound too: in tf.data a 3 GB file
    was a segmentation fault, one of 1.2 GB took 6.9 GB of memory). One
    ``stat`` a file, nothing opened."""
    found = {}
    for path in dict.fromkeys(str(p) for p in paths):
        problem = file_problem(path, MAX_IMAGE_FILE_BYTES)
        if problem is None:
            continue
        reason = ("image file missing" if problem == "does not exist" else
                  "image not a regular file" if problem.endswith("not a regular file") else
                  f"image file over {gib(MAX_IMAGE_FILE_BYTES)}" if problem.startswith("is ") else
                  "image file not readable")  # "cannot be looked at (Permission denied)"
        found[path] = (reason, problem)
    return found


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
    """Evaluation crops in TF ops, each image decoded once for each batch of
    its people (once for all of them unless it has more than a batch).

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
    # At most a batch of people an element: an image's crops are made at once,
    # with ~8 full-size temporaries each (2,000 detections in one photo took
    # 5.2 GB; the OOM killer ended the run without a word).
    groups = [g[i:i + batch_size] for g in group_by_image(values["image_path"])
              for i in range(0, len(g), batch_size)]
    rows = tf.RaggedTensor.from_row_lengths(
        np.concatenate(groups).astype(np.int64), [len(g) for g in groups])
    paths = np.asarray([values["image_path"][g[0]] for g in groups])
    table = {k: tf.constant(values[k]) for k in ("center", "scale", "score", "index")}

    def image_people(path, people):
        image = decoding.decode_image_tf(tf.io.read_file(path))
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
