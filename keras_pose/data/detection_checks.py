"""Warnings on the detections an evaluation uses as given (boxes of a
COCO detection-results file, kept by :func:`keras_pose.data.coco.load_coco_detections`;
:func:`warn_box_format` also on predict.py's boxes files):
none stops a run, each names the file and says what looks wrong. Boxes of
no size, of a category without people, in another format than COCO's
[x, y, w, h] in pixels, and images of the split without a detection all
lowered the AP in silence.

Shapes: D kept detections.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from keras_pose import log as logging
from keras_pose.data.coco_files import META_KEY

__all__ = ["known_size", "warn_box_format", "warn_detection_problems"]

# Boxes of [x1, y1, x2, y2] taken for [x, y, w, h] end past the image's right
# or bottom edge: a warning when more than PAST_EDGE_SHARE of the boxes (and
# at least PAST_EDGE_MIN) end beyond PAST_EDGE times the image's width or
# height. Right boxes do so rarely: 2 of the demo set's 116, none of COCO's.
PAST_EDGE, PAST_EDGE_SHARE, PAST_EDGE_MIN = 1.1, 0.2, 3
# Boxes given as fractions of the image size are at most 1 wide and high, a
# little more where a box runs past the image's edge (the demo set's reach
# 1.07): a warning when every box on images of FRACTION_IMAGE px and more is
# at most FRACTION_SIDE px wide and high (no person is that small in them).
FRACTION_SIDE, FRACTION_IMAGE = 1.5, 15


def known_size(image: Mapping[str, Any]) -> Optional[tuple[float, float]]:
    """(width, height) of an image entry, or None unless both are numbers > 0."""
    size = (image.get("width"), image.get("height"))
    return size if all(type(v) in (int, float) and v > 0 for v in size) else None


def warn_detection_problems(det_file: str, ann_file: str, data: dict,
                             rows: dict[str, list]) -> None:
    """The warnings on the kept detections ``rows`` of ``det_file``, used
    as given: boxes of no size, of a category without people, in another
    format than COCO's, and annotated images without a detection."""
    meta = data[META_KEY]
    images = {img["id"]: img for img in data["images"]}
    _warn_empty_boxes(det_file, rows["box"])
    _warn_categories_without_people(det_file, ann_file, rows["category_id"], meta)
    sizes = [known_size(images[i]) or (np.nan, np.nan) for i in rows["image_id"]]
    warn_box_format(det_file, rows["box"], sizes)
    if meta["has_annotations"]:
        _warn_images_without_detections(det_file, data, rows["image_id"])


def warn_box_format(det_file: str, boxes: Sequence[Sequence[float]],
                    sizes: Sequence[Sequence[float]]) -> None:
    """Says when the boxes look like another format than COCO's [x, y, w, h]
    in pixels (each was used as such in silence: AP 0.098 for 0.533 with
    [x1, y1, x2, y2], 0.000 with fractions of the image size). The one rule
    of evaluate.py's detections and predict.py's boxes files
    (``keras_pose.detection.file_detectors.FormatWatch``).

    Args:
      det_file: the file of the boxes, named in the warning.
      boxes: (D, 4) the boxes as the file gives them.
      sizes: (D, 2) the width and height of each box's image, NaN unknown.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    known = ~np.isnan(sizes).any(axis=1)
    boxes, sizes = boxes[known], sizes[known]
    past = (boxes[:, :2] + boxes[:, 2:] > PAST_EDGE * sizes).any(axis=1)
    if past.sum() >= PAST_EDGE_MIN and past.sum() > PAST_EDGE_SHARE * len(boxes):
        i = np.flatnonzero(past)[0]
        logging.warning(
            "%s: %d of %d detection boxes end well past their image's right or bottom edge "
            "(e.g. %s on a %gx%g image): the boxes look like [x1, y1, x2, y2]; COCO detection "
            "results are [x, y, w, h] (w = x2 - x1, h = y2 - y1): convert them", det_file,
            past.sum(), len(boxes), _shown(boxes[i]), *sizes[i])
    larger = (sizes >= FRACTION_IMAGE).all(axis=1)
    sides = boxes[larger, 2:]
    if larger.any() and (sides <= FRACTION_SIDE).all() and (sides > 0).all(axis=1).any():
        i = np.flatnonzero(larger)[0]
        logging.warning(
            "%s: every detection box is at most %g px wide and high (e.g. %s on a %gx%g "
            "image): fractions of the image size? COCO detection results are [x, y, w, h] in "
            "the image's pixels (x and w times the width, y and h times the height)",
            det_file, FRACTION_SIDE, _shown(boxes[i]), *sizes[i])


def _shown(box: np.ndarray) -> list[float]:
    """A box (4,) as a message shows it: 6 digits (float32 boxes printed
    280.7900085449219 for a file's 280.79)."""
    return [float(f"{v:.6g}") for v in box]


def _warn_images_without_detections(det_file: str, data: dict,
                                    detected_ids: Sequence[int]) -> None:
    """Says when images with people to score have no kept detection: every
    person there counts as missed (COCOeval scores every image of the
    split), lowering AP and AR without a word."""
    images = {img["id"] for img in data["images"]}
    people = Counter(a["image_id"] for a in data["annotations"]
                     if not a["iscrowd"] and a["num_keypoints"] > 0 and a["image_id"] in images)
    detected = set(detected_ids)
    missing = sorted(i for i in people if i not in detected)
    if missing:
        logging.warning(
            "%s: %d of %d images of the split have no detection: their %d people count as "
            "missed (images with people to score, e.g. image id %s; detections of part of "
            "the split, or all of theirs dropped or below data.image_threshold?)", det_file,
            len(missing), len(people), sum(people[i] for i in missing), missing[0])


def _warn_categories_without_people(det_file: str, ann_file: str, categories: list,
                                    meta: dict) -> None:
    """Says when detections are of a chosen category the annotation file
    has no people of: their results can match no one (AP 0 without a word)."""
    with_people = meta.get("keypoint_category_ids")
    if with_people is None:  # An image-info file: no people at all, by design.
        return
    empty = Counter(c for c in categories if c not in with_people)
    if empty:
        logging.warning("%s: %d detections are of categories %s, of which %s has no people: "
                        "their results can match no one (detections of another category?)",
                        det_file, sum(empty.values()), sorted(empty), ann_file)


# What keras_pose.data.transforms.box_to_center_scale makes of a box of no
# size: (when a box is, the crop, the warning's words).
EMPTY_BOX_CASES = (
    ("one side > 0", "cropped at the size that side gives (the network's aspect ratio "
     "makes the other), centred on (x + w/2, y + h/2)"),
    ("both < 0", "cropped at a negative scale: the crop is turned 180 degrees (the person "
     "upside down to the model)"),
    ("no side > 0, one = 0", "of scale 0: all their keypoints fall on one point, "
     "(x + w/2, y + h/2)"))


def _empty_box_case(width: float, height: float) -> Optional[int]:
    """Which of ``EMPTY_BOX_CASES`` a box of that width and height is, or
    None (both > 0). box_to_center_scale widens or heightens the box to
    the aspect ratio: from a positive side the other is made positive, from
    two negative sides a negative scale, from a 0 beside a side <= 0 a
    scale of 0."""
    if width > 0 and height > 0:
        return None
    if width > 0 or height > 0:
        return 0
    return 1 if width < 0 and height < 0 else 2


def _warn_empty_boxes(det_file: str, boxes: Sequence[Sequence[float]]) -> None:
    """Boxes of zero or negative width or height are used as given, as the
    reference does (its numbers count them), but were silent; then said to
    collapse to one point, which only a scale of 0 does. Each case is said
    with what its crop is (``EMPTY_BOX_CASES``)."""
    cases: dict[int, list[int]] = {}
    for i, box in enumerate(boxes):
        case = _empty_box_case(box[2], box[3])
        if case is not None:
            cases.setdefault(case, []).append(i)
    if cases:
        logging.warning(
            "%s: %d detection(s) have a box of zero or negative width or height: used as "
            "given, as the reference does; %s", det_file, sum(map(len, cases.values())),
            "; ".join(f"{len(found)} with {EMPTY_BOX_CASES[case][0]} (e.g. "
                      f"{_shown(np.asarray(boxes[found[0]]))}) are {EMPTY_BOX_CASES[case][1]}"
                      for case, found in sorted(cases.items())))
