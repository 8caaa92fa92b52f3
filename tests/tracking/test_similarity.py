"""OKS between two sets of poses, sigmas, greedy matching."""

import numpy as np
import pytest

from keras_pose.configs.keypoints import COCO_OKS_SIGMAS, DEFAULT_OKS_SIGMA
from keras_pose.evaluation.coco import pairwise_oks
from keras_pose.tracking import greedy_match, oks_between
from keras_pose.tracking.similarity import sigmas_or_default


def test_oks_between_with_all_joints_agrees_with_the_evaluation_oks():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 50, (3, 17, 2)), rng.uniform(0, 50, (4, 17, 2))
    areas_a, areas_b = rng.uniform(500, 3000, 3), rng.uniform(500, 3000, 4)
    got = oks_between(a, b, areas_a, areas_b, COCO_OKS_SIGMAS)
    # The evaluation's OKS of everyone with everyone: its a x b block.
    everyone = pairwise_oks(np.concatenate([a, b]), np.concatenate([areas_a, areas_b]),
                            COCO_OKS_SIGMAS)
    np.testing.assert_allclose(got, everyone[:3, 3:], rtol=1e-12)


def test_oks_between_counts_only_joints_confident_in_both():
    sigmas = [0.1, 0.2, 0.3]
    a = np.array([[[0, 0], [10, 10], [0, 0]]], np.float64)
    b = np.array([[[3, 0], [10, 14], [90, 90]]], np.float64)
    areas = [100.0]
    # Joint 0 only in a, joint 2 only in b: joint 1 alone counts;
    # d^2 = 16, (2 sigma)^2 = 0.16, area 100.
    valid_a = np.array([[True, True, False]])
    valid_b = np.array([[False, True, True]])
    np.testing.assert_allclose(oks_between(a, b, areas, areas, sigmas, valid_a, valid_b),
                               [[np.exp(-16 / 0.16 / 100 / 2)]])
    # The area is the mean of the two people's.
    np.testing.assert_allclose(
        oks_between(a, b, [50.0], [150.0], sigmas, valid_a, valid_b),
        [[np.exp(-16 / 0.16 / 100 / 2)]])
    nothing_shared = oks_between(a, b, areas, areas, sigmas, valid_a,
                                 np.array([[False, False, True]]))
    np.testing.assert_array_equal(nothing_shared, [[0.0]])


def test_sigmas_or_default():
    np.testing.assert_array_equal(sigmas_or_default(None, 17), COCO_OKS_SIGMAS)
    np.testing.assert_array_equal(sigmas_or_default((), 15), [DEFAULT_OKS_SIGMA] * 15)
    np.testing.assert_array_equal(sigmas_or_default([0.1, 0.2], 2), [0.1, 0.2])
    with pytest.raises(ValueError, match="3 OKS sigmas for 2"):
        sigmas_or_default([0.1, 0.2, 0.3], 2)


def test_greedy_match_takes_the_highest_pair_first_not_the_best_total():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    # The optimal assignment would be (0, 1), (1, 0) (total 1.65); greedy
    # takes (0, 0) at 0.9, then only (1, 1) is left.
    rows, cols = greedy_match(sim, threshold=0.3)
    assert list(zip(rows, cols)) == [(0, 0)]
    rows, cols = greedy_match(sim, threshold=0.05)
    assert list(zip(rows, cols)) == [(0, 0), (1, 1)]


def test_greedy_match_is_one_to_one_and_ignores_nan():
    sim = np.array([[0.5, np.nan, 0.7], [0.6, 0.9, 0.4], [np.nan, 0.95, 0.2]])
    rows, cols = greedy_match(sim, threshold=0.1)
    assert list(zip(rows, cols)) == [(2, 1), (0, 2), (1, 0)]
    rows, cols = greedy_match(np.zeros((0, 3)), 0.1)
    assert rows.shape == (0,) and cols.shape == (0,)
