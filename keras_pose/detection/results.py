"""COCO detection-results files: detector output saved as one, and the
records of one read as ``--boxes`` entries."""

from __future__ import annotations

import math
import numbers
from collections import Counter
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Tuple, Union

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


# A box without category_id (its person takes the model's first category).
# Never a category id: those are >= 0 (keras_pose.data.coco_files
# .category_id_problem refuses others; 0 is one: was this mark, its people
# were written under another category).
NO_CATEGORY = -1


class RecordName(str):
    """A record's ``file_name`` as a boxes table's key, with the record's
    ``image_id`` (an int, or None): its image when the name matches no
    input (was never tried: the record's boxes went unused)."""

    image_id: Optional[int]

    def __new__(cls, name: str, image_id: Any = None) -> "RecordName":
        self = super().__new__(cls, name)
        self.image_id = image_id if type(image_id) is int else None  # Never a bool.
        return self


def results_entries(records: list, category_ids: Sequence[int], dropped: Counter,
                    name_key: Callable[[str], str]) -> list[tuple]:
    """A COCO results list's records as (key, box, score, category or None,
    where in the file): the key a :class:`RecordName` of
    ``name_key(file_name)`` (boxes files' key form) when the record has a
    ``file_name``, else its ``image_id`` (a string of digits read as its
    number, as COCO's ids are: "40083" was a file name, matching no input),
    None when neither is a string or int. Records of other categories than
    ``category_ids`` are left out and counted in ``dropped``."""
    out = []
    for i, det in enumerate(records):
        if not isinstance(det, dict) or not ("image_id" in det or "file_name" in det):
            out.append((None, None, None, None, f"entry {i} (no image_id or file_name)"))
            continue
        category = det.get("category_id")  # None: the file gives none (said by the run).
        # A negative one is no category id (NO_CATEGORY), whatever the list says.
        if category is not None and (category not in category_ids or category < 0):
            dropped[category] += 1
            continue
        key = det.get("image_id")
        if isinstance(key, str) and key.isascii() and key.isdigit():
            key = int(key)
        if "file_name" in det:
            key = RecordName(name_key(str(det["file_name"])), key)
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            key = None
        out.append((key, det.get("bbox"), det.get("score", 1.0),
                    None if category is None else int(category), f"entry {i}"))
    return out
