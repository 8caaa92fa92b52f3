"""Checks of values read from JSON files (annotations, detections,
PoseTrack): ``json`` gives bools where ints are checked, ints beyond any
fixed width and floats that are not finite, each of which broke numpy or
the metrics far from the file that held it."""

from __future__ import annotations

import math
from typing import Any, Iterable

NUMBER_TYPES = frozenset((int, float))  # Exact types: a bool is not a number here.


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def fits_int64(value: int) -> bool:
    """Whether ``value`` can be kept as an int64 (ids, track ids)."""
    return -2 ** 63 <= value < 2 ** 63


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

