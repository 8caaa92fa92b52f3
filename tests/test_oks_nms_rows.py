"""OKS NMS one kept person at a time: the reference's kept set, O(M K) memory.

The whole (M, M, K) OKS tensor (and (M, M, K, 2) differences) took 4 GB and
33 s for 3,000 detections in one image; the reference's ``oks_nms`` takes
one kept person's OKS against the people left, per step.
"""

import tracemalloc

import numpy as np
import pytest

from keras_pose import oks
from keras_pose.configs.base import TrackConfig
from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS
from keras_pose.tracking.tracker import PoseTracker, _Poses

_PEAK_BYTES = 30 * 2 ** 20  # The old code peaked at ~0.6 GB for M = 1,500, K = 17.


def official_oks_iou(g, d, a_g, a_d, sigmas):
    """The reference's ``oks_iou``: one pose g (K, 2) against each of d (R, K, 2)."""
    variances = (np.asarray(sigmas) * 2) ** 2
    ious = np.zeros(len(d))
    for n in range(len(d)):
        dx = d[n, :, 0] - g[:, 0]
        dy = d[n, :, 1] - g[:, 1]
        e = (dx ** 2 + dy ** 2) / variances / ((a_g + a_d[n]) / 2 + np.spacing(1)) / 2
        ious[n] = np.sum(np.exp(-e)) / e.shape[0]
    return ious


def official_oks_nms(keypoints, scores, areas, threshold, sigmas=COCO_OKS_SIGMAS):
    """The reference's ``oks_nms`` loop; score ties: later index first
    (its ``argsort()[::-1]``, made stable)."""
    order = np.argsort(scores, kind="stable")[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        ovr = official_oks_iou(keypoints[i], keypoints[order[1:]], areas[i],
                               areas[order[1:]], sigmas)
        order = order[np.where(ovr <= threshold)[0] + 1]
    return keep


def _crowd(rng, m, k=17):
    """M people jittered around 4 poses (OKS spread over [0, 1]), exact
    duplicates (OKS exactly 1) and score ties (scores in quarters)."""
    base = rng.uniform(0, 300, (4, k, 2))
    spread = rng.exponential(6.0, (m, 1, 1))
    keypoints = base[rng.integers(0, 4, m)] + spread * rng.normal(size=(m, k, 2))
    copies = rng.integers(0, m, m // 5)
    keypoints[rng.integers(0, m, m // 5)] = keypoints[copies]
    scores = rng.integers(0, 5, m) / 4.0
    areas = rng.uniform(200.0, 6000.0, m)
    return keypoints, scores, areas


@pytest.mark.parametrize("m", [1, 2, 7, 40, 300])
def test_oks_nms_keeps_the_references_people(m):
    rng = np.random.default_rng(m)
    keypoints, scores, areas = _crowd(rng, m)
    for threshold in [0.0, 0.3, 0.5, 0.9, 1.0]:
        expected = official_oks_nms(keypoints, scores, areas, threshold)
        got = oks.oks_nms(keypoints, scores, areas, threshold)
        assert got.tolist() == expected, threshold
        assert got.dtype == np.int64


def test_an_oks_equal_to_the_threshold_keeps_and_a_nan_oks_drops():
    """Duplicates have OKS exactly 1: kept at threshold 1.0 (``<=``), dropped
    below. A NaN area makes that person's OKS NaN: it drops (the reference)."""
    keypoints = np.repeat(np.random.default_rng(0).uniform(0, 99, (1, 17, 2)), 3, 0)
    scores = np.array([0.5, 0.9, 0.5])
    areas = np.full(3, 1000.0)
    assert oks.oks_nms(keypoints, scores, areas, threshold=1.0).tolist() == [1, 2, 0]
    assert oks.oks_nms(keypoints, scores, areas, threshold=0.99).tolist() == [1]
    far = keypoints + np.array([0.0, 400.0, 800.0])[:, None, None]
    assert oks.oks_nms(far, scores, areas, threshold=0.9).tolist() == [1, 2, 0]
    areas[0] = np.nan
    assert oks.oks_nms(far, scores, areas, threshold=0.9).tolist() == [1, 2]


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_oks_nms_memory_is_linear_in_the_people():
    """1,500 far-apart people (all kept): no (M, M, K) array."""
    rng = np.random.default_rng(0)
    m = 1500
    keypoints = rng.uniform(0, 20000, (m, 17, 3))
    scores, areas = rng.random(m), rng.uniform(100.0, 1000.0, m)
    kept = []
    peak = _peak_bytes(lambda: kept.append(oks.oks_nms(keypoints, scores, areas)))
    assert peak < _PEAK_BYTES, f"{peak / 2 ** 20:.0f} MB"
    assert len(kept[0]) > 0.99 * m


def test_the_trackers_pose_nms_memory_is_linear_in_the_poses():
    """The tracker's pose NMS over 1,500 poses of one frame: no (P, P, K) array."""
    rng = np.random.default_rng(1)
    p = 1500
    poses = _Poses(keypoints=rng.uniform(0, 20000, (p, 17, 2)).astype(np.float32),
                   keypoint_scores=np.ones((p, 17), np.float32),
                   scores=rng.random(p).astype(np.float32),
                   boxes=np.zeros((p, 4), np.float32), propagated=rng.random(p) < 0.5)
    tracker = PoseTracker(TrackConfig(), lambda *a: None, sigmas=COCO_OKS_SIGMAS)
    kept = []
    peak = _peak_bytes(lambda: kept.append(tracker._pose_nms(poses)))
    assert peak < _PEAK_BYTES, f"{peak / 2 ** 20:.0f} MB"
    assert len(kept[0]) > 0.99 * p


def test_the_trackers_pose_nms_keeps_beside_a_nan_pose():
    """The tracker drops on ``OKS > threshold``: a NaN OKS keeps (unchanged)."""
    keypoints = np.random.default_rng(0).uniform(0, 99, (3, 17, 2))
    keypoints[0] = np.nan
    kept = oks.greedy_oks_suppress(keypoints, np.full(3, 1000.0), 0.9, nan_suppresses=False)
    assert kept.tolist() == [0, 1, 2]
    kept = oks.greedy_oks_suppress(keypoints, np.full(3, 1000.0), 0.9, nan_suppresses=True)
    assert kept.tolist() == [0]
