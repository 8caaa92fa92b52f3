"""Detector output saved as a COCO detection-results file."""

from __future__ import annotations

import math
import numbers
from typing import Iterable, Mapping, Tuple, Union

from keras_pose.detection.base import Detections
from keras_pose.files import write_json

Entries = Union[Mapping[int, Detections], Iterable[Tuple[int, Detections]]]


def write_coco_detections(path: str, entries: Entries, category_id: int = 1) -> int:
    """Writes ``[{image_id, category_id, bbox, score}, ...]`` atomically.

    The file is what ``evaluate.py --detections`` and ``--boxes`` read (the
    form of the reference's ``COCO_val2017_detections_AP_H_56_person.json``).

    Args:
      path: the JSON file to write (its directory is created).
      entries: ``{image_id: Detections}`` or ``(image_id, Detections)`` pairs;
        image ids are the COCO annotation file's integer ids.
      category_id: the COCO category of the boxes (1: person).

    Returns:
      The number of detections written.

    Raises:
      ValueError: a non-integer image id or a non-finite box or score.
    """
    pairs = entries.items() if isinstance(entries, Mapping) else entries
    results = []
    for image_id, detections in pairs:
        if isinstance(image_id, bool) or not isinstance(image_id, numbers.Integral):
            raise ValueError(f"image_id must be an integer, got {image_id!r}")
        for box, score in zip(detections.boxes.tolist(), detections.scores.tolist()):
            if not all(math.isfinite(v) for v in (*box, score)):
                raise ValueError(f"image {image_id}: non-finite box {box} or score {score}")
            results.append({"image_id": int(image_id), "category_id": int(category_id),
                            "bbox": box, "score": score})
    write_json(path, results)
    return len(results)
