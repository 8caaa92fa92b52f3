"""Frame-wise matching of predictions with ground truth, as poseval
(``eval_helpers.assignGTmulti``): ignore regions, joint distances in head
sizes, the person assignment, and what a frame adds to AP and MOTA.

Shapes: P_gt / P_pred people of a frame, J = 15 joints.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from keras_pose.errors import import_required
from keras_pose.evaluation.posetrack.reader import NUM_JOINTS, Frame, People

PCKH_THRESHOLD = 0.5


def _shapely() -> Any:
    """shapely, or one line naming it (PoseTrack's ignore regions need it)."""
    return import_required("shapely", "shapely", "PoseTrack's ignore regions")


def _drop_ignored(people: People, regions: Sequence[Any]) -> People:
    """Drops joints strictly inside a region, then people left without any."""
    shapely = _shapely()
    x, y = people.joints[..., 0], people.joints[..., 1]
    inside = np.zeros(people.present.shape, dtype=bool)
    for polygon in regions:
        inside |= shapely.contains_xy(polygon, x, y)
    present = people.present & ~inside
    return people.select(present.any(axis=1), present)


def apply_ignore_regions(frame: Frame, predictions: People) -> tuple[People, People]:
    """(ground truth, predictions) of a frame after its ignore regions.

    Without regions nothing changes (people without joints stay, as in
    poseval); with at least one region, joints inside are dropped from both
    and every person left without joints is removed.
    """
    if not frame.ignore_regions:
        return frame.people, predictions
    shapely = _shapely()
    polygons = [shapely.Polygon(r) if len(r) else shapely.Polygon()
                for r in frame.ignore_regions]
    return _drop_ignored(frame.people, polygons), _drop_ignored(predictions, polygons)


def joint_distances(gt: People, pred: People) -> np.ndarray:
    """(P_pred, P_gt, J) distance / head size, inf where either joint is absent."""
    diff = pred.joints[:, None] - gt.joints[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.sqrt(np.sum(diff * diff, axis=-1)) / gt.head_sizes[None, :, None]
    both = pred.present[:, None, :] & gt.present[None, :, :]
    return np.where(both, dist, np.inf)


def assign_predictions(match: np.ndarray, gt_present: np.ndarray) -> np.ndarray:
    """poseval's person assignment: (P_pred,) ground-truth index or -1.

    Each prediction keeps only its best ground-truth person by PCKh (matched
    joints / annotated joints of that person, first on ties); each
    ground-truth person then takes the best prediction among those that
    picked it (first on ties), none when that PCKh is 0.

    Args:
      match: (P_pred, P_gt, J) bool, distance <= threshold.
      gt_present: (P_gt, J) bool.
    """
    num_pred, num_gt = match.shape[:2]
    assigned = np.full(num_pred, -1, dtype=np.int64)
    if num_pred == 0 or num_gt == 0:
        return assigned
    annotated = gt_present.sum(axis=1)
    pckh = match.sum(axis=2).astype(np.float64)
    pckh = np.where(annotated > 0, pckh / np.maximum(annotated, 1), pckh)
    rows = np.arange(num_pred)
    best = np.argmax(pckh, axis=1)
    kept = np.zeros_like(pckh)
    kept[rows, best] = pckh[rows, best]
    chosen = np.argmax(kept, axis=0)
    has_match = np.max(kept, axis=0) > 0
    assigned[chosen[has_match]] = np.nonzero(has_match)[0]
    return assigned


@dataclasses.dataclass
class FrameResult:
    """What one frame adds: per joint AP samples, GT counts and MOT input.

    ``mot`` holds, per joint, (ground-truth ids (G,), predicted ids (H,),
    distances (G, H) with NaN for pairs that may not match).
    """

    scores: list[np.ndarray]
    labels: list[np.ndarray]
    num_gt: np.ndarray
    mot: list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def _dummy_mot() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    # poseval's stand-in for a frame without predictions (or ground truth).
    one = np.zeros(1, np.int64)
    return [(one, one, np.full((1, 1), np.nan))] * NUM_JOINTS


def evaluate_frame(gt: People, pred: People,
                   threshold: float = PCKH_THRESHOLD) -> FrameResult:
    """Matches one frame's predictions with its ground truth as poseval."""
    dist = joint_distances(gt, pred)
    match = dist <= threshold
    assigned = assign_predictions(match, gt.present)
    labels = np.zeros(pred.present.shape, dtype=bool)
    kept = np.nonzero(assigned >= 0)[0]
    labels[kept] = match[kept, assigned[kept]]
    scores = [pred.scores[pred.present[:, j], j] for j in range(NUM_JOINTS)]
    label_list = [labels[pred.present[:, j], j] for j in range(NUM_JOINTS)]
    if len(gt) == 0 or len(pred) == 0:
        mot = _dummy_mot()
    else:
        pair_dist = np.where(match, dist, np.nan)
        mot = []
        for j in range(NUM_JOINTS):
            g, p = gt.present[:, j], pred.present[:, j]
            mot.append((gt.track_ids[g], pred.track_ids[p], pair_dist[p][:, g, j].T))
    return FrameResult(scores, label_list, gt.present.sum(axis=0), mot)

