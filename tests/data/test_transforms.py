"""Crop geometry against the reference's construction."""

import cv2
import numpy as np
import pytest

from keras_pose.configs.keypoints import COCO_FLIP_PAIRS, MPII_FLIP_PAIRS
from keras_pose.data import transforms
from tests import reference_impl as ref


def test_box_to_center_scale():
    # Wider than 192:256 -> height grows; then x1.25; units of 200 px.
    center, scale = transforms.box_to_center_scale([10, 20, 100, 50], 0.75)
    np.testing.assert_allclose(center, [60, 45])
    np.testing.assert_allclose(scale, [100 / 200 * 1.25, 100 / 0.75 / 200 * 1.25], rtol=1e-6)
    # Taller -> width grows.
    center, scale = transforms.box_to_center_scale([0, 0, 30, 200], 0.75)
    np.testing.assert_allclose(scale, [150 / 200 * 1.25, 1.25], rtol=1e-6)
    # Legacy marker: centre x == -1 skips the padding.
    _, scale = transforms.box_to_center_scale([-51, 0, 100, 100], 1.0)
    np.testing.assert_allclose(scale, [0.5, 0.5])
    # Vectorised form and the TF form agree.
    boxes = np.array([[10, 20, 100, 50], [0, 0, 30, 200.0]])
    c, s = transforms.box_to_center_scale(boxes, 0.75)
    ct, st = transforms.box_to_center_scale_tf(boxes, 0.75)
    np.testing.assert_allclose(ct.numpy(), c, rtol=1e-6)
    np.testing.assert_allclose(st.numpy(), s, rtol=1e-6)


@pytest.mark.parametrize("rotation", [0.0, 30.0, -75.0])
@pytest.mark.parametrize("inverse", [False, True])
def test_affine_matches_reference_and_closed_form(rotation, inverse):
    center, scale = np.array([321.3, 207.9]), np.array([1.21, 1.6133])
    ours = transforms.get_affine_transform(center, scale, rotation, (192, 256), inverse=inverse)
    theirs = ref.affine_matrix(center, scale, rotation, (192, 256), inv=inverse)
    np.testing.assert_array_equal(ours, theirs)
    closed = transforms.get_affine_transform_tf(center[None], scale[None], rotation,
                                                (192, 256), inverse=inverse).numpy()[0]
    np.testing.assert_allclose(closed, ours, rtol=1e-4, atol=1e-3)


def test_affine_maps_center_and_edges():
    m = transforms.get_affine_transform([100, 50], [1.0, 1.0], 0, (64, 64))
    np.testing.assert_allclose(transforms.affine_transform_points([[100, 50]], m), [[32, 32]])
    # The box's left edge goes to 0 and its right edge to w (not w - 1).
    np.testing.assert_allclose(transforms.affine_transform_points([[0, 50], [200, 50]], m),
                               [[0, 32], [64, 32]], atol=1e-4)
    # Positive rotation is counter-clockwise on screen: a point right of the
    # centre moves up (smaller y) in the crop.
    m = transforms.get_affine_transform([100, 50], [1.0, 1.0], 90, (64, 64))
    p = transforms.affine_transform_points([[150, 50]], m)[0]
    np.testing.assert_allclose(p, [32, 32 - 16], atol=1e-4)


@pytest.mark.parametrize("pairs,k", [(COCO_FLIP_PAIRS, 17), (MPII_FLIP_PAIRS, 16)])
def test_flip_joints_is_an_involution(pairs, k):
    rng = np.random.default_rng(0)
    joints = rng.uniform(0, 300, (k, 2)).astype(np.float32)
    vis = np.ones(k, np.float32)
    once = transforms.flip_joints(joints, vis, 320, pairs)
    twice = transforms.flip_joints(*once, 320, pairs)
    np.testing.assert_allclose(twice[0], joints, atol=1e-4)
    a, b = pairs[0]
    assert once[0][a, 0] == pytest.approx(320 - 1 - joints[b, 0])


def test_flip_joints_zeroes_invisible():
    joints = np.array([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]])
    flipped, vis = transforms.flip_joints(joints, [1, 0, 1], 100, [(1, 2)])
    np.testing.assert_allclose(flipped, [[89, 20], [49, 60], [0, 0]])
    np.testing.assert_array_equal(vis, [1, 1, 0])


def _random_affines(rng, image, count):
    for _ in range(count):
        center = rng.uniform([-50, -50], [image.shape[1] + 50, image.shape[0] + 50])
        yield transforms.get_affine_transform(center, rng.uniform(0.2, 3.0, 2),
                                              rng.uniform(-80, 80), (192, 256))


@pytest.mark.parametrize("name", ["000000000785.jpg", "000000196141.jpg"])
def test_crop_op_is_opencv_warp_affine(coco_dir, name):
    """The evaluation/serving crop and the training crop are one operation:
    OpenCV's uint8 crop (the reference's evaluation input) on real images,
    with rotations, scales and crops past the border, the zero border too.
    Was the unrounded float values, up to half a grey level from OpenCV's at
    every pixel. (Pixels where the float value is within float32 noise of a
    half level round the other way: OpenCV's SIMD path computes the source
    coordinates with fused multiply-adds on some CPUs.)"""
    image = cv2.cvtColor(cv2.imread(f"{coco_dir}/{name}"), cv2.COLOR_BGR2RGB)
    matrices = list(_random_affines(np.random.default_rng(0), image, 12))
    inverse = np.stack([cv2.invertAffineTransform(m) for m in matrices])
    ours = transforms.crop_images_tf(image[None], np.zeros(12, np.int32), inverse,
                                     (192, 256)).numpy()
    assert ours.dtype == np.float32
    theirs = np.stack([cv2.warpAffine(image, m, (192, 256), flags=cv2.INTER_LINEAR)
                       for m in matrices]).astype(np.float32)
    difference = np.abs(theirs - ours)
    assert difference.max() <= 1 and np.mean(difference > 0) < 5e-4
    floats = transforms.crop_images_tf(image[None].astype(np.float32),
                                       np.zeros(12, np.int32), inverse, (192, 256)).numpy()
    assert 0.2 < np.abs(floats - theirs)[theirs > 0].mean() < 0.3  # Float images: unrounded.


def test_crop_op_reads_each_crop_from_its_own_image():
    images = np.stack([np.full((40, 50, 3), v, np.uint8) for v in (10, 200)])
    center, scale = np.array([[25.0, 20.0]] * 3), np.array([[0.1, 0.1]] * 3)
    inverse = transforms.get_affine_transform_tf(center, scale, 0.0, (8, 8), inverse=True)
    crops = transforms.crop_images_tf(images, [1, 0, 1], inverse, (8, 8)).numpy()
    np.testing.assert_array_equal(crops[:, 4, 4, 0], [200, 10, 200])
