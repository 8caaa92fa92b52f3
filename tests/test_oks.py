"""OKS and greedy OKS NMS against the reference's per-joint loops."""

import numpy as np
import pytest

from keras_pose import oks
from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS


def reference_oks(g, d, a_g, a_d, sigmas):
    """The reference's oks_iou for one pair, joint by joint."""
    variances = (np.asarray(sigmas) * 2) ** 2
    total = 0.0
    for k in range(len(sigmas)):
        dist2 = (d[k, 0] - g[k, 0]) ** 2 + (d[k, 1] - g[k, 1]) ** 2
        total += np.exp(-dist2 / variances[k] / ((a_g + a_d) / 2 + np.spacing(1)) / 2)
    return total / len(sigmas)


def test_oks_matches_joint_by_joint_reference():
    rng = np.random.default_rng(0)
    kpts = rng.uniform(0, 100, size=(5, 17, 3))
    areas = rng.uniform(500, 5000, size=5)
    matrix = oks.pairwise_oks(kpts, areas)
    for i in range(5):
        for j in range(5):
            assert matrix[i, j] == pytest.approx(
                reference_oks(kpts[i], kpts[j], areas[i], areas[j], COCO_OKS_SIGMAS), rel=1e-12)
    np.testing.assert_allclose(np.diag(matrix), 1.0)


def _person(x0, y0, k=17, spread=10.0):
    grid = np.stack([x0 + spread * np.arange(k), y0 + spread * np.arange(k) % 7], -1)
    return np.concatenate([grid, np.ones((k, 1))], -1)


def test_oks_between_two_sets_matches_joint_by_joint_reference():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 50, (3, 17, 2)), rng.uniform(0, 50, (4, 17, 2))
    areas_a, areas_b = rng.uniform(500, 3000, 3), rng.uniform(500, 3000, 4)
    got = oks.oks_between(a, b, areas_a, areas_b, COCO_OKS_SIGMAS)
    assert got.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert got[i, j] == pytest.approx(
                reference_oks(a[i], b[j], areas_a[i], areas_b[j], COCO_OKS_SIGMAS), rel=1e-12)


def test_oks_between_counts_only_joints_confident_in_both():
    sigmas = [0.1, 0.2, 0.3]
    a = np.array([[[0, 0], [10, 10], [0, 0]]], np.float64)
    b = np.array([[[3, 0], [10, 14], [90, 90]]], np.float64)
    areas = [100.0]
    # Joint 0 only in a, joint 2 only in b: joint 1 alone counts;
    # d^2 = 16, (2 sigma)^2 = 0.16, area 100.
    valid_a = np.array([[True, True, False]])
    valid_b = np.array([[False, True, True]])
    np.testing.assert_allclose(oks.oks_between(a, b, areas, areas, sigmas, valid_a, valid_b),
                               [[np.exp(-16 / 0.16 / 100 / 2)]])
    # The area is the mean of the two people's.
    np.testing.assert_allclose(
        oks.oks_between(a, b, [50.0], [150.0], sigmas, valid_a, valid_b),
        [[np.exp(-16 / 0.16 / 100 / 2)]])
    nothing_shared = oks.oks_between(a, b, areas, areas, sigmas, valid_a,
                                 np.array([[False, False, True]]))
    np.testing.assert_array_equal(nothing_shared, [[0.0]])


def test_oks_nms_hand_made_cases():
    a = _person(100, 100)
    a_copy = a.copy()
    a_copy[:, :2] += 0.5                 # almost identical to a: OKS ~ 1
    far = _person(400, 300)
    keypoints = np.stack([a, a_copy, far])
    areas = np.full(3, 10000.0)
    # The best of the duplicates survives, the far person too.
    keep = oks.oks_nms(keypoints, np.array([0.7, 0.9, 0.5]), areas)
    assert keep.tolist() == [1, 2]
    keep = oks.oks_nms(keypoints, np.array([0.9, 0.7, 0.5]), areas)
    assert keep.tolist() == [0, 2]
    # Above the OKS of the pair nothing is suppressed; kept in score order.
    oks_pair = oks.pairwise_oks(keypoints[:2], areas[:2])[0, 1]
    assert 0.9 < oks_pair < 1.0
    keep = oks.oks_nms(keypoints, np.array([0.5, 0.7, 0.9]), areas, threshold=oks_pair)
    assert keep.tolist() == [2, 1, 0]
    # Equal scores: the later index first (the reference's argsort()[::-1]).
    keep = oks.oks_nms(keypoints[:2], np.array([0.8, 0.8]), areas[:2])
    assert keep.tolist() == [1]
    assert oks.oks_nms(np.zeros((0, 17, 3)), np.zeros(0), np.zeros(0)).tolist() == []


def test_oks_nms_chain_is_greedy_not_transitive():
    # b overlaps a and c; a and c do not overlap. Greedy keeps a (best),
    # drops b, keeps c although b would have suppressed c.
    k = 4
    sigmas = [0.1] * k
    base = np.zeros((k, 3))
    base[:, 0] = np.arange(k) * 50
    a, b, c = base.copy(), base.copy(), base.copy()
    b[:, 1] += 3.0
    c[:, 1] += 6.0
    keypoints = np.stack([a, b, c])
    areas = np.full(3, 400.0)
    matrix = oks.pairwise_oks(keypoints, areas, sigmas)
    threshold = (matrix[0, 1] + matrix[0, 2]) / 2
    assert matrix[0, 1] > threshold and matrix[1, 2] > threshold and matrix[0, 2] < threshold
    keep = oks.oks_nms(keypoints, np.array([0.9, 0.8, 0.7]), areas, threshold, sigmas)
    assert keep.tolist() == [0, 2]


def test_sigma_count_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="data.oks_sigmas"):
        oks.pairwise_oks(np.zeros((2, 5, 2)), np.ones(2))
