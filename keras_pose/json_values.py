"""Checks of values read from JSON files (annotations, detections,
PoseTrack): ``json`` gives bools where ints are checked, ints beyond any
fixed width and floats that are not finite, each of which broke numpy or
the metrics far from the file that held it. And the rule of the JSON the
project writes (:func:`strict_json`): a number that is not finite is null."""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

NUMBER_TYPES = frozenset((int, float))  # Exact types: a bool is not a number here.
# The largest float32: boxes and scores are kept as float32, where numbers
# beyond it became infinities (and NaN/Infinity in the JSON written).
FLOAT32_MAX = 3.4028234663852886e38  # float(np.finfo(np.float32).max)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def fits_int64(value: int) -> bool:
    """Whether ``value`` can be kept as an int64 (ids, track ids)."""
    return -2 ** 63 <= value < 2 ** 63


def fits_float32(value: float) -> bool:
    """Whether a finite number stays finite as float32 (1e39 is inf there).
    The one rule of evaluate.py's detections and predict.py's boxes files
    ("beyond float32")."""
    return abs(value) <= FLOAT32_MAX


def all_finite(values: Iterable[float]) -> bool:
    try:
        return all(map(math.isfinite, values))
    except OverflowError:  # An integer too large for a float.
        return False


def nulls_for_nonfinite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (in dicts, lists and
    tuples) made None: ``json.dumps`` writes them as bare ``NaN`` /
    ``Infinity``, which no strict JSON reader takes (an MPII joint never
    visible in the split: its PCKh)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: nulls_for_nonfinite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nulls_for_nonfinite(v) for v in value]
    return value


def count_nonfinite(value: Any) -> int:
    """How many NaN or infinite floats ``value`` holds (in dicts, lists and
    tuples): what :func:`strict_json` writes as null."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return sum(map(count_nonfinite, value.values()))
    if isinstance(value, (list, tuple)):
        return sum(map(count_nonfinite, value))
    return 0


def strict_json(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)`` as strict JSON: a NaN or infinite
    float is null (json.dumps wrote bare ``NaN`` / ``Infinity``, which no
    strict reader takes: a corrupted model's keypoint scores made
    predictions.json and the COCO results unreadable to them). The one
    rule of every JSON file the project writes (``keras_pose.files.write_json``,
    predict.py's lists); whoever writes such numbers says so (how many,
    why). Values without them are dumped once, as before."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:  # "Out of range float values are not JSON compliant".
        return json.dumps(nulls_for_nonfinite(value), allow_nan=False, **options)


def nonfinite_people(people: Iterable[dict]) -> tuple[int, int]:
    """(people, keypoints) of COCO keypoint results (``"keypoints"``: flat
    x, y, score triplets; ``"score"``...) that hold a NaN or infinite number:
    a person with any, a keypoint with one in its triplet. What predict.py
    and evaluate.py count when they write them as null (:func:`strict_json`)."""
    bad_people = bad_keypoints = 0
    for person in people:
        if not count_nonfinite(person):
            continue
        bad_people += 1
        values = list(person.get("keypoints") or [])
        bad_keypoints += sum(count_nonfinite(values[i:i + 3]) > 0
                             for i in range(0, len(values), 3))
    return bad_people, bad_keypoints
