"""Drawing skeletons on images.

Shapes: M people, K keypoints.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

import cv2
import numpy as np

from keras_pose.data.images import check_rgb_image

LEFT = (0, 160, 255)    # RGB: blue-ish for the person's left side
RIGHT = (255, 90, 0)    # orange for the right side
CENTRE = (60, 220, 60)  # green for the rest
BOX = (255, 255, 0)


# OpenCV draws int32 pixel coordinates; a point this far from any image is
# off it anyway.
_FAR = float(1 << 20)


def drawable(points: np.ndarray) -> np.ndarray:
    """(..., 2) points -> (...) bool: finite and near enough to draw (a NaN
    or 1e20 keypoint made OpenCV raise in the middle of a video)."""
    points = np.asarray(points, np.float64)
    return np.all(np.isfinite(points) & (np.abs(points) < _FAR), axis=-1)


def _side(name: str) -> str:
    lowered = name.lower()
    if lowered.startswith(("left", "l_")) or lowered.endswith(("_left", "_l")):
        return "L"
    if lowered.startswith(("right", "r_")) or lowered.endswith(("_right", "_r")):
        return "R"
    return "C"


def _color(names: Sequence[str], *joints: int) -> tuple[int, int, int]:
    sides = {_side(names[j]) for j in joints if j < len(names)}
    if sides == {"L"}:
        return LEFT
    if sides == {"R"}:
        return RIGHT
    return CENTRE


def check_score_threshold(score_threshold: Any) -> float:
    """``score_threshold`` as a float; a ValueError for anything but a finite
    number (None was a TypeError comparing a float with None, "0.3" NumPy's
    UFuncTypeError, NaN drew no joint)."""
    if (isinstance(score_threshold, bool) or not isinstance(score_threshold, numbers.Real)
            or not math.isfinite(score_threshold)):
        raise ValueError(f"score_threshold: expected a finite number (keypoints scoring above "
                         f"it are drawn, e.g. 0.2), got {score_threshold!r}")
    return float(score_threshold)


def drawn_limbs(skeleton: Optional[Sequence[Sequence[int]]],
                num_keypoints: int) -> list[tuple[int, int]]:
    """The limbs (a, b) of ``skeleton`` (None: none, data.skeleton left to a
    data set) whose two joints are among the K = ``num_keypoints`` drawn: a
    skeleton of more keypoints draws what fits (was an IndexError)."""
    return [(a, b) for a, b in skeleton or () if a < num_keypoints and b < num_keypoints]


def draw_poses(image: np.ndarray, keypoints: np.ndarray, keypoint_scores: np.ndarray,
               boxes: np.ndarray, skeleton: Sequence[Sequence[int]],
               keypoint_names: Sequence[str], score_threshold: float = 0.2) -> np.ndarray:
    """Draws M people on a copy of ``image`` (RGB uint8, else ValueError).

    Limbs are drawn when both ends score above the threshold, in the left,
    right or centre colour; keypoints above the threshold as dots; the box
    as a thin rectangle. Points and boxes that are not finite (or lie
    millions of pixels away) are not drawn.

    Raises:
      ValueError: for a ``score_threshold`` that is not a finite number
        (:func:`check_score_threshold`).
    """
    check_score_threshold(score_threshold)
    out = np.ascontiguousarray(check_rgb_image(image).copy())
    scale = max(1, int(round(max(out.shape[:2]) / 400)))
    for person in range(len(keypoints)):
        if boxes is not None and len(boxes) > person and drawable(
                np.reshape(boxes[person], (2, 2))).all():
            x, y, w, h = (float(v) for v in boxes[person])
            cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), BOX, scale)
        points = keypoints[person]
        ok = (keypoint_scores[person] > score_threshold) & drawable(points)
        for a, b in drawn_limbs(skeleton, len(points)):
            if ok[a] and ok[b]:
                cv2.line(out, tuple(int(round(v)) for v in points[a]),
                         tuple(int(round(v)) for v in points[b]),
                         _color(keypoint_names, a, b), 2 * scale, cv2.LINE_AA)
        for j, (px, py) in enumerate(points):
            if ok[j]:
                cv2.circle(out, (int(round(px)), int(round(py))), 2 * scale,
                           _color(keypoint_names, j), -1, cv2.LINE_AA)
    return out
