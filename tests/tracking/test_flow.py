"""Optical flow and joint propagation."""

import cv2
import numpy as np
import pytest

from keras_pose.data.synthetic import _background
from keras_pose.tracking import DenseFlow, propagate_joints, sample_flow
from keras_pose.tracking.flow import to_gray


def _linear_flow(height, width):
    """flow(x, y) = (0.5 x - 0.25 y + 3, -0.1 x + 0.2 y - 1): bilinear
    interpolation of a linear field is exact."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([0.5 * xs - 0.25 * ys + 3, -0.1 * xs + 0.2 * ys - 1], axis=-1)


def _linear(x, y):
    return np.stack([0.5 * x - 0.25 * y + 3, -0.1 * x + 0.2 * y - 1], axis=-1)


def test_sample_flow_is_bilinear_inside_the_image():
    flow = _linear_flow(12, 16)
    points = np.array([[0.0, 0.0], [3.25, 7.5], [14.9, 10.1], [15.0, 11.0], [7.0, 2.0]])
    np.testing.assert_allclose(sample_flow(flow, points),
                               _linear(points[:, 0], points[:, 1]), atol=1e-4)


def test_sample_flow_clips_points_to_the_image():
    flow = _linear_flow(12, 16)
    outside = np.array([[-5.0, 3.5], [20.0, -2.0], [7.5, 30.0]])
    clipped = np.array([[0.0, 3.5], [15.0, 0.0], [7.5, 11.0]])
    np.testing.assert_allclose(sample_flow(flow, outside),
                               _linear(clipped[:, 0], clipped[:, 1]), atol=1e-4)


def test_sample_flow_of_a_frame_one_pixel_wide_or_tall():
    # Was "flow must be at least 2 x 2 pixels": a traceback when a track
    # lived on through 1 x 1 (or 1 x 500) frames.
    for shape in ((1, 1), (1, 5), (5, 1)):
        flow = np.zeros(shape + (2,), np.float32)
        flow[..., 0] = np.arange(np.prod(shape)).reshape(shape)
        flow[..., 1] = 3.0
        points = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [-2.0, 9.0]])
        expected = flow[np.clip(points[:, 1], 0, shape[0] - 1).astype(int),
                        np.clip(points[:, 0], 0, shape[1] - 1).astype(int)]
        np.testing.assert_allclose(sample_flow(flow, points), expected)


def test_propagate_joints_moves_each_joint_by_its_flow_and_keeps_shape():
    flow = _linear_flow(30, 40)
    joints = np.random.default_rng(0).uniform([-3, -3], [42, 32], (2, 5, 2))
    moved = propagate_joints(joints, flow)
    assert moved.shape == (2, 5, 2) and moved.dtype == np.float32
    x, y = np.clip(joints[..., 0], 0, 39), np.clip(joints[..., 1], 0, 29)
    np.testing.assert_allclose(moved, joints + _linear(x, y), atol=1e-4)


@pytest.mark.parametrize("method,preset,scale,tolerance", [
    ("dis", "medium", 1.0, 1.0), ("farneback", "medium", 1.0, 1.0),
    ("dis", "ultrafast", 1.0, 2.0), ("dis", "medium", 0.5, 1.0)])
def test_flow_propagation_follows_a_translation(method, preset, scale, tolerance):
    # A textured frame and the same frame moved by a sub-pixel shift.
    big = _background(np.random.default_rng(5), 200, 150)
    shift = np.array([3.4, -2.3])
    moved = cv2.warpAffine(big, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (200, 150),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    first, second = to_gray(big[15:135, 20:180]), to_gray(moved[15:135, 20:180])
    joints = np.random.default_rng(0).uniform([15, 15], [145, 105], (4, 17, 2))
    flow = DenseFlow(method, preset, scale)(first, second)
    assert flow.shape == (120, 160, 2)
    error = np.abs(propagate_joints(joints, flow) - (joints + shift))
    assert error.max() < tolerance


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_dis_takes_frames_of_any_size(scale):
    # DIS refuses a side under 8 px or both under 12: tiny videos (and the
    # default half-resolution flow of small ones) are enlarged for it.
    flow = DenseFlow("dis", "medium", scale)
    rng = np.random.default_rng(0)
    sizes = [(h, w) for h in range(1, 26) for w in range(1, 26)] + [(1, 640), (9, 30), (30, 9)]
    # Enlarged past the warp's SHRT_MAX: an OpenCV error mid-video.
    sizes += [(1, 8000), (8000, 1), (3, 20000), (20000, 3)]
    for size in sizes:
        first = rng.integers(0, 256, size, dtype=np.uint8)
        result = flow(first, np.roll(first, 1, axis=1))
        assert result.shape == size + (2,) and np.isfinite(result).all(), size
    for _ in range(20):  # A 1 x 500 frame failed inside DIS by its content, at times.
        first = rng.integers(0, 256, (1, 500), dtype=np.uint8)
        assert flow(first, np.roll(first, 1, axis=1)).shape == (1, 500, 2)


def test_a_small_video_at_half_resolution_still_follows_a_translation():
    big = _background(np.random.default_rng(6), 60, 40)
    moved = cv2.warpAffine(big, np.float32([[1, 0, 1.5], [0, 1, -1.0]]), (60, 40),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    first, second = to_gray(big[4:36, 6:54]), to_gray(moved[4:36, 6:54])  # 48 x 32
    flow = DenseFlow("dis", "medium", 0.5)(first, second)  # DIS sees 24 x 16
    middle = flow[8:24, 12:36].reshape(-1, 2)
    np.testing.assert_allclose(np.median(middle, axis=0), [1.5, -1.0], atol=0.5)


def test_none_flow_is_zero_and_bad_settings_raise():
    frame = np.full((10, 12), 7, np.uint8)
    np.testing.assert_array_equal(DenseFlow("none")(frame, frame), np.zeros((10, 12, 2)))
    with pytest.raises(ValueError, match="flow method"):
        DenseFlow("flownet")
    with pytest.raises(ValueError, match="preset"):
        DenseFlow("dis", "slow")
    with pytest.raises(ValueError, match="scale"):
        DenseFlow("dis", "fast", scale=1.5)
    with pytest.raises(ValueError, match="one size"):
        DenseFlow("dis")(frame, frame[:5])
