"""One colour per track id, and tracked people drawn in it.

Shapes: P people, K keypoints.
"""

from __future__ import annotations

import colorsys
from typing import Any, Sequence

import cv2
import numpy as np

from keras_pose.data.images import check_rgb_image
from keras_pose.visualization import check_score_threshold, drawable, drawn_limbs

_GOLDEN = 0.618033988749895  # hue step: consecutive ids land far apart on the wheel


def track_color(track_id: int) -> tuple[int, int, int]:
    """A deterministic, saturated RGB colour for a track id.

    Hues step by the golden ratio of the colour wheel, so neighbouring ids
    (the people who appear together) differ strongly; saturation and value
    alternate over three levels to separate ids whose hues come close.

    Args:
      track_id: an id >= 0.

    Returns:
      (r, g, b) ints in [0, 255].
    """
    if track_id < 0:
        raise ValueError(f"track ids are >= 0, got {track_id}")
    hue = (track_id * _GOLDEN) % 1.0
    saturation, value = ((0.85, 1.0), (1.0, 0.75), (0.6, 0.95))[track_id % 3]
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def draw_tracks(image: np.ndarray, result: Any, skeleton: Sequence[Sequence[int]],
                score_threshold: float = 0.4) -> np.ndarray:
    """Draws a frame's tracked people on a copy of ``image``, each in its colour.

    Limbs whose two joints score above ``score_threshold``, those joints,
    the box (thinner when propagated) and the id above it.

    Args:
      image: (H, W, 3) uint8 RGB (else ValueError).
      result: a :class:`~keras_pose.tracking.FrameResult`.
      skeleton: 0-based limbs.
      score_threshold: joints scoring at most it are not drawn (as
        ``visualization.draw_poses``: predict.py's --score_threshold).

    Raises:
      ValueError: a ``score_threshold`` that is not a finite number (as
        ``draw_poses``: NaN drew boxes without joints, "0.3" was NumPy's
        error); limbs of joints past K are left out, as there (were an
        IndexError).
    """
    check_score_threshold(score_threshold)
    out = np.ascontiguousarray(check_rgb_image(image).copy())
    scale = max(1, int(round(max(out.shape[:2]) / 400)))
    for p, track_id in enumerate(result.track_ids):
        color = track_color(int(track_id))
        if drawable(np.reshape(result.boxes[p], (2, 2))).all():
            x, y, w, h = (int(round(float(v))) for v in result.boxes[p])
            thickness = scale if result.propagated[p] else 2 * scale
            cv2.rectangle(out, (x, y), (x + w, y + h), color, thickness)
            cv2.putText(out, str(int(track_id)), (x, max(y - 3, 10)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, color, scale, cv2.LINE_AA)
        ok = (result.keypoint_scores[p] > score_threshold) & drawable(result.keypoints[p])
        points = np.round(np.where(ok[:, None], result.keypoints[p], 0)).astype(int)
        for a, b in drawn_limbs(skeleton, len(ok)):
            if ok[a] and ok[b]:
                cv2.line(out, tuple(points[a].tolist()), tuple(points[b].tolist()), color,
                         2 * scale, cv2.LINE_AA)
        for j in np.flatnonzero(ok):
            cv2.circle(out, tuple(points[j].tolist()), 2 * scale, color, -1, cv2.LINE_AA)
    return out
