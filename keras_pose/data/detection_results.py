"""COCO detection-results files read and checked (the person boxes that
evaluation crops: ``test.detection_file``, ``evaluate.py --detections``).

A wrong structure or type is an error naming the entry; a non-finite box or
score is dropped and counted (as the reference drops invalid boxes).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from keras_pose import log as logging
from keras_pose.data.coco_files import AnnotationError, numbers_problem, read_json
from keras_pose.json_values import NUMBER_TYPES, all_finite, is_int


def _detection_drop_reason(det: Any, number: int, path: str) -> Optional[str]:
    """Checks one detection: errors for a wrong structure or type, a reason
    for a non-finite box or score (dropped, as invalid boxes are)."""
    where = f"{path}: detection #{number}"
    if not isinstance(det, dict):
        raise AnnotationError(f"{where} is not an object {{image_id, category_id, bbox, score}}")
    where += f" (image_id {det.get('image_id')!r})"
    for field in ("image_id", "category_id", "bbox", "score"):
        if field not in det:
            raise AnnotationError(f"{where}: has no '{field}'")
    for field in ("image_id", "category_id"):
        if not is_int(det[field]):
            raise AnnotationError(f"{where}: '{field}' must be an integer, got {det[field]!r}")
    problem = numbers_problem(det["bbox"], 4, "'bbox' ([x, y, w, h])", finite=False)
    if problem is None and type(det["score"]) not in NUMBER_TYPES:
        problem = f"'score' must be a number, got {type(det['score']).__name__} {det['score']!r}"
    if problem:
        raise AnnotationError(f"{where}: {problem}")
    if not all_finite(det["bbox"]):
        return "non-finite bbox"
    if not all_finite([det["score"]]):
        return "non-finite score"
    return None


def read_detections(det_file: str) -> tuple[list[dict], dict[str, int]]:
    """Reads and checks a COCO detection-results file.

    Returns:
      (the usable detections, counts of those dropped by reason: non-finite
      boxes or scores, logged as a warning).

    Raises:
      AnnotationError: an empty file, a file that is not detection results,
        or an entry of the wrong structure or type (naming the entry).
    """
    detections = read_json(det_file)
    if not isinstance(detections, list):
        raise AnnotationError(f"{det_file} is not a COCO detection-results file "
                              "(expected a JSON list of {image_id, category_id, bbox, score})")
    if not detections:
        raise AnnotationError(f"{det_file} is empty: no detections")
    kept, dropped = [], Counter()
    for number, det in enumerate(detections):
        reason = _detection_drop_reason(det, number, det_file)
        if reason:
            dropped[reason] += 1
        else:
            kept.append(det)
    if dropped:
        logging.warning("%s: %d of %d detections dropped (%s)", det_file,
                        sum(dropped.values()), len(detections),
                        ", ".join(f"{r}: {n}" for r, n in sorted(dropped.items())))
    return kept, dict(dropped)

