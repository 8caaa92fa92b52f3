"""Optical flow and joint propagation."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from keras_pose.data.synthetic import _background
from keras_pose.tracking import DenseFlow, propagate_joints, sample_flow
from keras_pose.tracking.flow import to_gray

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


class _ConstantDis:
    """Stands in for OpenCV's DIS: a flow of (1, 1) px everywhere, at the
    size it is given, and the sizes it was given."""

    def __init__(self):
        self.shapes = []

    def calc(self, prev_gray, next_gray, flow):
        self.shapes.append(prev_gray.shape)
        return np.ones(prev_gray.shape + (2,), np.float32)


def test_a_flow_on_a_frame_resized_unevenly_is_brought_back_per_axis():
    """Each axis of a flow computed at another size is scaled back by its own
    ratio (one ratio for both would move a wide video's joints off in y)."""
    flow = DenseFlow("dis", "medium", 1.0)
    flow._dis = _ConstantDis()
    frame = np.zeros((3, 20000), np.uint8)
    result = flow(frame, frame)
    # By hand: "medium" needs a short side of 16, so 3 x 20000 is enlarged
    # 16/3 times, to 16 x 106667, and the long side is capped at 16384.
    assert flow._dis.shapes == [(16, 16384)]
    # One DIS pixel is 20000/16384 = 1.220703125 frame pixels in x, 3/16 = 0.1875 in y.
    joints = np.array([[[0.0, 0.0], [10000.0, 1.0], [19999.0, 2.0]]])
    np.testing.assert_allclose(propagate_joints(joints, result) - joints,
                               np.broadcast_to([1.220703125, 0.1875], (1, 3, 2)), rtol=1e-5)


@pytest.mark.parametrize("preset, size, expected", [
    ("medium", (10, 9), (18, 16)), ("medium", (9, 10), (16, 18)),
    ("fast", (10, 9), (36, 32)), ("medium", (100, 16), (100, 16)),
    ("fast", (100, 20), (160, 32))])
def test_dis_enlarges_a_frame_until_its_finest_level_holds_a_patch(preset, size, expected):
    """DIS's finest level (1/2 for "medium", 1/4 for "fast") must be 8 pixels
    across: by hand, (10, 9) at "medium" is enlarged 16/9 times, 17.8 x 16
    rounded to 18 x 16; at "fast" 32/9 times, 35.6 x 32 -> 36 x 32."""
    assert DenseFlow("dis", preset, 1.0)._flow_size(*size) == expected


def test_small_wide_frames_do_not_crash_dis():
    """12 x 40 frames ("medium") and 20 x 100 ("fast") went to DIS as they
    were: a segmentation fault, the process gone (run in a child here)."""
    code = (
        "import numpy as np\n"
        "from keras_pose.tracking.flow import DenseFlow\n"
        "for preset, (h, w) in (('medium', (12, 40)), ('medium', (8, 100)),\n"
        "                       ('fast', (20, 100)), ('ultrafast', (28, 300))):\n"
        "    a = np.random.default_rng(0).integers(0, 256, (h, w), dtype=np.uint8)\n"
        "    flow = DenseFlow('dis', preset, 1.0)(a, np.roll(a, 1, axis=1))\n"
        "    assert flow.shape == (h, w, 2) and np.isfinite(flow).all()\n"
        "print('done')\n")
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=120)
    assert child.returncode == 0 and "done" in child.stdout, (child.returncode,
                                                                child.stderr[-1000:])


@pytest.mark.parametrize("size", [(20000, 3), (3, 20000)])
def test_dis_itself_takes_a_tall_thin_frame(monkeypatch, size):
    """Enlarged past 16384 px, DIS would fail on a thin video (its warp's
    limit): the long side is capped, and DIS, not Farneback, gives the flow."""
    # 20000 x 3 is enlarged 16/3 times for DIS's short side of 16: 106667 x 16,
    # over SHRT_MAX, unless the long side is capped at 16384.
    def refused(*args, **kwargs):
        raise AssertionError("fell back to Farneback")
    monkeypatch.setattr(cv2, "calcOpticalFlowFarneback", refused)
    first = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8)
    result = DenseFlow("dis", "medium", 1.0)(first, np.roll(first, 1, axis=1))
    assert result.shape == size + (2,) and np.isfinite(result).all()


def test_a_frame_dis_fails_on_gets_farneback_flow():
    """An OpenCV error inside DIS (a 1 x 500 frame, by its content) gives
    Farneback's flow instead of stopping the video."""
    class FailingDis:
        def calc(self, prev_gray, next_gray, flow):
            raise cv2.error("DIS failed on this frame")
    big = _background(np.random.default_rng(7), 60, 40)
    first = to_gray(big)
    second = to_gray(np.roll(big, (1, 2), axis=(0, 1)))
    flow = DenseFlow("dis", "medium", 1.0)
    flow._dis = FailingDis()
    # Farneback with OpenCV's documented example values (pyramid scale 0.5,
    # 3 levels, 15 px window, 3 iterations, 5 px polynomial, sigma 1.2).
    expected = cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    np.testing.assert_array_equal(flow(first, second), expected)
