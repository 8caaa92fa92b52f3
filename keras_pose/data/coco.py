"""COCO-format keypoint data: ground-truth boxes and detection results.

Layout (the reference's, also for custom COCO-format data sets)::

    <root>/annotations/person_keypoints_<split>.json
    <root>/images/<split>/<file_name>
    <root>/person_detection_results/COCO_val2017_detections_AP_H_56_person.json

Any COCO-format keypoint set works (CrowdPose, AIC, OCHuman, animals...): K,
the keypoint names and the skeleton come from the categories entry that has
``keypoints``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Optional

import numpy as np
from absl import logging

from keras_pose.data.records import PersonRecords
from keras_pose.data.transforms import box_to_center_scale


class AnnotationError(ValueError):
    """An annotation file that cannot be used; names the file and problem."""


def read_json(path: str) -> Any:
    """Reads a JSON file with errors that name it."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file {path} does not exist")
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{path} is not valid JSON: {e}") from e


def annotation_path(root: str, split: str) -> str:
    return os.path.join(root, "annotations", f"person_keypoints_{split}.json")


def image_dir(root: str, split: str) -> str:
    return os.path.join(root, "images", split)


def keypoint_category(data: dict, path: str) -> dict:
    """The category entry with keypoints (the person class for COCO)."""
    if not isinstance(data, dict):
        raise AnnotationError(f"{path} is not a COCO annotation file (top level is "
                              f"a {type(data).__name__}, expected an object)")
    for key in ("images", "categories"):
        if key not in data:
            raise AnnotationError(f"{path} is not a COCO annotation file: no "
                                  f"'{key}' entry")
    categories = [c for c in data["categories"] if c.get("keypoints")]
    if not categories:
        raise AnnotationError(f"{path}: no category has 'keypoints'; not a COCO "
                              "keypoint annotation file")
    return categories[0]


def dataset_metadata(path: str) -> dict:
    """K, keypoint names and 0-based skeleton of a COCO-format file."""
    category = keypoint_category(read_json(path), path)
    names = tuple(str(n) for n in category["keypoints"])
    skeleton = tuple((int(a) - 1, int(b) - 1) for a, b in category.get("skeleton", []))
    return {"num_keypoints": len(names), "keypoint_names": names,
            "skeleton": skeleton, "category_id": int(category["id"])}


def clean_box(box, width: int, height: int) -> Optional[list[float]]:
    """The reference's box cleaning; None when the box is empty.

    x1 = max(0, x), y1 = max(0, y), x2 = min(W - 1, x1 + max(0, w - 1)),
    y2 likewise; the result is (x1, y1, x2 - x1, y2 - y1). Quirk kept from
    the reference: a box with x < 0 is shifted right rather than cropped,
    and every box shrinks by one pixel.
    """
    x, y, w, h = (float(v) for v in box)
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1.0, x1 + max(0.0, w - 1))
    y2 = min(height - 1.0, y1 + max(0.0, h - 1))
    if x2 >= x1 and y2 >= y1:
        return [x1, y1, x2 - x1, y2 - y1]
    return None


def load_coco_gt(ann_file: str, images_root: str, aspect_ratio: float,
                 padding: float = 1.25) -> PersonRecords:
    """Ground-truth person records with the reference's cleaning.

    Kept: non-crowd annotations of the keypoint category with area > 0, a
    non-empty cleaned box and at least one labelled keypoint. Every dropped
    annotation is counted by reason and logged.

    Args:
      ann_file: ``person_keypoints_<split>.json``.
      images_root: directory of the split's images.
      aspect_ratio: network input width / height.
      padding: box enlargement (1.25).
    """
    data = read_json(ann_file)
    category = keypoint_category(data, ann_file)
    if "annotations" not in data:
        raise AnnotationError(f"{ann_file} has no 'annotations' entry (an image-info "
                              "file such as test-dev needs --detections)")
    k = len(category["keypoints"])
    images = {img["id"]: img for img in data["images"]}
    rows: dict[str, list] = {f: [] for f in ("image_path", "image_id", "center", "scale",
                                             "joints", "joints_vis", "score", "area", "box")}
    skipped: Counter = Counter()
    for ann in data["annotations"]:
        if ann.get("iscrowd", 0):
            skipped["crowd"] += 1
            continue
        image = images.get(ann.get("image_id"))
        if image is None:
            skipped["unknown image id"] += 1
            continue
        if ann.get("category_id") != category["id"]:
            skipped["not the keypoint category"] += 1
            continue
        box = clean_box(ann["bbox"], image["width"], image["height"]) \
            if float(ann.get("area", 0)) > 0 else None
        if box is None:
            skipped["zero area or empty box"] += 1
            continue
        keypoints = np.asarray(ann.get("keypoints", []), np.float32)
        if keypoints.size != 3 * k:
            raise AnnotationError(
                f"{ann_file}: annotation {ann.get('id')} has {keypoints.size} keypoint "
                f"values, expected {3 * k}")
        keypoints = keypoints.reshape(k, 3)
        if keypoints.max() == 0:
            skipped["no labelled keypoints"] += 1
            continue
        center, scale = box_to_center_scale(box, aspect_ratio, padding)
        rows["image_path"].append(os.path.abspath(os.path.join(images_root, image["file_name"])))
        rows["image_id"].append(int(image["id"]))
        rows["center"].append(center)
        rows["scale"].append(scale)
        rows["joints"].append(keypoints[:, :2])
        rows["joints_vis"].append(np.minimum(keypoints[:, 2], 1.0))
        rows["score"].append(1.0)
        rows["area"].append(float(np.prod(scale * 200.0)))
        rows["box"].append(box)
    return _records(rows, k, category, skipped, ann_file)


def load_coco_detections(det_file: str, ann_file: str, images_root: str,
                         aspect_ratio: float, image_threshold: float = 0.0,
                         padding: float = 1.25) -> PersonRecords:
    """Person records from a COCO detection-results file.

    Boxes are used exactly as given (no cleaning), person class only, and
    dropped below ``image_threshold`` (the reference's ``image_thre``).

    Args:
      det_file: a JSON list of {image_id, category_id, bbox, score}.
      ann_file: the annotation (or image-info) file naming the images.
      images_root: directory of the images.
      aspect_ratio: network input width / height.
      image_threshold: minimum detection score.

    Raises:
      AnnotationError: an empty file, a file that is not detection results,
        or detections of images the annotation file does not list.
    """
    detections = read_json(det_file)
    data = read_json(ann_file)
    category = keypoint_category(data, ann_file)
    k = len(category["keypoints"])
    if not isinstance(detections, list):
        raise AnnotationError(f"{det_file} is not a COCO detection-results file "
                              "(expected a JSON list of {image_id, category_id, bbox, score})")
    if not detections:
        raise AnnotationError(f"{det_file} is empty: no detections")
    images = {img["id"]: img for img in data["images"]}
    rows: dict[str, list] = {f: [] for f in ("image_path", "image_id", "center", "scale",
                                             "joints", "joints_vis", "score", "area", "box")}
    skipped: Counter = Counter()
    for det in detections:
        try:
            image_id, cat, box, score = (det["image_id"], det["category_id"],
                                         det["bbox"], float(det["score"]))
        except (KeyError, TypeError) as e:
            raise AnnotationError(f"{det_file}: entry {det!r} lacks {e}") from e
        if cat != category["id"]:
            skipped["not the keypoint category"] += 1
            continue
        image = images.get(image_id)
        if image is None:
            skipped["image not in the annotation file"] += 1
            continue
        if score < image_threshold:
            skipped["below image_thre"] += 1
            continue
        center, scale = box_to_center_scale(box, aspect_ratio, padding)
        rows["image_path"].append(os.path.abspath(os.path.join(images_root, image["file_name"])))
        rows["image_id"].append(int(image_id))
        rows["center"].append(center)
        rows["scale"].append(scale)
        rows["joints"].append(np.zeros((k, 2), np.float32))
        rows["joints_vis"].append(np.zeros((k,), np.float32))
        rows["score"].append(score)
        rows["area"].append(float(np.prod(scale * 200.0)))
        rows["box"].append([float(v) for v in box])
    if skipped["image not in the annotation file"] and not rows["image_path"]:
        raise AnnotationError(
            f"{det_file}: none of its {len(detections)} detections is of an image "
            f"listed in {ann_file} (a detections file for other images?)")
    if not rows["image_path"]:
        raise AnnotationError(f"{det_file}: no usable person detection "
                              f"({dict(skipped)})")
    return _records(rows, k, category, skipped, det_file)


def _records(rows: dict, k: int, category: dict, skipped: Counter,
             source: str) -> PersonRecords:
    """Logs what was kept and skipped, and builds the records."""
    logging.info("%s: %d people kept, %d skipped%s", source, len(rows["image_path"]),
                 sum(skipped.values()), "" if not skipped else " (" + ", ".join(
                     f"{reason}: {count}" for reason, count in sorted(skipped.items())) + ")")
    return PersonRecords.from_lists(
        rows, k, keypoint_names=tuple(category["keypoints"]),
        skeleton=tuple((a - 1, b - 1) for a, b in category.get("skeleton", [])),
        num_skipped=sum(skipped.values()), skipped_reasons=dict(skipped), source=source)
