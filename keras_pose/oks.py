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
      (descending score). The top-scoring person is always kept, so the
      reference's keep-all fallback for an empty result never applies.
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
    # Memory O(M K): one kept person's OKS at a time, not the (M, M, K) tensor.
    return order[greedy_oks_suppress(keypoints[order], np.asarray(areas)[order],
                                     threshold, sigmas, nan_suppresses=True)]


def greedy_oks_suppress(keypoints: np.ndarray, areas: np.ndarray, threshold: float,
                        sigmas: Optional[Sequence[float]] = None,
                        nan_suppresses: bool = True) -> np.ndarray:
    """Greedy OKS suppression over people already in rank order, one row at
    a time (the reference's ``oks_nms`` loop).

    Keeps person 0, drops every later person whose OKS with it is above
    ``threshold``, then the next person not dropped, and so on. Each kept
    person's OKS is taken only against the people still in play: the whole
    (M, M, K) OKS tensor took 4 GB and 33 s for M = 3,000 detections.

    Args:
      keypoints: (M, K, 2|3) in rank order (only x, y are used).
      areas: (M,) areas in the same order.
      threshold: OKS above which a lower-ranked person is dropped.
      sigmas: K OKS sigmas (default: COCO's).
      nan_suppresses: a NaN OKS drops (the reference's ``oks <= thresh``
        keeps) or keeps (the tracker's ``oks > thresh`` drops).

    Returns:
      (P,) int64 positions (in rank order) of the kept people.
    """
    xy = np.asarray(keypoints, dtype=np.float64)[..., :2]
    sigmas = check_sigmas(sigmas, xy.shape[1])
    areas = np.asarray(areas, dtype=np.float64)
    in_play = np.ones(xy.shape[0], bool)  # Neither kept nor dropped yet.
    keep = []
    for i in range(xy.shape[0]):
        if not in_play[i]:
            continue
        keep.append(i)
        in_play[i] = False
        rest = np.flatnonzero(in_play)  # All after i: earlier ones are settled.
        if not rest.size:
            break
        # (1, R): the same oks_between as pairwise_oks, so the same values.
        row = oks_between(xy[i:i + 1], xy[rest], areas[i:i + 1], areas[rest], sigmas)[0]
        drop = ~(row <= threshold) if nan_suppresses else row > threshold
        in_play[rest[drop]] = False
    return np.asarray(keep, np.int64)
