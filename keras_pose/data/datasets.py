"""One entry point from an experiment config to person records.

``resolve_dataset_config`` completes a config from its data set (the
synthetic set is generated on first use; a custom COCO-format set gives K,
names, skeleton and flip pairs), and ``load_records`` reads the split.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

import numpy as np
from absl import logging

from keras_pose.configs import ExperimentConfig
from keras_pose.configs.keypoints import (COCO_OKS_SIGMAS, DEFAULT_OKS_SIGMA,
                                          flip_pairs_from_names)
from keras_pose.data import coco, mpii
from keras_pose.data.records import PersonRecords

COCO_FORMAT = ("coco", "synthetic", "custom")


class DatasetError(ValueError):
    """A data set that cannot be used; the message names the path."""


def _split_name(config: ExperimentConfig, split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return config.data.train_set if split == "train" else config.data.test_set


def _under_root(config: ExperimentConfig, path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(config.data.root, path)


def _check_root(config: ExperimentConfig) -> None:
    if not os.path.isdir(config.data.root):
        raise DatasetError(
            f"data directory {config.data.root} does not exist (data.root / --data_dir; "
            f"expected the {config.data.dataset} layout described in the README)")


def resolve_dataset_config(config: ExperimentConfig) -> ExperimentConfig:
    """Completes ``config`` from its data set.

    - ``synthetic``: generates the data set into ``data.root`` if absent.
    - COCO-format sets with empty ``data.keypoint_names`` (custom sets): K,
      names and skeleton from the annotation file's keypoint category; flip
      pairs derived from ``left_``/``right_`` names unless given; OKS sigmas
      COCO's for K = 17, else ``DEFAULT_OKS_SIGMA`` each, unless given;
      ``model.num_keypoints`` = K.

    Raises:
      DatasetError: for a missing data directory or annotation file.
    """
    data = config.data
    if data.dataset == "synthetic":
        from keras_pose.data import synthetic
        synthetic.ensure_dataset(data.root, num_train=data.synthetic_train_images,
                                 num_val=data.synthetic_val_images,
                                 train_split=data.train_set, val_split=data.test_set)
    if data.dataset not in COCO_FORMAT and data.dataset != "mpii":
        raise DatasetError(f"unknown data.dataset {data.dataset!r}; expected coco, mpii, "
                           "synthetic or custom")
    if data.dataset in COCO_FORMAT and not data.keypoint_names:
        _check_root(config)
        candidates = [coco.annotation_path(data.root, s) for s in (data.train_set, data.test_set)]
        existing = [p for p in candidates if os.path.isfile(p)]
        if not existing:
            raise DatasetError(f"no annotation file for data set {data.root}: expected "
                               f"{' or '.join(candidates)}")
        meta = coco.dataset_metadata(existing[0])
        names = meta["keypoint_names"]
        flip_pairs = data.flip_pairs or flip_pairs_from_names(names)
        k = meta["num_keypoints"]
        sigmas = data.oks_sigmas or (COCO_OKS_SIGMAS if k == 17 else (DEFAULT_OKS_SIGMA,) * k)
        if len(sigmas) != k:
            raise DatasetError(f"data.oks_sigmas has {len(sigmas)} values for {k} keypoints")
        logging.info("%s: %d keypoints %s, flip pairs %s", existing[0], k, names, flip_pairs)
        config = config.replace(
            data=dataclasses.replace(data, keypoint_names=names, skeleton=meta["skeleton"],
                                     flip_pairs=tuple(flip_pairs), oks_sigmas=tuple(sigmas)),
            model=dataclasses.replace(config.model, num_keypoints=k))
    return config


def load_records(config: ExperimentConfig, split: str,
                 use_gt_boxes: Optional[bool] = None,
                 detection_file: Optional[str] = None) -> PersonRecords:
    """Reads the people of a split.

    Args:
      config: the (resolved) experiment.
      split: "train" (``data.train_set``) or "test" (``data.test_set``).
      use_gt_boxes: for COCO-format test splits: True ground-truth boxes,
        False detections; None: ``test.use_gt_boxes``, and when that is None
        the detections if ``test.detection_file`` exists.
      detection_file: detections to use (implies detected boxes).

    Returns:
      PersonRecords. Training records whose image file is missing are
      dropped, counted and logged; for evaluation a missing image is an error.

    Raises:
      DatasetError, AnnotationError, FileNotFoundError: naming the path.
    """
    _check_root(config)
    data = config.data
    split_name = _split_name(config, split)
    aspect = config.model.aspect_ratio
    if data.dataset == "mpii":
        ann = mpii.annotation_path(data.root, split_name)
        records = mpii.load_mpii(ann, os.path.join(data.root, "images"),
                                 with_joints=split_name != "test")
    elif data.dataset in COCO_FORMAT:
        ann = coco.annotation_path(data.root, split_name)
        images = coco.image_dir(data.root, split_name)
        if split == "test" and detection_file is None and use_gt_boxes is not True:
            wanted = config.test.use_gt_boxes if use_gt_boxes is None else use_gt_boxes
            default = _under_root(config, config.test.detection_file)
            if wanted is False or (wanted is None and config.test.detection_file
                                   and os.path.isfile(default)):
                detection_file = default
        if split == "test" and detection_file and use_gt_boxes is not True:
            if not os.path.isfile(detection_file):
                raise DatasetError(f"detections file {detection_file} does not exist")
            records = coco.load_coco_detections(
                detection_file, ann, images, aspect, data.image_threshold, data.box_padding)
        else:
            records = coco.load_coco_gt(ann, images, aspect, data.box_padding)
    else:
        raise DatasetError(f"unknown data.dataset {data.dataset!r}")
    if len(records) and records.num_keypoints != config.model.num_keypoints:
        raise DatasetError(
            f"{records.source} has {records.num_keypoints} keypoints but the model has "
            f"model.num_keypoints={config.model.num_keypoints}")
    if split == "train" and not len(records):
        raise DatasetError(f"{records.source}: no usable person in the training split")
    return _check_images(records, drop=split == "train")


def _check_images(records: PersonRecords, drop: bool) -> PersonRecords:
    """Drops (training) or reports (evaluation) people whose image is missing."""
    unique = np.unique(records.image_path) if len(records) else np.array([], str)
    missing = {p for p in unique if not os.path.isfile(p)}
    if not missing:
        return records
    examples = ", ".join(sorted(missing)[:5])
    if not drop:
        raise FileNotFoundError(f"{len(missing)} of {len(unique)} images named in "
                                f"{records.source} are missing, e.g. {examples}")
    keep = np.array([p not in missing for p in records.image_path])
    logging.warning("%s: %d of %d images are missing; %d people skipped (e.g. %s)",
                    records.source, len(missing), len(unique), int((~keep).sum()), examples)
    reasons = dict(records.skipped_reasons)
    reasons["image file missing"] = int((~keep).sum())
    kept = records.select(keep)
    kept = dataclasses.replace(kept, num_skipped=records.num_skipped + int((~keep).sum()),
                               skipped_reasons=reasons)
    if not len(kept):
        raise DatasetError(f"{records.source}: every image is missing (e.g. {examples})")
    return kept
