"""Object keypoint similarity (OKS) and greedy OKS NMS, as the reference.

COCO's OKS between two poses, with the reference's ``oks_iou`` conventions
(``lib/nms/nms.py``: all K joints, no visibility filter, the mean of the two
areas plus eps in the denominator). Used by the COCO evaluation (OKS NMS)
and by the tracker (flow-based pose similarity).

Shapes: M people, K keypoints.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS

_EPS = np.spacing(1)  # The reference's eps in the OKS denominator.


def check_sigmas(sigmas: Optional[Sequence[float]], num_keypoints: int) -> np.ndarray:
    """The K sigmas as float64 (COCO's when none are given); a count other
    than K is a ValueError."""
    if sigmas is None or len(sigmas) == 0:
        sigmas = COCO_OKS_SIGMAS
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.shape != (num_keypoints,):
        raise ValueError(
            f"OKS sigmas have {sigmas.shape[0]} values for {num_keypoints} "
            "keypoints; give data.oks_sigmas for this data set")
    return sigmas


def oks_between(a: np.ndarray, b: np.ndarray, areas_a: np.ndarray, areas_b: np.ndarray,
                sigmas: Sequence[float], valid_a: Optional[np.ndarray] = None,
                valid_b: Optional[np.ndarray] = None) -> np.ndarray:
    """OKS of every person of ``a`` with every person of ``b``.

    Args:
      a: (N, K, 2) joints; b: (M, K, 2).
      areas_a: (N,) areas; areas_b: (M,).
      sigmas: K OKS sigmas.
      valid_a: (N, K) bool joints that count (None: all); valid_b: (M, K).

    Returns:
      (N, M) float64: the mean over joints valid in both of
      exp(-d^2 / (2 (2 sigma)^2 ((area_a + area_b) / 2))); 0 where no joint
      is valid in both.
    """
    a = np.asarray(a, np.float64).reshape(-1, len(sigmas), 2)
    b = np.asarray(b, np.float64).reshape(-1, len(sigmas), 2)
    va = np.ones(a.shape[:2], bool) if valid_a is None else np.asarray(valid_a, bool)
    vb = np.ones(b.shape[:2], bool) if valid_b is None else np.asarray(valid_b, bool)
    variances = (2.0 * np.asarray(sigmas, np.float64)) ** 2                  # (K,)
    sq_dist = ((a[:, None] - b[None, :]) ** 2).sum(axis=-1)                  # (N, M, K)
    mean_area = (np.asarray(areas_a, np.float64)[:, None]
                 + np.asarray(areas_b, np.float64)[None, :]) / 2.0 + _EPS    # (N, M)
    per_joint = np.exp(-sq_dist / variances / mean_area[..., None] / 2.0)
    both = va[:, None, :] & vb[None, :, :]                                   # (N, M, K)
    count = both.sum(axis=-1)
    total = np.where(both, per_joint, 0.0).sum(axis=-1)
    return np.divide(total, count, out=np.zeros(count.shape), where=count > 0)


def pairwise_oks(keypoints: np.ndarray, areas: np.ndarray,
                 sigmas: Optional[Sequence[float]] = None) -> np.ndarray:
    """OKS between every pair of people, as the reference's ``oks_iou``
    (all K joints count).

    Args:
      keypoints: (M, K, 2) or (M, K, 3) (only x, y are used).
      areas: (M,) object areas.
      sigmas: K OKS sigmas (default: COCO's).

    Returns:
      (M, M) float64 symmetric matrix with ones on the diagonal.
    """
    xy = np.asarray(keypoints, dtype=np.float64)[..., :2]
    return oks_between(xy, xy, areas, areas, check_sigmas(sigmas, xy.shape[1]))


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray,
            threshold: float = 0.9,
            sigmas: Optional[Sequence[float]] = None) -> np.ndarray:
    """Greedy OKS non-maximum suppression over the people of one image.

    Repeatedly keeps the highest-scoring remaining person and drops every
    remaining person whose OKS with it is not <= ``threshold`` (as the
    reference, a NaN OKS also drops). Ties in score are visited with the
    later index first: the reference's ``argsort()[::-1]``, made stable.

    Args:
      keypoints: (M, K, 3) or (M, K, 2) keypoints (x, y[, score]).
      scores: (M,) person scores.
      areas: (M,) areas (the reference: padded crop area).
      threshold: OKS above which a lower-scoring person is suppressed.
      sigmas: K OKS sigmas (default: COCO's for K=17).

    Returns:
      (P,) int64 indices into the M people, in the order they were kept
      (descending score). If nothing were kept, all indices (the reference's
      fallback; cannot happen for M >= 1 with finite scores).
    """
    keypoints = np.asarray(keypoints)
    scores = np.asarray(scores, dtype=np.float64)
    count = scores.shape[0]
    if count == 0:
        return np.zeros((0,), np.int64)
    if keypoints.ndim != 3 or keypoints.shape[0] != count:
        raise ValueError(
            f"keypoints must be (M, K, 2|3) with M = {count}, got {keypoints.shape}")
    order = np.argsort(scores, kind="stable")[::-1]
    oks = pairwise_oks(keypoints[order], np.asarray(areas)[order], sigmas)
    return order[_greedy(oks, threshold)]


def _greedy(oks: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy suppression on an OKS matrix whose rows are in score order."""
    drop = ~(oks <= threshold)  # NaN drops, as in the reference.
    suppressed = np.zeros(oks.shape[0], bool)
    keep = []
    for i in range(oks.shape[0]):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= drop[i]
    if not keep:
        return np.arange(oks.shape[0])
    return np.asarray(keep, np.int64)
