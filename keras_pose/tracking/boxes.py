"""Person boxes for tracking: from joints, IoU, and the NMS that unifies
detected and propagated boxes.

Boxes are [x, y, w, h] in pixels, as everywhere in keras-pose.

Shapes: K joints, N and M boxes.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


def _joint_extent(joints: np.ndarray, valid: np.ndarray, extension: float
                  ) -> Optional[tuple[float, float, float, float]]:
    points = np.asarray(joints, np.float64)[np.asarray(valid, bool)]
    if len(points) < 2:
        return None
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    width, height = (x1 - x0) * (1.0 + extension), (y1 - y0) * (1.0 + extension)
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, width, height


def box_from_joints(joints: np.ndarray, valid: np.ndarray, extension: float = 0.15,
                    image_size: Optional[tuple[int, int]] = None) -> Optional[np.ndarray]:
    """The paper's propagated box: the box of the joints, grown by a ratio.

    The tight box of the valid joints grows by ``extension`` times its width
    and height, half on each side (the paper: 15%), about its centre.

    Args:
      joints: (K, 2) (x, y).
      valid: (K,) bool, the joints to use (the confident ones).
      extension: growth ratio of width and height.
      image_size: (width, height): the box is clipped to [0, W] x [0, H].

    Returns:
      (4,) float32 [x, y, w, h], or None with fewer than two valid joints or
      when nothing of the box (of positive width and height) is left in the
      image.
    """
    extent = _joint_extent(joints, valid, extension)
    if extent is None:
        return None
    cx, cy, width, height = extent
    x0, y0, x1, y1 = cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2
    if image_size is not None:
        x0, x1 = max(x0, 0.0), min(x1, float(image_size[0]))
        y0, y1 = max(y0, 0.0), min(y1, float(image_size[1]))
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        return None
    return np.array([x0, y0, x1 - x0, y1 - y0], np.float32)


def pose_area(joints: np.ndarray, valid: np.ndarray, extension: float = 0.15) -> float:
    """Object area for OKS: the area of :func:`box_from_joints`, unclipped.

    Floored at 1 px^2 so that a degenerate pose (joints on a line) still has
    a finite OKS. Fewer than two valid joints: 1.

    Args:
      joints: (K, 2); valid: (K,) bool; extension: as for the box.
    """
    extent = _joint_extent(joints, valid, extension)
    if extent is None:
        return 1.0
    return max(float(extent[2] * extent[3]), 1.0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` with every box of ``b``.

    Args:
      a: (N, 4) [x, y, w, h]; b: (M, 4).

    Returns:
      (N, M) float64; 0 where the union is empty.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix = (np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
          - np.maximum(a[:, None, 0], b[None, :, 0]))
    iy = (np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
          - np.maximum(a[:, None, 1], b[None, :, 1]))
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def greedy_suppress(overlap: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy NMS on a square overlap matrix whose rows are in rank order.

    Keeps item 0, drops every later item overlapping it by more than
    ``threshold``, then the next kept item, and so on.

    Args:
      overlap: (N, N) IoU or OKS, rows and columns in rank order.
      threshold: overlap above which the lower-ranked item goes.

    Returns:
      (P,) int64 positions (in rank order) of the kept items.
    """
    suppressed = np.zeros(overlap.shape[0], bool)
    keep = []
    for i in range(overlap.shape[0]):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlap[i] > threshold
    return np.asarray(keep, np.int64)


def unify_boxes(det_boxes: np.ndarray, det_scores: np.ndarray, prop_boxes: np.ndarray,
                prop_scores: np.ndarray, iou_threshold: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's box NMS over detected and propagated boxes.

    Rank: every detection before every propagated box, each group by score.
    The detector saw this frame; a propagated box is a guess carried from
    the previous one, which the paper adds to make up for missed detections,
    so it survives only where no detection (nor a better propagated box)
    overlaps it. Detections never suppress one another: the paper's came
    out of its detector's NMS, ours did too (or are the user's ``--boxes``),
    and the same people are kept without tracking; two people side by side
    (IoU > ``iou_threshold``) lost one of them in silence. Scores pass through
    unchanged: a detection keeps its detector score, a propagated box the
    score its caller gave it (the tracker: the person score of the pose it
    came from, so a person held only by propagation loses confidence frame
    after frame once the estimator multiplies box scores into person scores).

    Args:
      det_boxes: (N, 4) detected [x, y, w, h]; det_scores: (N,).
      prop_boxes: (M, 4) propagated; prop_scores: (M,).
      iou_threshold: IoU above which the lower-ranked box is dropped.

    Returns:
      boxes (P, 4) float32, scores (P,) float32, propagated (P,) bool, in
      rank order.
    """
    det_boxes = np.asarray(det_boxes, np.float32).reshape(-1, 4)
    prop_boxes = np.asarray(prop_boxes, np.float32).reshape(-1, 4)
    det_scores = np.asarray(det_scores, np.float32).reshape(-1)
    prop_scores = np.asarray(prop_scores, np.float32).reshape(-1)
    order_det = np.argsort(-det_scores, kind="stable")
    order_prop = np.argsort(-prop_scores, kind="stable")
    boxes = np.concatenate([det_boxes[order_det], prop_boxes[order_prop]])
    scores = np.concatenate([det_scores[order_det], prop_scores[order_prop]])
    propagated = np.arange(len(boxes)) >= len(det_boxes)
    overlap = box_iou(boxes, boxes)
    overlap[:, :len(det_boxes)] = 0.0  # Nothing suppresses a detection.
    keep = greedy_suppress(overlap, iou_threshold)
    return boxes[keep], scores[keep], propagated[keep]
