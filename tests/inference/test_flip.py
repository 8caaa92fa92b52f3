"""Flip-back, shift and fusion (TF) against a direct NumPy port of the reference."""

import numpy as np
import pytest

from keras_pose.configs import keypoints as kp
from keras_pose.inference import flip
from tests.reference_impl import reference_flip_back


def nchw(x):
    return np.transpose(x, (0, 3, 1, 2))


@pytest.mark.parametrize("shift", [False, True])
@pytest.mark.parametrize("pairs,k", [(kp.COCO_FLIP_PAIRS, 17), (kp.MPII_FLIP_PAIRS, 16)])
def test_flip_back_matches_reference(pairs, k, shift):
    flipped = np.random.default_rng(0).normal(size=(3, 8, 6, k)).astype(np.float32)
    expected = reference_flip_back(nchw(flipped), pairs, shift=shift)
    got = flip.flip_back(flipped, pairs, shift=shift).numpy()
    np.testing.assert_array_equal(nchw(got), expected)


def test_fuse_flip_is_the_average_with_the_shifted_mirror():
    rng = np.random.default_rng(1)
    heatmaps = rng.normal(size=(2, 16, 12, 17)).astype(np.float32)
    flipped = rng.normal(size=(2, 16, 12, 17)).astype(np.float32)
    expected = (nchw(heatmaps) + reference_flip_back(nchw(flipped), kp.COCO_FLIP_PAIRS)) * 0.5
    got = flip.fuse_flip(heatmaps, flipped, kp.COCO_FLIP_PAIRS, shift=True).numpy()
    np.testing.assert_allclose(nchw(got), expected, rtol=0, atol=1e-7)


def test_peak_of_mirrored_crop_comes_back_to_the_mirror_column_plus_one():
    # A left-shoulder (5) peak at column 1 of a mirrored 8-wide map is the
    # right shoulder (6) at column 8 - 1 - 1 = 6, shifted to 7.
    flipped = np.zeros((1, 4, 8, 17), np.float32)
    flipped[0, 2, 1, 5] = 1.0
    back = flip.flip_back(flipped, kp.COCO_FLIP_PAIRS, shift=True).numpy()
    assert np.argwhere(back[0] == 1.0).tolist() == [[2, 7, 6]]
    back = flip.flip_back(flipped, kp.COCO_FLIP_PAIRS, shift=False).numpy()
    assert np.argwhere(back[0] == 1.0).tolist() == [[2, 6, 6]]


def test_bad_shapes_are_errors():
    with pytest.raises(ValueError, match="N, H, W, K"):
        flip.flip_back(np.zeros((4, 4, 17), np.float32), kp.COCO_FLIP_PAIRS)
    with pytest.raises(ValueError, match="out of range"):
        flip.flip_back(np.zeros((1, 4, 4, 3), np.float32), kp.COCO_FLIP_PAIRS)
