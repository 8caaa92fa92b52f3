"""OKS between two sets of poses, sigmas, greedy matching."""

import numpy as np
import pytest

from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS, DEFAULT_OKS_SIGMA
from keras_pose.tracking import greedy_match
from keras_pose.tracking.similarity import sigmas_or_default


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


def test_a_pair_exactly_at_the_threshold_is_matched():
    """Pairs "at least" the threshold match: an identical pose (OKS exactly 1)
    keeps its track under similarity_threshold=1."""
    rows, cols = greedy_match(np.array([[1.0, 0.5]]), 1.0)
    assert list(zip(rows, cols)) == [(0, 0)]
    rows, cols = greedy_match(np.array([[0.25], [0.5]]), 0.5)
    assert list(zip(rows, cols)) == [(1, 0)]
