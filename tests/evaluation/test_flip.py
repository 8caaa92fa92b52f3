"""Flip-back, shift and fusion against a direct NumPy port of the reference."""

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.configs import keypoints as kp
from keras_pose.evaluation import flip


def reference_flip_back_nchw(output_flipped, matched_parts):
    """The reference's flip_back + SHIFT_HEATMAP, written directly on
    channels-first arrays (N, K, H, W) as the official code holds them."""
    out = output_flipped[:, :, :, ::-1].copy()
    for a, b in matched_parts:
        tmp = out[:, a].copy()
        out[:, a] = out[:, b]
        out[:, b] = tmp
    shifted = out.copy()
    shifted[:, :, :, 1:] = out[:, :, :, 0:-1]
    return out, shifted


@pytest.mark.parametrize("pairs,k", [(kp.COCO_FLIP_PAIRS, 17), (kp.MPII_FLIP_PAIRS, 16)])
def test_flip_back_matches_reference(pairs, k):
    rng = np.random.default_rng(0)
    flipped_nhwc = rng.normal(size=(3, 8, 6, k)).astype(np.float32)
    no_shift, with_shift = reference_flip_back_nchw(
        flipped_nhwc.transpose(0, 3, 1, 2), pairs)
    np.testing.assert_array_equal(
        flip.flip_back(flipped_nhwc, pairs, shift=False), no_shift.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(
        flip.flip_back(flipped_nhwc, pairs, shift=True), with_shift.transpose(0, 2, 3, 1))
    # Column 0 keeps its own value; column j takes column j - 1.
    out = flip.flip_back(flipped_nhwc, pairs, shift=True)
    unshifted = flip.flip_back(flipped_nhwc, pairs, shift=False)
    np.testing.assert_array_equal(out[:, :, 0], unshifted[:, :, 0])
    np.testing.assert_array_equal(out[:, :, 1:], unshifted[:, :, :-1])


def test_fuse_flip_matches_reference_average():
    rng = np.random.default_rng(1)
    heatmaps = rng.normal(size=(2, 16, 12, 17)).astype(np.float32)
    flipped = rng.normal(size=(2, 16, 12, 17)).astype(np.float32)
    _, shifted = reference_flip_back_nchw(flipped.transpose(0, 3, 1, 2), kp.COCO_FLIP_PAIRS)
    expected = (heatmaps + shifted.transpose(0, 2, 3, 1)) * 0.5
    np.testing.assert_allclose(
        flip.fuse_flip(heatmaps, flipped, kp.COCO_FLIP_PAIRS, shift=True), expected, rtol=0, atol=1e-7)


def test_peak_of_mirrored_crop_comes_back_to_the_mirror_column_plus_one():
    # A left-shoulder (5) peak at column 1 of a mirrored 8-wide map is the
    # right shoulder (6) at column 8 - 1 - 1 = 6, shifted to 7.
    flipped = np.zeros((1, 4, 8, 17), np.float32)
    flipped[0, 2, 1, 5] = 1.0
    back = flip.flip_back(flipped, kp.COCO_FLIP_PAIRS, shift=True)
    assert np.argwhere(back[0] == 1.0).tolist() == [[2, 7, 6]]
    back = flip.flip_back(flipped, kp.COCO_FLIP_PAIRS, shift=False)
    assert np.argwhere(back[0] == 1.0).tolist() == [[2, 6, 6]]


def test_flip_back_without_shift_is_an_involution():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 7, 16)).astype(np.float32)
    twice = flip.flip_back(flip.flip_back(x, kp.MPII_FLIP_PAIRS), kp.MPII_FLIP_PAIRS)
    np.testing.assert_array_equal(twice, x)


@pytest.mark.parametrize("shift", [True, False])
def test_tf_version_matches_numpy_eagerly_and_in_graph(shift):
    rng = np.random.default_rng(3)
    heatmaps = rng.normal(size=(2, 8, 6, 17)).astype(np.float32)
    flipped = rng.normal(size=(2, 8, 6, 17)).astype(np.float32)
    expected = flip.fuse_flip(heatmaps, flipped, kp.COCO_FLIP_PAIRS, shift=shift)
    eager = flip.fuse_flip_tf(heatmaps, flipped, kp.COCO_FLIP_PAIRS, shift=shift)
    np.testing.assert_array_equal(eager.numpy(), expected)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 17], tf.float32)] * 2)
    def graph(a, b):
        return flip.fuse_flip_tf(a, b, kp.COCO_FLIP_PAIRS, shift=shift)

    np.testing.assert_array_equal(graph(heatmaps, flipped).numpy(), expected)
    np.testing.assert_array_equal(
        flip.flip_back_tf(flipped, kp.COCO_FLIP_PAIRS, shift=shift).numpy(),
        flip.flip_back(flipped, kp.COCO_FLIP_PAIRS, shift=shift))


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match=r"\(N, H, W, K\)"):
        flip.flip_back(np.zeros((4, 4, 17)), kp.COCO_FLIP_PAIRS)
    with pytest.raises(ValueError, match="same shape"):
        flip.fuse_flip(np.zeros((1, 4, 4, 17)), np.zeros((1, 4, 5, 17)), kp.COCO_FLIP_PAIRS)
    with pytest.raises(ValueError, match="out of range"):
        flip.flip_back(np.zeros((1, 4, 4, 3)), kp.COCO_FLIP_PAIRS)
