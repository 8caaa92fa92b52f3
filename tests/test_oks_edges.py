"""OKS edge cases: the sigma count, NaN poses in the greedy NMS."""

import numpy as np
import pytest

from keras_pose import oks


def _person(x, y, k=17):
    """K keypoints spread around (x, y), score 1."""
    offsets = np.stack([np.arange(k) * 7.0, np.arange(k) * 5.0], -1)
    return np.concatenate([offsets + [x, y], np.ones((k, 1))], -1)


def test_sixteen_sigmas_for_seventeen_keypoints_is_an_error_not_cocos():
    """16 sigmas given for K=17 are refused, not swapped for COCO's 17."""
    with pytest.raises(ValueError, match="16 values for 17 keypoints.*data.oks_sigmas"):
        oks.pairwise_oks(np.zeros((2, 17, 2)), np.ones(2), sigmas=[0.1] * 16)
    with pytest.raises(ValueError, match="data.oks_sigmas"):
        oks.oks_nms(np.zeros((2, 17, 3)), np.array([0.9, 0.8]), np.ones(2), sigmas=[0.1] * 16)


def test_a_nan_oks_suppresses_in_the_greedy_pass():
    """The reference keeps only `oks <= thresh`: NaN is not, so it drops."""
    # Person 0 is visited first and kept; a NaN area makes its OKS with
    # person 1 NaN, which drops person 1 (far apart: OKS 0 otherwise).
    keypoints = np.stack([_person(100, 100), _person(400, 300)])
    keep = oks.greedy_oks_suppress(keypoints, np.array([10000.0, np.nan]), 0.9)
    assert keep.tolist() == [0]
    keep = oks.greedy_oks_suppress(keypoints, np.array([10000.0, 10000.0]), 0.9)
    assert keep.tolist() == [0, 1]


def test_the_top_person_with_nan_keypoints_is_the_only_one_kept():
    """A NaN pose scoring highest: the reference keeps it alone (its OKS
    with everyone is NaN), not the others beside it."""
    nan_person = np.full((17, 3), np.nan)
    # The NaN person scores highest but sits at index 2; the two others are
    # 300+ px apart (OKS ~ 0), so without the NaN rule all three survive.
    keypoints = np.stack([_person(100, 100), _person(400, 300), nan_person])
    keep = oks.oks_nms(keypoints, np.array([0.5, 0.4, 0.9]), np.full(3, 10000.0))
    assert keep.tolist() == [2]
    # Without the NaN person both are kept, in score order.
    assert oks.oks_nms(keypoints[:2], np.array([0.5, 0.4]), np.full(2, 10000.0)).tolist() == [0, 1]
