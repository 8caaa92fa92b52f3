"""Reading a boxes file (person boxes made by any detector) into a
``BoxTable``, in either form:

- COCO detection results: ``[{"image_id" or "file_name", "bbox": [x, y, w, h],
  "score", "category_id"}, ...]`` as the reference's
  ``COCO_val2017_detections_AP_H_56_person.json`` (the model's keypoint
  categories kept, COCO's person = 1 by default, the others counted per
  category in a warning; a person is written with its box's category);
- ``{"dir/photo.jpg": [[x, y, w, h], ...], ...}`` (score 1), or ``[x, y, w, h, score]``.

An entry that is not a box (NaN, inf, a number beyond float32, three numbers,
a string score, a size <= 0, also once float32: 1e-46) is skipped, named in
a warning. Which inputs the entries belong to is
``keras_pose.detection.file_detectors``' matter.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections import Counter
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from keras_pose import log as logging
from keras_pose.detection.results import NO_CATEGORY, results_entries
from keras_pose.errors import UserError
from keras_pose.json_values import fits_float32
from keras_pose.special_files import special_file_refusal

Key = Union[str, int]
# {relative path / file name / image id: (boxes (M, 4), scores (M,)[,
# categories (M,) int64: a COCO results file's category_id of each box])}
BoxTable = dict


class DetectionFileError(UserError, ValueError):
    """A boxes file that cannot be used; the message names it."""


def valid_box(values: Any, score: Any = 1.0) -> Optional[tuple[list[float], float]]:
    """A valid (box, score), or None (not 4 finite numbers with w, h > 0 and
    a finite numeric score, as the float32 the table keeps: a width of
    1e-46 is 0 there and a score of 1e39 inf, which stopped the run in the
    predictor's box check)."""
    if isinstance(values, (str, bytes)) or isinstance(score, (str, bytes, bool)):
        return None
    try:
        box, score = [float(v) for v in values], float(score)
    except (TypeError, ValueError):
        return None
    if len(box) != 4 or not all(map(math.isfinite, box + [score])):
        return None
    if not all(map(fits_float32, box + [score])) or np.float32(box[2:]).min() <= 0:
        return None
    return box, score


# (key, box, score, category or None, where in the file)
Entry = tuple[Key, Any, Any, Optional[int], str]


def _entries_of_mapping(data: Mapping) -> list[Entry]:
    out = []
    for name, boxes in data.items():
        for i, box in enumerate(boxes if isinstance(boxes, list) else [boxes]):
            five = isinstance(box, list) and len(box) == 5
            out.append((name, box[:4] if five else box, box[4] if five else 1.0, None,
                        f"{name!r} box {i}"))
    return out


def file_key(name: str) -> str:
    """A file name as inputs are keyed: "/" separators, no leading "./"
    (``.\\a\\x.jpg`` and ``./a/x.jpg`` are ``a/x.jpg``)."""
    return str(name).replace("\\", "/").removeprefix("./")


def name_form(name: str) -> str:
    """``name`` as names are compared: :func:`file_key`'s form in Unicode's
    composed form (NFC). Was: a boxes or annotation file's 'café.jpg' (NFC,
    as typed) matched no file of that name written by macOS (NFD, e plus a
    combining accent), which printed the same."""
    return unicodedata.normalize("NFC", file_key(name))


def _read_json(path: str) -> Any:
    refusal = special_file_refusal(path, "the boxes file")
    if refusal:
        raise DetectionFileError(f"boxes file {path} {refusal}")
    try:
        with open(path, encoding="utf-8-sig") as f:  # A byte-order mark is no error.
            return json.load(f)
    except MemoryError as e:  # Was a MemoryError traceback.
        raise DetectionFileError(f"boxes file {path} is too large to read: this machine's "
                                 "memory ran out; split it, or give the inputs' boxes only") from e
    except FileNotFoundError as e:
        raise DetectionFileError(f"boxes file {path} does not exist") from e
    except IsADirectoryError as e:  # Was "Is a directory: PATH", no flag or fix named.
        raise DetectionFileError(f"boxes file {path} is a folder: give the JSON file of boxes "
                                 "in it (--boxes FILE.json)") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DetectionFileError(f"boxes file {path} is not valid JSON: {e}") from e


def load_detection_file(path: str, category_ids: Sequence[int] = (1,)) -> BoxTable:
    """Reads a boxes file into ``{key: (boxes, scores)}``, skipping (and
    reporting) every entry that is not a box, and the COCO results of other
    categories than ``category_ids`` (counted per category in a warning).

    Raises:
      DetectionFileError: a missing file, invalid JSON, or neither form.
    """
    return detections_from_json(_read_json(path), path, category_ids)


def detections_from_json(data: Any, path: str, category_ids: Sequence[int] = (1,)
                         ) -> BoxTable:
    """:func:`load_detection_file` of a boxes file's loaded JSON (``path``
    names it in messages)."""
    if isinstance(data, dict) and {"images", "annotations"} & set(data) and "categories" in data:
        raise DetectionFileError(
            f"boxes file {path} is a COCO annotation file ('images', 'annotations', "
            "'categories'), not boxes: --boxes takes COCO detection results (a list of "
            "{image_id or file_name, bbox, score}) or {file name: [[x, y, w, h], ...]}; give it "
            "as --annotations for its image ids (evaluate.py --use_gt_boxes runs on its boxes)")
    if isinstance(data, dict):
        entries = _entries_of_mapping(data)
    elif isinstance(data, list):
        dropped: Counter = Counter()
        entries = results_entries(data, tuple(category_ids), dropped, file_key)
        if dropped:
            logging.warning(
                "%s: %d boxes of other categories than %s dropped (%s); the model's keypoint "
                "categories are kept (data.category_ids: choose with --set "
                "data.category_ids=...)", path, sum(dropped.values()), list(category_ids),
                ", ".join(f"category {c!r}: {n}" for c, n in sorted(dropped.items(), key=str)))
    else:
        raise DetectionFileError(f"{path}: expected COCO detection results (a list) or "
                                 "{file name: [[x, y, w, h], ...]}")
    rows: dict = {}
    bad = []
    for key, box, score, category, where in entries:
        valid = valid_box(box, score) if key is not None else None
        if valid is None:
            bad.append(where)
            continue
        rows.setdefault(file_key(key) if type(key) is str else key, []).append(
            (*valid, category))  # A RecordName is in that form already.
    if isinstance(data, dict):  # {"a.jpg": []}: nobody there, said by the file.
        for name in (n for n, boxes in data.items() if boxes == []):
            rows.setdefault(file_key(str(name)), [])
    if bad and not rows:  # Not one box: not a boxes file (was 0 people, exit 0).
        mpii = all(isinstance(d, dict) and {"center", "scale"} <= set(d) for d in data)
        raise DetectionFileError(
            f"boxes file {path}: none of its {len(bad)} entries is a box "
            f"({', '.join(bad[:3])}){': it is an MPII annotation file' if mpii else ''}; "
            "--boxes takes COCO detection results (a list of {image_id or file_name, bbox, "
            "score}) or {file name: [[x, y, w, h], ...]}")
    warn_skipped(path, bad)
    return {key: _table_row(v, isinstance(data, list)) for key, v in rows.items()}


def warn_skipped(path: str, bad: Sequence[str]) -> None:
    """The warning naming the entries that are not boxes, and how many."""
    if bad:
        logging.warning("%s: %d entr%s skipped (not 4 finite numbers with a positive size, "
                        "within float32, or a bad score or image key): %s", path, len(bad),
                        "y" if len(bad) == 1 else "ies", ", ".join(bad[:10]))


def _table_row(rows: list, with_categories: bool) -> tuple:
    """A BoxTable value from ``[(box, score, category), ...]``; a box
    without ``category_id`` has category ``NO_CATEGORY`` (its person is
    written with the model's first category, said by the run)."""
    boxes = np.asarray([b for b, _, _ in rows], np.float32).reshape(-1, 4)
    scores = np.asarray([s for _, s, _ in rows], np.float32)
    if not with_categories:
        return boxes, scores
    return boxes, scores, np.asarray([NO_CATEGORY if c is None else c for _, _, c in rows],
                                     np.int64)
