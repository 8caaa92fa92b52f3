"""MPII Human Pose in the JSON form of the official code.

Layout::

    <root>/annot/{train,valid,test}.json   list of {image, center, scale, joints, joints_vis}
    <root>/annot/gt_valid.mat               ground truth for PCKh (evaluation)
    <root>/images/<image>

``scripts/convert_mpii_mat.py`` writes the JSON files (and, with a validation list, gt_valid.mat) from the official ``mpii_human_pose_v1_u12_1.mat`` release.
"""

from __future__ import annotations

import math
import os
from typing import Optional

import numpy as np

from keras_pose import log as logging
from keras_pose.configs.keypoints import (MPII_FLIP_PAIRS, MPII_KEYPOINT_NAMES,
                                          MPII_SKELETON)
from keras_pose.data.coco_files import AnnotationError, numbers_problem, read_json
from keras_pose.data.records import ARRAY_FIELDS, PersonRecords

NUM_JOINTS = 16
REQUIRED_KEYS = ("image", "center", "scale")


def annotation_path(root: str, split: str) -> str:
    return os.path.join(root, "annot", f"{split}.json")


def _joints_problem(person: dict) -> Optional[str]:
    """Why ``joints``/``joints_vis`` are not 16 finite [x, y] and 16 flags
    (0 or 1: the value is the joint's weight in the loss, so a 2 weighed it
    double and a -1 or 0.5 trained it towards an empty heatmap)."""
    joints = person["joints"]
    if not isinstance(joints, list) or len(joints) != NUM_JOINTS:
        return f"'joints' must be a list of {NUM_JOINTS} [x, y] pairs, got {joints!r:.80}"
    for j, row in enumerate(joints):
        problem = numbers_problem(row, 2, f"'joints'[{j}]")
        if problem:
            return problem
    problem = numbers_problem(person["joints_vis"], NUM_JOINTS, "'joints_vis'")
    if problem:
        return problem
    for j, flag in enumerate(person["joints_vis"]):
        if flag not in (0, 1):
            return f"'joints_vis'[{j}] must be 0 or 1 (the joint labelled or not), got {flag!r}"
    return None


def _checked_person(person: object, index: int, path: str, with_joints: bool) -> dict:
    """One entry, checked: every error names the file, the entry and the field."""
    if not isinstance(person, dict):
        raise AnnotationError(f"{path}: entry {index} is not an object")
    where = f"{path}: entry {index} (image {person.get('image')!r})"
    keys = REQUIRED_KEYS + (("joints", "joints_vis") if with_joints else ())
    for key in keys:
        if key not in person:
            raise AnnotationError(f"{where} has no '{key}' (not an MPII annotation file?)")
    scale = person["scale"]
    if not isinstance(person["image"], str):
        problem = f"'image' must be a file name, got {person['image']!r}"
    elif type(scale) not in (int, float) or not math.isfinite(scale) or scale <= 0:
        problem = f"'scale' must be a finite number > 0, got {scale!r}"
    else:
        problem = numbers_problem(person["center"], 2, "'center'")
    if problem is None and with_joints:
        problem = _joints_problem(person)
    if problem:
        raise AnnotationError(f"{where}: {problem}")
    return person


def load_mpii(ann_file: str, images_root: str, with_joints: bool = True) -> PersonRecords:
    """Person records from an MPII JSON file, adjusted as the reference does.

    Per person: when center x != -1, center y += 15 * scale and scale *= 1.25
    (the reference's "avoid cropping limbs" adjustment, in that order); then
    the center and the joints move from MATLAB's 1-based to 0-based pixels.
    All labelled joints count as visible. No person is dropped: PCKh pairs
    the predictions with ``gt_valid.mat`` by position, so a malformed entry
    (missing field, wrong length or type, NaN/inf) is an error naming the
    file, the entry and the field.

    Args:
      ann_file: ``annot/<split>.json``.
      images_root: the images directory.
      with_joints: read ``joints``/``joints_vis`` (False for the test split).
    """
    data = read_json(ann_file)
    if not isinstance(data, list):
        raise AnnotationError(f"{ann_file} is not an MPII annotation file (expected a "
                              "JSON list of {image, center, scale, joints, joints_vis})")
    rows: dict[str, list] = {f: [] for f in ARRAY_FIELDS}
    image_ids: dict[str, int] = {}
    for i, person in enumerate(data):
        person = _checked_person(person, i, ann_file, with_joints)
        center = np.array(person["center"], np.float64)
        scale = np.array([person["scale"]] * 2, np.float64)
        if center[0] != -1:
            center[1] += 15 * scale[1]
            scale = scale * 1.25
        center = center - 1
        joints = np.zeros((NUM_JOINTS, 2), np.float32)
        vis = np.zeros((NUM_JOINTS,), np.float32)
        if with_joints:
            joints = (np.asarray(person["joints"], np.float64) - 1).astype(np.float32)
            vis = np.asarray(person["joints_vis"], np.float32)
        name = person["image"]
        rows["image_path"].append(os.path.abspath(os.path.join(images_root, name)))
        rows["image_id"].append(image_ids.setdefault(name, len(image_ids)))
        rows["center"].append(center)
        rows["scale"].append(scale)
        rows["joints"].append(joints)
        rows["joints_vis"].append(vis)
        rows["score"].append(1.0)
        rows["area"].append(float(np.prod(scale * 200.0)))
        side = scale[0] * 200.0
        rows["box"].append([center[0] - side / 2, center[1] - side / 2, side, side])
        rows["category_id"].append(1)
    logging.info("%s: %d people", ann_file, len(rows["image_path"]))
    return PersonRecords.from_lists(
        rows, NUM_JOINTS, keypoint_names=MPII_KEYPOINT_NAMES, flip_pairs=MPII_FLIP_PAIRS,
        skeleton=MPII_SKELETON, source=ann_file)
